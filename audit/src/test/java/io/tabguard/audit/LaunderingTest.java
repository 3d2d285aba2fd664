package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.VerificationReport.Reason;
import io.tabguard.audit.VerificationReport.UnsealedRange;
import io.tabguard.audit.VerificationReport.Verdict;
import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.LogFormatException;
import io.tabguard.audit.internal.LogRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attacks of issue 13: records that no checkpoint sealed must never be laundered into an intact
 * log by a reopen, and a checkpoint that does not match is evidence, not a torn tail. Each attack
 * comes with the honest twin that must still verify.
 */
class LaunderingTest {
    @TempDir
    Path dir;

    /** 40 events, checkpoints every 16: records 0..41, periodic checkpoints at 16 and 32, final at 42. */
    private Path closedLog(String name) throws IOException {
        Path log = Fixtures.writeLog(dir, name, 40, 16);
        assertTrue(AuditVerifier.verify(log).intact(), "the honest twin verifies");
        return log;
    }

    /** Re-chains every record from the first one whose line {@code edit} changes, as an attacker would. */
    static List<String> rechain(List<String> lines) throws LogFormatException {
        List<String> out = new ArrayList<>();
        byte[] prev = new byte[32];
        long seq = 0;
        for (String l : lines) {
            LogRecord r = LogFormat.parse(l).record();
            if (r == null) {
                out.add(l);
                continue;
            }
            LogRecord n = LogRecord.create(seq++, r.time(), r.type(), r.serial(), r.schema(), r.schemaId(),
                    r.violation(), r.offset(), r.detail(), r.count(), r.firstTime(), r.lastTime(), prev);
            out.add(LogFormat.recordLine(n));
            prev = n.hash();
        }
        return out;
    }

    private static LogRecord record(String line) throws LogFormatException {
        return LogFormat.parse(line).record();
    }

    private static String forged(long seq, String type, byte[] prev) {
        return LogFormat.recordLine(LogRecord.create(seq, "2026-01-01T00:00:00Z", type, 7, "s", 0, null, -1,
                "forged", 1, null, null, prev));
    }

    private static int exitOf(Path log) {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(sink, true, StandardCharsets.UTF_8);
        return AuditCommand.run(new String[] {"verify", log.toString()}, p, p);
    }

    @Test
    void aForgedRecordAfterAClosedLogIsEvidenceAndReopenRefuses() throws Exception {
        Path log = closedLog("forged.log");
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        LogRecord last = record(lines.get(lines.size() - 2)); // LOG_CLOSED, before the final checkpoint
        lines.add(forged(last.seq() + 1, "TABLE_ACCEPTED", last.hash()));
        Files.write(log, lines, StandardCharsets.US_ASCII);
        byte[] evidence = Files.readAllBytes(log);

        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(Reason.OUT_OF_PLACE, r.reason(), r.describe());
        assertEquals(last.seq() + 1, r.firstBadSeq());
        assertEquals(lines.size(), r.firstBadLine());
        IOException e = assertThrows(IOException.class, () -> AuditLog.open(log));
        assertTrue(e.getMessage().contains("OUT_OF_PLACE"), e.getMessage());
        assertArrayEquals(evidence, Files.readAllBytes(log), "a refused reopen signs nothing");
        assertEquals(AuditCommand.NOT_INTACT, exitOf(log));
    }

    @Test
    void aForgedLogOpenedAfterAClosedLogStaysUnsealedAfterReopen() throws Exception {
        Path log = closedLog("forged-open.log");
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        LogRecord last = record(lines.get(lines.size() - 2));
        long forgedSeq = last.seq() + 1;
        lines.add(forged(forgedSeq, "LOG_OPENED", last.hash()));
        Files.write(log, lines, StandardCharsets.US_ASCII);
        assertEquals(Reason.TRUNCATED, AuditVerifier.verify(log).reason());

        AuditLog.open(log).close();
        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(Verdict.UNSEALED, r.verdict(), r.describe());
        assertFalse(r.intact());
        assertEquals(List.of(new UnsealedRange(forgedSeq, forgedSeq, lines.size())), r.unsealed());
        assertEquals(AuditCommand.UNSEALED, exitOf(log));
    }

    @Test
    void aRewrittenRefusalWithItsFinalCheckpointDeletedIsNotLaunderedByAReopen() throws Exception {
        Path log = closedLog("rewritten.log");
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        lines.removeLast(); // the final checkpoint
        int refusal = -1;
        for (int i = lines.size() - 1; i >= 0; i--) {
            if (lines.get(i).contains("\"violation\":\"")) {
                refusal = i;
                break;
            }
        }
        LogRecord r0 = record(lines.get(refusal));
        assertTrue(r0.seq() >= 32, "the refusal lies after the last periodic checkpoint: " + r0.seq());
        lines.set(refusal, TamperTest.withField(lines.get(refusal), "violation", "null"));
        lines = rechain(lines);
        Files.write(log, lines, StandardCharsets.US_ASCII);

        AuditLog.open(log).close();
        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(Verdict.UNSEALED, r.verdict(), r.describe());
        UnsealedRange u = r.unsealed().getFirst();
        assertEquals(32, u.firstSeq());
        assertEquals(41, u.lastSeq());
        assertTrue(u.firstSeq() <= r0.seq() && r0.seq() <= u.lastSeq(), "the rewritten record is in the range");
        assertEquals(AuditCommand.UNSEALED, exitOf(log));
    }

    @Test
    void deletedAndRenumberedRecordsAreNotLaunderedByAReopen() throws Exception {
        Path log = closedLog("deleted.log");
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        lines.removeLast();                // final checkpoint
        int at = lines.size() - 4;         // three records before LOG_CLOSED, after the checkpoint at 32
        lines.remove(at);
        lines.remove(at);
        lines = rechain(lines);
        Files.write(log, lines, StandardCharsets.US_ASCII);

        AuditLog.open(log).close();
        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(Verdict.UNSEALED, r.verdict(), r.describe());
        assertEquals(32, r.unsealed().getFirst().firstSeq());
        assertEquals(39, r.unsealed().getFirst().lastSeq(), "42 records less the two deleted");
    }

    @Test
    void aGenuineFinalCheckpointThatNoLongerMatchesIsEvidenceNotATornTail() throws Exception {
        Path log = closedLog("mismatch.log");
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        int edited = lines.size() - 4;
        assertTrue(Fixtures.isRecord(lines.get(edited)));
        lines.set(edited, TamperTest.withField(lines.get(edited), "detail", "\"rewritten\""));
        lines = rechain(lines); // the genuine final checkpoint stays, and no longer matches
        Files.write(log, lines, StandardCharsets.US_ASCII);
        byte[] evidence = Files.readAllBytes(log);

        assertEquals(Reason.ROOT_MISMATCH, AuditVerifier.verify(log).reason());
        IOException e = assertThrows(IOException.class, () -> AuditLog.open(log));
        assertTrue(e.getMessage().contains("ROOT_MISMATCH"), e.getMessage());
        assertArrayEquals(evidence, Files.readAllBytes(log));
        assertFalse(Files.exists(dir.resolve("mismatch.log.torn-1")));
    }

    @Test
    void anHonestReopenAfterACleanCloseStaysIntact() throws Exception {
        Path log = closedLog("twin.log");
        try (AuditLog a = AuditLog.open(log)) {
            a.record(Fixtures.event(1));
        }
        VerificationReport r = AuditVerifier.verify(log);
        assertTrue(r.intact(), r.describe());
        assertEquals(List.of(), r.unsealed());
        assertEquals(AuditCommand.INTACT, exitOf(log));
    }

    // ------------------------------------------------------------------ deleted checkpoints

    private static List<String> withoutLine(List<String> lines, int i) {
        List<String> v = new ArrayList<>(lines);
        v.remove(i);
        return v;
    }

    @Test
    void deletingAnyCheckpointIsDetected() throws Exception {
        Path log = closedLog("s1.log");
        try (AuditLog a = AuditLog.open(log, AuditLog.Options.defaults().withCheckpointEvery(16))) {
            for (int i = 0; i < 20; i++) {
                a.record(Fixtures.event(i));
            }
        }
        List<String> lines = Fixtures.lines(log);
        var key = Fixtures.pub(log);
        assertTrue(Fixtures.verify(lines, key).intact());
        int checked = 0;
        for (int i = 0; i < lines.size() - 1; i++) { // every checkpoint but the last (that one is truncation)
            if (!Fixtures.isCheckpoint(lines.get(i))) {
                continue;
            }
            VerificationReport r = Fixtures.verify(withoutLine(lines, i), key);
            assertEquals(Reason.CHECKPOINT_MISSING, r.reason(), "checkpoint on line " + (i + 1) + ": " + r.describe());
            assertEquals(record(lines.get(i - 1)).seq() + 1, r.firstBadSeq(), "names where the checkpoint was");
            checked++;
        }
        assertEquals(4, checked, "checkpoints at 16 and 32, session 1's final one at 42, session 2's periodic one at 58");
    }

    @Test
    void everyCheckpointCommitsToThePreviousOne() throws Exception {
        // A checkpoint moved after the next one: the sizes are caught first; swapped neighbours in
        // one place would need a signature, so the only free move is deletion, checked above.
        Path log = closedLog("swap.log");
        List<String> lines = Fixtures.lines(log);
        List<Integer> cps = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (Fixtures.isCheckpoint(lines.get(i))) {
                cps.add(i);
            }
        }
        assertEquals(3, cps.size());
        String second = LogFormat.parse(lines.get(cps.get(1))).checkpointNote();
        String first = LogFormat.parse(lines.get(cps.get(0))).checkpointNote();
        var c1 = io.tabguard.audit.internal.Checkpoint.parseUnverified(first);
        var c2 = io.tabguard.audit.internal.Checkpoint.parseUnverified(second);
        assertTrue(c2.predecessor().is(c1.treeSize(), c1.root()));
        assertTrue(io.tabguard.audit.internal.Checkpoint.parseUnverified(first).predecessor().is(0,
                java.security.MessageDigest.getInstance("SHA-256").digest()));
    }

    // ------------------------------------------------------------------ --since

    private Path saveCheckpoint(Path log, String name) throws IOException {
        List<String> lines = Fixtures.lines(log);
        Path saved = dir.resolve(name);
        Files.writeString(saved, lines.getLast() + "\n", StandardCharsets.US_ASCII);
        return saved;
    }

    private int runSince(Path log, Path since) {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(sink, true, StandardCharsets.UTF_8);
        return AuditCommand.run(new String[] {"verify", log.toString(), "--since", since.toString()}, p, p);
    }

    @Test
    void aLogCutBackToAnEarlierSessionFailsAgainstASavedCheckpoint() throws Exception {
        Path log = closedLog("rollback.log");
        byte[] session1 = Files.readAllBytes(log);
        try (AuditLog a = AuditLog.open(log)) {
            a.record(Fixtures.event(3));
        }
        Path saved = saveCheckpoint(log, "saved.checkpoint");
        assertEquals(AuditCommand.INTACT, runSince(log, saved), "the honest twin extends its own checkpoint");
        try (AuditLog a = AuditLog.open(log)) {
            a.record(Fixtures.event(4));
        }
        assertEquals(AuditCommand.INTACT, runSince(log, saved), "a log that grew extends the saved checkpoint");

        Files.write(log, session1); // cut back to session 1's final checkpoint
        assertTrue(AuditVerifier.verify(log).intact(), "on its own, a rolled-back log looks closed");
        VerificationReport r = AuditVerifier.verify(log, Path.of(log + ".pub"), saved);
        assertEquals(Reason.INCONSISTENT, r.reason(), r.describe());
        assertEquals(AuditCommand.NOT_INTACT, runSince(log, saved));
    }

    @Test
    void aLogRewrittenWithTheStolenKeyFailsAgainstASavedCheckpoint() throws Exception {
        Path log = closedLog("orig.log");
        Path saved = saveCheckpoint(log, "orig.checkpoint");
        // The attacker holds the key: a whole new history signed by it, longer than the saved one.
        Path forged = dir.resolve("forged-history.log");
        try (AuditLog a = AuditLog.open(forged, AuditLog.Options.defaults().withKeyFile(Path.of(log + ".key")))) {
            for (int i = 0; i < 60; i++) {
                a.record(Fixtures.event(i + 1));
            }
        }
        Files.copy(Path.of(log + ".pub"), Path.of(forged + ".pub"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertTrue(AuditVerifier.verify(forged).intact(), "signed by the stolen key, it verifies on its own");
        VerificationReport r = AuditVerifier.verify(forged, Path.of(log + ".pub"), saved);
        assertEquals(Reason.INCONSISTENT, r.reason(), r.describe());
    }

    @Test
    void aSinceFileThatIsNotASignedCheckpointIsAUsageError() throws Exception {
        Path log = closedLog("u.log");
        Path bad = dir.resolve("bad.checkpoint");
        String genuine = Fixtures.lines(log).getLast();
        String edited = genuine.replace("\\n42\\n", "\\n41\\n"); // the signed size changed
        assertFalse(edited.equals(genuine));
        Files.writeString(bad, edited + "\n");
        assertEquals(AuditCommand.USAGE, runSince(log, bad));
        Files.writeString(bad, Fixtures.lines(log).getFirst() + "\n");
        assertEquals(AuditCommand.USAGE, runSince(log, bad));
        // the note itself, as jq -r prints it, is accepted
        Files.writeString(bad, LogFormat.parse(Fixtures.lines(log).getLast()).checkpointNote() + "\n");
        assertEquals(AuditCommand.INTACT, runSince(log, bad));
    }
}
