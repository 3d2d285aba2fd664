package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.VerificationReport.Reason;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CrashRecoveryTest {
    @TempDir
    Path dir;

    /** A log as a crash leaves it: records written, no LOG_CLOSED and no final checkpoint. */
    private Path crashedLog(String name, int events) throws IOException {
        Path log = Fixtures.writeLog(dir, name, events, 16);
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        lines.removeLast(); // final checkpoint
        lines.removeLast(); // LOG_CLOSED
        Files.write(log, lines, StandardCharsets.US_ASCII);
        return log;
    }

    @Test
    void tornTailIsSetAsideReportedAndTheChainContinues() throws Exception {
        Path log = crashedLog("torn.log", 40);
        List<String> before = Fixtures.lines(log);
        // half of a record line, as a kill -9 in the middle of a write leaves it
        String half = before.get(5).substring(0, before.get(5).length() / 2);
        byte[] torn = half.getBytes(StandardCharsets.US_ASCII);
        Files.write(log, torn, StandardOpenOption.APPEND);
        VerificationReport crashed = AuditVerifier.verify(log);
        assertFalse(crashed.intact());
        assertEquals(Reason.TRUNCATED, crashed.reason());

        try (AuditLog a = AuditLog.open(log)) {
            a.record(SecurityEvent.of(EventType.TABLE_REFUSED, 9, "s", 1, "SIGNATURE", 3, "after the crash"));
        }
        Path side = dir.resolve("torn.log.torn-1");
        assertTrue(Files.exists(side), "the torn bytes are kept in a side file");
        assertArrayEquals(torn, Files.readAllBytes(side));

        List<String> after = Fixtures.lines(log);
        assertEquals(before, after.subList(0, before.size()), "the good records are untouched");
        Map<String, Object> opened = MiniJson.object(after.get(before.size()));
        assertEquals("LOG_OPENED", opened.get("type"));
        assertTrue(((String) opened.get("detail")).contains("unclean shutdown"), (String) opened.get("detail"));
        // 41 records (LOG_OPENED + 40 events), checkpoints every 16: 32..40 were never sealed
        Map<String, Object> lastGood = MiniJson.object(before.getLast());
        Map<String, Object> unsealed = MiniJson.object(after.get(before.size() + 1));
        assertEquals("LOG_UNSEALED", unsealed.get("type"));
        assertEquals("records 32..40 were not covered by a signed checkpoint at reopen; last hash "
                + lastGood.get("hash"), unsealed.get("detail"));
        Map<String, Object> tornRecord = MiniJson.object(after.get(before.size() + 2));
        assertEquals("LOG_TORN_TAIL", tornRecord.get("type"));
        assertEquals("torn tail of " + torn.length + " bytes set aside to torn.log.torn-1", tornRecord.get("detail"));
        // the new records chain onto the last good one
        assertEquals(lastGood.get("hash"), opened.get("prev"));
        assertEquals((Long) lastGood.get("seq") + 1, opened.get("seq"));

        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(VerificationReport.Verdict.UNSEALED, r.verdict(), r.describe());
        assertEquals(List.of(new VerificationReport.UnsealedRange(32, 40, before.indexOf(firstRecordLine(before, 32)) + 1)),
                r.unsealed());
        assertEquals(32, r.firstBadSeq());
        assertEquals(41 + 5, r.records(), "41 old records, LOG_OPENED, LOG_UNSEALED, LOG_TORN_TAIL, the event, LOG_CLOSED");
        // and it stays so through further clean sessions
        AuditLog.open(log).close();
        assertEquals(r.unsealed(), AuditVerifier.verify(log).unsealed());
        assertEquals(VerificationReport.Verdict.UNSEALED, AuditVerifier.verify(log).verdict());
    }

    private static String firstRecordLine(List<String> lines, long seq) {
        return lines.stream().filter(l -> l.startsWith("{\"seq\":" + seq + ",")).findFirst().orElseThrow();
    }

    @Test
    void aCompleteButBadLastLineIsEvidenceNotATornTail() throws Exception {
        Path log = crashedLog("bad.log", 20);
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        String lastLine = lines.getLast();
        lines.set(lines.size() - 1, lastLine.replace("\"hash\":\"", "\"hash\":\"0"));
        Files.write(log, lines, StandardCharsets.US_ASCII);
        byte[] content = Files.readAllBytes(log);
        IOException e = assertThrows(IOException.class, () -> AuditLog.open(log));
        assertTrue(e.getMessage().contains("MALFORMED"), e.getMessage());
        assertArrayEquals(content, Files.readAllBytes(log), "evidence is left exactly as it was");
        assertFalse(Files.exists(dir.resolve("bad.log.torn-1")));

        // the twin: the same line cut short (no newline) is what a crash leaves, and is set aside
        Files.write(log, Arrays.copyOf(content, content.length - 10));
        AuditLog.open(log).close();
        assertTrue(Files.exists(dir.resolve("bad.log.torn-1")));
        assertEquals(VerificationReport.Verdict.UNSEALED, AuditVerifier.verify(log).verdict());
        // a second torn tail gets the next side file
        Files.writeString(log, "{\"seq\":", StandardOpenOption.APPEND);
        AuditLog.open(log).close();
        assertEquals("{\"seq\":", Files.readString(dir.resolve("bad.log.torn-2")));
        assertEquals(VerificationReport.Verdict.UNSEALED, AuditVerifier.verify(log).verdict());
    }

    @Test
    void damageBeforeTheLastLineMakesOpenRefuse() throws Exception {
        Path log = Fixtures.writeLog(dir, "mid.log", 30, 16);
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        lines.set(3, lines.get(3).replace("\"serial\":100", "\"serial\":900"));
        Files.write(log, lines, StandardCharsets.US_ASCII);
        byte[] content = Files.readAllBytes(log);
        IOException e = assertThrows(IOException.class, () -> AuditLog.open(log));
        assertTrue(e.getMessage().contains("HASH_MISMATCH"), e.getMessage());
        assertArrayEquals(content, Files.readAllBytes(log), "a refused log is left exactly as it was");
    }

    /**
     * A real kill -9: a forked JVM writes records in a loop and is killed; the log then reopens and,
     * once closed, verifies.
     */
    @Test
    void killedWriterLeavesALogThatReopensAndVerifies() throws Exception {
        Path log = dir.resolve("killed.log");
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Set<String> cp = new LinkedHashSet<>();
        cp.add(Path.of("target", "test-classes").toAbsolutePath().toString());
        cp.add(Path.of("target", "classes").toAbsolutePath().toString());
        for (String prop : new String[] {"jdk.module.path", "java.class.path"}) {
            String v = System.getProperty(prop);
            if (v != null && !v.isEmpty()) {
                cp.addAll(Arrays.asList(v.split(File.pathSeparator)));
            }
        }
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", String.join(File.pathSeparator, cp),
                KillTarget.class.getName(), log.toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String line;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            while ((line = out.readLine()) != null && !line.equals(KillTarget.READY)) {
                // skip log output until the writer says it is in its loop
            }
            assertEquals(KillTarget.READY, line, "the forked writer did not start");
            Thread.sleep(300); // let it write some more; not a timing assertion
            p.destroyForcibly();
            p.waitFor();
        }
        assertFalse(p.isAlive());
        assertEquals(137, p.exitValue(), "killed by SIGKILL");

        VerificationReport crashed = AuditVerifier.verify(log);
        assertFalse(crashed.intact(), "a killed writer cannot have written its final checkpoint");
        assertEquals(Reason.TRUNCATED, crashed.reason(), crashed.describe());

        AuditLog.open(log).close();
        VerificationReport r = AuditVerifier.verify(log);
        assertTrue(r.records() > KillTarget.BEFORE_READY, "records written before the kill are kept");
        if (crashed.firstBadSeq() < crashed.records()) {
            // the records after the last periodic checkpoint stay marked as never sealed by their session
            assertEquals(VerificationReport.Verdict.UNSEALED, r.verdict(), r.describe());
            assertEquals(1, r.unsealed().size(), r.describe());
            assertEquals(crashed.firstBadSeq(), r.unsealed().getFirst().firstSeq());
            assertEquals(crashed.records() - 1, r.unsealed().getFirst().lastSeq());
        } else {
            assertTrue(r.intact(), "killed right after a checkpoint: every record is sealed: " + r.describe());
        }
    }
}
