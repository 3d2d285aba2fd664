package io.tabguard.examples;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

class GuardedZlibTest {
    private final List<SecurityEvent> events = new CopyOnWriteArrayList<>();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).writableTables().build());
    }

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void tenMegabytesRoundTripIntactWithEveryAllocationThroughTheVerifiedTable() {
        byte[] input = compressibleData(10 * 1024 * 1024, 2026);
        try (GuardedZlib zlib = new GuardedZlib(registry)) {
            byte[] compressed = zlib.compress(input, 6);
            long afterDeflate = zlib.allocations();
            assertTrue(afterDeflate > 0, "deflate allocated through the table");
            assertEquals(afterDeflate, zlib.frees(), "deflateEnd freed through the table");
            assertTrue(compressed.length < input.length / 3, "compressed to " + compressed.length + " bytes");

            byte[] back = zlib.decompress(compressed, input.length);
            assertArrayEquals(input, back);
            assertTrue(zlib.allocations() > afterDeflate, "inflate allocated through the table too");
            assertEquals(zlib.allocations(), zlib.frees());
            assertEquals(0, zlib.liveAllocations());
            assertEquals(TableStatus.OPEN, zlib.table().status());
        }
        assertTrue(events.stream().noneMatch(e -> e.type() == EventType.TABLE_REFUSED), events.toString());
    }

    @Test
    void aTamperedAllocatorTableMakesDeflateInitFailWithZMemError() {
        try (GuardedZlib zlib = new GuardedZlib(registry)) {
            byte[] small = "tamper me".repeat(100).getBytes(StandardCharsets.US_ASCII);
            assertArrayEquals(small, zlib.decompress(zlib.compress(small, 9), small.length));
            long allocations = zlib.allocations();

            TableTampering.flipByte(zlib.table(), AbiV1.OFFSET_SCHEMA_ID, 0x10);
            GuardedZlib.ZlibException e = assertThrows(GuardedZlib.ZlibException.class, () -> zlib.compress(small, 9));
            assertEquals("deflateInit_", e.function());
            assertEquals(GuardedZlib.Z_MEM_ERROR, e.code());
            assertEquals(allocations, zlib.allocations(), "the Java allocator never ran");
            assertEquals(TableStatus.QUARANTINED, zlib.table().status());
            assertTrue(events.stream().anyMatch(ev -> ev.type() == EventType.TABLE_REFUSED
                    && ev.tableSerial() == zlib.table().serial() && "SCHEMA_ID".equals(ev.violation())
                    && ev.detail() != null && ev.detail().contains("slot zalloc")), events.toString());
        }
        // the JVM lives on, and a fresh table in the same registry works
        try (GuardedZlib fresh = new GuardedZlib(registry)) {
            byte[] data = compressibleData(100_000, 5);
            assertArrayEquals(data, fresh.decompress(fresh.compress(data, 1), data.length));
        }
    }

    @Test
    void aZStreamWithAnotherOpaqueCannotUseTheTablesTrampolines() {
        try (GuardedZlib zlib = new GuardedZlib(registry); Arena attacker = Arena.ofConfined()) {
            MemorySegment counterfeit = attacker.allocate(8);
            GuardedZlib.ZlibException e = assertThrows(GuardedZlib.ZlibException.class,
                    () -> zlib.compress(new byte[100], 6, counterfeit));
            assertEquals(GuardedZlib.Z_MEM_ERROR, e.code());
            assertEquals(0, zlib.allocations());
            assertTrue(events.stream().anyMatch(ev -> ev.type() == EventType.TABLE_REFUSED
                    && "CONTEXT_MISMATCH".equals(ev.violation())), events.toString());
            // only that call was refused: with its real opaque, the table still allocates
            byte[] data = new byte[1000];
            assertArrayEquals(data, zlib.decompress(zlib.compress(data, 6), data.length));
            assertEquals(TableStatus.OPEN, zlib.table().status());
        }
    }

    @Test
    void corruptInputIsAZlibErrorAndEveryBlockIsStillFreedThroughTheTable() {
        try (GuardedZlib zlib = new GuardedZlib(registry)) {
            byte[] compressed = zlib.compress(compressibleData(50_000, 9), 6);
            compressed[compressed.length / 2] ^= 0x55;
            GuardedZlib.ZlibException e = assertThrows(GuardedZlib.ZlibException.class,
                    () -> zlib.decompress(compressed, 50_000));
            assertEquals("inflate", e.function());
            assertEquals(GuardedZlib.Z_DATA_ERROR, e.code());
            assertEquals(zlib.allocations(), zlib.frees());
            assertEquals(0, zlib.liveAllocations());
        }
    }

    /** Text-like bytes: words from a small vocabulary in pseudo-random order. */
    static byte[] compressibleData(int length, long seed) {
        String[] words = ("tabguard verified callback table trampoline zalloc zfree opaque deflate inflate "
                + "header payload checksum signature revoke quarantine glibc zlib cookie").split(" ");
        SplittableRandom random = new SplittableRandom(seed);
        byte[] out = new byte[length];
        int i = 0;
        while (i < length) {
            byte[] w = (words[random.nextInt(words.length)] + (random.nextInt(8) == 0 ? ".\n" : " "))
                    .getBytes(StandardCharsets.US_ASCII);
            int n = Math.min(w.length, length - i);
            System.arraycopy(w, 0, out, i, n);
            i += n;
        }
        return Arrays.copyOf(out, length);
    }
}
