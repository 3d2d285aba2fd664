package io.tabguard.bench;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Issue 12, "retire waits only for running targets": a main program, not JMH (the unit is one
 * {@code revoke()}, a few microseconds, under a load JMH cannot express). Each round builds a table,
 * starts N pthreads calling its slot back to back ({@code hammer_start} in tgbench.c), waits until they
 * are calling, then times {@code registry.revoke(table)} while they go on (they are refused from then on),
 * then a second {@code revoke()} of the same table. Control: the threads call another table while this
 * one is revoked. Prints p50/p99/max in microseconds, and checks that no target started after a revoke
 * returned.
 *
 * <p>By default the registry writes to {@link NoOpAuditSink}, as every benchmark here does, so the figure
 * is the retire itself; with {@code file} it writes to the default file log, whose synchronous
 * {@code TABLE_REVOKED} record makes {@code revoke()} wait for the log's writer thread (on a machine with
 * fewer cores than busy threads, for the scheduler).
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar
 * io.tabguard.bench.RevokeLatency [threads=16] [rounds=300] [noop|file]}
 */
public final class RevokeLatency {
    private static final LongAdder STARTS = new LongAdder();

    private RevokeLatency() {}

    public static int add(int a, int b) {
        STARTS.increment();
        return a + b;
    }

    public static void main(String[] args) throws Throwable {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 300;
        boolean fileLog = args.length > 2 && args[2].equals("file");
        PrintStream out = System.out;
        Path dir = Files.createTempDirectory("tabguard-revoke-latency");
        MethodHandle counting = MethodHandles.lookup().findStatic(RevokeLatency.class, "add",
                MethodType.methodType(int.class, int.class, int.class));
        long[] first = new long[rounds];
        long[] second = new long[rounds];
        long[] control = new long[rounds];
        long refused = 0;
        long late = 0;
        RegistryOptions.Builder options = RegistryOptions.builder();
        if (fileLog) {
            options.auditLog(dir.resolve("audit.log"));
        } else {
            options.auditSink(NoOpAuditSink.INSTANCE);
        }
        try (Registry registry = Registry.open(options.build())) {
            for (int round = -20; round < rounds; round++) {   // 20 rounds of warm-up
                CallbackTable table = registry.builder(Fixtures.BINOP).bind("op", counting).build();
                hammer(table.function("op"), threads);
                long t0 = System.nanoTime();
                registry.revoke(table);
                long t1 = System.nanoTime();
                long startedAtReturn = STARTS.sum();
                registry.revoke(table);
                long t2 = System.nanoTime();
                Thread.sleep(1);
                long[] totals = stop();
                late += STARTS.sum() - startedAtReturn;
                refused += totals[1];

                CallbackTable called = registry.builder(Fixtures.BINOP).bind("op", counting).build();
                CallbackTable idle = registry.builder(Fixtures.BINOP).bind("op", counting).build();
                hammer(called.function("op"), threads);
                long c0 = System.nanoTime();
                registry.revoke(idle);
                long c1 = System.nanoTime();
                stop();
                registry.revoke(called);
                if (round >= 0) {
                    first[round] = t1 - t0;
                    second[round] = t2 - t1;
                    control[round] = c1 - c0;
                }
            }
        }
        out.printf("audit sink: %s%n", fileLog ? "the default file log (synchronous)" : "NoOpAuditSink");
        out.printf("revoke() with %d C threads calling the table, %d rounds (us): %s%n", threads, rounds, summary(first));
        out.printf("second revoke() of the revoked table, threads still calling (us): %s%n", summary(second));
        out.printf("control: revoke() of a table nobody calls, %d threads calling another (us): %s%n", threads, summary(control));
        out.printf("refused calls during the rounds: %d; targets started after revoke() returned: %d%n", refused, late);
        if (late != 0) {
            out.println("FAILED: a target ran after its table was revoked");
            System.exit(1);
        }
    }

    private static void hammer(MemorySegment function, int threads) throws Throwable {
        long before = STARTS.sum();
        if ((int) BenchNative.HAMMER_START.invokeExact(function, threads, 0) != 0) {
            throw new IllegalStateException("pthread_create failed");
        }
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (STARTS.sum() - before < 10L * threads && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }

    private static long[] stop() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment calls = arena.allocate(JAVA_LONG);
            MemorySegment refused = arena.allocate(JAVA_LONG);
            BenchNative.HAMMER_STOP.invokeExact(calls, refused);
            return new long[]{calls.get(JAVA_LONG, 0), refused.get(JAVA_LONG, 0)};
        }
    }

    private static String summary(long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        return String.format("p50 %.1f, p99 %.1f, max %.1f", s[s.length / 2] / 1e3,
                s[Math.min(s.length - 1, (int) Math.ceil(s.length * 0.99) - 1)] / 1e3, s[s.length - 1] / 1e3);
    }
}
