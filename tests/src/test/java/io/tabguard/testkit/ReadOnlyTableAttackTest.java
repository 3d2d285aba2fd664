package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 15's attack: C code with a one-word write primitive plants its own function in a slot of a live
 * table. A read-only table faults (the process stops, the attacker's function never runs, nothing
 * reaches the table); a table built writable keeps the old behaviour (the write lands, the hijacked slot
 * runs the attacker's function, the next checked dispatch refuses and quarantines), so the difference shows.
 */
@SuppressWarnings("restricted")
class ReadOnlyTableAttackTest {
    private static final int SIGSEGV = 11;
    private static final String MARKER = "ATTACKER-FUNCTION-RAN";

    @TempDir
    static Path dir;
    static Path library;
    static MethodHandle attackerAddress, attackerCalls, writePointer, writePointerInChild, callSlot, sharedStoreSeen, signalOf,
            makeWritable, makeFreshPageWritable;
    private static final int EACCES = 13;

    private final Fixtures.Audit audit = new Fixtures.Audit();
    private Registry registry;

    @BeforeAll
    static void compileTheAttacker() throws IOException, InterruptedException {
        Path source = dir.resolve("slot_writer.c");
        try (InputStream in = ReadOnlyTableAttackTest.class.getResourceAsStream("attack/slot_writer.c")) {
            Files.write(source, in.readAllBytes());
        }
        library = dir.resolve("libslot_writer.so");
        List<String> cmd = List.of("gcc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                "-o", library.toString(), source.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gcc timed out");
        assertEquals(0, p.exitValue(), "gcc " + String.join(" ", cmd) + "\n" + output);

        Linker linker = Linker.nativeLinker();
        SymbolLookup attack = SymbolLookup.libraryLookup(library, Arena.global());
        attackerAddress = linker.downcallHandle(attack.find("attacker_address").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        attackerCalls = linker.downcallHandle(attack.find("attacker_calls").orElseThrow(), FunctionDescriptor.of(JAVA_LONG));
        writePointer = linker.downcallHandle(attack.find("write_pointer").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        writePointerInChild = linker.downcallHandle(attack.find("write_pointer_in_child").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        callSlot = linker.downcallHandle(attack.find("call_slot").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        sharedStoreSeen = linker.downcallHandle(attack.find("shared_store_seen_by_parent").orElseThrow(), FunctionDescriptor.of(JAVA_LONG));
        signalOf = linker.downcallHandle(attack.find("signal_of").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        makeWritable = linker.downcallHandle(attack.find("make_writable").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        makeFreshPageWritable = linker.downcallHandle(attack.find("make_fresh_read_only_page_writable").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT));
    }

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private static MemorySegment slotAddress(CallbackTable table, String slot) {
        return MemorySegment.ofAddress(table.payload().address() + table.schema().member(slot).orElseThrow().offset());
    }

    @Test
    void aPointerWrittenIntoAReadOnlyTableStopsTheProcessBeforeTheAttackerRuns() throws Exception {
        Path errorFile = dir.resolve("hs_err_readonly.log");
        Forks.Outcome fork = Forks.run(ReadOnlyAttackMain.class, 120,
                List.of("-XX:ErrorFile=" + errorFile, "-XX:-CreateCoredumpOnCrash"), library.toString());
        String out = fork.output();
        assertTrue(out.contains("HONEST-CALL 42"), "the table worked before the attack:\n" + out);
        assertTrue(out.contains("BEFORE-WRITE"), out);
        // HotSpot reports a SIGSEGV in native code as a fatal error (hs_err) and ends the process: with core
        // dumps off (as here) by _exit(1), with them on by abort() (exit status 134)
        assertEquals(1, fork.exitCode(), "the fork must die at the write:\n" + out);
        assertTrue(out.contains("A fatal error has been detected"), out);
        assertTrue(out.contains("SIGSEGV"), "the fatal error is the write fault:\n" + out);
        assertTrue(out.contains("write_pointer"), "the faulting frame is the attacker's store:\n" + out);
        assertTrue(Files.readString(errorFile).contains("SIGSEGV"), "hs_err names the fault");
        assertFalse(out.contains("WRITE-RETURNED"), out);
        assertFalse(out.contains(MARKER), "the attacker's function ran:\n" + out);
    }

    @Test
    void theSameWriteIntoTheRegistrysPrivateMappingFaultsToo() throws Exception {
        Path errorFile = dir.resolve("hs_err_twin.log");
        Forks.Outcome fork = Forks.run(ReadOnlyAttackMain.class, 120,
                List.of("-XX:ErrorFile=" + errorFile, "-XX:-CreateCoredumpOnCrash"), library.toString(), "twin");
        String out = fork.output();
        assertTrue(out.contains("HONEST-CALL 42"), "the table worked before the attack:\n" + out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("TWIN ") && l.endsWith(" ---s")),
                "the private mapping is inaccessible while no build runs:\n" + out);
        assertTrue(out.contains("BEFORE-WRITE twin"), out);
        assertEquals(1, fork.exitCode(), "the fork must die at the write:\n" + out);
        assertTrue(out.contains("SIGSEGV") && out.contains("write_pointer"), "the fault is the attacker's store:\n" + out);
        assertFalse(out.contains("WRITE-RETURNED"), out);
        assertFalse(out.contains(MARKER), "the attacker's function ran:\n" + out);
    }

    @Test
    void theSameWriteFromAChildProcessFaultsAndNothingReachesTheSharedPages() throws Throwable {
        assertEquals(42L, (long) sharedStoreSeen.invokeExact(), "control: a child's store into shared pages reaches the parent");
        Fixtures.Targets targets = new Fixtures.Targets();
        CallbackTable table = Fixtures.calcTable(registry, targets);
        byte[] before = NativeTamper.liveBytes(table);
        MemorySegment attacker = (MemorySegment) attackerAddress.invokeExact();

        int status = (int) writePointerInChild.invokeExact(slotAddress(table, "inc"), attacker);

        assertEquals(SIGSEGV, (int) signalOf.invokeExact(status), "the child dies of the write, status " + status);
        assertArrayEquals(before, NativeTamper.liveBytes(table), "nothing the attacker wrote reached the table");
        assertArrayEquals(table.verifiedBytes(), NativeTamper.liveBytes(table));
        assertEquals(42, (int) callSlot.invokeExact(slotAddress(table, "inc"), 41));
        assertEquals(0L, (long) attackerCalls.invokeExact());
        assertEquals(TableStatus.OPEN, table.status());
        assertEquals(0, audit.count(table, EventType.TABLE_QUARANTINED));
    }

    @Test
    void theSameWriteIntoAWritableTableLandsAndIsCaughtOnlyAtTheNextCheckedDispatch() throws Throwable {
        Fixtures.Targets targets = new Fixtures.Targets();
        CallbackTable table = Fixtures.writableCalcTable(registry, targets);
        MemorySegment attacker = (MemorySegment) attackerAddress.invokeExact();
        long attackerRunsBefore = (long) attackerCalls.invokeExact();

        writePointer.invokeExact(slotAddress(table, "inc"), attacker);

        assertEquals(attacker, NativeTamper.readSlot(table, "inc"), "the write landed");
        // today's hijack, unchanged for writable tables: C calling the slot goes straight to the attacker
        assertEquals(1041, (int) callSlot.invokeExact(slotAddress(table, "inc"), 41));
        assertEquals(attackerRunsBefore + 1, (long) attackerCalls.invokeExact());
        assertEquals(0, targets.inc.get());
        // ... and the next dispatch through one of the table's trampolines refuses and quarantines
        assertEquals(REFUSED, Fixtures.callNative(table, "dbl", 21));
        assertEquals(0, targets.dbl.get());
        assertEquals(TableStatus.QUARANTINED, table.status());
        assertEquals(1, audit.count(table, EventType.TABLE_QUARANTINED), audit.toString());
    }

    /**
     * The other ways back to a writable table that need no code execution of one's own: mprotect of the
     * read-only view (refused: the memfd was sealed against future writes before that view was mapped, so
     * it has no VM_MAYWRITE), and a write through /proc/self/mem (refused: the kernel does not force a
     * write into a shared mapping that is not writable). Each with its twin that succeeds.
     */
    @Test
    void neitherMprotectNorProcSelfMemMakesAReadOnlyTableWritable() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, new Fixtures.Targets());
        CallbackTable writable = Fixtures.writableCalcTable(registry, new Fixtures.Targets());
        byte[] before = NativeTamper.liveBytes(table);

        assertEquals(0, (int) makeFreshPageWritable.invokeExact(), "control: mprotect works on an ordinary read-only page");
        assertEquals(EACCES, (int) makeWritable.invokeExact(slotAddress(table, "inc")));

        long slot = slotAddress(table, "inc").address();
        try (java.io.RandomAccessFile mem = new java.io.RandomAccessFile("/proc/self/mem", "rw")) {
            mem.seek(slot);
            assertThrows(IOException.class, () -> mem.write(new byte[]{0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41}));
            // the twin: the same write into a writable table lands
            mem.seek(slotAddress(writable, "inc").address());
            mem.write(new byte[]{0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41});
        }
        assertEquals(0x4141_4141_4141_4141L, NativeTamper.readSlot(writable, "inc").address());
        assertArrayEquals(before, NativeTamper.liveBytes(table));
        assertEquals(42, Fixtures.callNative(table, "inc", 41));
        assertEquals(TableStatus.OPEN, table.status());
        assertEquals(REFUSED, Fixtures.callNative(writable, "dbl", 1));
        assertEquals(TableStatus.QUARANTINED, writable.status());
    }
}
