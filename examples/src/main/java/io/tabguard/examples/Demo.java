package io.tabguard.examples;

import io.tabguard.audit.AuditLog;
import io.tabguard.audit.AuditSink;
import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.VerificationReport;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The Tabguard demo ({@code ./tabguard demo}): build a verified {@code cookie_io_functions_t} table,
 * hand it to glibc with {@code fopencookie}, write through it, read it back, then attack it six ways
 * and show that each attack is refused with a named violation while the process keeps running.
 *
 * <p>Exit code 0 only if every attack was refused and every honest call worked. Thread-safety: one
 * demo run per thread; {@link #run} touches no shared state besides the C library's.
 */
public final class Demo {
    private Demo() {}

    public static void main(String[] args) {
        System.exit(run(System.out, defaultAuditDirectory()));
    }

    /**
     * Runs the demo, printing to {@code out} and writing its audit log in {@code auditDirectory}; returns
     * the exit code (0: all attacks refused, all honest calls worked, the audit log verified intact).
     */
    public static int run(PrintStream out, java.nio.file.Path auditDirectory) {
        return new Run(out, auditDirectory).execute();
    }

    /** {@code $TABGUARD_AUDIT_DIR}, else {@code ~/.tabguard/audit}: where the registry's own default log goes too. */
    static java.nio.file.Path defaultAuditDirectory() {
        String configured = System.getenv("TABGUARD_AUDIT_DIR");
        return configured != null && !configured.isBlank()
                ? java.nio.file.Path.of(configured)
                : java.nio.file.Path.of(System.getProperty("user.home"), ".tabguard", "audit");
    }

    /** One run of the demo: its registry, its in-memory audit trail, its tally. Confined to one thread. */
    private static final class Run {
        private final PrintStream out;
        private final List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        private final List<String> failures = new ArrayList<>();
        private final List<GuardedCookieStream> streams = new ArrayList<>();
        private int attacks;
        private int refused;
        private Registry registry;
        private final java.nio.file.Path auditDirectory;

        Run(PrintStream out, java.nio.file.Path auditDirectory) {
            this.out = out;
            this.auditDirectory = auditDirectory;
        }

        int execute() {
            out.println("Tabguard demo: verified callback tables handed to glibc's fopencookie() and to LLVM's MCJIT, then attacked.");
            out.println();
            java.nio.file.Path logFile = null;
            try (Arena attacker = Arena.ofConfined()) {
                java.nio.file.Files.createDirectories(auditDirectory);
                logFile = auditDirectory.resolve("demo-" + java.time.LocalDateTime.now().format(
                        java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-" + ProcessHandle.current().pid() + ".jsonl");
                // The demo reads the events back to print each violation, and writes them to a real,
                // signed audit log that it verifies at the end.
                try (AuditLog log = AuditLog.open(logFile)) {
                    RegistryOptions options = RegistryOptions.builder().auditSink(new TeeSink(events, log)).writableTables().build();   // the demo plays a native writer
                    registry = Registry.open(options);
                    try {
                        honestRoundTrip("write with fprintf, read back with fread", true);
                        attacks(attacker);
                        honestRoundTrip("a fresh table after all the attacks", false);
                        failures.addAll(JitDemo.run(out, registry, events));   // LLVM MCJIT with a verified memory manager
                        failures.addAll(PluginDemo.run(out, registry, events)); // a C plugin sealed, a hostile one refused
                    } finally {
                        // Every FILE is closed before the registry frees the trampolines it points to.
                        streams.forEach(GuardedCookieStream::close);
                        registry.close();
                    }
                }
                VerificationReport report = AuditVerifier.verify(logFile);
                out.println();
                out.println("audit     " + events.size() + " security events in " + logFile);
                out.println("          ./tabguard audit verify " + logFile + "  ->  " + (report.intact()
                        ? "intact (" + report.records() + " records, " + report.checkpoints() + " signed checkpoints)"
                        : "NOT INTACT: " + report.describe()));
                if (!report.intact()) {
                    failures.add("the audit log did not verify: " + report.describe());
                }
            } catch (RuntimeException | Error | java.io.IOException e) {
                failures.add("the demo itself failed: " + describe(e));
            }
            if (failures.isEmpty() && refused == attacks) {
                out.println("result    all " + attacks + " attacks refused, every honest call worked, process alive: exit 0");
                return 0;
            }
            out.println("result    FAILED (" + refused + " of " + attacks + " attacks refused):");
            failures.forEach(f -> out.println("          - " + f));
            return 1;
        }

        private void attacks(Arena attacker) {
            attackLiveTable("a", "flip one header byte (the serial)",
                    s -> TableTampering.flipByte(s.table(), AbiV1.OFFSET_SERIAL, 0x01));
            attackLiveTable("b", "swap two slot pointers, CRC32C recomputed",
                    s -> {
                        TableTampering.swapSlots(s.table(), "read", "write");
                        TableTampering.recomputeChecksum(s.table());
                    });
            GuardedCookieStream other = open();
            attackLiveTable("c", "plant another table's trampoline in a slot",
                    s -> {
                        TableTampering.plant(s.table(), "write", other.table().function("write"));
                        TableTampering.recomputeChecksum(s.table());
                    });

            GuardedCookieStream revoked = open();
            byte[] revokedBytes = revoked.table().verifiedBytes();
            attackLiveTable("d", "call through a revoked table", s -> registry.revoke(s.table()), revoked);

            replay("e", "replay a revoked table's bytes (adopt)", revokedBytes);
            GuardedCookieStream rotated = open();
            byte[] oldBytes = rotated.table().verifiedBytes();
            registry.rotateKey();
            replay("e", "replay bytes signed before a key rotation", oldBytes);
            if (!roundTrip(rotated, "still open after the key rotation\n")) {
                failures.add("an honest table stopped working after the key rotation");
            }

            counterfeitCookie("f", "counterfeit cookie reusing a valid trampoline", attacker);
        }

        /** Tampers with a fresh stream's table (or the given one), then writes and flushes through glibc. */
        private void attackLiveTable(String id, String what, Consumer<GuardedCookieStream> tamper) {
            attackLiveTable(id, what, tamper, null);
        }

        private void attackLiveTable(String id, String what, Consumer<GuardedCookieStream> tamper, GuardedCookieStream given) {
            attacks++;
            try {
                GuardedCookieStream s = given != null ? given : open();
                int mark = events.size();
                int writes = s.writeCallbacks();
                tamper.accept(s);
                s.fprintf("must not arrive: %d\n", 1234);
                int flushed = s.fflush();
                String violation = refusal(mark, s.table()).orElse(null);
                List<String> wrong = new ArrayList<>();
                if (violation == null) wrong.add("no refusal audited");
                if (flushed != GuardedCookieStream.EOF) wrong.add("fflush returned " + flushed + ", not EOF");
                if (!s.ferror()) wrong.add("ferror not set");
                if (s.writeCallbacks() != writes) wrong.add("the write callback ran");
                report(id, what, violation, "fflush() = EOF", wrong);
            } catch (RuntimeException e) {
                report(id, what, null, null, List.of(describe(e)));
            }
        }

        private void replay(String id, String what, byte[] bytes) {
            attacks++;
            int mark = events.size();
            try {
                CallbackTable adopted = registry.adopt(bytes, GuardedCookieStream.COOKIE_IO);
                report(id, what, null, null, List.of("adopt accepted the bytes as table " + adopted.serial()));
            } catch (TableRejectedException e) {
                List<String> wrong = new ArrayList<>();
                boolean audited = events.subList(mark, events.size()).stream()
                        .anyMatch(ev -> ev.type() == EventType.TABLE_REFUSED && e.violation().name().equals(ev.violation()));
                if (!audited) wrong.add("the refusal was not audited");
                report(id, what, e.violation().name(), "adopt() threw", wrong);
            } catch (RuntimeException e) {
                report(id, what, null, null, List.of(describe(e)));
            }
        }

        private void counterfeitCookie(String id, String what, Arena attacker) {
            attacks++;
            try {
                GuardedCookieStream s = open();
                MemorySegment fakeCookie = attacker.allocate(8);
                int mark = events.size();
                int writes = s.writeCallbacks();
                long result = GuardedCookieStream.callWriteFunction(s.table().function("write"), fakeCookie,
                        "forged".getBytes(StandardCharsets.US_ASCII));
                String violation = refusal(mark, s.table()).orElse(null);
                List<String> wrong = new ArrayList<>();
                if (violation == null) wrong.add("no refusal audited");
                if (result != 0) wrong.add("write returned " + result + ", not the refusal value 0");
                if (s.writeCallbacks() != writes) wrong.add("the write callback ran");
                if (!roundTrip(s, "the real cookie still works\n")) wrong.add("the honest stream stopped working");
                report(id, what, violation, "write() = 0, target not run", wrong);
            } catch (RuntimeException e) {
                report(id, what, null, null, List.of(describe(e)));
            }
        }

        private void honestRoundTrip(String what, boolean showData) {
            try {
                GuardedCookieStream s = open();
                int n = s.fprintf("Hello from glibc: 42 = %#x, %s, table serial %ld\n", 42, "through 4 checked callbacks",
                        s.table().serial());
                boolean ok = n > 0 && s.fflush() == 0 && s.fseek(0, GuardedCookieStream.SEEK_SET) == 0;
                byte[] back = ok ? s.fread(4096) : new byte[0];
                ok &= back.length == n && Arrays.equals(back, s.contents());
                out.printf("honest    %-45s -> %s%n", what, ok ? "ok" : "FAILED");
                if (!ok) {
                    failures.add("honest call: " + what);
                } else if (showData) {
                    out.printf("          %d bytes went C -> table -> Java -> C: \"%s\"%n", n,
                            new String(back, StandardCharsets.UTF_8).strip());
                }
            } catch (RuntimeException e) {
                failures.add("honest call: " + what + ": " + describe(e));
                out.printf("honest    %-45s -> FAILED%n", what);
            }
        }

        private boolean roundTrip(GuardedCookieStream s, String text) {
            int before = s.contents().length;
            return s.fwrite(text) == text.length() && s.fflush() == 0
                    && s.contents().length == before + text.length()
                    && new String(s.contents(), before, text.length(), StandardCharsets.US_ASCII).equals(text);
        }

        private void report(String id, String what, String violation, String detail, List<String> wrong) {
            boolean ok = violation != null && wrong.isEmpty();
            if (ok) {
                refused++;
                out.printf("attack %s  %-45s -> %-16s  %s, process alive%n", id, what, violation, detail);
            } else {
                out.printf("attack %s  %-45s -> NOT REFUSED: %s%n", id, what, String.join("; ", wrong));
                failures.add("attack " + id + " (" + what + "): " + String.join("; ", wrong));
            }
        }

        /** The violation of the first refusal audited for {@code table} since event {@code mark}. */
        private Optional<String> refusal(int mark, CallbackTable table) {
            return events.subList(mark, events.size()).stream()
                    .filter(e -> e.type() == EventType.TABLE_REFUSED && e.tableSerial() == table.serial() && e.violation() != null)
                    .map(SecurityEvent::violation)
                    .findFirst();
        }

        private GuardedCookieStream open() {
            GuardedCookieStream s = new GuardedCookieStream(registry);
            streams.add(s);
            return s;
        }

        private static String describe(Throwable t) {
            return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        }
    }

    /** Keeps the registry's security events in a list and passes them on to the log. Thread-safe. */
    private record TeeSink(List<SecurityEvent> events, AuditSink log) implements AuditSink {
        @Override
        public void record(SecurityEvent event) {
            if (event != null) {
                events.add(event);
                log.record(event);
            }
        }

        @Override
        public void close() {
        }
    }
}
