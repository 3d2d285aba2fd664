package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static io.tabguard.testkit.Fixtures.INT_INT;
import static io.tabguard.testkit.Fixtures.REFUSED;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link Registry#release}: what it refuses (an open table, another registry's table), what a released
 * table's old pointers do while their thunk page still serves other tables (a Java slot returns zero
 * without running its target; a native slot returns its refusal value, counted), that the Java target
 * becomes unreachable, and that thunk regions whose every cell was released are given back while the
 * regions of live tables keep working. The fault a stale call meets once its region has retired is shown
 * in a forked JVM ({@link ReleasedThunkForkTest}).
 */
class ReleaseTest {
    /** One Java slot of a shape the shared upcall stubs carry: a 32-byte thunk cell per table. */
    static final Schema ONE = Schema.builder("tabguard.test.release.one", 1)
            .slot("f", INT_INT, o -> o.refusal(REFUSED))
            .build();

    /** Java-slot thunk cells per 512 KiB region (32 B each), see EntryThunks. */
    static final int CELLS_PER_REGION = 512 * 1024 / 32;

    final Fixtures.Audit audit = new Fixtures.Audit();
    Registry registry;

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit, o -> o.allowLibrary("libc.so.6"));
    }

    @AfterEach
    void close() {
        registry.close();
    }

    /** A target that counts its runs and closes over {@code captured} (reachable from the table only through it). */
    static final class CountingTarget {
        final AtomicLong runs;
        final Object captured;

        CountingTarget(AtomicLong runs, Object captured) {
            this.runs = runs;
            this.captured = captured;
        }

        int f(int x) {
            runs.incrementAndGet();
            return x + 1;
        }
    }

    private CallbackTable oneSlotTable(CountingTarget target) {
        return registry.builder(ONE).bind("f", Fixtures.virtualHandle(target, "f")).build();
    }

    @Test
    void anOpenTableIsNotReleasedAndKeepsWorking() throws Throwable {
        AtomicLong runs = new AtomicLong();
        CallbackTable table = oneSlotTable(new CountingTarget(runs, null));
        MemorySegment f = table.function("f");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> registry.release(table));
        assertTrue(e.getMessage().contains("close or revoke"), e.getMessage());
        assertEquals(8, Fixtures.callNative(f, 7), "the refused release left the table working");
        assertEquals(1, runs.get());
        assertTrue(audit.of(table, EventType.TABLE_RELEASED).isEmpty(), audit.toString());
    }

    @Test
    void aReleasedJavaSlotReturnsZeroWithoutRunningItsTarget() throws Throwable {
        AtomicLong runs = new AtomicLong();
        CallbackTable table = oneSlotTable(new CountingTarget(runs, null));
        MemorySegment f = table.function("f");
        assertEquals(4, Fixtures.callNative(f, 3));
        table.close();
        assertEquals(REFUSED, Fixtures.callNative(f, 3), "closed, not yet released: the slot's refusal value");
        assertEquals(1, runs.get());

        registry.release(table);
        assertEquals(0, Fixtures.callNative(f, 3), "released: the refusing record's zero, not the target's 4");
        assertEquals(0, Fixtures.callNative(f, 40));
        assertEquals(1, runs.get(), "the target never ran after release");

        List<SecurityEvent> released = audit.of(table, EventType.TABLE_RELEASED);
        assertEquals(1, released.size(), audit.toString());
        registry.release(table);   // idempotent: no second record, no failure
        registry.revoke(table);    // and the released table is still this registry's: a no-op, not "another registry"
        assertEquals(1, audit.of(table, EventType.TABLE_RELEASED).size(), audit.toString());
        assertEquals(0, Fixtures.callNative(f, 3));
    }

    @Test
    void aRevokedTableIsReleasedToo() throws Throwable {
        AtomicLong runs = new AtomicLong();
        CallbackTable table = oneSlotTable(new CountingTarget(runs, null));
        MemorySegment f = table.function("f");
        registry.revoke(table);
        registry.release(table);
        assertEquals(0, Fixtures.callNative(f, 5));
        assertEquals(0, runs.get());
        assertEquals(1, audit.of(table, EventType.TABLE_RELEASED).size(), audit.toString());
    }

    @Test
    void anotherRegistrysTableIsRefused() throws Throwable {
        AtomicLong runs = new AtomicLong();
        CallbackTable table = oneSlotTable(new CountingTarget(runs, null));
        table.close();
        Fixtures.Audit otherAudit = new Fixtures.Audit();
        try (Registry other = Fixtures.open(otherAudit)) {
            assertThrows(IllegalArgumentException.class, () -> other.release(table));
        }
        assertEquals(REFUSED, Fixtures.callNative(table.function("f"), 1), "still this registry's closed table, not released");
        assertTrue(audit.of(table, EventType.TABLE_RELEASED).isEmpty());
        assertTrue(otherAudit.of(EventType.TABLE_RELEASED).isEmpty());
        registry.release(table);   // the valid twin: its own registry releases it
        assertEquals(0, Fixtures.callNative(table.function("f"), 1));
    }

    @Test
    void aClosedRegistryRefusesRelease() {
        CallbackTable table = oneSlotTable(new CountingTarget(new AtomicLong(), null));
        table.close();
        registry.close();
        assertThrows(IllegalStateException.class, () -> registry.release(table));
    }

    @Test
    void releaseMakesTheJavaTargetUnreachable() throws Throwable {
        WeakReference<Object> captured = buildCallAndClose(true);
        assertTrue(clearedWithin(captured, 20_000), "the target of a released table is still reachable");
    }

    @Test
    void withoutReleaseTheRegistryKeepsTheTargetReachable() throws Throwable {
        WeakReference<Object> captured = buildCallAndClose(false);
        assertFalse(clearedWithin(captured, 2_000), "the registry still holds the closed table: its target must stay");
    }

    /** Builds a table whose target captures a fresh object, calls it, closes the table (and releases it); keeps nothing. */
    private WeakReference<Object> buildCallAndClose(boolean release) throws Throwable {
        Object payload = new byte[1024];
        AtomicLong runs = new AtomicLong();
        CallbackTable table = oneSlotTable(new CountingTarget(runs, payload));
        assertEquals(10, Fixtures.callNative(table.function("f"), 9));
        assertEquals(1, runs.get());
        table.close();
        if (release) {
            registry.release(table);
        }
        return new WeakReference<>(payload);
    }

    private static boolean clearedWithin(WeakReference<?> ref, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            System.gc();
            if (ref.get() == null) {
                return true;
            }
            Thread.sleep(50);
        }
        return ref.get() == null;
    }

    @Test
    void aReleasedTablesPayloadIsForeignToAdopt() throws Throwable {
        CallbackTable table = oneSlotTable(new CountingTarget(new AtomicLong(), null));
        table.close();
        TableRejectedException closed = assertThrows(TableRejectedException.class, () ->
                registry.adopt(MemorySegment.ofAddress(table.payload().address()), table.payload().byteSize(), ONE));
        assertEquals(Violation.CLOSED, closed.violation(), "closed but not released: the registry still knows the payload as its own");
        registry.release(table);
        TableRejectedException e = assertThrows(TableRejectedException.class, () ->
                registry.adopt(MemorySegment.ofAddress(table.payload().address()), table.payload().byteSize(), ONE));
        assertEquals(Violation.UNKNOWN_TABLE, e.violation());
        assertThrows(TableRejectedException.class, () -> registry.adopt(table.verifiedBytes(), ONE), "nor are its bytes");
    }

    @Test
    void aTableReleasedFromInsideItsOwnCallbackReturnsThatCallsResult() throws Throwable {
        CallbackTable[] self = new CallbackTable[1];
        AtomicLong runs = new AtomicLong();
        java.lang.invoke.MethodHandle releasing = java.lang.invoke.MethodHandles.filterReturnValue(
                Fixtures.virtualHandle(new CountingTarget(runs, null), "f"),
                java.lang.invoke.MethodHandles.lookup().findStatic(ReleaseTest.class, "closeAndRelease",
                        java.lang.invoke.MethodType.methodType(int.class, int.class)));
        RELEASE_FROM_INSIDE.set(() -> {
            self[0].close();
            registry.release(self[0]);
        });
        try {
            self[0] = registry.builder(ONE).bind("f", releasing).build();
            MemorySegment f = self[0].function("f");
            assertEquals(42, Fixtures.callNative(f, 41), "the call that released its own table returns normally");
            assertEquals(1, audit.of(self[0], EventType.TABLE_RELEASED).size(), audit.toString());
            assertEquals(0, Fixtures.callNative(f, 41), "the next one is refused");
            assertEquals(1, runs.get());
        } finally {
            RELEASE_FROM_INSIDE.remove();
        }
    }

    private static final ThreadLocal<Runnable> RELEASE_FROM_INSIDE = new ThreadLocal<>();

    static int closeAndRelease(int result) {
        RELEASE_FROM_INSIDE.get().run();
        return result;
    }

    @Test
    void aReleasedTablesTargetIsUnreachableEvenWhileItsHandleIsHeld() throws Throwable {
        Object payload = new byte[1024];
        CallbackTable table = oneSlotTable(new CountingTarget(new AtomicLong(), payload));
        assertEquals(3, Fixtures.callNative(table.function("f"), 2));
        WeakReference<Object> captured = new WeakReference<>(payload);
        payload = null;
        table.close();
        registry.release(table);
        boolean cleared = clearedWithin(captured, 20_000);
        assertEquals(0, Fixtures.callNative(table.function("f"), 2), "the held handle still hands out the refusing pointer");
        assertTrue(cleared, "a consumer holding the released CallbackTable keeps its target alive");
    }

    @Test
    void aReleasedNativeSlotRefusesCountedWithoutACrash() throws Throwable {
        CallbackTable table = registry.builder(ONE).bindNative("f", "abs").build();
        MemorySegment f = table.function("f");
        MemorySegment refusals = refusalCounter(f);
        assertEquals(6, Fixtures.callNative(f, -6), "the valid twin: OPEN, abs runs");
        assertEquals(0, refusals.get(JAVA_LONG, 0));

        registry.revoke(table);
        assertEquals(REFUSED, Fixtures.callNative(f, -6));
        assertEquals(1, refusals.get(JAVA_LONG, 0), "counted");
        registry.release(table);
        assertEquals(0, refusals.get(JAVA_LONG, 0), "drained into the audit by release");
        List<SecurityEvent> refused = audit.of(table, EventType.TABLE_REFUSED);
        assertEquals(1, refused.stream().mapToLong(SecurityEvent::count).sum(), "the refusal before release was audited by it: " + audit);
        List<EventType> order = audit.events.stream().filter(e -> e.tableSerial() == table.serial()).map(SecurityEvent::type).toList();
        assertEquals(EventType.TABLE_RELEASED, order.getLast(), "TABLE_RELEASED comes last: " + order);

        for (int i = 0; i < 3; i++) {
            assertEquals(REFUSED, Fixtures.callNative(f, -6), "released: still the refusal value, never abs");
        }
        assertEquals(3, refusals.get(JAVA_LONG, 0), "the thunk still counts (release drained the one before; nobody audits these)");
        assertEquals(0, registry.auditNativeRefusals(), "a released table is no longer the registry's to audit");
    }

    /** The refusal counter of a native slot's table, read as a C caller could: thunk +64 → state cell, +8 → counter. */
    private static MemorySegment refusalCounter(MemorySegment nativeThunk) {
        MemorySegment stateCell = MemorySegment.ofAddress(nativeThunk.reinterpret(128).get(JAVA_LONG, 64)).reinterpret(32);
        return stateCell.get(ADDRESS, 8).reinterpret(8);
    }

    @Test
    void regionsOfReleasedTablesRetireAndLiveTablesKeepWorking() throws Throwable {
        AtomicLong runs = new AtomicLong();
        CountingTarget target = new CountingTarget(runs, null);
        List<CallbackTable> live = new ArrayList<>();
        // One live table first, so the current region exists before the baseline is read.
        CallbackTable first = oneSlotTable(target);
        live.add(first);
        int before = thunkViews();
        int releasedCount = 3 * CELLS_PER_REGION;
        for (int i = 0; i < releasedCount; i++) {
            CallbackTable t = oneSlotTable(target);
            if (i % CELLS_PER_REGION == 0) {
                live.add(t);   // a live table in each region keeps that region, and only that region, mapped
                continue;
            }
            t.close();
            registry.release(t);
        }
        int kept = live.size();
        int after = thunkViews();
        // Regions holding a live table stay (kept of them at most), plus the current one; every other region retired.
        assertTrue(after <= before + kept + 1, "thunk views before " + before + ", after " + after + " with " + kept + " live tables");

        for (CallbackTable t : live) {
            long before1 = runs.get();
            assertEquals(12, Fixtures.callNative(t.function("f"), 11), "a live table's slot works after the churn");
            assertEquals(before1 + 1, runs.get());
        }
        for (CallbackTable t : live) {
            t.close();
            registry.release(t);
        }
        int baseline = thunkViews();
        assertTrue(baseline <= before + 1, "the regions the live tables held retired once they were released: " + before + " -> " + baseline);
        // The same churn without live tables: the count stays bounded (the current region, at most one more).
        for (int i = 0; i < releasedCount; i++) {
            CallbackTable t = oneSlotTable(target);
            t.close();
            registry.release(t);
        }
        int end = thunkViews();
        assertTrue(end <= baseline + 1, "thunk views grew from " + baseline + " to " + end + " over " + releasedCount + " released tables");
    }

    @Test
    void releasedNativeTablesGiveBackTheirThunkAndStateCellRegions() throws Throwable {
        // Native thunks: 4,096 per 512 KiB region; state cells: 2,048 per 64 KiB region. A state cell is
        // freed only once its table's thunk region retired (the thunk reads it), so both counts stay bounded.
        CallbackTable first = registry.builder(ONE).bindNative("f", "abs").build();
        int thunksBefore = thunkViews();
        int stateBefore = views("r--s", "/memfd:tabguard-state");
        for (int i = 0; i < 3 * 4096; i++) {
            CallbackTable t = registry.builder(ONE).bindNative("f", "abs").build();
            registry.revoke(t);
            registry.release(t);
        }
        int thunksAfter = thunkViews();
        int stateAfter = views("r--s", "/memfd:tabguard-state");
        assertTrue(thunksAfter <= thunksBefore + 1, "native thunk views " + thunksBefore + " -> " + thunksAfter);
        // first's thunk region stays (it is live), and with it the state regions of the tables released in it
        assertTrue(stateAfter <= stateBefore + 2 + 1, "state views " + stateBefore + " -> " + stateAfter);
        assertEquals(9, Fixtures.callNative(first.function("f"), -9), "the live table's native slot works throughout");
    }

    /** The read+execute views of Tabguard's thunk regions mapped now. */
    static int thunkViews() throws IOException {
        return views("r-xs", "/memfd:tabguard-thunks");
    }

    static int views(String permissions, String name) throws IOException {
        return (int) Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .map(l -> l.trim().split("\\s+"))
                .filter(f -> f.length >= 6 && f[1].equals(permissions) && f[5].startsWith(name))
                .count();
    }
}
