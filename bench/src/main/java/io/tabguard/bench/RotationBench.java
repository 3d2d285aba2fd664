package io.tabguard.bench;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALL_II;

/**
 * Benchmark 8: key rotation with 10,000 live 8-slot tables.
 *
 * <ul>
 *   <li>{@code rotateKey}: time per {@code registry.rotateKey()} (re-signs all 10,000 tables), alone;</li>
 *   <li>group {@code rotating}: one thread dispatches single calls (C call_ii through a Java slot
 *       of one of the 10,000 tables) while another rotates the key back to back; both are sampled
 *       (SampleTime), so the report has the dispatch latency distribution under rotation and the
 *       rotation time under dispatch;</li>
 *   <li>{@code dispatchQuiet}: the same single-call dispatch and registry, no rotation: the baseline
 *       distribution.</li>
 * </ul>
 * Every dispatch must be admitted (a refused call returns 0, not a + b): checked at the end.
 */
@State(Scope.Benchmark)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RotationBench {
    static final int LIVE_TABLES = 10_000;

    private Registry registry;
    private List<CallbackTable> tables;
    MemorySegment slot;
    int a = 20;
    int b = 22;
    private volatile boolean refusedSeen;

    @Setup(Level.Trial)
    public void setUp() {
        registry = Fixtures.registry();
        tables = Fixtures.fill(registry, LIVE_TABLES);
        slot = tables.get(LIVE_TABLES / 2).function("s3");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (refusedSeen) {
            throw new IllegalStateException("a dispatch was refused during key rotation (a false refusal)");
        }
        registry.close();
    }

    private int dispatch() throws Throwable {
        int r = (int) CALL_II.invokeExact(slot, a, b);
        if (r != 42) {
            refusedSeen = true;
        }
        return r;
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long rotateKey() {
        registry.rotateKey();
        return registry.keyEpoch();
    }

    @Benchmark
    @Group("rotating")
    @GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    public int dispatchWhileRotating() throws Throwable {
        return dispatch();
    }

    @Benchmark
    @Group("rotating")
    @GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    public long rotator() {
        registry.rotateKey();
        return registry.keyEpoch();
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    public int dispatchQuiet() throws Throwable {
        return dispatch();
    }
}
