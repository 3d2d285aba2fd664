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

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * Benchmark 1, minimal caller: C's {@code call_n} makes 1000 dependent calls straight into a function
 * pointer. Baseline: a raw {@code Linker.upcallStub} of {@link Fixtures#add}. Tabguard: the slot of a
 * one-slot table, i.e. the slot's 32-byte entry thunk, which loads the slot's record id into the first
 * free integer register and jumps into the one upcall stub shared by every {@code int (int, int)} Java
 * slot; its Java side resolves the id to the slot's record, then runs the shape's trampoline template
 * (state check + byte-for-byte compare of the 192-byte table with its snapshot, dispatch tracking,
 * exception barrier) around the target. The shared stub passes one more argument (the id) than the raw
 * stub: that, the record lookup and the checks are what the ratio measures. Score: ns per single call
 * (native -> Java -> native return). Target (issue 16): tabguard / raw <= 1.1. Run with
 * {@code -prof gc} to see the accept path's allocation (target 0 B per call).
 *
 * <p>Thread-safety: JMH state shared by the benchmark's one thread. Refuses nothing: a wrong sum (a
 * refused or misrouted call) fails the trial at setup or teardown.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class NativeToJavaBench {
    private Arena arena;
    private Registry registry;
    private CallbackTable table;
    /** A raw upcall stub of {@link Fixtures#ADD}: no checks at all. */
    MemorySegment rawStub;
    /** The table's slot: its entry thunk into the shape's shared, verifying upcall stub. */
    MemorySegment guarded;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        rawStub = Linker.nativeLinker().upcallStub(Fixtures.ADD, BenchNative.BINOP, arena);
        registry = Fixtures.registry();
        table = Fixtures.binopTable(registry);
        guarded = table.function("op");
        int expected = sumOfFirst(CALLS);
        if (callN(rawStub) != expected || callN(guarded) != expected) {
            throw new IllegalStateException("call_n returned a wrong sum: the slot refused or misrouted");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (callN(guarded) != sumOfFirst(CALLS)) {
            throw new IllegalStateException("the table refused calls during the run (status " + table.status() + ")");
        }
        registry.close();
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_rawUpcall() throws Throwable {
        return (int) CALL_N.invokeExact(rawStub, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_tabguard() throws Throwable {
        return (int) CALL_N.invokeExact(guarded, CALLS);
    }

    static int callN(MemorySegment f) {
        try {
            return (int) CALL_N.invokeExact(f, CALLS);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** What call_n through add returns: 0 + 1 + ... + (n-1), wrapping like C's int. */
    static int sumOfFirst(int n) {
        int acc = 0;
        for (int i = 0; i < n; i++) {
            acc += i;
        }
        return acc;
    }
}
