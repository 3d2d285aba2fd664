package io.tabguard.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tabguard.audit.AuditLog;
import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.ConsistencyProof;
import io.tabguard.audit.EventType;
import io.tabguard.audit.InclusionProof;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.audit.VerificationReport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;

/**
 * The audit module's parsers of untrusted text: checkpoint notes (C2SP signed notes), whole log
 * files, verification keys and signing keys. Each target takes the fuzzer's bytes as they are, so a
 * committed seed ({@code AuditParserFuzzTestInputs/<method>/}) is the input itself: the cases of
 * issue 13 ({@code {"checkpoint":"\n\n"}}, notes without a signature line, empty, zero-filled and
 * oversized key files) are among them. The oracle: nothing but a documented {@link IOException}
 * escapes (never {@code StringIndexOutOfBoundsException}, never {@code OutOfMemoryError}), and no
 * input other than the genuine one verifies.
 */
class AuditParserFuzzTest {
    private static Path dir;
    private static Path log;
    private static Path pub;
    private static Path key;
    private static byte[] original;
    private static String pubText;

    private static synchronized void setUp() {
        if (original != null) {
            return;
        }
        try {
            dir = Files.createTempDirectory("tabguard-audit-parser-fuzz");
            log = dir.resolve("audit.log");
            try (AuditLog audit = AuditLog.open(log, AuditLog.Options.defaults().withFsync(AuditLog.FsyncPolicy.NEVER))) {
                audit.record(SecurityEvent.of(EventType.TABLE_REFUSED, 1, "s", 2, "SIGNATURE", 64, "fuzz"));
            }
            pub = Path.of(log + ".pub");
            key = Path.of(log + ".key");
            pubText = Files.readString(pub).strip();
            original = Files.readAllBytes(log);
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

    /** A checkpoint note that is not the log's own never verifies, and never throws. */
    @FuzzTest(maxDuration = "1m")
    void checkpointNote(byte[] input) throws IOException {
        setUp();
        String note = new String(input, StandardCharsets.UTF_8);
        assertFalse(AuditVerifier.verifyInclusion(new InclusionProof(0, 1, new byte[32], List.of(), note), pub));
        assertFalse(AuditVerifier.verifyConsistency(new ConsistencyProof(0, 1, List.of(), note), note, pub));
    }

    /** Any bytes as a log: a report (intact only for the genuine bytes); opening it refuses or resumes. */
    @FuzzTest(maxDuration = "1m")
    void logFile(byte[] input) throws IOException {
        setUp();
        Path candidate = dir.resolve("candidate.log");
        Files.write(candidate, input);
        VerificationReport report = AuditVerifier.verify(candidate, pub);
        if (report.intact() != Arrays.equals(input, original)) {
            fail("verdict " + report.describe() + " for " + new String(input, StandardCharsets.ISO_8859_1));
        }
        Files.copy(pub, Path.of(candidate + ".pub"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try {
            AuditLog.open(candidate, AuditLog.Options.defaults().withKeyFile(key).withFsync(AuditLog.FsyncPolicy.NEVER))
                    .close();
        } catch (IOException refused) {
            // a log that does not verify is refused: documented
        }
        try (Stream<Path> side = Files.list(dir)) {
            for (Path p : side.filter(p -> p.getFileName().toString().startsWith("candidate.log.torn-")).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Any bytes as the verification key: an IOException, or a report that is intact only with the real key. */
    @FuzzTest(maxDuration = "1m")
    void verificationKey(byte[] input) throws IOException {
        setUp();
        Path candidate = dir.resolve("candidate.pub");
        Files.write(candidate, input);
        VerificationReport report;
        try {
            report = AuditVerifier.verify(log, candidate);
        } catch (IOException refused) {
            return;
        }
        if (report.intact()) {
            assertEquals(pubText, new String(input, StandardCharsets.UTF_8).strip(), "another key verified the log");
        }
    }

    /** Any bytes as the signing key of a new log: an IOException, or a log that then verifies. */
    @FuzzTest(maxDuration = "1m")
    void signingKey(byte[] input) throws IOException {
        setUp();
        Path candidate = dir.resolve("candidate.key");
        Files.write(candidate, input);
        Path fresh = dir.resolve("fresh.log");
        Files.deleteIfExists(fresh);
        Files.deleteIfExists(Path.of(fresh + ".pub"));
        try {
            AuditLog.open(fresh, AuditLog.Options.defaults().withKeyFile(candidate).withFsync(AuditLog.FsyncPolicy.NEVER))
                    .close();
        } catch (IOException refused) {
            return;
        }
        VerificationReport r = AuditVerifier.verify(fresh);
        if (!r.intact()) {
            fail("a log signed with an accepted key does not verify: " + r.describe());
        }
    }
}
