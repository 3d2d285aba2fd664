package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.VerificationReport.Reason;
import io.tabguard.audit.internal.Checkpoint;
import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.NoteKey;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, item 3: the verifier never throws an unchecked exception and never reads without bound.
 * Malformed notes, oversized and special files are each a verdict or a documented IOException (CLI
 * exit 2), and quickly.
 */
class BoundedInputTest {
    private static final Duration QUICK = Duration.ofSeconds(20); // a hang guard, not a timing assertion
    private static final Path DEV_ZERO = Path.of("/dev/zero");
    private static final Path DEV_NULL = Path.of("/dev/null");

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int cli(String... args) {
        out.reset();
        err.reset();
        return assertTimeoutPreemptively(QUICK, () -> AuditCommand.run(args,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)));
    }

    /** Notes a checkpoint line may carry that are not signed notes: each refused with an IllegalArgumentException. */
    static final List<String> MALFORMED_NOTES = List.of("", "\n", "\n\n", "\n\n\n", "x", "x\n", "x\n\n", "x\n\n\n",
            "\n\n\u2014 k AAAA\n", "o\n1\nr\n\n", "o\n1\nr\n\n\u2014 \n", "o\n1\nr\n\n\u2014 o\n", "o\n1\nr\n\n\u2014 o \n",
            "o\n1\nr\n\n\u2014 o !!!!\n", "o\n1\nr\n\n\u2014 o AAAA\n", "o\n1\nr\n\n\u2014 o AAAAAAA=\n",
            "o\n\n\n\n\u2014 o AAAAAAA=\n", "\u2014 o AAAAAAA=\n\n\u2014 o AAAAAAA=\n", "o\n1\nr\next\nmore\n\n\u2014 o AAAAAAA=\n",
            "o\n99999999999999999999\nAAAA\n\n\u2014 o AAAAAAA=\n");

    @Test
    void everyMalformedNoteIsAnIllegalArgumentNeverAnotherException() throws Exception {
        Path log = Fixtures.writeLog(dir, "k.log", 2, 16);
        NoteKey key = Fixtures.pub(log);
        for (String note : MALFORMED_NOTES) {
            assertThrows(IllegalArgumentException.class, () -> Checkpoint.open(note, key), note);
            assertThrows(IllegalArgumentException.class, () -> Checkpoint.parseUnverified(note), note);
        }
        // the valid twin
        String genuine = LogFormat.parse(Fixtures.lines(log).getLast()).checkpointNote();
        assertEquals(4, Checkpoint.open(genuine, key).treeSize());
    }

    @Test
    void aCheckpointLineEndingInABlankLineIsAVerdictEverywhere() throws Exception {
        Path log = Fixtures.writeLog(dir, "blank.log", 2, 16);
        Path pub = KeyFiles.pubPath(log);
        Files.writeString(log, "{\"checkpoint\":\"\\n\\n\"}\n", StandardCharsets.US_ASCII);

        VerificationReport r = AuditVerifier.verify(log, pub);
        assertEquals(Reason.BAD_CHECKPOINT_SIGNATURE, r.reason(), r.describe());
        assertEquals(1, r.firstBadLine());
        assertEquals(AuditCommand.NOT_INTACT, cli("verify", log.toString()));
        assertFalse(err.toString(StandardCharsets.UTF_8).contains("Exception"), err.toString(StandardCharsets.UTF_8));
        IOException e = assertThrows(IOException.class, () -> AuditLog.open(log));
        assertTrue(e.getMessage().contains("BAD_CHECKPOINT_SIGNATURE"), e.getMessage());
        assertThrows(IOException.class, () -> AuditVerifier.inclusionProof(log, 0, pub));
        InclusionProof forged = new InclusionProof(0, 1, new byte[32], List.of(), "\n\n");
        for (String note : MALFORMED_NOTES) {
            assertFalse(AuditVerifier.verifyInclusion(new InclusionProof(0, 1, new byte[32], List.of(), note), pub));
            assertFalse(AuditVerifier.verifyConsistency(new ConsistencyProof(0, 1, List.of(), note), note, pub));
        }
        assertFalse(AuditVerifier.verifyInclusion(forged, pub));
    }

    @Test
    void anOversizedKeyFileIsRefusedUnread() throws Exception {
        Path log = Fixtures.writeLog(dir, "big.log", 2, 16);
        Path big = dir.resolve("big.pub");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(3L << 30); // 3 GiB, sparse: reading it whole is the OutOfMemoryError of the issue
        }
        IOException e = assertThrows(IOException.class, () -> assertTimeoutPreemptively(QUICK,
                () -> AuditVerifier.verify(log, big)));
        assertTrue(e.getMessage().contains("longer than"), e.getMessage());
        assertEquals(AuditCommand.USAGE, cli("verify", log.toString(), "--key", big.toString()));
        // just over the cap: refused; the genuine key padded with blank lines to the cap: accepted
        String pubText = Files.readString(KeyFiles.pubPath(log));
        Files.writeString(big, pubText + "\n".repeat(KeyFiles.MAX_KEY_FILE - pubText.length() + 1));
        assertEquals(AuditCommand.USAGE, cli("verify", log.toString(), "--key", big.toString()));
        Files.writeString(big, pubText + "\n".repeat(KeyFiles.MAX_KEY_FILE - pubText.length()));
        assertEquals(AuditCommand.INTACT, cli("verify", log.toString(), "--key", big.toString()));
        // the signing key is bounded the same way
        Files.write(KeyFiles.keyPath(log), new byte[KeyFiles.MAX_KEY_FILE + 1]);
        assertThrows(IOException.class, () -> AuditLog.open(log));
    }

    @Test
    void devicesDirectoriesAndFifosAreUsageErrorsNotHangs() throws Exception {
        Path log = Fixtures.writeLog(dir, "s.log", 2, 16);
        Path pub = KeyFiles.pubPath(log);
        Path fifo = dir.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor(), "mkfifo");

        for (Path special : List.of(DEV_ZERO, DEV_NULL, dir, fifo)) {
            assertThrows(IOException.class, () -> assertTimeoutPreemptively(QUICK,
                    () -> AuditVerifier.verify(special, pub)), "log " + special);
            assertThrows(IOException.class, () -> assertTimeoutPreemptively(QUICK,
                    () -> AuditVerifier.verify(log, special)), "key " + special);
            assertEquals(AuditCommand.USAGE, cli("verify", special.toString(), "--key", pub.toString()), special.toString());
            assertFalse(err.toString(StandardCharsets.UTF_8).contains("no such"), err.toString(StandardCharsets.UTF_8));
            assertEquals(AuditCommand.USAGE, cli("verify", log.toString(), "--key", special.toString()), special.toString());
            assertEquals(AuditCommand.USAGE, cli("verify", log.toString(), "--since", special.toString()), special.toString());
            assertThrows(IOException.class, () -> assertTimeoutPreemptively(QUICK,
                    () -> AuditLog.open(special)), "open " + special);
        }
        assertEquals(AuditCommand.USAGE, cli("verify", dir.toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("is a directory"), err.toString(StandardCharsets.UTF_8));
        assertEquals(AuditCommand.USAGE, cli("verify", DEV_NULL.toString(), "--key", pub.toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("not a regular file"), err.toString(StandardCharsets.UTF_8));
        assertEquals(AuditCommand.INTACT, cli("verify", log.toString()), "the valid twin");
    }

    @Test
    void aRefusedOpenWritesNoPub() throws Exception {
        Path log = Fixtures.writeLog(dir, "p.log", 20, 8);
        List<String> lines = new java.util.ArrayList<>(Fixtures.lines(log));
        lines.set(3, TamperTest.withField(lines.get(3), "detail", "\"edited\""));
        Files.write(log, lines, StandardCharsets.US_ASCII);
        Path pub = KeyFiles.pubPath(log);
        Files.delete(pub);
        assertThrows(IOException.class, () -> AuditLog.open(log));
        assertFalse(Files.exists(pub), "a refused open leaves no .pub");
        // the twin: an accepted open writes it
        Path fresh = dir.resolve("fresh.log");
        AuditLog.open(fresh).close();
        assertTrue(Files.exists(KeyFiles.pubPath(fresh)));
    }

    @Test
    void theSigningKeyCanLiveOutsideTheLogsFolder() throws Exception {
        Path keys = Files.createDirectories(dir.resolve("keys"));
        Path logs = Files.createDirectories(dir.resolve("logs"));
        Path keyFile = keys.resolve("audit.key");
        Path log = logs.resolve("a.log");
        AuditLog.Options o = AuditLog.Options.defaults().withKeyFile(keyFile);
        try (AuditLog a = AuditLog.open(log, o)) {
            a.record(Fixtures.event(2));
        }
        assertTrue(Files.exists(keyFile));
        assertFalse(Files.exists(KeyFiles.keyPath(log)), "no key beside the log");
        try (var files = Files.list(logs)) {
            assertEquals(List.of("a.log", "a.log.pub"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertTrue(AuditVerifier.verify(log).intact());
        try (AuditLog a = AuditLog.open(log, o)) {
            a.record(Fixtures.event(3));
        }
        assertTrue(AuditVerifier.verify(log).intact());
        // without the option the key beside the log is missing: refused, as for any log without its key
        assertThrows(IOException.class, () -> AuditLog.open(log));
    }
}
