package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.LogFormatException;
import io.tabguard.audit.internal.LogRecord;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The verifier's fast record reader (no map, no re-encoding) accepts exactly the lines the strict
 * reader accepts: every line of a real log, and every one-byte edit of them, gets the same answer
 * from both, and the fast reader really is the one used for genuine lines.
 */
class CanonicalReaderTest {
    private static final byte[] REPLACEMENTS = "0 9af\"\\/nu-.:TZ{}\u007f".getBytes(StandardCharsets.ISO_8859_1);

    private static LogRecord strict(String line) {
        try {
            return LogFormat.parse(line).record();
        } catch (LogFormatException e) {
            return null;
        }
    }

    private static void assertSame(LogRecord fast, LogRecord slow, String what) {
        if (fast == null) {
            return; // the fast reader may decline: the strict one then decides
        }
        assertNotNull(slow, "fast reader accepted what the strict one refuses: " + what);
        assertEquals(LogFormat.recordLine(slow), LogFormat.recordLine(fast), what);
        assertArrayEquals(slow.hash(), fast.hash(), what);
    }

    @Test
    void bothReadersAgreeOnEveryLineAndEveryOneByteEdit(@TempDir Path dir) throws Exception {
        Path log = Fixtures.writeLog(dir, "r.log", 60, 16);
        int records = 0;
        for (String line : Fixtures.lines(log)) {
            byte[] b = line.getBytes(StandardCharsets.US_ASCII);
            LogRecord fast = LogFormat.parseCanonicalRecord(b, 0, b.length);
            LogRecord slow = strict(line);
            if (Fixtures.isRecord(line)) {
                records++;
                assertNotNull(fast, "the fast reader reads a genuine line: " + line);
            } else {
                assertNull(fast, "a checkpoint line is not a record");
            }
            assertSame(fast, slow, line);
            for (int i = 0; i < b.length; i++) {
                for (byte r : REPLACEMENTS) {
                    if (b[i] == r) {
                        continue;
                    }
                    byte[] e = b.clone();
                    e[i] = r;
                    String edited = new String(e, StandardCharsets.ISO_8859_1);
                    assertSame(LogFormat.parseCanonicalRecord(e, 0, e.length), strict(edited), edited);
                }
            }
        }
        assertEquals(62, records);
    }

    @Test
    void escapesAndTimesAgree() {
        Random rnd = new Random(13);
        String[] details = {"plain", "quote \" back \\ slash /", "\u0001\u001f\u007f\u0080\u00e9\u2014\ud83d\ude00",
                "\b\f\n\r\t", ""};
        for (int k = 0; k < 2000; k++) {
            long secs = rnd.nextLong(-62_000_000_000L, 400_000_000_000L);
            int nanos = switch (k % 4) {
                case 0 -> 0;
                case 1 -> rnd.nextInt(1000) * 1_000_000;
                case 2 -> rnd.nextInt(1_000_000) * 1000;
                default -> rnd.nextInt(1_000_000_000);
            };
            String time = Instant.ofEpochSecond(secs, nanos).toString();
            LogRecord r = LogRecord.create(k, time, "TABLE_REFUSED", k, "s", k, "SIGNATURE", 1, details[k % details.length],
                    1, null, null, new byte[32]);
            String line = LogFormat.recordLine(r);
            byte[] b = line.getBytes(StandardCharsets.US_ASCII);
            LogRecord fast = LogFormat.parseCanonicalRecord(b, 0, b.length);
            assertSame(fast, strict(line), line);
            assertTrue(strict(line) != null, line);
            // non-canonical spellings of the same time: a trailing 000 group, a lower-case z, a leap second
            for (String t : List.of(time.replace("Z", "000Z"), time.replace("Z", "z"), time.replace(":00Z", ":60Z"),
                    time.replace("-01-", "-13-"), time.replace("T", "t"))) {
                if (t.equals(time)) {
                    continue;
                }
                String e = line.replace("\"time\":\"" + time + "\"", "\"time\":\"" + t + "\"");
                byte[] eb = e.getBytes(StandardCharsets.US_ASCII);
                assertSame(LogFormat.parseCanonicalRecord(eb, 0, eb.length), strict(e), e);
            }
        }
    }
}
