package io.tabguard.audit.internal;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes and reads the log's JSON lines. Stateless and thread-safe.
 *
 * <p>The writer's output is canonical: fixed key order, no whitespace, every non-ASCII or control
 * character escaped as {@code \}{@code uXXXX} (lowercase hex) except the short escapes {@code \"},
 * {@code \\}, {@code \b}, {@code \f}, {@code \n}, {@code \r}, {@code \t}. The reader parses a line and
 * then refuses it unless writing the parsed value back gives the very same line, so any byte changed,
 * added or removed anywhere in a line is caught even where it would not change a field's value.
 */
public final class LogFormat {
    private static final HexFormat HEX = HexFormat.of();
    private static final List<String> RECORD_KEYS = List.of("seq", "time", "type", "serial", "schema", "schemaId",
            "violation", "offset", "detail", "count", "firstTime", "lastTime", "prev", "hash");
    /** The JSON key of a checkpoint line. */
    public static final String CHECKPOINT_KEY = "checkpoint";
    /** Longest line the reader accepts, in chars. */
    public static final int MAX_LINE = 16 * 1024;

    private LogFormat() {
    }

    /** A parsed line: exactly one of {@code record} and {@code checkpointNote} is non-null. */
    public record Line(LogRecord record, String checkpointNote) {
    }

    /** The JSON line for a record, without the newline. */
    public static String recordLine(LogRecord r) {
        StringBuilder b = new StringBuilder(320);
        b.append("{\"seq\":").append(r.seq());
        b.append(",\"time\":");
        str(b, r.time());
        b.append(",\"type\":");
        str(b, r.type());
        b.append(",\"serial\":").append(r.serial());
        b.append(",\"schema\":");
        str(b, r.schema());
        b.append(",\"schemaId\":\"").append(HEX.toHexDigits(r.schemaId())).append('"');
        b.append(",\"violation\":");
        str(b, r.violation());
        b.append(",\"offset\":").append(r.offset());
        b.append(",\"detail\":");
        str(b, r.detail());
        b.append(",\"count\":").append(r.count());
        b.append(",\"firstTime\":");
        str(b, r.firstTime());
        b.append(",\"lastTime\":");
        str(b, r.lastTime());
        b.append(",\"prev\":\"").append(HEX.formatHex(r.prev())).append('"');
        b.append(",\"hash\":\"").append(HEX.formatHex(r.hash())).append('"');
        return b.append('}').toString();
    }

    /** The JSON line for a checkpoint (a signed note), without the newline. */
    public static String checkpointLine(String note) {
        StringBuilder b = new StringBuilder(note.length() + 32);
        b.append("{\"").append(CHECKPOINT_KEY).append("\":");
        str(b, note);
        return b.append('}').toString();
    }

    /** Appends {@code s} as a canonical JSON string, or {@code null}. */
    public static void str(StringBuilder b, String s) {
        if (s == null) {
            b.append("null");
            return;
        }
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7F) {
                        b.append("\\u").append(HEX.toHexDigits(c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /**
     * Parses one line (without its newline) as a record or a checkpoint.
     *
     * @throws LogFormatException if the line is not exactly what the writer would produce for the
     *                            values it holds, or a value is out of range
     */
    public static Line parse(String line) throws LogFormatException {
        if (line.length() > MAX_LINE) {
            throw new LogFormatException("line longer than " + MAX_LINE + " chars");
        }
        Map<String, Object> m = new JsonReader(line).readFlatObject();
        Line result;
        if (m.size() == 1 && m.containsKey(CHECKPOINT_KEY)) {
            if (!(m.get(CHECKPOINT_KEY) instanceof String note)) {
                throw new LogFormatException("checkpoint is not a string");
            }
            requireWellFormed(note, CHECKPOINT_KEY);
            result = new Line(null, note);
            if (!checkpointLine(note).equals(line)) {
                throw new LogFormatException("checkpoint line is not in canonical form");
            }
            return result;
        }
        if (!List.copyOf(m.keySet()).equals(RECORD_KEYS)) {
            throw new LogFormatException("record keys are not exactly " + RECORD_KEYS + " in that order");
        }
        long seq = num(m, "seq");
        String time = instant(m, "time", false);
        String type = reqStr(m, "type");
        if (!isKnownType(type)) {
            throw new LogFormatException("unknown type");
        }
        long serial = num(m, "serial");
        String schema = optStr(m, "schema");
        long schemaId = hexLong(m, "schemaId");
        String violation = optStr(m, "violation");
        long offset = num(m, "offset");
        String detail = optStr(m, "detail");
        long count = num(m, "count");
        String firstTime = instant(m, "firstTime", true);
        String lastTime = instant(m, "lastTime", true);
        byte[] prev = hash32(m, "prev");
        byte[] hash = hash32(m, "hash");
        if (seq < 0) {
            throw new LogFormatException("negative seq");
        }
        if (offset < -1) {
            throw new LogFormatException("offset below -1");
        }
        if (count < 1) {
            throw new LogFormatException("count below 1");
        }
        if ((count == 1) != (firstTime == null) || (firstTime == null) != (lastTime == null)) {
            throw new LogFormatException("firstTime/lastTime must be present exactly when count > 1");
        }
        LogRecord r = new LogRecord(seq, time, type, serial, schema, schemaId, violation, offset, detail, count,
                firstTime, lastTime, prev, hash);
        if (!recordLine(r).equals(line)) {
            throw new LogFormatException("record line is not in canonical form");
        }
        return new Line(r, null);
    }

    private static boolean isKnownType(String type) {
        if (LogRecord.isInternalType(type)) {
            return true;
        }
        for (io.tabguard.audit.EventType t : io.tabguard.audit.EventType.values()) {
            if (t.name().equals(type)) {
                return true;
            }
        }
        return false;
    }

    private static long num(Map<String, Object> m, String k) throws LogFormatException {
        if (!(m.get(k) instanceof Long v)) {
            throw new LogFormatException(k + " is not an integer");
        }
        return v;
    }

    private static String optStr(Map<String, Object> m, String k) throws LogFormatException {
        Object v = m.get(k);
        if (v == null) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new LogFormatException(k + " is not a string or null");
        }
        requireWellFormed(s, k);
        return s;
    }

    private static String reqStr(Map<String, Object> m, String k) throws LogFormatException {
        String s = optStr(m, k);
        if (s == null) {
            throw new LogFormatException(k + " is null");
        }
        return s;
    }

    private static void requireWellFormed(String s, String k) throws LogFormatException {
        if (!Text.isWellFormed(s)) {
            throw new LogFormatException(k + " has an unpaired surrogate");
        }
    }

    private static String instant(Map<String, Object> m, String k, boolean optional) throws LogFormatException {
        String s = optional ? optStr(m, k) : reqStr(m, k);
        if (s == null) {
            return null;
        }
        try {
            if (!Instant.parse(s).toString().equals(s)) {
                throw new LogFormatException(k + " is not a canonical ISO-8601 instant");
            }
        } catch (DateTimeParseException e) {
            throw new LogFormatException(k + " is not an ISO-8601 instant");
        }
        return s;
    }

    private static long hexLong(Map<String, Object> m, String k) throws LogFormatException {
        String s = reqStr(m, k);
        if (s.length() != 16 || !isLowerHex(s)) {
            throw new LogFormatException(k + " is not 16 lowercase hex digits");
        }
        return HexFormat.fromHexDigitsToLong(s);
    }

    private static byte[] hash32(Map<String, Object> m, String k) throws LogFormatException {
        String s = reqStr(m, k);
        if (s.length() != 64 || !isLowerHex(s)) {
            throw new LogFormatException(k + " is not 64 lowercase hex digits");
        }
        return HEX.parseHex(s);
    }

    private static boolean isLowerHex(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }

    /** A strict reader for one flat JSON object whose values are strings, integers or null. */
    private static final class JsonReader {
        private final String s;
        private int i;

        JsonReader(String s) {
            this.s = s;
        }

        Map<String, Object> readFlatObject() throws LogFormatException {
            Map<String, Object> m = new LinkedHashMap<>();
            expect('{');
            if (peek() == '}') {
                i++;
            } else {
                while (true) {
                    String key = readString();
                    expect(':');
                    Object v = readValue();
                    if (m.containsKey(key)) {
                        throw new LogFormatException("duplicate key " + key);
                    }
                    m.put(key, v);
                    char c = next();
                    if (c == '}') {
                        break;
                    }
                    if (c != ',') {
                        throw new LogFormatException("expected , or } at " + (i - 1));
                    }
                }
            }
            if (i != s.length()) {
                throw new LogFormatException("trailing characters after the object");
            }
            return m;
        }

        private Object readValue() throws LogFormatException {
            char c = peek();
            if (c == '"') {
                return readString();
            }
            if (c == 'n') {
                if (s.startsWith("null", i)) {
                    i += 4;
                    return null;
                }
                throw new LogFormatException("bad literal at " + i);
            }
            if (c == '-' || (c >= '0' && c <= '9')) {
                int start = i;
                if (c == '-') {
                    i++;
                }
                int digits = i;
                while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                    i++;
                }
                if (i == digits) {
                    throw new LogFormatException("bad number at " + start);
                }
                if (i < s.length() && (s.charAt(i) == '.' || s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                    throw new LogFormatException("not an integer at " + start);
                }
                try {
                    return Long.parseLong(s, start, i, 10);
                } catch (NumberFormatException e) {
                    throw new LogFormatException("integer out of range at " + start);
                }
            }
            throw new LogFormatException("unexpected value at " + i);
        }

        private String readString() throws LogFormatException {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw new LogFormatException("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    throw new LogFormatException("raw control character in string");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (i + 4 > s.length()) {
                            throw new LogFormatException("short unicode escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s, i, i + 4, 16));
                        } catch (NumberFormatException ex) {
                            throw new LogFormatException("bad unicode escape");
                        }
                        i += 4;
                    }
                    default -> throw new LogFormatException("bad escape");
                }
            }
        }

        private char peek() throws LogFormatException {
            if (i >= s.length()) {
                throw new LogFormatException("unexpected end of line");
            }
            return s.charAt(i);
        }

        private char next() throws LogFormatException {
            char c = peek();
            i++;
            return c;
        }

        private void expect(char c) throws LogFormatException {
            if (next() != c) {
                throw new LogFormatException("expected " + c + " at " + (i - 1));
            }
        }
    }
}
