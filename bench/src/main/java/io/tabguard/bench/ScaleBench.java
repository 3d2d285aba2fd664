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
 * Benchmark 6: benchmark 1's minimal dispatch (C call_n, 1000 calls into a verified trampoline) with
 * 10, 1,000 and 100,000 live 8-slot tables in the registry. Target: flat within 10% (the 10-table
 * score is the baseline).
 *
 * {@code dispatchOne} always calls slot s0 of the middle table. (Spreading calls over many distinct
 * trampolines is another matter, measured by {@link SpreadBench}: there the first ~127 calls through
 * each trampoline trigger method-handle customization and JIT work.)
 *
 * <p>100,000 tables hold 800,000 upcall stubs, ~600 MB of code cache: more than the JVM's default
 * 240 MB (building them fails near 40,000 tables with "OutOfMemoryError: Failed to allocate upcall
 * stub", after the JIT has been switched off for lack of code cache). The forks therefore run with a
 * 1 GB code cache, for every @Param value alike. Heap and native bytes per table: see
 * {@link MemoryFootprint}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:ReservedCodeCacheSize=1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ScaleBench {
    @Param({"10", "1000", "100000"})
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
            throw new IllegalStateException("a trampoline refused");
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
