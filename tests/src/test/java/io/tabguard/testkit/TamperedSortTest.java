package io.tabguard.testkit;

import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.VerificationReport;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The issue-12 scenario: one byte of a live qsort comparator table is changed, then glibc's qsort sorts
 * 1,000,000 ints through it, with the default file audit log. Every comparison is refused (it returns 0);
 * the log must stay small (the first refusal per violation as a record, the rest as counted summaries)
 * and its counts must add up to the refused comparisons exactly. How many comparisons qsort makes when
 * every answer is 0 is counted in a control run through a raw upcall stub that returns 0, on the same
 * input (glibc's sort is deterministic for a given input and answers).
 */
@SuppressWarnings("restricted")
class TamperedSortTest {
    static final int N = 1_000_000;
    static final FunctionDescriptor COMPARE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    static final Schema COMPARATOR = Schema.builder("tabguard.test.int_comparator", 1)
            .slot("compare", COMPARE, o -> o.refusal(0))
            .build();
    static final MethodHandle QSORT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("qsort").orElseThrow(),
            FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final Pattern REFUSED = Pattern.compile("\"type\":\"TABLE_REFUSED\",\"serial\":(\\d+),.*\"count\":(\\d+),");

    static long zeroAnswers;

    static int answerZero(MemorySegment a, MemorySegment b) {
        zeroAnswers++;
        return 0;
    }

    static int compareInts(MemorySegment a, MemorySegment b) {
        return Integer.compare(a.reinterpret(4).get(JAVA_INT, 0), b.reinterpret(4).get(JAVA_INT, 0));
    }

    @Test
    void aTamperedComparatorInAMillionIntSortIsCountedExactlyInASmallLog(@TempDir Path dir) throws Throwable {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        MethodType type = MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class);
        int[] input = new Random(12).ints(N).toArray();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(JAVA_INT, N);

            // control: how many comparisons qsort makes on this input when every answer is 0
            MemorySegment rawZero = Linker.nativeLinker().upcallStub(lookup.findStatic(TamperedSortTest.class, "answerZero", type), COMPARE, arena);
            MemorySegment.copy(input, 0, values, JAVA_INT, 0, N);
            zeroAnswers = 0;
            QSORT.invokeExact(values, (long) N, 4L, rawZero);
            long comparisons = zeroAnswers;
            assertTrue(comparisons > N, "qsort compared: " + comparisons);

            Path log = dir.resolve("audit.log");
            long serial;
            long logBeforeTamper;
            // writable: the test plays a native writer that changes one byte (read-only tables would fault)
            try (Registry registry = Registry.open(RegistryOptions.builder().auditLog(log).writableTables().build())) {
                CallbackTable table = registry.builder(COMPARATOR)
                        .bind("compare", lookup.findStatic(TamperedSortTest.class, "compareInts", type)).build();
                serial = table.serial();
                logBeforeTamper = Files.size(log);
                NativeTamper.flipByte(table, AbiV1.OFFSET_SERIAL);
                MemorySegment.copy(input, 0, values, JAVA_INT, 0, N);
                QSORT.invokeExact(values, (long) N, 4L, table.function("compare"));
                assertEquals(TableStatus.QUARANTINED, table.status());
            }
            long growth = Files.size(log) - logBeforeTamper;
            assertTrue(growth < 1_000_000, "the log grew by " + growth + " bytes for " + comparisons + " refusals");

            long logged = 0;
            for (String line : Files.readAllLines(log)) {
                Matcher m = REFUSED.matcher(line);
                if (m.find() && Long.parseLong(m.group(1)) == serial) {
                    logged += Long.parseLong(m.group(2));
                }
            }
            assertEquals(comparisons, logged, "the log's refusal counts add up to the refused comparisons");
            VerificationReport report = AuditVerifier.verify(log);
            assertTrue(report.intact(), report.toString());
        }
    }

    @Test
    void theHonestTwinSortsAndLogsNoRefusal(@TempDir Path dir) throws Throwable {
        MethodType type = MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class);
        int[] input = new Random(12).ints(10_000).toArray();
        Path log = dir.resolve("audit.log");
        try (Arena arena = Arena.ofConfined(); Registry registry = Registry.open(RegistryOptions.builder().auditLog(log).build())) {
            CallbackTable table = registry.builder(COMPARATOR)
                    .bind("compare", MethodHandles.lookup().findStatic(TamperedSortTest.class, "compareInts", type)).build();
            MemorySegment values = arena.allocate(JAVA_INT, input.length);
            MemorySegment.copy(input, 0, values, JAVA_INT, 0, input.length);
            QSORT.invokeExact(values, (long) input.length, 4L, table.function("compare"));
            int[] sorted = values.toArray(JAVA_INT);
            int[] expected = input.clone();
            java.util.Arrays.sort(expected);
            assertTrue(java.util.Arrays.equals(expected, sorted), "sorted through the verified comparator");
        }
        List<String> refused = Files.readAllLines(log).stream().filter(l -> l.contains("\"type\":\"TABLE_REFUSED\"")).toList();
        assertEquals(List.of(), refused);
    }
}
