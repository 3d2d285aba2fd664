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

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * Many distinct hot slots (issue 16: 8,000 slots in turn {@code <=} 1.2x raw stubs): calls spread over
 * many distinct function pointers, each used for one call_n (1000 calls) in turn. Baseline: as many raw
 * upcall stubs of the same Java target, each its own stub (its own code, its own method handle);
 * Tabguard: the slots of (pointers / 8) 8-slot tables, i.e. as many 32-byte entry thunks, all jumping
 * into the one shared upcall stub of the {@code int (int, int)} shape. The thunks differ only in the
 * record id they load, so the Java code that runs is the same, hot and compiled once, whichever slot is
 * called; what grows with the pointer count is the working set of thunk cells, records, gates and
 * tables (cache and TLB misses). The raw stubs instead each pass through their own method handle,
 * customized after ~127 calls ({@code -prof cl -prof comp} shows the classes and compilations).
 *
 * <p>Thread-safety: JMH state shared by the benchmark's one thread. Refuses nothing: every slot is
 * checked once at setup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class SpreadBench {
    @Param({"8", "8000"})
    public int pointers;

    private Arena arena;
    private Registry registry;
    private MemorySegment[] raw;
    private MemorySegment[] guarded;
    private int nextRaw;
    private int nextGuarded;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        registry = Fixtures.registry();
        raw = new MemorySegment[pointers];
        for (int i = 0; i < pointers; i++) {
            raw[i] = Linker.nativeLinker().upcallStub(Fixtures.ADD, BenchNative.BINOP, arena);
        }
        List<CallbackTable> tables = Fixtures.fill(registry, pointers / Fixtures.EIGHT_SLOTS);
        guarded = new MemorySegment[pointers];
        for (int i = 0; i < pointers; i++) {
            guarded[i] = tables.get(i / Fixtures.EIGHT_SLOTS).function("s" + (i % Fixtures.EIGHT_SLOTS));
        }
        int expected = NativeToJavaBench.sumOfFirst(CALLS);
        for (int i = 0; i < pointers; i++) {
            if (NativeToJavaBench.callN(raw[i]) != expected || NativeToJavaBench.callN(guarded[i]) != expected) {
                throw new IllegalStateException("pointer " + i + " refused or misrouted");
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        registry.close();
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int rawUpcall_spread() throws Throwable {
        int i = nextRaw + 1 == raw.length ? 0 : nextRaw + 1;
        nextRaw = i;
        return (int) CALL_N.invokeExact(raw[i], CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int tabguard_spread() throws Throwable {
        int i = nextGuarded + 1 == guarded.length ? 0 : nextGuarded + 1;
        nextGuarded = i;
        return (int) CALL_N.invokeExact(guarded[i], CALLS);
    }
}
