package io.tabguard.audit;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * The command line: {@code audit verify LOG [--key PUB] [--since CHECKPOINT] [--progress]} verifies an
 * audit log with the verification key {@code PUB} (default {@code LOG.pub}), optionally also that it
 * extends a checkpoint kept elsewhere, prints the report, and exits with {@link #INTACT 0} only for an
 * intact log, {@link #NOT_INTACT 1} for a log that is not intact, {@link #USAGE 2} for a usage error or
 * a file that cannot be read or is not a regular file (including {@code --help}, so that no invocation
 * but a successful verification exits 0, except {@code --version}, which prints the version and exits 0),
 * and {@link #UNSEALED 4} for a log whose checks all pass but
 * that holds records a reopen found unsealed. With {@code --progress}, a line on {@code err} every
 * {@value #PROGRESS_SECONDS} seconds says how far it got. The leading word {@code audit} is optional.
 * An unknown command is named in the error. Stateless and thread-safe.
 */
public final class AuditCommand {
    /** Exit status of an intact log. */
    public static final int INTACT = 0;
    /** Exit status of a log that is not intact. */
    public static final int NOT_INTACT = 1;
    /** Exit status of a usage error or unreadable file. */
    public static final int USAGE = 2;
    /**
     * Exit status of a log whose every check passed but that holds unsealed records (4, not 3: the
     * {@code ./tabguard} launcher exits 3 when it finds no JDK).
     */
    public static final int UNSEALED = 4;
    /** Seconds between two progress lines. */
    public static final int PROGRESS_SECONDS = 2;

    private static final String USAGE_TEXT = """
            usage: audit verify LOG [--key PUB] [--since CHECKPOINT] [--progress]
              Verifies a Tabguard audit log: hash chain, signed checkpoints, Merkle roots, checkpoint
              predecessors, session structure, and that it ends with a final checkpoint. PUB defaults
              to LOG.pub. CHECKPOINT: a checkpoint of this log kept elsewhere (its signed note, or its
              line); the log must extend it (not cut back, not rewritten). --progress: a line on stderr
              every 2 s.
              Exit status: 0 intact, 1 not intact, 2 usage error or unreadable file,
              4 every check passed but records were left unsealed at a reopen (crash or tampering).
            usage: audit --version""";

    private AuditCommand() {
    }

    /**
     * Runs the command and exits the JVM with its status.
     *
     * @param args the command line, as {@link #run} takes it
     */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the command, printing the report to {@code out} and errors and progress to {@code err}.
     *
     * @return the exit status: {@link #INTACT}, {@link #NOT_INTACT}, {@link #USAGE} or {@link #UNSEALED}
     * @param args the command line: {@code [audit] verify LOG [--key PUB] [--since CHECKPOINT] [--progress]} or {@code --version}
     * @param out  where the report (or the version) goes
     * @param err  where usage, progress and errors go
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<String> a = new ArrayList<>(Arrays.asList(args == null ? new String[0] : args));
        if (!a.isEmpty() && a.getFirst().equals("audit")) {
            a.removeFirst();
        }
        if (a.size() == 1 && a.getFirst().equals("--version")) {
            out.println("tabguard audit " + version());
            return 0;
        }
        if (a.isEmpty() || !a.getFirst().equals("verify")) {
            if (!a.isEmpty() && !a.getFirst().equals("--help") && !a.getFirst().equals("-h")) {
                err.println("audit: unknown command '" + a.getFirst() + "'");
            }
            err.println(USAGE_TEXT);
            return USAGE;
        }
        a.removeFirst();
        String log = null;
        String key = null;
        String since = null;
        boolean progress = false;
        for (int i = 0; i < a.size(); i++) {
            String s = a.get(i);
            if (s.equals("--key") || s.equals("--since")) {
                boolean isKey = s.equals("--key");
                if (i + 1 >= a.size() || (isKey ? key : since) != null) {
                    err.println(USAGE_TEXT);
                    return USAGE;
                }
                if (isKey) {
                    key = a.get(++i);
                } else {
                    since = a.get(++i);
                }
            } else if (s.equals("--progress") && !progress) {
                progress = true;
            } else if (s.startsWith("-") || log != null) {
                err.println(USAGE_TEXT);
                return USAGE;
            } else {
                log = s;
            }
        }
        if (log == null) {
            err.println(USAGE_TEXT);
            return USAGE;
        }
        Path logPath = Path.of(log);
        Path keyPath = key != null ? Path.of(key) : logPath.resolveSibling(logPath.getFileName() + ".pub");
        VerificationReport report;
        try {
            report = AuditVerifier.verify(logPath, keyPath, since == null ? null : Path.of(since),
                    progress ? new Progress(logPath, err, PROGRESS_SECONDS * 1_000_000_000L) : null);
        } catch (NoSuchFileException e) {
            err.println("audit verify: " + e.getFile() + ": " + (e.getReason() != null ? e.getReason() : "no such file")
                    + (key == null && e.getFile().equals(keyPath.toString()) ? " (give a key with --key PUB)" : ""));
            return USAGE;
        } catch (IOException e) {
            err.println("audit verify: " + e.getMessage());
            return USAGE;
        } catch (RuntimeException e) {
            // fail closed, without a stack trace: a bug in the verifier must never read as a verdict of 0
            err.println("audit verify: could not verify " + logPath + ": " + e);
            return NOT_INTACT;
        }
        out.println(logPath + ": " + report.describe());
        return switch (report.verdict()) {
            case INTACT -> INTACT;
            case UNSEALED -> UNSEALED;
            case NOT_INTACT -> NOT_INTACT;
        };
    }

    /** Prints how far a verification got, at most once every {@value #PROGRESS_SECONDS} seconds. */
    static final class Progress implements LongConsumer {
        private final Path log;
        private final PrintStream err;
        private final long total;
        private final long intervalNanos;
        private final long start = System.nanoTime();
        private long next;

        Progress(Path log, PrintStream err, long intervalNanos) {
            this.log = log;
            this.err = err;
            this.intervalNanos = intervalNanos;
            this.next = start + intervalNanos;
            long size;
            try {
                size = java.nio.file.Files.size(log);
            } catch (IOException | RuntimeException e) {
                size = -1;
            }
            this.total = size;
        }

        @Override
        public void accept(long bytes) {
            long now = System.nanoTime();
            if (now < next) {
                return;
            }
            next = now + intervalNanos;
            double sec = (now - start) / 1e9;
            err.printf("audit verify: %s: %d of %d MB (%.0f%%), %.0f MB/s%n", log, bytes >> 20, Math.max(total, 0) >> 20,
                    total > 0 ? 100.0 * bytes / total : 0.0, sec > 0 ? bytes / 1e6 / sec : 0.0);
        }
    }

    /**
     * Tabguard's version, as the build recorded it from the pom: the module's version on the module path,
     * the jar manifest's {@code Implementation-Version} on the class path.
     *
     * @return the version, or {@code "unknown"} when run from classes the build did not version
     */
    public static String version() {
        Module module = AuditCommand.class.getModule();
        return (module.isNamed() ? module.getDescriptor().rawVersion() : java.util.Optional.<String>empty())
                .or(() -> java.util.Optional.ofNullable(AuditCommand.class.getPackage().getImplementationVersion()))
                .orElse("unknown");
    }
}
