package io.tabguard.bench;

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
import org.openjdk.jmh.infra.Blackhole;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Benchmark 5: 8-slot tables built and stamped per second, entry creation included.
 *
 * <p>A Java slot no longer mints an upcall stub: it gets a 32-byte entry thunk and a slot record, and
 * jumps into the one upcall stub its shape shares (minted once per process). The raw baseline still
 * mints 8 stubs per table (~0.75 KB of code cache each; the default 240 MB code cache holds only
 * ~40,000 such tables), so each invocation builds a batch of {@value #BATCH} tables into a registry
 * (and arena) opened for it and closed after it (open and close are not timed). Score: tables per second.
 *
 * <ul>
 *   <li>{@code build8_javaSlots}: 8 Java targets, so 8 entry thunks and slot records (the normal case);</li>
 *   <li>{@code build8_nativeSlots}: 8 allow-listed C functions, native entry thunks and no upcall: the builder, stamping and
 *       registry bookkeeping alone;</li>
 *   <li>{@code baseline_raw8Stubs}: what the same struct costs without Tabguard: 64 bytes of native memory
 *       and 8 raw {@code Linker.upcallStub}s.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class BuildBench {
    static final int BATCH = 1000;

    private Registry registry;
    private Arena arena;

    @Setup(Level.Invocation)
    public void open() {
        registry = Fixtures.registry();
        arena = Arena.ofShared();
    }

    @TearDown(Level.Invocation)
    public void close() {
        registry.close();
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void build8_javaSlots(Blackhole bh) {
        for (int i = 0; i < BATCH; i++) {
            bh.consume(Fixtures.eightSlotTable(registry));
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void build8_nativeSlots(Blackhole bh) {
        for (int i = 0; i < BATCH; i++) {
            bh.consume(Fixtures.eightNativeSlotTable(registry));
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void baseline_raw8Stubs(Blackhole bh) {
        Linker linker = Linker.nativeLinker();
        for (int i = 0; i < BATCH; i++) {
            MemorySegment struct = arena.allocate(ADDRESS, Fixtures.EIGHT_SLOTS);
            for (int s = 0; s < Fixtures.EIGHT_SLOTS; s++) {
                struct.setAtIndex(ADDRESS, s, linker.upcallStub(Fixtures.ADD, BenchNative.BINOP, arena));
            }
            bh.consume(struct);
        }
    }
}
