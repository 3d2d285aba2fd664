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

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * C → native slot (issue 16): C's {@code call_n} makes 1000 dependent calls through a function pointer.
 * Baseline: the raw address of {@code add_ints} (a plain indirect call). Tabguard: the slot of a table
 * whose {@code add} is bound with {@code bindNative("add", "add_ints")}, which holds the entry thunk
 * (state-word load, compare, tail jump). Score: ns per single C call. Target: tabguard ≤ raw + 3 ns.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class NativeSlotBench {
    private Registry registry;
    private CallbackTable table;
    MemorySegment raw;
    MemorySegment thunk;

    @Setup(Level.Trial)
    public void setUp() {
        registry = Fixtures.registry();
        table = registry.builder(Fixtures.ADDER).bindNative("add", "add_ints").build();
        raw = BenchNative.ADD_INTS;
        thunk = table.function("add");
        if (thunk.address() == raw.address()) {
            throw new IllegalStateException("the slot holds add_ints itself: no entry thunk in this build");
        }
        int expected = NativeToJavaBench.sumOfFirst(CALLS);
        if (NativeToJavaBench.callN(raw) != expected || NativeToJavaBench.callN(thunk) != expected) {
            throw new IllegalStateException("call_n returned a wrong sum: the thunk refused or misrouted");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (NativeToJavaBench.callN(thunk) != NativeToJavaBench.sumOfFirst(CALLS)) {
            throw new IllegalStateException("the table refused calls during the run (status " + table.status() + ")");
        }
        registry.close();
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_rawIndirect() throws Throwable {
        return (int) CALL_N.invokeExact(raw, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_thunk() throws Throwable {
        return (int) CALL_N.invokeExact(thunk, CALLS);
    }
}
