package io.tabguard.bench;

import io.tabguard.guard.AbiV1;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
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

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * Issue 12, cheap refusals: C's {@code call_n} makes 1000 calls into the slot of a retired table
 * (revoked, closed, or quarantined by a one-byte tamper), with the registry's <b>default audit sink</b>
 * (the file log, synchronous) — unlike the other benchmarks, which use {@link NoOpAuditSink}. Each call
 * is refused: the first per violation was audited in the setup; the ones measured are counted only,
 * and a summary record is written about once a second. Baseline in the same run: a raw
 * {@code Linker.upcallStub} of the same target. Score: ns per refused call. Target: ≤ 200 ns.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RefusalBench {
    @Param({"REVOKED", "CLOSED", "QUARANTINED"})
    public String state;

    private Arena arena;
    private Path logDir;
    private Registry registry;
    private CallbackTable table;
    MemorySegment rawStub;
    MemorySegment refused;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        arena = Arena.ofShared();
        rawStub = Linker.nativeLinker().upcallStub(Fixtures.ADD, BenchNative.BINOP, arena);
        logDir = Files.createTempDirectory("tabguard-refusal-bench");
        registry = Registry.open(RegistryOptions.builder().auditLog(logDir.resolve("audit.log")).writableTables().build());   // the quarantined case tampers one byte
        table = Fixtures.binopTable(registry);
        refused = table.function("op");
        if (NativeToJavaBench.callN(refused) != NativeToJavaBench.sumOfFirst(CALLS)) {
            throw new IllegalStateException("the open table refused");
        }
        switch (state) {
            case "REVOKED" -> registry.revoke(table);
            case "CLOSED" -> table.close();
            case "QUARANTINED" -> {
                MemorySegment live = MemorySegment.ofAddress(table.payload().address() - AbiV1.HEADER_SIZE)
                        .reinterpret(AbiV1.HEADER_SIZE + table.payload().byteSize());
                long at = AbiV1.OFFSET_SERIAL;
                live.set(ValueLayout.JAVA_BYTE, at, (byte) (live.get(ValueLayout.JAVA_BYTE, at) ^ 1));
            }
            default -> throw new IllegalArgumentException(state);
        }
        if (NativeToJavaBench.callN(refused) != 0) {   // every call refused with 0: the sum is 0
            throw new IllegalStateException("the " + state + " table answered");
        }
        if (table.status() != TableStatus.valueOf(state)) {
            throw new IllegalStateException("status " + table.status() + ", expected " + state);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        registry.close();
        arena.close();
        try (Stream<Path> files = Files.walk(logDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_rawUpcall() throws Throwable {
        return (int) CALL_N.invokeExact(rawStub, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_refused() throws Throwable {
        return (int) CALL_N.invokeExact(refused, CALLS);
    }
}
