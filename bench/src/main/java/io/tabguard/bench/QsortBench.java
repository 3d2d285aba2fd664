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

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Benchmark 1, real caller: glibc {@code qsort} over 1M shuffled ints (the same permutation every time),
 * its comparator a raw upcall stub (baseline) or the slot of a verified table (Tabguard). Each
 * operation copies the shuffled input into the native array, then sorts it: ~20M comparator calls.
 * Score: ms per sort. Target: tabguard / raw <= 1.2.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class QsortBench {
    static final int N = 1_000_000;

    private Arena arena;
    private Registry registry;
    private int[] shuffled;
    private MemorySegment array;
    MemorySegment rawComparator;
    MemorySegment guardedComparator;

    @Setup(Level.Trial)
    public void setUp() throws Throwable {
        arena = Arena.ofShared();
        shuffled = new Random(42).ints(N).toArray();
        array = arena.allocate(JAVA_INT, N);
        rawComparator = Linker.nativeLinker().upcallStub(Fixtures.COMPARE_INTS, Fixtures.COMPARATOR_DESCRIPTOR, arena);
        registry = Fixtures.registry();
        CallbackTable table = registry.builder(Fixtures.COMPARATOR).bind("compare", Fixtures.COMPARE_INTS).build();
        guardedComparator = table.function("compare");
        checkSorts(rawComparator);
        checkSorts(guardedComparator);
    }

    private void checkSorts(MemorySegment comparator) throws Throwable {
        sort(comparator);
        int[] expected = shuffled.clone();
        java.util.Arrays.sort(expected);
        if (!java.util.Arrays.equals(array.toArray(JAVA_INT), expected)) {
            throw new IllegalStateException("qsort through " + comparator + " did not sort");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Throwable {
        checkSorts(guardedComparator);   // the table still admitted every comparison
        registry.close();
        arena.close();
    }

    private MemorySegment sort(MemorySegment comparator) throws Throwable {
        MemorySegment.copy(shuffled, 0, array, JAVA_INT, 0, N);
        BenchNative.QSORT.invokeExact(array, (long) N, JAVA_INT.byteSize(), comparator);
        return array;
    }

    @Benchmark
    public MemorySegment qsort1M_rawUpcall() throws Throwable {
        return sort(rawComparator);
    }

    @Benchmark
    public MemorySegment qsort1M_tabguard() throws Throwable {
        return sort(guardedComparator);
    }
}
