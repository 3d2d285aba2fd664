package io.tabguard.bench;

import io.tabguard.guard.AbiV1;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Issue 12's first measurement, repeated: glibc qsort of 1,000,000 ints through a table's comparator,
 * honest, then with one byte of the live table changed (every comparison refused), with the registry's
 * default file audit log. Prints the time of each sort and how much the log grew. A main program: the
 * tampered sort is one-shot (the first refusal quarantines the table), which JMH's repeated invocations
 * do not fit.
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar
 * io.tabguard.bench.TamperedSort [repeats=5]}
 */
public final class TamperedSort {
    private static final int N = 1_000_000;

    private TamperedSort() {}

    public static void main(String[] args) throws Throwable {
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        PrintStream out = System.out;
        int[] input = new Random(12).ints(N).toArray();
        Path dir = Files.createTempDirectory("tabguard-tampered-sort");
        Path log = dir.resolve("audit.log");
        try (Arena arena = Arena.ofConfined();
             Registry registry = Registry.open(RegistryOptions.builder().auditLog(log).writableTables().build())) {
            MemorySegment values = arena.allocate(JAVA_INT, N);
            for (int r = 0; r < repeats + 2; r++) {   // the first two of each are warm-up
                CallbackTable table = registry.builder(Fixtures.COMPARATOR).bind("compare", Fixtures.COMPARE_INTS).build();
                MemorySegment.copy(input, 0, values, JAVA_INT, 0, N);
                long h0 = System.nanoTime();
                BenchNative.QSORT.invokeExact(values, (long) N, 4L, table.function("compare"));
                long honest = System.nanoTime() - h0;

                MemorySegment live = MemorySegment.ofAddress(table.payload().address() - AbiV1.HEADER_SIZE)
                        .reinterpret(AbiV1.HEADER_SIZE + table.payload().byteSize());
                live.set(ValueLayout.JAVA_BYTE, AbiV1.OFFSET_SERIAL, (byte) (live.get(ValueLayout.JAVA_BYTE, AbiV1.OFFSET_SERIAL) ^ 1));
                MemorySegment.copy(input, 0, values, JAVA_INT, 0, N);
                long size0 = Files.size(log);
                long t0 = System.nanoTime();
                BenchNative.QSORT.invokeExact(values, (long) N, 4L, table.function("compare"));
                long tampered = System.nanoTime() - t0;
                registry.flushAudit();
                long grown = Files.size(log) - size0;
                if (table.status() != TableStatus.QUARANTINED) {
                    throw new IllegalStateException("the tampered table was not quarantined");
                }
                out.printf("%s honest sort %.0f ms, tampered sort %.0f ms (%.2fx), log grew %d bytes%n",
                        r < 2 ? "warm-up" : "run    ", honest / 1e6, tampered / 1e6, (double) tampered / honest, grown);
            }
        }
    }
}
