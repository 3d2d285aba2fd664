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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * Benchmark 7: dispatch throughput (C call_n through a Java slot's entry thunk into the shared, verifying upcall stub) on 1 and 2 threads, all
 * threads calling through the same table. Target: 2 threads >= 1.8 x one thread. The raw upcall stub
 * is measured the same way, to show what the machine itself allows (2 cores, and JMH's own thread
 * control). Score: calls per microsecond, summed over threads. Do not pass -t: it would override the
 * per-method thread counts.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ThreadsBench {
    private Arena arena;
    private Registry registry;
    private CallbackTable table;
    MemorySegment guarded;
    MemorySegment rawStub;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        rawStub = Linker.nativeLinker().upcallStub(Fixtures.ADD, BenchNative.BINOP, arena);
        registry = Fixtures.registry();
        table = Fixtures.binopTable(registry);
        guarded = table.function("op");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (NativeToJavaBench.callN(guarded) != NativeToJavaBench.sumOfFirst(CALLS)) {
            throw new IllegalStateException("the table refused calls during the run (status " + table.status() + ")");
        }
        registry.close();
        arena.close();
    }

    @Benchmark
    @Threads(1)
    @OperationsPerInvocation(CALLS)
    public int tabguard_1thread() throws Throwable {
        return (int) CALL_N.invokeExact(guarded, CALLS);
    }

    @Benchmark
    @Threads(2)
    @OperationsPerInvocation(CALLS)
    public int tabguard_2threads() throws Throwable {
        return (int) CALL_N.invokeExact(guarded, CALLS);
    }

    @Benchmark
    @Threads(1)
    @OperationsPerInvocation(CALLS)
    public int rawUpcall_1thread() throws Throwable {
        return (int) CALL_N.invokeExact(rawStub, CALLS);
    }

    @Benchmark
    @Threads(2)
    @OperationsPerInvocation(CALLS)
    public int rawUpcall_2threads() throws Throwable {
        return (int) CALL_N.invokeExact(rawStub, CALLS);
    }
}
