package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.tabguard.testkit.Fixtures.CALC;
import static io.tabguard.testkit.Fixtures.REFUSED;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 16's bindNative attack: a C caller that calls a native slot through the table it was handed.
 * Before the entry thunks, {@code abs} went on running after a tamper was detected, after quarantine and
 * after revoke; now each of those returns the slot's refusal value and the target never runs, and the
 * refusals are counted and audited. Each refusal has its valid twin (the same call on an OPEN table).
 */
class NativeEntryThunkTest {
    /** The C consumer: reads slot {@code inc} from the payload it was handed, calls it; counts target runs. */
    static final String SOURCE = """
            #include <stdlib.h>
            long target_runs;
            int counting_abs(int x) { target_runs++; return abs(x); }
            typedef int (*int_fn)(int);
            /* struct calc { int (*inc)(int); int (*dbl)(int); int (*neg)(int); int version; } */
            int call_inc(void *const *payload, int x) { return ((int_fn) payload[0])(x); }
            int call_pointer(int_fn f, int x) { return f(x); }
            """;

    @TempDir
    static Path dir;
    static Path library;
    static MethodHandle callInc;
    static MethodHandle callPointer;
    static MemorySegment targetRuns;
    static MemorySegment countingAbs;

    final Fixtures.Audit audit = new Fixtures.Audit();
    final Fixtures.Targets targets = new Fixtures.Targets();
    Registry registry;

    @BeforeAll
    static void compile() throws Exception {
        library = NativeBuilds.sharedLibrary(dir, "thunk_consumer", SOURCE, "-O1");
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        callInc = NativeTamper.callPointer(lib.find("call_inc").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        callPointer = NativeTamper.callPointer(lib.find("call_pointer").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        targetRuns = lib.find("target_runs").orElseThrow().reinterpret(8);
        countingAbs = lib.find("counting_abs").orElseThrow();
    }

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit, o -> o.allowLibrary(library.toString()).writableTables());   // the tamper case plays a native writer
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private CallbackTable table() {
        return registry.builder(CALC).bindNative("inc", "counting_abs").bind("dbl", targets.dblHandle()).build();
    }

    private static long runs() {
        return targetRuns.get(JAVA_LONG, 0);
    }

    /** C calls slot inc through the table and must get abs(x): the valid twin of every refusal below. */
    private static void assertCallReachesTarget(CallbackTable table) throws Throwable {
        long before = runs();
        assertEquals(5, (int) callInc.invokeExact(table.payload(), -5));
        assertEquals(before + 1, runs(), "the target ran once");
    }

    private static void assertCallRefused(CallbackTable table, MemorySegment thunk) throws Throwable {
        long before = runs();
        assertEquals(REFUSED, (int) callInc.invokeExact(table.payload(), -5), "the slot's refusal value");
        assertEquals(REFUSED, (int) callPointer.invokeExact(thunk, -9), "a stale copy of the slot pointer refuses too");
        assertEquals(before, runs(), "the target never ran");
    }

    @Test
    void aNativeSlotHoldsAThunkNotTheFunction() throws Throwable {
        CallbackTable table = table();
        MemorySegment slot = table.function("inc");
        assertNotEquals(countingAbs.address(), slot.address(), "the slot must not hand out the target's own address");
        assertEquals(slot, NativeTamper.readSlot(table, "inc"), "the live table holds the thunk");
        assertCallReachesTarget(table);
        assertEquals(7, (int) callPointer.invokeExact(slot, -7));
        assertEquals(5, (int) table.slotHandle("inc").invokeExact(-5), "Java's validated downcall goes through it as well");
        assertEquals(0, registry.auditNativeRefusals(), "nothing refused while OPEN");
        assertEquals(0, audit.of(table, EventType.TABLE_REFUSED).size());
    }

    @Test
    void afterATamperIsDetectedAndTheTableQuarantinedCRefuses() throws Throwable {
        assertRefusedOnceRetired(table -> {
            NativeTamper.flipByte(table, 20);     // a header byte
            // the next check of the table (here a C call of its Java slot dbl) detects it and quarantines
            assertEquals(REFUSED, (int) NativeTamper.callPointer(table.function("dbl"), Fixtures.INT_INT).invokeExact(3));
            assertEquals(TableStatus.QUARANTINED, table.status());
        }, Violation.QUARANTINED);
    }

    @Test
    void afterRevokeCRefuses() throws Throwable {
        assertRefusedOnceRetired(registry::revoke, Violation.REVOKED);
    }

    @Test
    void afterCloseCRefuses() throws Throwable {
        assertRefusedOnceRetired(CallbackTable::close, Violation.CLOSED);
    }

    interface Retirement {
        void apply(CallbackTable table) throws Throwable;
    }

    /** A table that answered C (the valid twin) is retired; then C's calls are refused, uncounted by the target, audited. */
    private void assertRefusedOnceRetired(Retirement retire, Violation expected) throws Throwable {
        CallbackTable table = table();
        MemorySegment thunk = table.function("inc");
        assertCallReachesTarget(table);
        retire.apply(table);
        assertCallRefused(table, thunk);
        assertRefusalsAudited(table, expected, 2);
    }

    @Test
    void aThunkOutlivesItsRegistryAndKeepsRefusing() throws Throwable {
        CallbackTable table = table();
        MemorySegment thunk = table.function("inc");
        assertEquals(4, (int) callPointer.invokeExact(thunk, -4));
        registry.close();    // frees the table's memory; the thunk page is never unmapped
        long before = runs();
        assertEquals(REFUSED, (int) callPointer.invokeExact(thunk, -4));
        assertEquals(before, runs());
        List<SecurityEvent> refused = audit.of(table, EventType.TABLE_REFUSED);
        assertTrue(refused.isEmpty(), "refused after the audit log closed: counted, not audited " + refused);
    }

    @Test
    void aTableOfAnotherStateIsNotAffected() throws Throwable {
        CallbackTable revoked = table();
        CallbackTable open = table();
        registry.revoke(revoked);
        assertCallReachesTarget(open);
        assertEquals(REFUSED, (int) callInc.invokeExact(revoked.payload(), -5));
    }

    private void assertRefusalsAudited(CallbackTable table, Violation violation, long count) {
        assertEquals(count, registry.auditNativeRefusals());
        List<SecurityEvent> refused = audit.of(table, EventType.TABLE_REFUSED).stream()
                .filter(e -> e.detail() != null && e.detail().contains("native calls refused by entry thunks")).toList();
        assertEquals(1, refused.size(), refused.toString());
        assertEquals(violation.name(), refused.get(0).violation());
        assertTrue(refused.get(0).detail().startsWith(count + " "), refused.get(0).detail());
        assertEquals(count, refused.get(0).count(), "the record's count is the refused calls: the log's counts add up");
        assertEquals(0, registry.auditNativeRefusals(), "drained: the same refusals are not audited twice");
    }
}
