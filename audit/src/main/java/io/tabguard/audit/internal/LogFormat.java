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
        LogRecord r = build(num(m, "seq"), instant(m, "time", false), reqStr(m, "type"), num(m, "serial"),
                optStr(m, "schema"), hexLong(m, "schemaId"), optStr(m, "violation"), num(m, "offset"),
                optStr(m, "detail"), num(m, "count"), instant(m, "firstTime", true), instant(m, "lastTime", true),
                hash32(m, "prev"), hash32(m, "hash"));
        if (!recordLine(r).equals(line)) {
            throw new LogFormatException("record line is not in canonical form");
        }
        return new Line(r, null);
    }

    /** The checks on a record's values that are not about its spelling, shared by both readers. */
    private static LogRecord build(long seq, String time, String type, long serial, String schema, long schemaId,
                                   String violation, long offset, String detail, long count, String firstTime,
                                   String lastTime, byte[] prev, byte[] hash) throws LogFormatException {
        if (!isKnownType(type)) {
            throw new LogFormatException("unknown type");
        }
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
        return new LogRecord(seq, time, type, serial, schema, schemaId, violation, offset, detail, count,
                firstTime, lastTime, prev, hash);
    }

    /**
     * Reads a record line (ASCII bytes {@code b[from, to)}, no newline) in the one canonical spelling
     * the writer produces, without building a map or re-encoding the line: every literal is compared
     * in place, numbers must be in {@link Long#toString} form, strings may only use the writer's
     * escapes, hashes must be lowercase hex. Returns {@code null} for anything else (including a line
     * that is canonical but has an invalid value), so that {@link #parse} can name the fault.
     */
    public static LogRecord parseCanonicalRecord(byte[] b, int from, int to) {
        FastReader f = new FastReader(b, from, to);
        try {
            f.literal(OPEN_SEQ);
            long seq = f.number();
            f.literal(BEFORE_TIME);
            int timeAt = f.i;
            String time = f.string();
            f.literal(BEFORE_TYPE);
            String type = f.string();
            f.literal(BEFORE_SERIAL);
            long serial = f.number();
            f.literal(BEFORE_SCHEMA);
            String schema = f.optString();
            f.literal(BEFORE_SCHEMA_ID);
            long schemaId = f.hexLong();
            f.literal(BEFORE_VIOLATION);
            String violation = f.optString();
            f.literal(BEFORE_OFFSET);
            long offset = f.number();
            f.literal(BEFORE_DETAIL);
            String detail = f.optString();
            f.literal(BEFORE_COUNT);
            long count = f.number();
            f.literal(BEFORE_FIRST_TIME);
            int firstAt = f.i;
            String firstTime = f.optString();
            f.literal(BEFORE_LAST_TIME);
            int lastAt = f.i;
            String lastTime = f.optString();
            f.literal(BEFORE_PREV);
            byte[] prev = f.hash();
            f.literal(BEFORE_HASH);
            byte[] hash = f.hash();
            f.literal(CLOSE);
            if (f.i != to || time == null || type == null || !canonicalInstant(b, timeAt, time)
                    || (firstTime != null && !canonicalInstant(b, firstAt, firstTime))
                    || (lastTime != null && !canonicalInstant(b, lastAt, lastTime))
                    || !wellFormed(schema) || !wellFormed(violation) || !wellFormed(detail) || !wellFormed(type)) {
                return null;
            }
            return build(seq, time, type, serial, schema, schemaId, violation, offset, detail, count, firstTime,
                    lastTime, prev, hash);
        } catch (LogFormatException | RuntimeException e) {
            return null;
        }
    }

    private static boolean wellFormed(String s) {
        return s == null || Text.isWellFormed(s);
    }

    /**
     * True if {@code s}, spelled in the line as a JSON string starting at {@code b[at]} (its opening
     * quote), is exactly what {@link Instant#toString} writes for some instant. The common form (a
     * four-digit year, seconds 0..59, a fraction of 0, 3, 6 or 9 digits whose last group is not 000)
     * is checked on the bytes; anything else is left to {@link Instant#parse}, which is slow.
     */
    private static boolean canonicalInstant(byte[] b, int at, String s) {
        if (isCommonCanonicalInstant(b, at + 1, s.length())) {
            return true;
        }
        try {
            return Instant.parse(s).toString().equals(s);
        } catch (DateTimeParseException e) {
            return false;
        }
    }

    private static final int[] DAYS = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    private static boolean isCommonCanonicalInstant(byte[] b, int o, int n) {
        // yyyy-MM-ddTHH:mm:ss then Z, .fffZ, .ffffffZ or .fffffffffZ
        if (!(n == 20 || n == 24 || n == 27 || n == 30) || o + n > b.length || b[o + 4] != '-' || b[o + 7] != '-'
                || b[o + 10] != 'T' || b[o + 13] != ':' || b[o + 16] != ':' || b[o + n - 1] != 'Z'
                || (n > 20 && b[o + 19] != '.')) {
            return false;
        }
        int century = two(b, o);
        int yearOfCentury = two(b, o + 2);
        int month = two(b, o + 5);
        int day = two(b, o + 8);
        int hour = two(b, o + 11);
        int minute = two(b, o + 14);
        int second = two(b, o + 17);
        if ((century | yearOfCentury | month | day | hour | minute | second) < 0 || month < 1 || month > 12 || day < 1
                || hour > 23 || minute > 59 || second > 59) {
            return false;
        }
        int year = century * 100 + yearOfCentury;
        boolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if (day > (month == 2 && leap ? 29 : DAYS[month - 1])) {
            return false;
        }
        for (int i = o + 20; i < o + n - 1; i++) {
            if (b[i] < '0' || b[i] > '9') {
                return false;
            }
        }
        // Instant.toString never ends a fraction in 000
        return n == 20 || !(b[o + n - 4] == '0' && b[o + n - 3] == '0' && b[o + n - 2] == '0');
    }

    /** The two decimal digits at {@code b[i]}, or -1. */
    private static int two(byte[] b, int i) {
        int h = b[i] - '0';
        int l = b[i + 1] - '0';
        return (h | l | (9 - h) | (9 - l)) < 0 ? -1 : h * 10 + l;
    }

    // The fixed parts of a canonical record line, in order.
    private static final byte[] OPEN_SEQ = ascii("{\"seq\":");
    private static final byte[] BEFORE_TIME = ascii(",\"time\":");
    private static final byte[] BEFORE_TYPE = ascii(",\"type\":");
    private static final byte[] BEFORE_SERIAL = ascii(",\"serial\":");
    private static final byte[] BEFORE_SCHEMA = ascii(",\"schema\":");
    private static final byte[] BEFORE_SCHEMA_ID = ascii(",\"schemaId\":\"");
    private static final byte[] BEFORE_VIOLATION = ascii("\",\"violation\":");
    private static final byte[] BEFORE_OFFSET = ascii(",\"offset\":");
    private static final byte[] BEFORE_DETAIL = ascii(",\"detail\":");
    private static final byte[] BEFORE_COUNT = ascii(",\"count\":");
    private static final byte[] BEFORE_FIRST_TIME = ascii(",\"firstTime\":");
    private static final byte[] BEFORE_LAST_TIME = ascii(",\"lastTime\":");
    private static final byte[] BEFORE_PREV = ascii(",\"prev\":\"");
    private static final byte[] BEFORE_HASH = ascii("\",\"hash\":\"");
    private static final byte[] CLOSE = ascii("\"}");

    private static byte[] ascii(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** The strict reader behind {@link #parseCanonicalRecord}; any deviation throws. */
    private static final class FastReader {
        private final byte[] b;
        private final int end;
        private int i;

        FastReader(byte[] b, int from, int to) {
            this.b = b;
            this.i = from;
            this.end = to;
        }

        private LogFormatException deviation() {
            return new LogFormatException("not canonical");
        }

        void literal(byte[] lit) throws LogFormatException {
            int n = lit.length;
            if (i + n > end) {
                throw deviation();
            }
            for (int k = 0; k < n; k++) { // a plain loop: Arrays.equals costs more than it saves on ~10 bytes
                if (b[i + k] != lit[k]) {
                    throw deviation();
                }
            }
            i += n;
        }

        long number() throws LogFormatException {
            boolean neg = i < end && b[i] == '-';
            int start = neg ? i + 1 : i;
            int j = start;
            while (j < end && b[j] >= '0' && b[j] <= '9') {
                j++;
            }
            int digits = j - start;
            if (digits == 0 || digits > 18 || (b[start] == '0' && (digits > 1 || neg))) {
                throw deviation(); // no leading zero, no -0; 19 digits may overflow: the slow reader decides
            }
            long v = 0;
            for (int k = start; k < j; k++) {
                v = v * 10 + (b[k] - '0');
            }
            i = j;
            return neg ? -v : v;
        }

        String hex(int n) throws LogFormatException {
            if (i + n > end) {
                throw deviation();
            }
            for (int k = i; k < i + n; k++) {
                byte c = b[k];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                    throw deviation();
                }
            }
            String s = new String(b, i, n, java.nio.charset.StandardCharsets.ISO_8859_1);
            i += n;
            return s;
        }

        long hexLong() throws LogFormatException {
            if (i + 16 > end) {
                throw deviation();
            }
            long v = 0;
            for (int k = 0; k < 16; k++) {
                v = (v << 4) | nibble(b[i++]);
            }
            return v;
        }

        byte[] hash() throws LogFormatException {
            if (i + 64 > end) {
                throw deviation();
            }
            byte[] h = new byte[32];
            for (int k = 0; k < 32; k++) {
                h[k] = (byte) ((nibble(b[i]) << 4) | nibble(b[i + 1]));
                i += 2;
            }
            return h;
        }

        private int nibble(byte c) throws LogFormatException {
            if (c >= '0' && c <= '9') {
                return c - '0';
            }
            if (c >= 'a' && c <= 'f') {
                return c - 'a' + 10;
            }
            throw deviation();
        }

        String optString() throws LogFormatException {
            if (i + 4 <= end && b[i] == 'n' && b[i + 1] == 'u' && b[i + 2] == 'l' && b[i + 3] == 'l') {
                i += 4;
                return null;
            }
            return string();
        }

        String string() throws LogFormatException {
            if (i >= end || b[i] != '"') {
                throw deviation();
            }
            int start = ++i;
            while (i < end && b[i] != '"' && b[i] != '\\') {
                if (b[i] < 0x20 || b[i] == 0x7F) {
                    throw deviation();
                }
                i++;
            }
            if (i < end && b[i] == '"') {
                return new String(b, start, i++ - start, java.nio.charset.StandardCharsets.ISO_8859_1);
            }
            StringBuilder out = new StringBuilder(i - start + 16);
            for (int k = start; k < i; k++) {
                out.append((char) b[k]);
            }
            while (true) {
                if (i >= end) {
                    throw deviation();
                }
                byte c = b[i++];
                if (c == '"') {
                    return out.toString();
                }
                if (c < 0x20 || c == 0x7F) {
                    throw deviation();
                }
                if (c != '\\') {
                    out.append((char) c);
                    continue;
                }
                if (i >= end) {
                    throw deviation();
                }
                byte e = b[i++];
                switch (e) {
                    case '"' -> out.append('"');
                    case '\\' -> out.append('\\');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> {
                        char u = (char) HexFormat.fromHexDigits(hex(4));
                        // the writer uses \\u only for what has no short escape and is not printable ASCII
                        if ((u >= 0x20 && u < 0x7F) || u == '\b' || u == '\f' || u == '\n' || u == '\r' || u == '\t') {
                            throw deviation();
                        }
                        out.append(u);
                    }
                    default -> throw deviation();
                }
            }
        }
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
