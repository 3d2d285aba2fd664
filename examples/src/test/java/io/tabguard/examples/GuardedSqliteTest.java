package io.tabguard.examples;

import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/**
 * SQLite's allocator replaced by a verified table. SQLite's allocator is process-global and fixed once
 * SQLite initializes, so the workload runs in a forked JVM ({@link SqliteWorkload}) with this JVM's module
 * path and native-access flags; the in-process tests call the table's slots as SQLite would, without
 * installing it.
 */
@SuppressWarnings("restricted")   // the test plays SQLite: it calls the table's slots and reads blocks as C does
class GuardedSqliteTest {
    private static final int ROWS = 100_000;

    record Outcome(int exitCode, String output) {
        List<String> lines() {
            return output.lines().toList();
        }

        /** The one line starting with {@code prefix}. */
        String line(String prefix) {
            List<String> found = lines().stream().filter(l -> l.startsWith(prefix)).toList();
            assertEquals(1, found.size(), "one line starting with '" + prefix + "'\n" + output);
            return found.getFirst();
        }

        /** The {@code key=value} fields of the line starting with {@code prefix} (values without spaces). */
        Map<String, String> fields(String prefix) {
            Map<String, String> m = new HashMap<>();
            for (String token : line(prefix).split(" ")) {
                int eq = token.indexOf('=');
                if (eq > 0) {
                    m.putIfAbsent(token.substring(0, eq), token.substring(eq + 1));
                }
            }
            return m;
        }

        /** The last line the workload printed on standard output (stderr's log lines start otherwise). */
        String lastWorkloadLine() {
            List<String> l = lines().stream().filter(s -> !s.startsWith("WARNING") && !s.startsWith("INFO")
                    && !s.matches("^[A-Z][a-z]{2} \\d+, \\d{4} .*")).toList();
            return l.getLast();
        }
    }

    @Test
    void aHundredThousandInsertsAndQueriesThroughTheVerifiedAllocatorAreCorrect(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("audit.jsonl");
        Outcome o = fork("honest", "tabguard", log.toString(), "--rows=" + ROWS);
        assertEquals(0, o.exitCode(), o.output());
        assertFalse(o.output().contains("FAIL"), o.output());
        assertEquals("alive failures=0", o.lastWorkloadLine(), o.output());
        assertEquals("21", o.fields("late-config").get("rc"), "SQLite refuses a new allocator once initialized\n" + o.output());

        Map<String, String> r = o.fields("result");
        assertEquals("true", r.get("ok"), o.output());
        assertExpectedAnswers(r, o);
        long allocs = Long.parseLong(r.get("allocs"));
        assertTrue(allocs > ROWS, "SQLite allocated through the table: " + allocs);
        assertEquals(allocs, Long.parseLong(r.get("frees")), o.output());
        assertTrue(Long.parseLong(r.get("calls")) > allocs, o.output());

        Map<String, String> shutdown = o.fields("shutdown");
        assertEquals("0", shutdown.get("freed_at_close"), "SQLite freed every block through the table\n" + o.output());
        assertEquals("0", shutdown.get("foreign"), o.output());
        assertEquals("CLOSED", shutdown.get("status"), o.output());

        String audit = Files.readString(log);
        assertTrue(audit.contains("\"type\":\"TABLE_BUILT\",\"serial\":1,\"schema\":\"sqlite3_mem_methods\""), audit);
        assertFalse(audit.contains("TABLE_REFUSED"), audit);
        assertTrue(AuditVerifier.verify(log).intact());
    }

    @Test
    void tamperingMidWorkloadFailsTheNextStatementWithNomemAuditsTheViolationAndTheJvmLivesOn(@TempDir Path dir)
            throws Exception {
        Path log = dir.resolve("audit.jsonl");
        Outcome o = fork("tamper", "tabguard", log.toString(), "--rows=" + ROWS);
        assertEquals(0, o.exitCode(), o.output());
        assertFalse(o.output().contains("FAIL"), o.output());

        Map<String, String> before = o.fields("before");
        assertEquals(String.valueOf(ROWS / 2), before.get("rows"), o.output());
        assertEquals(String.valueOf(expectedSum(ROWS / 2)), before.get("sum"), o.output());
        assertTrue(Long.parseLong(before.get("allocs")) > 0, o.output());

        Map<String, String> t = o.fields("tamper:");
        assertEquals("7", t.get("rc"), "the next statement fails with SQLITE_NOMEM\n" + o.output());
        assertEquals("7", t.get("errcode"), o.output());
        assertEquals("BEGIN", t.get("statement"), o.output());
        assertEquals("QUARANTINED", t.get("status"), o.output());
        assertEquals("0", t.get("java_calls_since"), "no refused call reached the Java allocator\n" + o.output());
        assertTrue(o.line("tamper:").contains("errmsg=\"out of memory\""), o.output());
        assertEquals("7", o.fields("insert").get("rc"), o.output());

        // The JVM lived on: SQLite got its own allocator back and answered, and the workload said goodbye last.
        Map<String, String> recovered = o.fields("recovered");
        assertEquals("100", recovered.get("rc"), o.output());
        assertEquals("42", recovered.get("value"), o.output());
        assertEquals("alive failures=0", o.lastWorkloadLine(), o.output());
        List<String> lines = o.lines();
        assertTrue(lines.indexOf(o.line("alive")) > lines.indexOf(o.line("tamper:")), o.output());

        // The audit log names the violation, for the call SQLite made first after the flip, and verifies.
        List<String> refused = Files.readAllLines(log).stream().filter(l -> l.contains("\"type\":\"TABLE_REFUSED\"")).toList();
        assertFalse(refused.isEmpty(), Files.readString(log));
        String first = refused.getFirst();
        assertTrue(first.contains("\"serial\":1,\"schema\":\"sqlite3_mem_methods\""), first);
        assertTrue(first.contains("\"violation\":\"CHECKSUM\""), first);
        assertTrue(first.matches(".*\"detail\":\"slot x(Malloc|Roundup|Size|Free|Realloc)\".*"), first);
        assertTrue(refused.stream().skip(1).allMatch(l -> l.contains("\"violation\":\"QUARANTINED\"")), refused.toString());
        assertTrue(Files.readAllLines(log).stream().anyMatch(l -> l.contains("\"type\":\"TABLE_QUARANTINED\"")
                && l.contains("\"violation\":\"CHECKSUM\"")), Files.readString(log));
        assertTrue(AuditVerifier.verify(log).intact());
        Map<String, String> audit = o.fields("audit");
        assertEquals(String.valueOf(refused.size()), audit.get("refused_records"), o.output());
    }

    @Test
    void sqlitesOwnAllocatorTheCostBaselineGivesTheSameAnswers(@TempDir Path dir) throws Exception {
        Outcome o = fork("honest", "sqlite-default", dir.resolve("unused.jsonl").toString(), "--rows=" + ROWS);
        assertEquals(0, o.exitCode(), o.output());
        Map<String, String> r = o.fields("result");
        assertEquals("true", r.get("ok"), o.output());
        assertExpectedAnswers(r, o);
        assertEquals("n/a", r.get("allocs"), o.output());
        assertTrue(Double.parseDouble(r.get("elapsed_ms")) > 0, o.output());
        assertFalse(Files.exists(dir.resolve("unused.jsonl")), "no registry, no audit log");
    }

    @Test
    void theTamperScenarioNeedsTheTabguardAllocator(@TempDir Path dir) throws Exception {
        Outcome o = fork("tamper", "sqlite-default", dir.resolve("a.jsonl").toString());
        assertEquals(2, o.exitCode(), o.output());
        assertTrue(o.output().contains("usage:"), o.output());
    }

    // ---- in process: the table as SQLite calls it, not installed (SQLite is never initialized here) ----

    @Test
    void theSlotsAllocateSizeAndFreeAsSqliteExpects() throws Throwable {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).build());
             GuardedSqliteAllocator allocator = new GuardedSqliteAllocator(registry)) {
            Slots c = new Slots(allocator);
            assertFalse(allocator.installed());
            assertEquals(allocator.appData().address(),
                    allocator.table().payload().get(java.lang.foreign.ValueLayout.JAVA_LONG, 56), "pAppData at offset 56");
            assertEquals(0, (int) c.xInit.invokeExact(allocator.appData()));
            assertEquals(16, (int) c.xRoundup.invokeExact(13));
            assertEquals(16, (int) c.xRoundup.invokeExact(16));

            MemorySegment p = (MemorySegment) c.xMalloc.invokeExact(13);
            assertNotEquals(0, p.address());
            assertEquals(0, p.address() % 8, "8-byte aligned, as SQLite requires");
            assertEquals(16, (int) c.xSize.invokeExact(p), "xSize is the rounded size");
            p.reinterpret(16).fill((byte) 0x5a);
            MemorySegment q = (MemorySegment) c.xRealloc.invokeExact(p, 4000);
            assertNotEquals(0, q.address());
            assertEquals(4000, (int) c.xSize.invokeExact(q));
            assertEquals((byte) 0x5a, q.reinterpret(16).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 15), "realloc kept the bytes");
            assertEquals(MemorySegment.NULL, (MemorySegment) c.xMalloc.invokeExact(0));
            assertEquals(MemorySegment.NULL, (MemorySegment) c.xMalloc.invokeExact(-8));
            assertEquals(1, allocator.liveBlocks());

            // A pointer it did not hand out is never read, freed or resized.
            try (Arena foreign = Arena.ofConfined()) {
                MemorySegment notOurs = foreign.allocate(64);
                c.xFree.invokeExact(notOurs);
                assertEquals(0, (int) c.xSize.invokeExact(notOurs));
                assertEquals(MemorySegment.NULL, (MemorySegment) c.xRealloc.invokeExact(notOurs, 128));
                assertEquals(3, allocator.foreignPointers());
            }
            c.xFree.invokeExact(q);
            assertEquals(0, allocator.liveBlocks());
            assertEquals(1, allocator.allocations());
            assertEquals(1, allocator.reallocations());
            assertEquals(1, allocator.frees());
            c.xFree.invokeExact(q);   // twice: the second is ignored, not a double free
            assertEquals(1, allocator.frees());
            c.xShutdown.invokeExact(allocator.appData());
            assertEquals(TableStatus.OPEN, allocator.table().status());
            assertTrue(events.stream().noneMatch(e -> e.type() == EventType.TABLE_REFUSED), events.toString());
        }
    }

    @Test
    void xInitAndXShutdownRefuseAnotherAppDataWithoutQuarantiningTheTable() throws Throwable {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).build());
             GuardedSqliteAllocator allocator = new GuardedSqliteAllocator(registry);
             Arena other = Arena.ofConfined()) {
            Slots c = new Slots(allocator);
            long callsBefore = allocator.calls();
            assertEquals(GuardedSqliteAllocator.SQLITE_NOMEM, (int) c.xInit.invokeExact(other.allocate(8)));
            c.xShutdown.invokeExact(MemorySegment.NULL);
            assertEquals(callsBefore, allocator.calls(), "neither reached Java");
            registry.flushAudit();   // the first refusal is a record at once, the second counted
            assertEquals(2, events.stream().filter(e -> e.type() == EventType.TABLE_REFUSED
                    && "CONTEXT_MISMATCH".equals(e.violation())).mapToLong(SecurityEvent::count).sum(), events.toString());
            assertEquals(TableStatus.OPEN, allocator.table().status());
            assertEquals(0, (int) c.xInit.invokeExact(allocator.appData()));
        }
    }

    @Test
    void aTamperedTableAnswersEverySlotWithItsRefusalValueAndNoRefusedReallocCanSucceed() throws Throwable {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).writableTables().build());
             GuardedSqliteAllocator allocator = new GuardedSqliteAllocator(registry)) {
            Slots c = new Slots(allocator);
            MemorySegment p = (MemorySegment) c.xMalloc.invokeExact(100);
            assertEquals(104, (int) c.xSize.invokeExact(p));
            long calls = allocator.calls();

            long xFreeSlot = AbiV1.HEADER_SIZE + GuardedSqliteAllocator.MEM_METHODS.member("xFree").orElseThrow().offset();
            TableTampering.flipByte(allocator.table(), xFreeSlot + 2, 0x40);

            int size = (int) c.xSize.invokeExact(p);
            int roundup = (int) c.xRoundup.invokeExact(104);
            assertEquals(0, size);
            assertEquals(-1, roundup);
            // sqlite3Realloc skips xRealloc when xSize(old) == xRoundup(new): refusals must never be equal.
            assertNotEquals(size, roundup);
            assertEquals(MemorySegment.NULL, (MemorySegment) c.xMalloc.invokeExact(100));
            assertEquals(MemorySegment.NULL, (MemorySegment) c.xRealloc.invokeExact(p, 200));
            c.xFree.invokeExact(p);
            assertEquals(GuardedSqliteAllocator.SQLITE_NOMEM, (int) c.xInit.invokeExact(allocator.appData()));
            c.xShutdown.invokeExact(allocator.appData());

            assertEquals(calls, allocator.calls(), "no refused call reached the Java allocator");
            assertEquals(1, allocator.liveBlocks(), "the refused free leaked the block rather than free it");
            assertEquals(TableStatus.QUARANTINED, allocator.table().status());
            SecurityEvent first = events.stream().filter(e -> e.type() == EventType.TABLE_REFUSED).findFirst().orElseThrow();
            assertEquals("CHECKSUM", first.violation(), events.toString());
            assertEquals("slot xSize", first.detail(), events.toString());
            registry.flushAudit();   // one record per violation at once, the rest counted
            assertEquals(7, events.stream().filter(e -> e.type() == EventType.TABLE_REFUSED).mapToLong(SecurityEvent::count).sum(),
                    events.toString());
        }
    }

    @Test
    void theSchemaIsSqlitesStructAndNoTwoRefusalsLetAReallocThrough() {
        Schema s = GuardedSqliteAllocator.MEM_METHODS;
        assertEquals(64, s.payloadSize(s.minor()));
        List<String> names = s.members().stream().map(Schema.Member::name).toList();
        assertEquals(List.of("xMalloc", "xFree", "xRealloc", "xSize", "xRoundup", "xInit", "xShutdown", "pAppData"), names);
        for (int i = 0; i < names.size(); i++) {
            assertEquals(8L * i, s.members().get(i).offset(), names.get(i));
        }
        Schema.Slot size = (Schema.Slot) s.member("xSize").orElseThrow();
        Schema.Slot roundup = (Schema.Slot) s.member("xRoundup").orElseThrow();
        assertNotEquals(size.refusalValue(), roundup.refusalValue());
        assertEquals(Schema.ContextBinding.REGISTERED_CONTEXT, ((Schema.Slot) s.member("xInit").orElseThrow()).contextBinding());
        assertEquals(Schema.ContextBinding.REGISTERED_CONTEXT, ((Schema.Slot) s.member("xShutdown").orElseThrow()).contextBinding());
    }

    // ---- helpers ----

    /** Downcalls straight to the function pointers in the live table: how SQLite calls them, unchecked from this side. */
    private static final class Slots {
        final MethodHandle xMalloc, xFree, xRealloc, xSize, xRoundup, xInit, xShutdown;

        Slots(GuardedSqliteAllocator allocator) {
            xMalloc = handle(allocator, "xMalloc");
            xFree = handle(allocator, "xFree");
            xRealloc = handle(allocator, "xRealloc");
            xSize = handle(allocator, "xSize");
            xRoundup = handle(allocator, "xRoundup");
            xInit = handle(allocator, "xInit");
            xShutdown = handle(allocator, "xShutdown");
        }

        private static MethodHandle handle(GuardedSqliteAllocator allocator, String slot) {
            Schema.Slot s = (Schema.Slot) GuardedSqliteAllocator.MEM_METHODS.member(slot).orElseThrow();
            MemorySegment pointer = allocator.table().payload().get(java.lang.foreign.ValueLayout.ADDRESS, s.offset());
            return Linker.nativeLinker().downcallHandle(pointer, s.descriptor());
        }
    }

    private static void assertExpectedAnswers(Map<String, String> r, Outcome o) {
        long sum = expectedSum(ROWS);
        long range = 0;
        java.util.BitSet groups = new java.util.BitSet();
        for (long i = 1; i <= ROWS; i++) {
            long v = (i * 2654435761L) % 1_000_003L;
            range += v < 500_000 ? 1 : 0;
            groups.set((int) (v % 1009));
        }
        assertEquals(String.valueOf(ROWS), r.get("rows"), o.output());
        assertEquals(String.valueOf(sum), r.get("sum"), o.output());
        assertEquals(String.valueOf(sum), r.get("point_sum"), "100k point queries by key\n" + o.output());
        assertEquals(String.valueOf(range), r.get("range_count"), o.output());
        assertEquals(String.valueOf(groups.cardinality()), r.get("groups"), o.output());
        assertEquals(String.valueOf(12L * ROWS), r.get("tag_chars"), o.output());
    }

    private static long expectedSum(int rows) {
        long sum = 0;
        for (long i = 1; i <= rows; i++) {
            sum += (i * 2654435761L) % 1_000_003L;
        }
        return sum;
    }

    private static Outcome fork(String... args) throws IOException, InterruptedException {
        ForkedJvm.Result r = ForkedJvm.run(null, List.of(), SqliteWorkload.class.getName(), args);
        return new Outcome(r.exitCode(), r.output());
    }
}
