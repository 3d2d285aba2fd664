package io.tabguard.bench;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
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
 * call should cost what any call costs, plus the cold caches of its new entry thunk, record and table.
 *
 * <p>What is compared, and why it is fair:
 * <ul>
 *   <li>Every invocation, in every method, is preceded by the same {@code Level.Invocation} setup: a
 *       fresh one-slot {@code int op(int, int)} table is built and sealed (closed again afterwards), so
 *       each method pays the same cache and allocation disturbance before its timed call. Per-invocation
 *       setup makes JMH time each invocation on its own (two {@code System.nanoTime} reads), so every
 *       score carries the same ~20-30 ns of timer overhead.</li>
 *   <li>{@link #firstCall}: one C call ({@code call_ii}) through the slot of the table just built:
 *       that slot's first call ever, its thunk never executed. The shape's shared stub is warm (other
 *       slots of the shape ran before, as in any process past its first table of a shape); the one-time
 *       cost of a shape's very first call (the stub's Java side still interpreted) is not in this
 *       figure: it is paid once per shape per process, not per slot.</li>
 *   <li>{@link #warmCall}: the same {@code call_ii} through the slot of a table built at trial setup and
 *       called a million times since: steady state, measured the same way.</li>
 *   <li>{@link #harness}: the same setup and timing around a call of nothing, so the timer overhead can
 *       be subtracted: the summary reports {@code (firstCall - harness) / (warmCall - harness)} as well
 *       as the plain ratio, which the additive overhead pulls towards 1.</li>
 *   <li>{@link #rawFirstCall} (info): the first call through a fresh raw {@code Linker.upcallStub},
 *       minted per invocation: what a raw FFM user pays (the stub itself is new code).</li>
 * </ul>
 * Thread-safety: JMH state, one benchmark thread. Refuses nothing; a refused call (return 0) fails the
 * trial at teardown.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class FirstCallBench {
    private Registry registry;
    private CallbackTable warmTable;
    private MemorySegment warm;
    /** This invocation's fresh table and its slot, never called before the timed call. */
    private CallbackTable fresh;
    private MemorySegment fresh0;
    /** This invocation's fresh raw stub (rawFirstCall only). */
    private Arena rawArena;
    private MemorySegment rawFresh;
    private long wrongResults;

    @Setup(Level.Trial)
    public void setUp() {
        registry = Fixtures.registry();
        warmTable = Fixtures.binopTable(registry);
        warm = warmTable.function("op");
        for (int i = 0; i < 1_000; i++) {   // 1,000 x 1,000 calls: the shared stub and this slot are hot
            if (NativeToJavaBench.callN(warm) != NativeToJavaBench.sumOfFirst(BenchNative.CALLS)) {
                throw new IllegalStateException("the warm slot refused");
            }
        }
    }

    @Setup(Level.Invocation)
    public void freshTable() {
        fresh = Fixtures.binopTable(registry);
        fresh0 = fresh.function("op");
    }

    @TearDown(Level.Invocation)
    public void closeFresh() {
        fresh.close();
        if (rawArena != null) {
            rawArena.close();
            rawArena = null;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        try {
            if (wrongResults != 0 || (int) CALL_II.invokeExact(warm, 20, 22) != 42) {
                throw new IllegalStateException(wrongResults + " calls returned a wrong result (refused?)");
            }
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        registry.close();
    }

    /** One call through a slot that has never been called: the fresh table's. */
    @Benchmark
    public int firstCall() throws Throwable {
        int r = (int) CALL_II.invokeExact(fresh0, 20, 22);
        if (r != 42) {
            wrongResults++;
        }
        return r;
    }

    /** One call through a slot called a million times before, after the same fresh-table setup. */
    @Benchmark
    public int warmCall() throws Throwable {
        int r = (int) CALL_II.invokeExact(warm, 20, 22);
        if (r != 42) {
            wrongResults++;
        }
        return r;
    }

    /** The same setup and timing around no call: the timer and harness overhead to subtract. */
    @Benchmark
    public MemorySegment harness() {
        return fresh0;
    }

    /** Info: the first call through a raw upcall stub minted for this invocation (minting not timed). */
    @Benchmark
    public int rawFirstCall() throws Throwable {
        int r = (int) CALL_II.invokeExact(rawFresh, 20, 22);
        if (r != 42) {
            wrongResults++;
        }
        return r;
    }

    /** Mints rawFirstCall's stub, for that method only (the state is shared by all four). */
    @Setup(Level.Invocation)
    public void freshRawStub(BenchmarkParams params) {
        if (params.getBenchmark().endsWith(".rawFirstCall")) {
            rawArena = Arena.ofConfined();
            rawFresh = Linker.nativeLinker().upcallStub(Fixtures.ADD, BenchNative.BINOP, rawArena);
        }
    }
}
