package io.tabguard.bench;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import org.openjdk.jmh.infra.BenchmarkParams;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALL_II;

/**
 * The first call through a new slot against a call through a warmed slot (issue 16: first call
 * {@code <=} 2x steady state). Every Java slot of one shape runs through the same shared upcall stub,
 * so a new slot needs no stub of its own, no method-handle customization and no JIT work: its first
 * call should cost what any call costs, plus the cold caches of its new entry thunk (never executed:
 * i-cache and iTLB misses, possibly a first-execution page fault), record, gate and table.
 *
 * <p>What is compared, and why it is fair:
 * <ul>
 *   <li>Every invocation, in every method, is preceded by the same untimed {@code Level.Invocation}
 *       setup: {@value #BATCH} fresh one-slot {@code int op(int, int)} tables are built and sealed (and
 *       closed after the invocation), so each method pays the same disturbance (allocation, cache
 *       pollution, the membarrier of every seal and close) before its timed calls. A batch, not one
 *       table: with one call per invocation the disturbance and JMH's per-invocation timing (two
 *       {@code System.nanoTime} reads) dominate a ~100 ns call; {@link #harness} measures what is left
 *       of them, to subtract.</li>
 *   <li>{@link #firstCall}: one C call ({@code call_ii}) through the slot of each table just built:
 *       that slot's first call ever. The shape's shared stub is warm (other slots of the shape ran
 *       before, as in any process past its first table of a shape); the one-time cost of a shape's very
 *       first call (its stub's Java side still interpreted) is not in this figure: it is paid once per
 *       shape per process, not per slot.</li>
 *   <li>{@link #warmCall}: the same {@code call_ii} through each of {@value #BATCH} slots built at trial
 *       setup and called many times since, in the same order: steady state, measured the same way.</li>
 *   <li>{@link #harness}: the same setup and timing around no call at all. The summary reports
 *       {@code (firstCall - harness) / (warmCall - harness)} as the verdict, and the plain ratio (which
 *       the additive overhead pulls towards 1) for information.</li>
 *   <li>{@link #rawFirstCall} (info): the first call through each of {@value #BATCH} fresh raw
 *       {@code Linker.upcallStub}s minted in the setup (minting not timed): what a raw FFM user pays.</li>
 *   <li>{@link #secondCall} (info): the fresh slots' second call (their first made, untimed, in the
 *       setup): whether the extra cost is the first execution or the cold memory.</li>
 *   <li>{@link #steadyCall}: the same {@value #BATCH} calls through warmed slots with no per-invocation
 *       setup at all ({@link Steady} state; JMH times the whole iteration, no per-invocation timer):
 *       the undisturbed steady state. The target (first call {@code <=} 2x steady state) is
 *       judged on {@code (firstCall - harness) / steadyCall}: the stricter reading, which charges the
 *       first call with the disturbance of building its table, as happens in real use. The summary also
 *       shows {@code (firstCall - harness) / (warmCall - harness)}, the cost of the slot being new
 *       alone.</li>
 * </ul>
 * Score: ns per call. Thread-safety: JMH state of the benchmark's one thread. Refuses nothing: a refused
 * call (return 0) is counted and fails the trial at teardown.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class FirstCallBench {
    /** New slots per invocation (and warmed slots called in turn). */
    static final int BATCH = 64;

    /** Steady state: {@value #BATCH} warmed slots, no per-invocation setup. */
    @State(Scope.Thread)
    public static class Steady {
        private Registry registry;
        private final MemorySegment[] warm = new MemorySegment[BATCH];

        @Setup(Level.Trial)
        public void setUp() {
            registry = Fixtures.registry();
            warmUp(registry, warm);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            registry.close();
        }
    }

    /** The undisturbed steady state: one call through each of {@value #BATCH} warmed slots. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int steadyCall(Steady steady) throws Throwable {
        int acc = 0;
        for (MemorySegment p : steady.warm) {
            acc += (int) CALL_II.invokeExact(p, 20, 22);
        }
        if (acc != 42 * BATCH) {
            throw new IllegalStateException("a warmed slot refused");
        }
        return acc;
    }

    static void warmUp(Registry registry, MemorySegment[] warm) {
        for (int i = 0; i < warm.length; i++) {
            warm[i] = Fixtures.binopTable(registry).function("op");
        }
        for (int round = 0; round < 50; round++) {   // 50,000 calls per warm slot: stub and slots hot
            for (MemorySegment w : warm) {
                if (NativeToJavaBench.callN(w) != NativeToJavaBench.sumOfFirst(BenchNative.CALLS)) {
                    throw new IllegalStateException("a warm slot refused");
                }
            }
        }
    }

    /** A fresh batch of tables before every invocation (and the warmed slots to compare with). */
    @State(Scope.Thread)
    public static class Fresh {
        private Registry registry;
        private final MemorySegment[] warm = new MemorySegment[BATCH];
        /** This invocation's fresh tables and their slots, never called before the timed calls. */
        private final CallbackTable[] fresh = new CallbackTable[BATCH];
        private final MemorySegment[] freshSlots = new MemorySegment[BATCH];
        /** This invocation's fresh raw stubs (rawFirstCall only). */
        private Arena rawArena;
        private final MemorySegment[] rawFresh = new MemorySegment[BATCH];
        private long wrongResults;

        @Setup(Level.Trial)
        public void setUp() {
            registry = Fixtures.registry();
            warmUp(registry, warm);
        }

        @Setup(Level.Invocation)
        public void freshTables(BenchmarkParams params) throws Throwable {
            for (int i = 0; i < BATCH; i++) {
                fresh[i] = Fixtures.binopTable(registry);
                freshSlots[i] = fresh[i].function("op");
            }
            if (params.getBenchmark().endsWith(".secondCall")) {
            callEach(freshSlots);   // untimed first calls: the timed ones are each slot's second
        }
        if (params.getBenchmark().endsWith(".rawFirstCall")) {
                rawArena = Arena.ofConfined();
                for (int i = 0; i < BATCH; i++) {
                    rawFresh[i] = Linker.nativeLinker().upcallStub(Fixtures.ADD, BenchNative.BINOP, rawArena);
                }
            }
        }

        @TearDown(Level.Invocation)
        public void closeFresh() {
            for (CallbackTable t : fresh) {
                t.close();
            }
            if (rawArena != null) {
                rawArena.close();
                rawArena = null;
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Throwable {
            if (wrongResults != 0 || (int) CALL_II.invokeExact(warm[0], 20, 22) != 42) {
                throw new IllegalStateException(wrongResults + " calls returned a wrong result (refused?)");
            }
            registry.close();
        }

        int callEach(MemorySegment[] pointers) throws Throwable {
            int acc = 0;
            for (MemorySegment p : pointers) {
                int r = (int) CALL_II.invokeExact(p, 20, 22);
                if (r != 42) {
                    wrongResults++;
                }
                acc += r;
            }
            return acc;
        }
    }

    /** One call through each of {@value #BATCH} slots that have never been called: the fresh tables'. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int firstCall(Fresh f) throws Throwable {
        return f.callEach(f.freshSlots);
    }

    /**
     * Info: the second call through each fresh slot (the first made in the untimed setup). Tells a cost
     * of first execution (thunk cell, lazy state) from one of memory the setup left cold.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int secondCall(Fresh f) throws Throwable {
        return f.callEach(f.freshSlots);
    }

    /** One call through each of {@value #BATCH} warmed slots, after the same fresh-table setup. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int warmCall(Fresh f) throws Throwable {
        return f.callEach(f.warm);
    }

    /** The same setup and timing around no call: the overhead to subtract. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public MemorySegment harness(Fresh f) {
        return f.freshSlots[BATCH - 1];
    }

    /** Info: one call through each of {@value #BATCH} raw upcall stubs minted for this invocation. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int rawFirstCall(Fresh f) throws Throwable {
        return f.callEach(f.rawFresh);
    }
}
