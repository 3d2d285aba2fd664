package io.tabguard.examples;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

@SuppressWarnings("restricted")
class SortWithGuardedComparatorTest {

    @Test
    void qsortSortsAHundredThousandIntsThroughAVerifiedComparator() {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(sink(events)).build())) {
            CallbackTable table = SortWithGuardedComparator.comparatorTable(registry);
            int[] values = new Random(7).ints(100_000).toArray();
            int[] expected = values.clone();
            Arrays.sort(expected);
            SortWithGuardedComparator.sort(values, table);
            assertArrayEquals(expected, values);
        }
    }

    @Test
    void aTamperedComparatorTableIsRefusedAndQsortSeesZero() {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        // writable tables: a write into a read-only one would stop the process (ReadOnlyTableAttackTest)
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(sink(events)).writableTables().build())) {
            CallbackTable table = SortWithGuardedComparator.comparatorTable(registry);
            // flip one header byte (the serial) through the payload's view of the table
            java.lang.foreign.MemorySegment header = java.lang.foreign.MemorySegment.ofAddress(table.payload().address() - 128).reinterpret(128);
            header.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 40, (byte) (header.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 40) ^ 1));
            int[] values = {5, 3, 9, 1};
            SortWithGuardedComparator.sort(values, table);
            // every comparison refused with 0 ("equal"): qsort leaves the order as it was
            assertArrayEquals(new int[]{5, 3, 9, 1}, values);
            assertEquals(io.tabguard.registry.TableStatus.QUARANTINED, table.status());
            assertTrue(events.stream().anyMatch(e -> "CHECKSUM".equals(e.violation())), events.toString());
        }
    }

    static AuditSink sink(List<SecurityEvent> events) {
        return new AuditSink() {
            @Override
            public void record(SecurityEvent event) {
                events.add(event);
            }

            @Override
            public void close() {
            }
        };
    }
}
