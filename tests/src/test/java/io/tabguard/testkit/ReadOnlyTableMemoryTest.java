package io.tabguard.testkit;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Where table memory lives (issue 15), read from the kernel's own account ({@code /proc/self/maps}),
 * not from the registry's: read-only tables in {@code r--s} pages of a memfd, mapped a second time
 * for the registry alone, inaccessible ({@code ---s}) whenever the registry is not writing; writable tables
 * elsewhere; packing; nothing reused or unmapped while the registry is open.
 */
class ReadOnlyTableMemoryTest {
    private static final String MEMFD = "/memfd:tabguard-tables";   // the kernel appends " (deleted)": the fd is closed

    /** One line of /proc/self/maps. */
    record Mapping(long start, long end, String permissions, String name) {
        boolean contains(long address) {
            return address >= start && address < end;
        }

        long size() {
            return end - start;
        }
    }

    static List<Mapping> mappings() throws IOException {
        List<Mapping> all = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            String[] range = f[0].split("-");
            all.add(new Mapping(Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16), f[1],
                    f.length == 6 ? f[5] : ""));
        }
        return all;
    }

    static Optional<Mapping> mappingOf(long address) throws IOException {
        return mappings().stream().filter(m -> m.contains(address)).findFirst();
    }

    @Test
    void aTableIsReadOnlyToEveryoneButTheRegistryAndAWritableTableIsNot() throws IOException {
        try (Registry registry = Fixtures.open(new Fixtures.Audit())) {
            CallbackTable table = Fixtures.calcTable(registry, new Fixtures.Targets());
            CallbackTable writable = Fixtures.writableCalcTable(registry, new Fixtures.Targets());

            assertTrue(table.payload().isReadOnly());
            assertThrows(IllegalArgumentException.class, () -> table.payload().set(ValueLayout.JAVA_INT, 24, 8));
            assertTrue(writable.payload().isReadOnly(), "Java callers get a read-only view of a writable table too");

            long header = table.payload().address() - AbiV1.HEADER_SIZE;
            Mapping m = mappingOf(header).orElseThrow();
            assertEquals("r--s", m.permissions(), m.toString());
            assertTrue(m.name().startsWith(MEMFD), m.toString());
            assertTrue(m.contains(table.payload().address() + table.payload().byteSize() - 1), "header and payload in one mapping");
            // the registry's private twin exists (same size, shared), no address handed out lies in it, and with
            // no build or rotation running it is inaccessible: a native store cannot reach it either
            List<Mapping> twins = mappings().stream().filter(x -> x.name().startsWith(MEMFD) && x.permissions().equals("---s")).toList();
            assertFalse(twins.isEmpty());
            assertTrue(twins.stream().noneMatch(x -> x.contains(header)));
            assertTrue(mappings().stream().noneMatch(x -> x.name().startsWith(MEMFD) && x.permissions().startsWith("rw")),
                    "a write window of the table memory was left open");

            Mapping w = mappingOf(writable.payload().address()).orElseThrow();
            assertEquals('w', w.permissions().charAt(1), w.toString());
            assertFalse(w.name().startsWith(MEMFD), w.toString());
        }
    }

    /** Four allow-listed native slots: no upcall stub per table, so 100,000 tables cost only their bytes. */
    static final Schema FOUR_NATIVE = Schema.builder("tabguard.test.four", 1)
            .slot("a", Fixtures.INT_INT, o -> o.refusal(-1)).slot("b", Fixtures.INT_INT, o -> o.refusal(-1))
            .slot("c", Fixtures.INT_INT, o -> o.refusal(-1)).slot("d", Fixtures.INT_INT, o -> o.refusal(-1))
            .build();

    @Test
    void oneHundredThousandTablesArePackedIntoAtMostTwiceTheirBytes() throws IOException {
        int tables = 100_000;
        long tableBytes = AbiV1.HEADER_SIZE + FOUR_NATIVE.payloadSize(0);
        try (Registry registry = Fixtures.open(new Fixtures.Audit(), o -> o.allowLibrary("libc.so.6"))) {
            long before = memfdBytes("r--s");
            List<CallbackTable> live = new ArrayList<>(tables);
            Set<Long> addresses = new HashSet<>();
            for (int i = 0; i < tables; i++) {
                CallbackTable t = registry.builder(FOUR_NATIVE)
                        .bindNative("a", "abs").bindNative("b", "abs").bindNative("c", "abs").bindNative("d", "abs").build();
                live.add(t);
                addresses.add(t.payload().address());
            }
            long readOnlyMapped = memfdBytes("r--s") - before;
            long writableTwin = memfdBytes("---s");
            System.out.println("ReadOnlyTableMemoryTest: " + tables + " tables of " + tableBytes + " B = " + tables * tableBytes
                    + " B; mapped read-only " + readOnlyMapped + " B (" + String.format("%.3f", (double) readOnlyMapped / (tables * tableBytes))
                    + "x), private twin (closed) " + writableTwin + " B");
            assertEquals(tables, addresses.size());
            assertTrue(readOnlyMapped <= 2 * tables * tableBytes,
                    readOnlyMapped + " bytes mapped read-only for " + tables + " tables of " + tableBytes + " bytes");
            assertTrue(readOnlyMapped >= tables * tableBytes, "every table is in a read-only mapping: " + readOnlyMapped);
            assertTrue(writableTwin >= readOnlyMapped, "one private writable mapping per read-only one");
            // spot-check: the last table's bytes are where the kernel says, read-only, and verified
            CallbackTable last = live.getLast();
            assertEquals("r--s", mappingOf(last.payload().address()).orElseThrow().permissions());
            assertArrayEquals(last.verifiedBytes(), NativeTamper.liveBytes(last));
        }
    }

    static long memfdBytes(String permissions) throws IOException {
        return mappings().stream().filter(m -> m.name().startsWith(MEMFD) && m.permissions().equals(permissions))
                .mapToLong(Mapping::size).sum();
    }

    @Test
    void closedAndRevokedTablesStayReadableAndTheirMemoryIsNeverReused() throws Throwable {
        try (Registry registry = Fixtures.open(new Fixtures.Audit())) {
            CallbackTable closed = Fixtures.calcTable(registry, new Fixtures.Targets());
            CallbackTable revoked = Fixtures.calcTable(registry, new Fixtures.Targets());
            byte[] closedBytes = closed.verifiedBytes();
            byte[] revokedBytes = revoked.verifiedBytes();
            closed.close();
            registry.revoke(revoked);
            Set<Long> retired = Set.of(closed.payload().address(), revoked.payload().address());
            for (int i = 0; i < 2_000; i++) {
                CallbackTable t = Fixtures.calcTable(registry, new Fixtures.Targets());
                assertFalse(retired.contains(t.payload().address()), "a retired table's address was reused");
                t.close();
            }
            // native code still holding the old pointers reads the old tables, and their slots refuse
            assertArrayEquals(closedBytes, NativeTamper.liveBytes(closed));
            assertArrayEquals(revokedBytes, NativeTamper.liveBytes(revoked));
            assertEquals(Fixtures.REFUSED, Fixtures.callNative(closed, "inc", 1));
            assertEquals(Fixtures.REFUSED, Fixtures.callNative(revoked, "inc", 1));
        }
    }

    @Test
    void afterTheRegistryClosesJavaCannotReadTheUnmappedTable() {
        Registry registry = Fixtures.open(new Fixtures.Audit());
        CallbackTable table = Fixtures.calcTable(registry, new Fixtures.Targets());
        MemorySegment payload = table.payload();
        registry.close();
        // the mapping belonged to the registry's arena: access throws instead of faulting
        assertThrows(IllegalStateException.class, () -> payload.get(ValueLayout.JAVA_LONG, 0));
    }
}
