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

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

class GuardedCookieStreamTest {
    private final List<SecurityEvent> events = new CopyOnWriteArrayList<>();
    private final List<GuardedCookieStream> streams = new ArrayList<>();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).writableTables().build());
    }

    @AfterEach
    void close() {
        streams.forEach(GuardedCookieStream::close);   // every FILE before the registry frees its trampolines
        registry.close();
    }

    private GuardedCookieStream stream() {
        GuardedCookieStream s = new GuardedCookieStream(registry);
        streams.add(s);
        return s;
    }

    @Test
    void fprintfAndFwriteReachTheJavaStoreThroughTheTableAndFreadGivesThemBackIntact() {
        GuardedCookieStream s = stream();
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        int n = s.fprintf("int %d, negative %d, hex %#x, long %ld, padded [%8d], string %s\n",
                42, -7, 255, Long.MIN_VALUE, 123, "through the table");
        byte[] line = ("int 42, negative -7, hex 0xff, long " + Long.MIN_VALUE + ", padded [     123], string through the table\n")
                .getBytes(StandardCharsets.US_ASCII);
        assertEquals(line.length, n);
        expected.writeBytes(line);
        byte[] blob = new byte[20_000];   // bigger than glibc's 8 KiB buffer: also the direct-write path
        new Random(1).nextBytes(blob);
        assertEquals(blob.length, s.fwrite(blob));
        expected.writeBytes(blob);
        for (int i = 0; i < 100; i++) {
            expected.writeBytes(("row " + i + " = " + (i * i) + "\n").getBytes(StandardCharsets.US_ASCII));
            s.fprintf("row %d = %d\n", i, i * i);
        }
        assertEquals(0, s.fflush());
        assertArrayEquals(expected.toByteArray(), s.contents(), "what the write callbacks delivered");

        assertEquals(0, s.fseek(0, GuardedCookieStream.SEEK_SET));
        assertArrayEquals(expected.toByteArray(), s.fread(expected.size() + 100), "what fread read back through the read callback");
        assertTrue(s.writeCallbacks() > 0 && s.readCallbacks() > 0);
        assertFalse(s.ferror());
        assertEquals(TableStatus.OPEN, s.table().status());
        assertTrue(events.stream().noneMatch(e -> e.type() == EventType.TABLE_REFUSED), events.toString());
        assertEquals(0, s.fclose());
    }

    @Test
    void aFlippedHeaderByteOfTheLiveTableMakesTheNextFlushFailInC() {
        GuardedCookieStream s = stream();
        s.fprintf("before %d\n", 1);
        assertEquals(0, s.fflush());
        byte[] before = s.contents();
        int writes = s.writeCallbacks();

        TableTampering.flipByte(s.table(), AbiV1.OFFSET_SERIAL, 0x01);
        s.fprintf("after %d\n", 2);
        assertEquals(GuardedCookieStream.EOF, s.fflush(), "glibc's fflush sees the refused write");
        assertTrue(s.ferror());
        assertEquals(TableStatus.QUARANTINED, s.table().status());
        assertEquals(writes, s.writeCallbacks(), "the Java write target never ran");
        assertArrayEquals(before, s.contents());
        assertRefused(s, "CHECKSUM", "slot write");
        assertTrue(events.stream().anyMatch(e -> e.type() == EventType.TABLE_QUARANTINED && "CHECKSUM".equals(e.violation())));

        // fclose flushes (refused again) and calls close (refused: EOF); glibc frees the FILE all the same
        assertEquals(GuardedCookieStream.EOF, s.fclose());
        assertHonestStreamWorks();
    }

    @Test
    void swappedSlotPointersAreRefusedAndGlibcKeptItsOwnCopyOfThePointers() {
        GuardedCookieStream s = stream();
        int writes = s.writeCallbacks();
        TableTampering.swapSlots(s.table(), "read", "write");
        s.fprintf("after the swap\n");
        assertEquals(GuardedCookieStream.EOF, s.fflush());
        assertTrue(s.ferror());
        assertEquals(TableStatus.QUARANTINED, s.table().status());
        assertEquals(writes, s.writeCallbacks());
        // glibc copied the pointers at fopencookie: it still called the *write* trampoline (had it followed the
        // live table, the read trampoline would have been reached), and that trampoline caught the change.
        assertRefused(s, "CHECKSUM", "slot write");
        assertHonestStreamWorks();
    }

    @Test
    void recomputingTheCrcDoesNotHelpTheSignatureCatchesTheSwap() {
        GuardedCookieStream s = stream();
        TableTampering.swapSlots(s.table(), "seek", "close");
        TableTampering.recomputeChecksum(s.table());
        s.fwrite("x");
        assertEquals(GuardedCookieStream.EOF, s.fflush());
        assertEquals(TableStatus.QUARANTINED, s.table().status());
        assertRefused(s, "SIGNATURE", "slot write");
        assertHonestStreamWorks();
    }

    @Test
    void anotherTablesTrampolinePlantedInASlotIsRefused() {
        GuardedCookieStream victim = stream();
        GuardedCookieStream other = stream();
        TableTampering.plant(victim.table(), "write", other.table().function("write"));
        victim.fwrite("x");
        assertEquals(GuardedCookieStream.EOF, victim.fflush());
        assertEquals(TableStatus.QUARANTINED, victim.table().status());
        assertRefused(victim, "CHECKSUM", "slot write");
        assertEquals(TableStatus.OPEN, other.table().status(), "the table whose pointer was stolen is untouched");
        other.fwrite("still mine");
        assertEquals(0, other.fflush());
        assertEquals("still mine", new String(other.contents(), StandardCharsets.US_ASCII));
    }

    @Test
    void aRefusedLargeFwriteReportsNothingWrittenInsteadOfAGarbageCount() {
        GuardedCookieStream s = stream();
        TableTampering.flipByte(s.table(), AbiV1.OFFSET_KEY_EPOCH, 0x80);
        byte[] big = new byte[20_000];
        Arrays.fill(big, (byte) 'z');
        // The write refusal is 0 (glibc's documented convention); -1 would make glibc's size_t arithmetic in
        // _IO_new_file_xsputn report 8191 and read past this buffer.
        assertEquals(0, s.fwrite(big));
        assertTrue(s.ferror());
        assertEquals(0, s.contents().length);
        assertRefused(s, "CHECKSUM", "slot write");
    }

    @Test
    void aCounterfeitCookieReusingAValidTrampolineIsRefusedAndTheTargetNeverRuns() {
        GuardedCookieStream s = stream();
        s.fwrite("honest\n");
        assertEquals(0, s.fflush());
        int writes = s.writeCallbacks();
        try (Arena attacker = Arena.ofConfined()) {
            MemorySegment fakeCookie = attacker.allocate(8);
            long result = GuardedCookieStream.callWriteFunction(s.table().function("write"), fakeCookie,
                    "forged\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals(0, result, "the write slot's refusal value");
        }
        assertEquals(writes, s.writeCallbacks(), "the write target did not run");
        assertEquals("honest\n", new String(s.contents(), StandardCharsets.US_ASCII));
        assertRefused(s, "CONTEXT_MISMATCH", "slot write");

        // The genuine cookie keeps working: the call was refused, the table itself was never touched.
        s.fwrite("still honest\n");
        assertEquals(0, s.fflush());
        assertEquals("honest\nstill honest\n", new String(s.contents(), StandardCharsets.US_ASCII));
    }

    @Test
    void aRevokedTableRefusesAndTheRealCookieDoesNotHelp() {
        GuardedCookieStream s = stream();
        registry.revoke(s.table());
        s.fwrite("after revoke");
        assertEquals(GuardedCookieStream.EOF, s.fflush());
        assertEquals(-1, s.fseek(0, GuardedCookieStream.SEEK_SET), "a seek is refused too");
        assertEquals(TableStatus.REVOKED, s.table().status());
        assertEquals(0, s.writeCallbacks());
        assertRefused(s, "REVOKED", "slot write");
    }

    @Test
    void aStreamThatOutlivesItsRegistryRefusesToCallIntoFreedTrampolines() {
        Registry shortLived = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).build());
        GuardedCookieStream s = new GuardedCookieStream(shortLived);
        s.fwrite("pending");   // buffered in the FILE: an fclose now would call the freed write trampoline
        shortLived.close();
        assertEquals(TableStatus.REGISTRY_CLOSED, s.table().status());
        IllegalStateException e = assertThrows(IllegalStateException.class, s::fclose);
        assertTrue(e.getMessage().contains("registry is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, s::fflush);
        s.close();   // purges the FILE's buffer instead of calling the freed close/write trampolines
        // what exit() does: flush every open FILE. Had "pending" still been buffered, this would jump into freed code.
        assertEquals(0, flushAll());
        assertEquals(0, s.writeCallbacks());
    }

    private static int flushAll() {
        try {
            return (int) Libc.FFLUSH.invokeExact(MemorySegment.NULL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private void assertRefused(GuardedCookieStream s, String violation, String detail) {
        assertTrue(events.stream().anyMatch(e -> e.type() == EventType.TABLE_REFUSED && e.tableSerial() == s.table().serial()
                        && violation.equals(e.violation()) && e.detail() != null && e.detail().contains(detail)),
                () -> "no TABLE_REFUSED " + violation + " (" + detail + ") for table " + s.table().serial() + " in " + events);
    }

    /** The JVM lived through the refusal, and the registry still makes tables that work. */
    private void assertHonestStreamWorks() {
        GuardedCookieStream fresh = stream();
        assertEquals(8, fresh.fprintf("ok %05d", 42));
        assertEquals(0, fresh.fflush());
        assertEquals(0, fresh.fseek(0, GuardedCookieStream.SEEK_SET));
        assertEquals("ok 00042", new String(fresh.fread(100), StandardCharsets.US_ASCII));
        assertEquals(TableStatus.OPEN, fresh.table().status());
    }
}
