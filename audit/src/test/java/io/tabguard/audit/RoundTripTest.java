package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.internal.CanonicalEncoding;
import io.tabguard.audit.internal.KeyFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoundTripTest {
    @TempDir
    Path dir;

    @Test
    void writtenLogVerifiesAndEveryLineIsPlainJson() throws Exception {
        Path log = Fixtures.writeLog(dir, "audit.log", 300, 16);
        VerificationReport r = AuditVerifier.verify(log);
        assertTrue(r.intact(), r.describe());
        assertEquals(302, r.records(), "LOG_OPENED + 300 events + LOG_CLOSED");
        assertEquals(302 / 16 + 1, r.checkpoints());
        assertNull(r.reason());

        List<String> lines = Fixtures.lines(log);
        long seq = 0;
        String prev = "0".repeat(64);
        int checkpoints = 0;
        String prevCheckpoint = "0 " + Base64.getEncoder().encodeToString(
                java.security.MessageDigest.getInstance("SHA-256").digest());
        for (String line : lines) {
            Map<String, Object> m = MiniJson.object(line);
            if (m.containsKey("checkpoint")) {
                checkpoints++;
                assertEquals(1, m.size());
                String note = (String) m.get("checkpoint");
                String[] parts = note.split("\n", -1);
                // origin, size, root, predecessor extension, blank, signature line, "" after the final newline
                assertEquals(7, parts.length, note);
                assertTrue(parts[0].startsWith(KeyFiles.NAME_PREFIX));
                assertEquals(seq, Long.parseLong(parts[1]), "a checkpoint covers every record before it");
                assertEquals(32, Base64.getDecoder().decode(parts[2]).length);
                assertEquals("tabguard-audit-v2 prev " + prevCheckpoint, parts[3], "commits to the checkpoint before it");
                prevCheckpoint = parts[1] + " " + parts[2];
                assertEquals("", parts[4]);
                assertTrue(parts[5].startsWith("\u2014 " + parts[0] + " "));
                assertEquals(68, Base64.getDecoder().decode(parts[5].substring(parts[5].lastIndexOf(' ') + 1)).length);
                continue;
            }
            assertEquals(List.of("seq", "time", "type", "serial", "schema", "schemaId", "violation", "offset",
                    "detail", "count", "firstTime", "lastTime", "prev", "hash"), List.copyOf(m.keySet()));
            assertEquals(seq, m.get("seq"));
            assertEquals(prev, m.get("prev"));
            assertEquals(1L, m.get("count"));
            assertEquals(16, ((String) m.get("schemaId")).length());
            prev = (String) m.get("hash");
            seq++;
        }
        assertEquals(302, seq);
        assertEquals(r.checkpoints(), checkpoints);
        assertTrue(Fixtures.isCheckpoint(lines.getLast()), "a closed log ends with a checkpoint");
        assertEquals("LOG_OPENED", MiniJson.object(lines.getFirst()).get("type"));
        // the file is pure ASCII (everything else is escaped)
        byte[] all = Files.readAllBytes(log);
        for (byte b : all) {
            assertTrue(b >= 0 && b != '\r', "non-ASCII or CR byte in the log");
        }
    }

    @Test
    void eventFieldsSurviveTheRoundTripCleaned() throws Exception {
        Path log = Fixtures.writeLog(dir, "a.log", 12, 256);
        List<String> lines = Fixtures.lines(log);
        for (int i = 0; i < 12; i++) {
            Map<String, Object> m = MiniJson.object(lines.get(i + 1));
            SecurityEvent e = Fixtures.event(i);
            assertEquals(e.type().name(), m.get("type"));
            assertEquals(e.tableSerial(), m.get("serial"));
            assertEquals(e.schemaName(), m.get("schema"));
            assertEquals(HexFormat.of().toHexDigits(e.schemaId()), m.get("schemaId"));
            assertEquals(e.violation(), m.get("violation"));
            assertEquals(e.offset(), m.get("offset"));
            assertEquals(e.detail(), m.get("detail"));
            if (e.detail() != null) {
                assertFalse(e.detail().chars().anyMatch(c -> c < 0x20 || c == 0x202e), e.detail());
            }
        }
    }

    @Test
    void keyFilesAreWrittenAndTheSigningKeyIsPrivate() throws Exception {
        Path log = Fixtures.writeLog(dir, "k.log", 3, 256);
        Path key = KeyFiles.keyPath(log);
        Path pub = KeyFiles.pubPath(log);
        assertTrue(Files.exists(key));
        String pubText = Files.readString(pub).strip();
        assertTrue(pubText.matches("tabguard\\.io/audit/[0-9a-f]{16}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}"), pubText);
        assertTrue(Files.readString(key).startsWith("PRIVATE+KEY+"));
        if (Files.getFileStore(key).supportsFileAttributeView("posix")) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
        }
        Path exported = dir.resolve("exported.pub");
        try (AuditLog a = AuditLog.open(log)) {
            a.exportVerificationKey(exported);
            assertEquals(pubText, a.verificationKey());
        }
        assertEquals(pubText, Files.readString(exported).strip());
        assertTrue(AuditVerifier.verify(log, exported).intact());
    }

    @Test
    void reopeningAppendsAndChainsOn() throws Exception {
        Path log = Fixtures.writeLog(dir, "r.log", 20, 8);
        try (AuditLog a = AuditLog.open(log, AuditLog.Options.defaults().withCheckpointEvery(8))) {
            for (int i = 0; i < 5; i++) {
                a.record(Fixtures.event(i));
            }
        }
        VerificationReport r = AuditVerifier.verify(log);
        assertTrue(r.intact(), r.describe());
        assertEquals(22 + 7, r.records());
        long opened = Fixtures.lines(log).stream().filter(l -> l.contains("\"type\":\"LOG_OPENED\"")).count();
        assertEquals(2, opened);
        assertTrue(Fixtures.lines(log).stream().anyMatch(l -> l.contains("reopened after a clean close")));
    }

    @Test
    void synchronousRecordIsOnTheOsBeforeItReturns() throws Exception {
        Path log = dir.resolve("s.log");
        try (AuditLog a = AuditLog.open(log)) {
            a.record(SecurityEvent.of(EventType.TABLE_REFUSED, 7, "s", 1, "SIGNATURE", 12, "now"));
            // no flush: the synchronous path wrote it already
            String content = Files.readString(log, StandardCharsets.US_ASCII);
            assertTrue(content.contains("\"type\":\"TABLE_REFUSED\",\"serial\":7"), content);
        }
    }

    @Test
    void recordNeverThrowsAndCountsWhatItCannotKeep() throws Exception {
        Path log = dir.resolve("f.log");
        AuditLog a = AuditLog.open(log);
        a.record(null);
        a.close();
        a.close();
        a.record(SecurityEvent.of(EventType.TABLE_BUILT, 1, null, 0, null, -1, null));
        a.flush();
        assertEquals(2, a.failures());
        assertTrue(AuditVerifier.verify(log).intact());
    }

    @Test
    void canonicalEncodingIsPinned() {
        // The domain separator and layout are part of the file format: changing them breaks old logs.
        assertEquals("tabguard-audit-record-v1\n", new String(CanonicalEncoding.DOMAIN, StandardCharsets.US_ASCII));
        var r = io.tabguard.audit.internal.LogRecord.create(0, "2025-01-01T00:00:00Z", "TABLE_REFUSED", 5, "s", 0x10,
                null, -1, "d", 1, null, null, new byte[32]);
        byte[] enc = CanonicalEncoding.encode(r);
        String hex = HexFormat.of().formatHex(enc);
        assertEquals(HexFormat.of().formatHex(CanonicalEncoding.DOMAIN)
                + "0000000000000000"                                         // seq
                + "00000014" + HexFormat.of().formatHex("2025-01-01T00:00:00Z".getBytes(StandardCharsets.US_ASCII))
                + "0000000d" + HexFormat.of().formatHex("TABLE_REFUSED".getBytes(StandardCharsets.US_ASCII))
                + "0000000000000005"                                         // serial
                + "01" + "00000001" + "73"                                   // schema "s"
                + "0000000000000010"                                         // schemaId
                + "00"                                                       // violation null
                + "ffffffffffffffff"                                         // offset -1
                + "01" + "00000001" + "64"                                   // detail "d"
                + "0000000000000001"                                         // count
                + "00" + "00"                                                // firstTime, lastTime null
                + "00".repeat(32), hex);                                     // prev
    }
}
