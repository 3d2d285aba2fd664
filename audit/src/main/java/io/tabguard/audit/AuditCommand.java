package io.tabguard.audit;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The command line: {@code audit verify LOG [--key PUB]} verifies an audit log with the verification
 * key {@code PUB} (default {@code LOG.pub}), prints the report, and exits 0 only for an intact log,
 * 1 for a log that is not intact, 2 for a usage error or a file that cannot be read (including
 * {@code --help}, so that no invocation but a successful verification exits 0, except {@code --version},
 * which prints the version and exits 0). An unknown command is named in the error. The leading word
 * {@code audit} is optional. Stateless and thread-safe.
 */
public final class AuditCommand {
    /** Exit status of an intact log. */
    public static final int INTACT = 0;
    /** Exit status of a log that is not intact. */
    public static final int NOT_INTACT = 1;
    /** Exit status of a usage error or unreadable file. */
    public static final int USAGE = 2;

    private static final String USAGE_TEXT = """
            usage: audit verify LOG [--key PUB]
              Verifies a Tabguard audit log: hash chain, signed checkpoints, Merkle roots, and that it
              ends with a final checkpoint. PUB defaults to LOG.pub.
              Exit status: 0 intact, 1 not intact, 2 usage error or unreadable file.
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
     * Runs the command, printing the report to {@code out} and errors to {@code err}.
     *
     * @return the exit status: {@link #INTACT}, {@link #NOT_INTACT} or {@link #USAGE}
     * @param args the command line: {@code [audit] verify LOG [--key PUB]} or {@code --version}
     * @param out  where the report (or the version) goes
     * @param err  where usage and errors go
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
        for (int i = 0; i < a.size(); i++) {
            String s = a.get(i);
            if (s.equals("--key")) {
                if (i + 1 >= a.size() || key != null) {
                    err.println(USAGE_TEXT);
                    return USAGE;
                }
                key = a.get(++i);
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
        if (!Files.isRegularFile(logPath)) {
            err.println("audit verify: no such log file: " + logPath);
            return USAGE;
        }
        if (!Files.isRegularFile(keyPath)) {
            err.println("audit verify: no verification key: " + keyPath + " (give one with --key PUB)");
            return USAGE;
        }
        VerificationReport report;
        try {
            report = AuditVerifier.verify(logPath, keyPath);
        } catch (IOException e) {
            err.println("audit verify: " + e.getMessage());
            return USAGE;
        }
        out.println(logPath + ": " + report.describe());
        return report.intact() ? INTACT : NOT_INTACT;
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
