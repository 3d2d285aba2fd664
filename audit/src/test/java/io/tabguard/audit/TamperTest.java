package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.VerificationReport.Reason;
import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.LogRecord;
import io.tabguard.audit.internal.NoteKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of tampering, on every record where that is cheap: the verifier must refuse the log and
 * name the first bad record (its position) and line exactly.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TamperTest {
    List<String> lines;
    NoteKey key;
    /** recordsBefore[i] = number of record lines among lines[0, i). */
    int[] recordsBefore;
    int records;

    @BeforeAll
    void writeLog(@TempDir Path dir) throws Exception {
        Path log = Fixtures.writeLog(dir, "t.log", 300, 16);
        lines = Fixtures.lines(log);
        key = Fixtures.pub(log);
        recordsBefore = new int[lines.size() + 1];
        for (int i = 0; i < lines.size(); i++) {
            recordsBefore[i + 1] = recordsBefore[i] + (Fixtures.isRecord(lines.get(i)) ? 1 : 0);
        }
        records = recordsBefore[lines.size()];
        assertEquals(302, records);
        assertTrue(Fixtures.verify(lines, key).intact());
    }

    private int lineOfSeq(int seq) {
        for (int i = 0; i < lines.size(); i++) {
            if (Fixtures.isRecord(lines.get(i)) && recordsBefore[i] == seq) {
                return i;
            }
        }
        throw new AssertionError("no record " + seq);
    }

    private static void assertBad(VerificationReport r, long seq, long line, String what, Reason... reasons) {
        assertFalse(r.intact(), what + ": not detected");
        assertEquals(seq, r.firstBadSeq(), what + ": wrong record named: " + r.describe());
        assertEquals(line, r.firstBadLine(), what + ": wrong line named: " + r.describe());
        if (reasons.length > 0) {
            assertTrue(List.of(reasons).contains(r.reason()), what + ": unexpected reason " + r.describe());
        }
    }

    // ------------------------------------------------------------------ edits

    private static final Pattern FIELD = Pattern.compile("\"([a-zA-Z]+)\":(\"(?:[^\"\\\\]|\\\\.)*\"|null|-?[0-9]+)");

    /** Replaces the raw JSON value of {@code field} in {@code line}. */
    static String withField(String line, String field, String rawValue) {
        Matcher m = FIELD.matcher(line);
        while (m.find()) {
            if (m.group(1).equals(field)) {
                return line.substring(0, m.start(2)) + rawValue + line.substring(m.end(2));
            }
        }
        throw new AssertionError("no field " + field);
    }

    static String rawField(String line, String field) {
        Matcher m = FIELD.matcher(line);
        while (m.find()) {
            if (m.group(1).equals(field)) {
                return m.group(2);
            }
        }
        throw new AssertionError("no field " + field);
    }

    /** One changed value for each field, and the reason that change must produce. */
    private static Map<String, Object[]> edits(String line) {
        long seq = Long.parseLong(rawField(line, "seq"));
        String time = rawField(line, "time");
        String otherTime = time.startsWith("\"1999") ? "\"2000-01-01T00:00:00Z\"" : "\"1999-01-01T00:00:00Z\"";
        String type = rawField(line, "type");
        String schema = rawField(line, "schema");
        String violation = rawField(line, "violation");
        String detail = rawField(line, "detail");
        String prev = rawField(line, "prev");
        String hash = rawField(line, "hash");
        Map<String, Object[]> m = new java.util.LinkedHashMap<>();
        m.put("seq", new Object[] {String.valueOf(seq + 1), Reason.SEQUENCE_GAP});
        m.put("time", new Object[] {otherTime, Reason.HASH_MISMATCH});
        m.put("type", new Object[] {type.equals("\"TABLE_ACCEPTED\"") ? "\"TABLE_REFUSED\"" : "\"TABLE_ACCEPTED\"",
                Reason.HASH_MISMATCH});
        m.put("serial", new Object[] {String.valueOf(Long.parseLong(rawField(line, "serial")) + 1), Reason.HASH_MISMATCH});
        m.put("schema", new Object[] {schema.equals("null") ? "\"x\"" : "null", Reason.HASH_MISMATCH});
        m.put("schemaId", new Object[] {"\"" + HexFormat.of().toHexDigits(
                HexFormat.fromHexDigitsToLong(rawField(line, "schemaId").replace("\"", "")) ^ 1) + "\"",
                Reason.HASH_MISMATCH});
        m.put("violation", new Object[] {violation.equals("\"CHECKSUM\"") ? "\"SIGNATURE\"" : "\"CHECKSUM\"",
                Reason.HASH_MISMATCH});
        m.put("offset", new Object[] {String.valueOf(Long.parseLong(rawField(line, "offset")) + 5), Reason.HASH_MISMATCH});
        m.put("detail", new Object[] {detail.equals("\"benign\"") ? "\"other\"" : "\"benign\"", Reason.HASH_MISMATCH});
        m.put("count", new Object[] {"2", Reason.MALFORMED}); // count > 1 needs firstTime/lastTime
        m.put("firstTime", new Object[] {otherTime, Reason.MALFORMED});
        m.put("lastTime", new Object[] {otherTime, Reason.MALFORMED});
        m.put("prev", new Object[] {flipHex(prev), Reason.CHAIN_BROKEN});
        m.put("hash", new Object[] {flipHex(hash), Reason.HASH_MISMATCH});
        return m;
    }

    private static String flipHex(String quoted) {
        char c = quoted.charAt(10);
        return quoted.substring(0, 10) + (c == '0' ? '1' : '0') + quoted.substring(11);
    }

    @Test
    void everyFieldEditOfSeveralRecordsIsNamed() {
        int[] seqs = {0, 1, 2, 15, 16, 17, 100, 151, 255, 256, 299, 300, records - 1};
        int variants = 0;
        for (int seq : seqs) {
            int i = lineOfSeq(seq);
            for (Map.Entry<String, Object[]> e : edits(lines.get(i)).entrySet()) {
                List<String> v = new ArrayList<>(lines);
                String edited = withField(lines.get(i), e.getKey(), (String) e.getValue()[0]);
                assertFalse(edited.equals(lines.get(i)), "the edit changed nothing");
                v.set(i, edited);
                assertBad(Fixtures.verify(v, key), seq, i + 1, "edit of " + e.getKey() + " in record " + seq,
                        (Reason) e.getValue()[1]);
                variants++;
            }
        }
        assertEquals(seqs.length * 14, variants);
    }

    @Test
    void anyByteChangeInAnyLineIsDetected() {
        // Whitespace, key order, escapes: nothing outside the canonical form passes.
        int i = lineOfSeq(40);
        String l = lines.get(i);
        List<String> variants = List.of(
                l.replace("{\"seq\"", "{ \"seq\""),
                l.replace("\"time\"", "\"Time\""),
                l.replace("}", ",\"extra\":1}"),
                l + " ",
                l.replace("\"type\":", "\"type\" :"));
        for (String edited : variants) {
            List<String> v = new ArrayList<>(lines);
            v.set(i, edited);
            assertBad(Fixtures.verify(v, key), 40, i + 1, "byte change", Reason.MALFORMED);
        }
    }

    @Test
    void editsOfCheckpointsAreDetected() {
        int checked = 0;
        for (int i = 0; i < lines.size(); i++) {
            if (!Fixtures.isCheckpoint(lines.get(i))) {
                continue;
            }
            String l = lines.get(i);
            // change one base64 character of the root hash (third line of the note)
            int rootStart = l.indexOf("\\n", l.indexOf("\\n") + 2) + 2;
            char c = l.charAt(rootStart);
            String edited = l.substring(0, rootStart) + (c == 'A' ? 'B' : 'A') + l.substring(rootStart + 1);
            List<String> v = new ArrayList<>(lines);
            v.set(i, edited);
            assertBad(Fixtures.verify(v, key), recordsBefore[i], i + 1, "checkpoint root edit at line " + (i + 1),
                    Reason.BAD_CHECKPOINT_SIGNATURE);
            checked++;
        }
        assertEquals(19, checked);
    }

    // ------------------------------------------------------------------ deletion, duplication, swaps

    @Test
    void deletionOfEveryRecordIsNamed() {
        for (int i = 0; i < lines.size(); i++) {
            if (!Fixtures.isRecord(lines.get(i))) {
                continue;
            }
            List<String> v = new ArrayList<>(lines);
            v.remove(i);
            assertBad(Fixtures.verify(v, key), recordsBefore[i], i + 1, "deletion of line " + (i + 1),
                    Reason.SEQUENCE_GAP, Reason.CHECKPOINT_SIZE_MISMATCH);
        }
    }

    @Test
    void deletionOfTheFinalCheckpointIsTruncation() {
        List<String> v = new ArrayList<>(lines);
        v.removeLast();
        int lastCp = v.size() - 1;
        while (!Fixtures.isCheckpoint(v.get(lastCp))) {
            lastCp--;
        }
        assertBad(Fixtures.verify(v, key), recordsBefore[lastCp + 1], lastCp + 2, "final checkpoint deleted",
                Reason.TRUNCATED);
    }

    @Test
    void duplicationOfEveryLineIsNamed() {
        for (int i = 0; i < lines.size(); i++) {
            List<String> v = new ArrayList<>(lines);
            v.add(i + 1, lines.get(i));
            assertBad(Fixtures.verify(v, key), recordsBefore[i + 1], i + 2, "duplication of line " + (i + 1),
                    Reason.SEQUENCE_GAP, Reason.CHECKPOINT_SIZE_MISMATCH);
        }
    }

    @Test
    void swapOfEveryPairOfNeighboursIsNamed() {
        for (int i = 0; i + 1 < lines.size(); i++) {
            List<String> v = new ArrayList<>(lines);
            v.set(i, lines.get(i + 1));
            v.set(i + 1, lines.get(i));
            // A checkpoint moved down past a record is noticed one line later, where it now is.
            boolean checkpointFirst = Fixtures.isCheckpoint(lines.get(i));
            assertBad(Fixtures.verify(v, key), recordsBefore[i], checkpointFirst ? i + 2 : i + 1,
                    "swap of lines " + (i + 1) + " and " + (i + 2),
                    Reason.SEQUENCE_GAP, Reason.CHECKPOINT_SIZE_MISMATCH);
        }
    }

    // ------------------------------------------------------------------ truncation

    @Test
    void truncationAtEveryLineBoundaryIsNamed() {
        for (int k = 0; k < lines.size(); k++) {
            List<String> v = lines.subList(0, k);
            long expectedSeq;
            long expectedLine;
            if (k == 0) {
                expectedSeq = 0;
                expectedLine = 1;
            } else if (Fixtures.isCheckpoint(v.get(k - 1))) {
                expectedSeq = recordsBefore[k]; // the first record cut off
                expectedLine = k + 1;
            } else {
                int lastCp = k - 1;
                while (lastCp >= 0 && !Fixtures.isCheckpoint(v.get(lastCp))) {
                    lastCp--;
                }
                expectedSeq = recordsBefore[lastCp + 1]; // first record not covered by a checkpoint
                expectedLine = lastCp + 2;
            }
            assertBad(Fixtures.verify(v, key), expectedSeq, expectedLine, "truncation to " + k + " lines",
                    Reason.TRUNCATED);
        }
        assertTrue(Fixtures.verify(lines, key).intact());
    }

    @Test
    void truncationInsideALineIsDetected() {
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append(l).append('\n');
        }
        byte[] all = b.toString().getBytes(StandardCharsets.US_ASCII);
        for (int cut : new int[] {1, all.length / 3, all.length / 2, all.length - 2}) {
            byte[] part = java.util.Arrays.copyOf(all, cut);
            VerificationReport r = Fixtures.verifyBytes(part, key);
            assertFalse(r.intact(), "cut at byte " + cut);
            assertEquals(Reason.TRUNCATED, r.reason(), r.describe());
        }
    }

    // ------------------------------------------------------------------ forgeries that recompute hashes

    @Test
    void insertedForgedRecordIsDetected() {
        // A record with a correct seq, prev and hash, inserted after record 20: the chain breaks right after it.
        int i = lineOfSeq(20);
        String h = rawField(lines.get(i), "hash").replace("\"", "");
        LogRecord forged = LogRecord.create(21, "2025-01-01T00:00:00Z", "TABLE_ACCEPTED", 1, null, 0, null, -1,
                "forged", 1, null, null, HexFormat.of().parseHex(h));
        List<String> v = new ArrayList<>(lines);
        v.add(i + 1, LogFormat.recordLine(forged));
        assertBad(Fixtures.verify(v, key), 22, i + 3, "forged insertion", Reason.SEQUENCE_GAP);
    }

    @Test
    void rewritingTheChainAfterAnEditIsCaughtBySignedRoot() throws Exception {
        // Edit record 40 and recompute every later hash and prev: only the signed Merkle root catches it.
        List<String> v = new ArrayList<>(lines);
        int start = lineOfSeq(40);
        byte[] prev = null;
        for (int i = start; i < v.size(); i++) {
            if (!Fixtures.isRecord(v.get(i))) {
                continue;
            }
            LogRecord r = LogFormat.parse(v.get(i)).record();
            String detail = i == start ? "rewritten" : r.detail();
            LogRecord n = LogRecord.create(r.seq(), r.time(), r.type(), r.serial(), r.schema(), r.schemaId(),
                    r.violation(), r.offset(), detail, r.count(), r.firstTime(), r.lastTime(),
                    prev == null ? r.prev() : prev);
            v.set(i, LogFormat.recordLine(n));
            prev = n.hash();
        }
        int cpLine = start;
        while (!Fixtures.isCheckpoint(lines.get(cpLine))) {
            cpLine++;
        }
        // record 40 lies in the range 32..47 signed by the checkpoint after record 47
        assertBad(Fixtures.verify(v, key), 32, cpLine + 1, "chain rewrite", Reason.ROOT_MISMATCH);
    }
}
