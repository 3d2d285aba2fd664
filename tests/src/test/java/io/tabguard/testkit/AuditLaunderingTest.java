package io.tabguard.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.VerificationReport;
import io.tabguard.audit.VerificationReport.Reason;
import io.tabguard.audit.VerificationReport.Verdict;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's first attack, end to end through the registry: a record forged after a closed log, with
 * its hash chain recomputed from the documented encoding (docs/audit-log.md, "Canonical encoding"), and then
 * {@code Registry.open(auditLog(same path)).close()}. Before format v2 the reopen signed the forgery
 * and the log verified intact.
 */
class AuditLaunderingTest {
    private static final Pattern LAST = Pattern.compile("\\{\"seq\":(\\d+),.*\"hash\":\"([0-9a-f]{64})\"}");

    @TempDir
    Path dir;

    /** A record line and its hash, made by hand from docs/audit-log.md's description of the format. */
    static String forge(long seq, String type, byte[] prev) throws IOException {
        String time = "2026-01-01T00:00:00Z";
        ByteArrayOutputStream enc = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(enc);
        d.write("tabguard-audit-record-v1\n".getBytes(StandardCharsets.US_ASCII));
        d.writeLong(seq);
        str(d, time);
        str(d, type);
        d.writeLong(7);          // serial
        d.writeByte(0);          // schema null
        d.writeLong(0);          // schemaId
        d.writeByte(0);          // violation null
        d.writeLong(-1);         // offset
        d.writeByte(1);
        str(d, "forged");        // detail
        d.writeLong(1);          // count
        d.writeByte(0);          // firstTime null
        d.writeByte(0);          // lastTime null
        d.write(prev);
        byte[] hash;
        try {
            hash = MessageDigest.getInstance("SHA-256").digest(enc.toByteArray());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        HexFormat hex = HexFormat.of();
        return "{\"seq\":" + seq + ",\"time\":\"" + time + "\",\"type\":\"" + type + "\",\"serial\":7,\"schema\":null,"
                + "\"schemaId\":\"0000000000000000\",\"violation\":null,\"offset\":-1,\"detail\":\"forged\",\"count\":1,"
                + "\"firstTime\":null,\"lastTime\":null,\"prev\":\"" + hex.formatHex(prev) + "\",\"hash\":\""
                + hex.formatHex(hash) + "\"}";
    }

    private static void str(DataOutputStream d, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        d.writeInt(b.length);
        d.write(b);
    }

    private static Registry open(Path log) {
        return Registry.open(RegistryOptions.builder().auditLog(log).build());
    }

    /** Appends a forged record after the last record of the closed log. */
    private static long appendForged(Path log, String type) throws IOException {
        List<String> lines = Files.readAllLines(log, StandardCharsets.US_ASCII);
        Matcher m = null;
        for (int i = lines.size() - 1; i >= 0 && m == null; i--) {
            Matcher x = LAST.matcher(lines.get(i));
            if (x.matches()) {
                m = x;
            }
        }
        assertTrue(m != null);
        long seq = Long.parseLong(m.group(1)) + 1;
        Files.writeString(log, forge(seq, type, HexFormat.of().parseHex(m.group(2))) + "\n", StandardOpenOption.APPEND);
        return seq;
    }

    @Test
    void aForgedRecordAfterAClosedLogMakesTheRegistryRefuseToOpenIt() throws Exception {
        Path log = dir.resolve("events.jsonl");
        open(log).close();
        assertTrue(AuditVerifier.verify(log).intact(), "the honest twin");
        long forged = appendForged(log, "TABLE_ACCEPTED");
        byte[] evidence = Files.readAllBytes(log);
        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(Reason.OUT_OF_PLACE, r.reason(), r.describe());
        assertEquals(forged, r.firstBadSeq());

        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> open(log).close());
        assertTrue(e.getCause().getMessage().contains("OUT_OF_PLACE"), e.getCause().getMessage());
        assertArrayEquals(evidence, Files.readAllBytes(log), "nothing was signed over the forgery");
        assertEquals(Reason.OUT_OF_PLACE, AuditVerifier.verify(log).reason());
    }

    @Test
    void aForgedSessionStartAfterAClosedLogStaysUnsealedThroughRegistryReopens() throws Exception {
        Path log = dir.resolve("events.jsonl");
        open(log).close();
        long forged = appendForged(log, "LOG_OPENED");
        open(log).close();
        open(log).close();
        VerificationReport r = AuditVerifier.verify(log);
        assertEquals(Verdict.UNSEALED, r.verdict(), r.describe());
        assertFalse(r.intact());
        assertEquals(forged, r.unsealed().getFirst().firstSeq());
        assertEquals(forged, r.unsealed().getFirst().lastSeq());
    }

    @Test
    void theRegistryCanKeepTheAuditKeyOutsideTheLogFolder() throws Exception {
        Path logs = Files.createDirectories(dir.resolve("logs"));
        Path key = dir.resolve("secrets").resolve("audit.key");
        Path log = logs.resolve("events.jsonl");
        Registry.open(RegistryOptions.builder().auditLog(log).auditKeyFile(key).build()).close();
        assertTrue(Files.exists(key));
        assertFalse(Files.exists(Path.of(log + ".key")));
        assertTrue(AuditVerifier.verify(log).intact());
        // and without the option that log cannot be reopened: its key is not beside it
        assertThrows(UncheckedIOException.class, () -> open(log).close());
    }
}
