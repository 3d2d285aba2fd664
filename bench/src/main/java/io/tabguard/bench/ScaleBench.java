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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * Benchmark 6: benchmark 1's minimal dispatch (C call_n, 1000 calls through a Java slot's entry thunk
 * into the shape's shared upcall stub) with 10, 1,000, 100,000 and 1,000,000 live 8-slot tables in the
 * registry. Target (issue 16): flat within 10% from 10 to 1,000,000 (the 10-table score is the
 * baseline).
 *
 * {@code dispatchOne} always calls slot s0 of the middle table. (Spreading calls over many distinct
 * slots is another matter, measured by {@link SpreadBench}.)
 *
 * <p>The forks run with the JVM's default flags (no larger code cache): a Java slot costs a 32-byte
 * thunk cell and a slot record, not an upcall stub of its own, so 8,000,000 slots fit. What a live
 * table costs otherwise is ~2 KB of heap (see {@link MemoryFootprint}): 1,000,000 tables need ~2 GB,
 * within the default maximum heap (a quarter of RAM) of any machine with 12 GB or more, and take about
 * a minute to build per fork (trial setup, not measured).
 *
 * <p>Thread-safety: JMH state shared by the benchmark's one thread. Refuses nothing: a refused call
 * fails the trial.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ScaleBench {
    @Param({"10", "1000", "100000", "1000000"})
    public int liveTables;

    private Registry registry;
    private List<CallbackTable> tables;
    MemorySegment one;

    @Setup(Level.Trial)
    public void setUp() {
        registry = Fixtures.registry();
        tables = Fixtures.fill(registry, liveTables);
        one = tables.get(liveTables / 2).function("s0");
        int expected = NativeToJavaBench.sumOfFirst(CALLS);
        if (NativeToJavaBench.callN(one) != expected
                || NativeToJavaBench.callN(tables.get(liveTables - 1).function("s7")) != expected) {
            throw new IllegalStateException("a slot refused or misrouted");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (NativeToJavaBench.callN(one) != NativeToJavaBench.sumOfFirst(CALLS)) {
            throw new IllegalStateException("the table refused calls during the run");
        }
        registry.close();
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int dispatchOne() throws Throwable {
        return (int) CALL_N.invokeExact(one, CALLS);
    }
}
