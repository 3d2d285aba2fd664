package io.tabguard.examples;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 15's real consumer: SQLite running real SQL on a file database through a VFS whose
 * {@code sqlite3_vfs} and {@code sqlite3_io_methods} are verified tables, with SQLite writing the vfs
 * table's {@code pNext} as it (un)links neighbours, and a tampered io methods table failing the next
 * statement cleanly.
 */
@SuppressWarnings("restricted")
class GuardedSqliteVfsTest {
    static final int ROWS = 10_000;
    static final long P_NEXT = GuardedSqliteVfs.VFS.member("pNext").orElseThrow().offset();

    @TempDir
    Path dir;

    private static long pNext(GuardedSqliteVfs vfs) {
        // what SQLite wrote into the live table (the payload pointer it holds), not the verified snapshot
        return MemorySegment.ofAddress(vfs.vfsTable().payload().address()).reinterpret(P_NEXT + 8).get(ValueLayout.JAVA_LONG, P_NEXT);
    }

    private static long queryLong(Sqlite.Database db, String sql) {
        try (Sqlite.Statement s = db.prepare(sql)) {
            assertEquals(Sqlite.SQLITE_ROW, s.step(), sql);
            return s.columnLong(0);
        }
    }

    private static void insertRows(Sqlite.Database db, int from, int to) {
        db.execOrThrow("BEGIN");
        try (Sqlite.Statement insert = db.prepare("INSERT INTO t(id, v, s) VALUES (?1, ?1 * 7 % 1000, printf('row %d', ?1))")) {
            for (int i = from; i < to; i++) {
                insert.bind(1, i);
                assertEquals(Sqlite.SQLITE_DONE, insert.step());
                insert.reset();
            }
        }
        db.execOrThrow("COMMIT");
    }

    @Test
    void realSqlOnAFileDatabaseRunsThroughTheVerifiedTablesWhileSqliteRewritesPNext() throws Exception {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        Path file = dir.resolve("guarded.db");
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).build());
             Arena arena = Arena.ofConfined();
             GuardedSqliteVfs vfs = new GuardedSqliteVfs(registry)) {
            MemorySegment neighbour = GuardedSqliteVfs.plainCopyOfDefault("tabguard-neighbour", arena);
            MemorySegment another = GuardedSqliteVfs.plainCopyOfDefault("tabguard-another", arena);
            try {
                workload(vfs, file, neighbour, another);
            } catch (Sqlite.SqliteException e) {
                throw new AssertionError(e.getMessage() + "; audit: " + events, e);
            } finally {
                // SQLite's VFS list must not keep a struct whose arena closes (unregistering twice is a no-op)
                GuardedSqliteVfs.registerOther(neighbour, false);
                GuardedSqliteVfs.registerOther(another, false);
            }
            assertTrue(events.stream().noneMatch(e -> e.type() == EventType.TABLE_REFUSED || e.type() == EventType.TABLE_QUARANTINED),
                    events.toString());
        }
        // and the file is an ordinary SQLite database, readable without the guarded VFS
        try (Sqlite.Database plain = Sqlite.Database.open(file.toString())) {
            assertEquals(ROWS, queryLong(plain, "SELECT count(*) FROM t"));
        }
    }

    private static void workload(GuardedSqliteVfs vfs, Path file, MemorySegment neighbour, MemorySegment another) throws Exception {
        {
            assertEquals(Sqlite.SQLITE_OK, GuardedSqliteVfs.registerOther(neighbour, true));
            vfs.register();
            assertEquals(neighbour.address(), pNext(vfs), "sqlite3_vfs_register linked the table by writing its pNext");

            try (Sqlite.Database db = Sqlite.Database.open(file.toString(), GuardedSqliteVfs.NAME)) {
                db.execOrThrow("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL, s TEXT NOT NULL)");
                insertRows(db, 0, ROWS);
                db.execOrThrow("CREATE INDEX t_v ON t(v)");

                long afterNeighbour = neighbour.get(ValueLayout.JAVA_LONG, P_NEXT);
                assertEquals(Sqlite.SQLITE_OK, GuardedSqliteVfs.registerOther(neighbour, false));
                assertEquals(afterNeighbour, pNext(vfs), "unlinking the neighbour rewrote the table's pNext");
                assertNotEquals(neighbour.address(), pNext(vfs));
                assertEquals(Sqlite.SQLITE_OK, GuardedSqliteVfs.registerOther(another, true));

                long expectedSum = 0;
                for (int i = 0; i < ROWS; i++) {
                    expectedSum += i * 7L % 1000;
                }
                assertEquals(ROWS, queryLong(db, "SELECT count(*) FROM t"));
                assertEquals(expectedSum, queryLong(db, "SELECT sum(v) FROM t"));
                assertEquals(ROWS / 1000, queryLong(db, "SELECT count(*) FROM t INDEXED BY t_v WHERE v = 7"));
                assertEquals(ROWS, queryLong(db, "SELECT count(*) FROM t WHERE s LIKE 'row %'"));
                assertEquals(1, queryLong(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"));
                assertEquals(Sqlite.SQLITE_OK, GuardedSqliteVfs.registerOther(another, false));
            }

            assertTrue(Files.size(file) > ROWS * 10L, "the rows are in the file: " + Files.size(file));
            assertEquals(TableStatus.OPEN, vfs.vfsTable().status());
            assertEquals(TableStatus.OPEN, vfs.ioMethodsTable().status());
            assertTrue(vfs.opens() >= 2, "database and journal opened through the VFS: " + vfs.opens());
            assertTrue(vfs.ioCalls() > 100, "io calls " + vfs.ioCalls());
            assertTrue(vfs.vfsCalls() > 0, "vfs calls " + vfs.vfsCalls());
        }
    }

    @Test
    void aTamperedIoMethodsSlotRefusesTheNextCallAndTheStatementFailsCleanly() throws Exception {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        Path file = dir.resolve("tampered.db");
        // writable tables: the tamper below is a native writer's (a read-only table would fault instead)
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events))
                .writableTables().build());
             GuardedSqliteVfs vfs = new GuardedSqliteVfs(registry)) {
            vfs.register();
            Sqlite.Database db = Sqlite.Database.open(file.toString(), GuardedSqliteVfs.NAME);
            try {
                db.execOrThrow("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL, s TEXT NOT NULL)");
                insertRows(db, 0, 100);
                assertEquals(100, queryLong(db, "SELECT count(*) FROM t"));
                long ioCallsBefore = vfs.ioCalls();

                // mid-workload: xRead and xWrite (the same C type) swapped in the live io methods table
                TableTampering.swapSlots(vfs.ioMethodsTable(), "xRead", "xWrite");

                int rc = db.exec("INSERT INTO t(id, v, s) VALUES (1000, 1, 'after the tamper')");
                assertNotEquals(Sqlite.SQLITE_OK, rc, "the statement must fail");
                assertEquals(GuardedSqliteVfs.SQLITE_IOERR, rc & 0xff, "SQLite reports an I/O error, rc " + rc + " " + db.errmsg());
                assertEquals(TableStatus.QUARANTINED, vfs.ioMethodsTable().status());
                assertEquals(ioCallsBefore, vfs.ioCalls(), "no io method ran after the tamper");
                assertTrue(events.stream().anyMatch(e -> e.type() == EventType.TABLE_QUARANTINED
                        && e.tableSerial() == vfs.ioMethodsTable().serial()), events.toString());
                // later statements keep failing, without reaching the default VFS
                assertNotEquals(Sqlite.SQLITE_OK, db.exec("SELECT count(*) FROM t"));
                assertEquals(ioCallsBefore, vfs.ioCalls());
            } finally {
                try {
                    db.close();
                } catch (Sqlite.SqliteException closeRefused) {
                    // sqlite3_close may report the refused xClose/xUnlock: the process goes on either way
                }
            }
            assertEquals(TableStatus.OPEN, vfs.vfsTable().status(), "the vfs table itself was not touched");
        }
    }
    @Test
    void aCounterfeitFileWhosePMethodsIsNotTheIoTableIsRefusedBeforeAnyIoMethodRuns() throws Throwable {
        List<SecurityEvent> events = new CopyOnWriteArrayList<>();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(SortWithGuardedComparatorTest.sink(events)).build());
             GuardedSqliteVfs vfs = new GuardedSqliteVfs(registry);
             Arena arena = Arena.ofConfined()) {
            java.lang.foreign.FunctionDescriptor fileSize = java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.ADDRESS);
            java.lang.invoke.MethodHandle xFileSize = java.lang.foreign.Linker.nativeLinker()
                    .downcallHandle(vfs.ioMethodsTable().function("xFileSize"), fileSize);
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            // native code calls the genuine trampoline with files it made up: pMethods another table's, garbage, or the io table's own payload as the "file"
            MemorySegment counterfeit = arena.allocate(64, 8);
            counterfeit.set(ValueLayout.ADDRESS, 0, vfs.vfsTable().payload());
            assertEquals(GuardedSqliteVfs.SQLITE_IOERR, (int) xFileSize.invokeExact(counterfeit, size));
            counterfeit.set(ValueLayout.JAVA_LONG, 0, 0x4141_4141_4141_4141L);
            assertEquals(GuardedSqliteVfs.SQLITE_IOERR, (int) xFileSize.invokeExact(counterfeit, size));
            assertEquals(GuardedSqliteVfs.SQLITE_IOERR, (int) xFileSize.invokeExact(vfs.ioMethodsTable().payload(), size));
            assertEquals(0, vfs.ioCalls(), "no io method ran");
            registry.flushAudit();
            assertEquals(3, events.stream().filter(e -> e.type() == EventType.TABLE_REFUSED && "CONTEXT_MISMATCH".equals(e.violation())
                    && e.tableSerial() == vfs.ioMethodsTable().serial()).mapToLong(SecurityEvent::count).sum(), events.toString());
            assertEquals(TableStatus.OPEN, vfs.ioMethodsTable().status(), "a context refusal does not retire the table");

            // the valid twin: a file whose pMethods is the io table reaches the io method (whose inner file is not open, so it refuses itself)
            counterfeit.set(ValueLayout.ADDRESS, 0, vfs.ioMethodsTable().payload());
            assertEquals(GuardedSqliteVfs.SQLITE_IOERR, (int) xFileSize.invokeExact(counterfeit, size));
            assertEquals(1, vfs.ioCalls(), "the target ran");
        }
    }
}
