package io.tabguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tabguard.audit.internal.KeyFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditCommandTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        out.reset();
        err.reset();
        return AuditCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void intactLogExitsZeroAndTamperedLogExitsOne() throws Exception {
        Path log = Fixtures.writeLog(dir, "cli.log", 50, 16);
        assertEquals(0, run("verify", log.toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("INTACT: 52 records"), out.toString());
        assertEquals(0, run("audit", "verify", log.toString(), "--key", KeyFiles.pubPath(log).toString()));

        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        lines.set(10, lines.get(10).replace("\"serial\":", "\"serial\":9"));
        Files.write(log, lines, StandardCharsets.US_ASCII);
        assertEquals(1, run("verify", log.toString()));
        String report = out.toString(StandardCharsets.UTF_8);
        assertTrue(report.contains("NOT INTACT: HASH_MISMATCH at record seq 10 (line 11)"), report);
    }

    @Test
    void progressGoesToStderrOnlyWhenAsked() throws Exception {
        Path log = Fixtures.writeLog(dir, "p.log", 12_000, 256); // a few MB: several 1 MiB chunks
        assertEquals(0, run("verify", log.toString()));
        assertEquals("", err.toString(StandardCharsets.UTF_8), "no progress unless asked");
        assertEquals(0, run("verify", log.toString(), "--progress"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("INTACT"));
        assertEquals(2, run("verify", log.toString(), "--progress", "--progress"));
        // every chunk, with no interval: one line per MiB read, counting up to the file's size
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        AuditCommand.Progress p = new AuditCommand.Progress(log, new PrintStream(lines, true, StandardCharsets.UTF_8), 0);
        VerificationReport r = AuditVerifier.verify(log, KeyFiles.pubPath(log), null, p);
        assertTrue(r.intact());
        List<String> printed = lines.toString(StandardCharsets.UTF_8).lines().toList();
        long mib = Files.size(log) >> 20;
        assertTrue(printed.size() >= mib, printed.toString());
        assertTrue(printed.getLast().contains(mib + " of " + mib + " MB (100%)"), printed.getLast());
    }

    @Test
    void anUnsealedLogExitsFour() throws Exception {
        Path log = Fixtures.writeLog(dir, "crashed.log", 20, 8);
        List<String> lines = new ArrayList<>(Fixtures.lines(log));
        lines.removeLast(); // final checkpoint
        lines.removeLast(); // LOG_CLOSED: as a crash leaves it
        Files.write(log, lines, StandardCharsets.US_ASCII);
        assertEquals(1, run("verify", log.toString()), "before the reopen: truncated");
        AuditLog.open(log).close();
        assertEquals(AuditCommand.UNSEALED, run("verify", log.toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("UNSEALED: records 16.."), out.toString());
    }

    @Test
    void wrongKeyExitsOne() throws Exception {
        Path a = Fixtures.writeLog(dir, "a.log", 5, 16);
        Path b = Fixtures.writeLog(dir, "b.log", 5, 16);
        assertEquals(1, run("verify", a.toString(), "--key", KeyFiles.pubPath(b).toString()));
    }

    @Test
    void usageErrorsExitTwo() throws Exception {
        Path log = Fixtures.writeLog(dir, "u.log", 5, 16);
        assertEquals(2, run());
        assertEquals(2, run("verify"));
        assertEquals(2, run("--help"));
        assertEquals(2, run("check", log.toString()));
        assertEquals(2, run("verify", log.toString(), "--key"));
        assertEquals(2, run("verify", log.toString(), "--bogus"));
        assertEquals(2, run("verify", log.toString(), "extra"));
        assertEquals(2, run("verify", dir.resolve("missing.log").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no such log"), err.toString());
        Files.delete(KeyFiles.pubPath(log));
        assertEquals(2, run("verify", log.toString()));
    }

    @Test
    void anUnknownCommandIsNamed() {
        assertEquals(2, run("xyz"));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("audit: unknown command 'xyz'"), err.toString());
        assertEquals(2, run("--help"));
        assertFalse(err.toString(StandardCharsets.UTF_8).contains("unknown command"), err.toString());
    }

    @Test
    void versionPrintsThePomsVersion() throws Exception {
        // The root pom's first <version> is the project's own (the same rule ./tabguard --version uses).
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("<version>([^<]+)</version>")
                .matcher(Files.readString(Path.of("..", "pom.xml")));
        assertTrue(m.find());
        assertEquals(0, run("--version"));
        assertEquals("tabguard audit " + m.group(1), out.toString(StandardCharsets.UTF_8).strip());
        assertEquals(0, run("audit", "--version"));
    }
}
