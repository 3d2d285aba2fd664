package io.tabguard.testkit;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tabguard.audit.AuditLog;
import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.audit.VerificationReport;
import org.junit.jupiter.api.AfterAll;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The audit verifier on mutated logs. A real log (eight events, one session, closed) is edited by a
 * fuzzer-chosen script — bytes set or flipped, lines deleted, duplicated, swapped or moved, text
 * inserted, the end cut — and verified with its public key. The oracle: the report says intact if and
 * only if the bytes are the original's, byte for byte; the verifier never throws.
 *
 * <p>The log has periodic checkpoints (every three records): since format v2 each checkpoint commits
 * to the one before it, so deleting, duplicating or moving any of them is an edit like any other.
 */
class AuditLogFuzzTest {
    private static Path dir;
    private static Path log;
    private static Path pub;
    private static Path candidate;
    private static byte[] original;

    private static synchronized void setUp() {
        if (original != null) {
            return;
        }
        try {
            dir = Files.createTempDirectory("tabguard-audit-fuzz");
            log = dir.resolve("audit.log");
            try (AuditLog audit = AuditLog.open(log, AuditLog.Options.defaults().withCheckpointEvery(3)
                    .withFsync(AuditLog.FsyncPolicy.NEVER))) {
                audit.record(SecurityEvent.of(EventType.REGISTRY_OPENED, 0, null, 0, null, -1, "fuzz"));
                audit.record(SecurityEvent.of(EventType.TABLE_BUILT, 1, "tabguard.test.calc", 0x1234abcdL, null, -1, "3 slots"));
                audit.record(SecurityEvent.of(EventType.TABLE_REFUSED, 1, "tabguard.test.calc", 0x1234abcdL, "SIGNATURE", 64,
                        "quote \" backslash \\ tab \t é"));
                audit.record(SecurityEvent.of(EventType.TABLE_QUARANTINED, 1, "tabguard.test.calc", 0x1234abcdL, "CHECKSUM", 56, null));
                audit.record(SecurityEvent.of(EventType.TABLE_REVOKED, 2, "tabguard.test.calc", 0x1234abcdL, null, -1, null));
                audit.record(SecurityEvent.of(EventType.KEY_ROTATED, 0, null, 0, null, -1, "key epoch 2"));
                audit.record(SecurityEvent.of(EventType.CALLBACK_THREW, 3, "x", -1L, null, -1, "slot inc threw java.lang.Error"));
                audit.record(SecurityEvent.of(EventType.REGISTRY_CLOSED, 0, null, 0, null, -1, "3 tables"));
            }
            pub = Path.of(log + ".pub");
            original = Files.readAllBytes(log);
            candidate = dir.resolve("candidate.log");
            VerificationReport report = AuditVerifier.verify(log, pub);
            assertTrue(report.intact(), report.describe());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterAll
    static synchronized void removeFiles() throws IOException {
        if (dir != null) {
            Fixtures.deleteTree(dir);
            dir = null;
            original = null;
        }
    }

    @FuzzTest(maxDuration = "2m")
    void verifyMutatedLog(FuzzedDataProvider data) throws IOException {
        setUp();
        byte[] mutated = mutate(original, data);
        Files.write(candidate, mutated);
        VerificationReport report = AuditVerifier.verify(candidate, pub);
        boolean unchanged = Arrays.equals(mutated, original);
        if (report.intact() != unchanged) {
            fail((unchanged ? "the untouched log was refused: " : "an edited log verified as intact:\n")
                    + report.describe() + "\n--- edited log ---\n" + new String(mutated, StandardCharsets.ISO_8859_1));
        }
        if (!report.intact()) {
            assertNotNull(report.reason());
            assertTrue(report.firstBadLine() >= 1, report.describe());
        }
    }

    /** Applies up to eight edits the fuzzer chooses, to bytes or to whole lines. */
    static byte[] mutate(byte[] log, FuzzedDataProvider data) {
        byte[] t = log;
        int edits = data.consumeInt(0, 8);
        for (int e = 0; e < edits && data.remainingBytes() > 0; e++) {
            List<byte[]> lines = lines(t);
            switch (data.consumeInt(0, 9)) {
                case 0 -> {
                    if (t.length > 0) {
                        t = t.clone();
                        t[data.consumeInt(0, t.length - 1)] = data.consumeByte();
                    }
                }
                case 1 -> {
                    if (t.length > 0) {
                        t = t.clone();
                        t[data.consumeInt(0, t.length - 1)] ^= (byte) (1 << data.consumeInt(0, 7));
                    }
                }
                case 2 -> {
                    if (!lines.isEmpty()) {
                        lines.remove(data.consumeInt(0, lines.size() - 1));
                        t = join(lines);
                    }
                }
                case 3 -> {
                    if (!lines.isEmpty()) {
                        int i = data.consumeInt(0, lines.size() - 1);
                        lines.add(data.consumeInt(0, lines.size()), lines.get(i));
                        t = join(lines);
                    }
                }
                case 4 -> {
                    if (lines.size() >= 2) {
                        int i = data.consumeInt(0, lines.size() - 1);
                        int j = data.consumeInt(0, lines.size() - 1);
                        byte[] x = lines.get(i);
                        lines.set(i, lines.get(j));
                        lines.set(j, x);
                        t = join(lines);
                    }
                }
                case 5 -> t = Arrays.copyOf(t, data.consumeInt(0, t.length));
                case 6 -> {
                    byte[] insert = data.consumeBytes(data.consumeInt(1, 64));
                    int at = data.consumeInt(0, t.length);
                    byte[] longer = new byte[t.length + insert.length];
                    System.arraycopy(t, 0, longer, 0, at);
                    System.arraycopy(insert, 0, longer, at, insert.length);
                    System.arraycopy(t, at, longer, at + insert.length, t.length - at);
                    t = longer;
                }
                case 7 -> {                                   // replace a digit or hex digit in place
                    int at = data.consumeInt(0, Math.max(0, t.length - 1));
                    if (t.length > 0 && Character.isLetterOrDigit(t[at])) {
                        t = t.clone();
                        t[at] = (byte) "0123456789abcdef".charAt(data.consumeInt(0, 15));
                    }
                }
                case 8 -> {                                   // cut one line short (a torn write inside the log)
                    if (!lines.isEmpty()) {
                        int i = data.consumeInt(0, lines.size() - 1);
                        byte[] line = lines.get(i);
                        lines.set(i, Arrays.copyOf(line, data.consumeInt(0, line.length)));
                        t = join(lines);
                    }
                }
                default -> {                                  // append text at the end
                    byte[] tail = data.consumeBytes(data.consumeInt(1, 64));
                    byte[] longer = Arrays.copyOf(t, t.length + tail.length);
                    System.arraycopy(tail, 0, longer, t.length, tail.length);
                    t = longer;
                }
            }
        }
        return t;
    }

    /** The log's lines, each with its newline (the last one may lack it). */
    private static List<byte[]> lines(byte[] t) {
        List<byte[]> lines = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == '\n') {
                lines.add(Arrays.copyOfRange(t, start, i + 1));
                start = i + 1;
            }
        }
        if (start < t.length) {
            lines.add(Arrays.copyOfRange(t, start, t.length));
        }
        return lines;
    }

    private static byte[] join(List<byte[]> lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        lines.forEach(out::writeBytes);
        return out.toByteArray();
    }
}
