package io.tabguard.audit.internal;

/**
 * Cleans untrusted strings before they reach a log line, a terminal or a JFR event. Stateless and
 * thread-safe.
 */
public final class Text {
    private Text() {
    }

    /**
     * Removes control characters (ASCII and C1) and Unicode bidirectional controls, replaces unpaired
     * surrogates with U+FFFD and cuts the result to at most {@code max} chars without splitting a
     * surrogate pair.
     *
     * @return the cleaned string, or {@code null} for {@code null}
     */
    public static String clean(String s, int max) {
        if (s == null) {
            return null;
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), max));
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    if (b.length() + 2 > max) {
                        break;
                    }
                    b.append(c).append(s.charAt(i + 1));
                    i++;
                    continue;
                }
                c = '\uFFFD';
            } else if (Character.isLowSurrogate(c)) {
                c = '\uFFFD';
            } else if (isStripped(c)) {
                continue;
            }
            if (b.length() + 1 > max) {
                break;
            }
            b.append(c);
        }
        return b.toString();
    }

    /** True for characters {@link #clean} removes. */
    static boolean isStripped(char c) {
        return Character.getType(c) == Character.CONTROL
                || c == '\u061C' || c == '\u200E' || c == '\u200F'
                || (c >= '\u202A' && c <= '\u202E')
                || (c >= '\u2066' && c <= '\u2069');
    }

    /** True if {@code s} has no unpaired surrogate, so that its UTF-8 encoding is lossless. */
    public static boolean isWellFormed(String s) {
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= n || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
