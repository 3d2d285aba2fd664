import io.tabguard.audit.AuditLog;
import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.audit.VerificationReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Verification throughput of the audit log: writes a log of about SIZE_MB megabytes (a realistic
 * mix of events, periodic checkpoints every 256 records), then verifies it ROUNDS times with
 * AuditVerifier.verify and prints MB/s for each round, by wall-clock time and by the verifying
 * thread's CPU time (the first rounds include JIT warm-up).
 * Run through bench/audit-verify.sh.
 */
public final class AuditVerifyThroughput {
    public static void main(String[] args) throws Exception {
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING); // no per-event INFO lines
        int sizeMb = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Path dir = Files.createTempDirectory("tabguard-verify-bench");
        Path log = dir.resolve("bench.log");
        long target = (long) sizeMb * 1_000_000L;
        AuditLog.Options o = AuditLog.Options.defaults().withFsync(AuditLog.FsyncPolicy.NEVER)
                .withQueueCapacity(65_536).withSynchronous(false).withSyncTimeout(Duration.ZERO);
        long t0 = System.nanoTime();
        try (AuditLog a = AuditLog.open(log, o)) {
            int i = 0;
            while (true) {
                for (int j = 0; j < 10_000; j++, i++) {
                    EventType t = EventType.values()[i % EventType.values().length];
                    a.record(SecurityEvent.of(t, 1000 + i, "bench.schema." + (i % 7), 0x1234_0000L + i,
                            t == EventType.TABLE_REFUSED ? "SIGNATURE" : null, t == EventType.TABLE_REFUSED ? 64 : -1,
                            "event " + i + " with a detail of ordinary length"));
                }
                a.flush();
                if (Files.size(log) >= target) {
                    break;
                }
            }
        }
        long bytes = Files.size(log);
        System.out.printf("wrote %.1f MB in %.1f s%n", bytes / 1e6, (System.nanoTime() - t0) / 1e9);
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int r = 1; r <= rounds; r++) {
            long s = System.nanoTime();
            long c = threads.getCurrentThreadCpuTime();
            VerificationReport rep = AuditVerifier.verify(log);
            double cpu = (threads.getCurrentThreadCpuTime() - c) / 1e9;
            double sec = (System.nanoTime() - s) / 1e9;
            // The verifier is single-threaded: CPU time is what it costs; wall time also shows the machine's load.
            System.out.printf("round %d: %s; %.1f MB: wall %.2f s = %.0f MB/s, cpu %.2f s = %.0f MB/s%n", r,
                    rep.verdict(), bytes / 1e6, sec, bytes / 1e6 / sec, cpu, bytes / 1e6 / cpu);
            if (!rep.intact()) {
                System.out.println(rep.describe());
            }
        }
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }
}
