package io.tabguard.examples;

import io.tabguard.audit.AuditVerifier;
import io.tabguard.audit.VerificationReport;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CheckMode;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * A SQLite workload whose every allocation goes through a verified {@code sqlite3_mem_methods} table
 * ({@link GuardedSqliteAllocator}), or through SQLite's own allocator for comparison. SQLite's allocator
 * is process-global and can only be set before SQLite initializes, so each run is its own JVM:
 *
 * <pre>
 * java --enable-native-access=io.tabguard.ffm,io.tabguard.examples -p MODULE_PATH \
 *      -m io.tabguard.examples/io.tabguard.examples.SqliteWorkload SCENARIO ALLOCATOR AUDIT_LOG \
 *      [--rows=N] [--rounds=N] [--check=fast|full] [--memstatus=on|off]
 * </pre>
 * ({@code examples/sqlite-cost.sh} runs it for the cost comparison.)
 *
 * <ul>
 *   <li>{@code SCENARIO} {@code honest}: an in-memory database, {@code N} (default 100000) inserts with one
 *       prepared statement in one transaction, then queries (an aggregate, {@code N} point lookups by key,
 *       an index range count, a GROUP BY through SQLite's sorter), each checked against the values Java
 *       computes. {@code --rounds} repeats it on a fresh database (the first rounds warm the JIT up; the
 *       {@code result} line reports the last).</li>
 *   <li>{@code SCENARIO} {@code tamper} (allocator {@code tabguard} only): half the inserts, checked; then a
 *       byte of the live table's {@code xMalloc} slot is flipped, as a stray C write would; the workload's next
 *       statement ({@code BEGIN} of the second half) must fail with {@code SQLITE_NOMEM} without the Java
 *       allocator running, the audit log must name the violation ({@code CHECKSUM}) and verify, and the
 *       process goes on (SQLite's own allocator is put back and a fresh database works).</li>
 *   <li>{@code ALLOCATOR} {@code tabguard}: the verified table ({@code --check=full} for
 *       {@link CheckMode#FULL}); {@code sqlite-default}: SQLite's own allocator; {@code java-unguarded}: the
 *       same Java allocator behind plain FFM upcall stubs, no Tabguard (a measurement baseline only: it is
 *       exactly the unchecked struct Tabguard exists to replace).</li>
 *   <li>{@code AUDIT_LOG}: the registry's audit log file (the {@code tabguard} allocator only).</li>
 *   <li>{@code --memstatus=off}: {@code sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)} first; without memory
 *       statistics SQLite skips most of its {@code xSize}/{@code xRoundup} calls (about half of all calls).</li>
 * </ul>
 *
 * <p>Prints one {@code key=value} line per step, on standard output: {@code sqlite}, {@code round},
 * {@code result}, {@code tamper}, {@code shutdown}, {@code audit}, and {@code alive} last. Exits 0 when every
 * check held, 1 when one failed ({@code FAIL ...}), 2 on bad arguments. Single-threaded.
 */
@SuppressWarnings("restricted")   // the application calls C itself: this module is granted native access
public final class SqliteWorkload {
    static final String INSERT = "INSERT INTO t(id, v, tag) VALUES (?1, ?2, printf('row-%08d', ?1))";
    private static final long RANGE_LIMIT = 500_000;

    private final PrintStream out = System.out;
    private final List<String> failures = new ArrayList<>();

    private SqliteWorkload() {}

    public static void main(String[] args) {
        Locale.setDefault(Locale.ROOT);
        if (args.length < 3) {
            usage("three arguments needed");
        }
        String scenario = args[0], allocator = args[1];
        Path auditLog = Path.of(args[2]);
        int rows = 100_000, rounds = 1;
        CheckMode check = CheckMode.FAST;
        boolean memstatus = true;
        for (int i = 3; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("--rows=")) {
                rows = Integer.parseInt(a.substring(7));
            } else if (a.startsWith("--rounds=")) {
                rounds = Integer.parseInt(a.substring(9));
            } else if (a.equals("--memstatus=off")) {
                memstatus = false;
            } else if (a.equals("--check=full")) {
                check = CheckMode.FULL;
            } else if (!a.equals("--check=fast") && !a.equals("--memstatus=on")) {
                usage("unknown option " + a);
            }
        }
        if (!List.of("honest", "tamper").contains(scenario)
                || !List.of("tabguard", "sqlite-default", "java-unguarded").contains(allocator)
                || (scenario.equals("tamper") && !allocator.equals("tabguard")) || rows < 2 || rounds < 1) {
            usage("bad arguments");
        }
        SqliteWorkload w = new SqliteWorkload();
        try {
            if (!memstatus) {
                // Before anything initializes SQLite: without statistics SQLite skips most xSize/xRoundup calls.
                w.require(Sqlite.config(Sqlite.SQLITE_CONFIG_MEMSTATUS, 0) == Sqlite.SQLITE_OK, "SQLITE_CONFIG_MEMSTATUS");
            }
            w.run(scenario, allocator, auditLog, rows, rounds, check, memstatus);
        } catch (Throwable t) {
            // the exception and where it was thrown, on the output the forking test reads
            w.out.println("FAIL exception " + t + " at " + java.util.Arrays.toString(t.getStackTrace()));
            w.out.flush();
            System.exit(1);
        }
        w.out.println("alive failures=" + w.failures.size());
        w.out.flush();
        System.exit(w.failures.isEmpty() ? 0 : 1);
    }

    private static void usage(String why) {
        System.err.println("usage: SqliteWorkload honest|tamper tabguard|sqlite-default|java-unguarded AUDIT_LOG"
                + " [--rows=N] [--rounds=N] [--check=fast|full] [--memstatus=on|off]   (" + why + "; tamper needs tabguard)");
        System.exit(2);
    }

    private void run(String scenario, String allocator, Path auditLog, int rows, int rounds, CheckMode check,
                     boolean memstatus) throws IOException {
        out.println("sqlite version=" + Sqlite.version() + " scenario=" + scenario + " allocator=" + allocator
                + (allocator.equals("tabguard") ? " check=" + check : "") + " rows=" + rows + " rounds=" + rounds
                + " memstatus=" + (memstatus ? "on" : "off") + " pid=" + ProcessHandle.current().pid());
        switch (allocator) {
            case "sqlite-default" -> {
                require(Sqlite.initialize() == Sqlite.SQLITE_OK, "sqlite3_initialize");
                honest(rows, rounds, null);
                require(Sqlite.shutdown() == Sqlite.SQLITE_OK, "sqlite3_shutdown");
            }
            case "java-unguarded" -> {
                GuardedSqliteAllocator.JavaHeap heap = new GuardedSqliteAllocator.JavaHeap();
                require(Sqlite.config(Sqlite.SQLITE_CONFIG_MALLOC, unguardedMethods(heap)) == Sqlite.SQLITE_OK,
                        "sqlite3_config(SQLITE_CONFIG_MALLOC, unguarded)");
                require(Sqlite.initialize() == Sqlite.SQLITE_OK, "sqlite3_initialize");
                honest(rows, rounds, () -> new long[]{heap.mallocs.sum(), heap.reallocs.sum(), heap.frees.sum(), heap.calls.sum()});
                require(Sqlite.shutdown() == Sqlite.SQLITE_OK, "sqlite3_shutdown");
                out.println("shutdown allocs=" + heap.mallocs.sum() + " calls=" + heap.calls.sum()
                        + " live=" + heap.live.size());
            }
            default -> guarded(scenario, auditLog, rows, rounds, check);
        }
    }

    private void guarded(String scenario, Path auditLog, int rows, int rounds, CheckMode check) throws IOException {
        RegistryOptions.Builder options = RegistryOptions.builder().auditLog(auditLog).checkMode(check);
        if (scenario.equals("tamper")) {
            options.writableTables();   // the stray write below would otherwise fault and stop the process
        }
        Registry registry = Registry.open(options.build());
        try {
            GuardedSqliteAllocator allocator = new GuardedSqliteAllocator(registry);
            allocator.install();
            require(Sqlite.initialize() == Sqlite.SQLITE_OK, "sqlite3_initialize with the table");
            out.println("installed serial=" + allocator.table().serial() + " payload=0x"
                    + Long.toHexString(allocator.table().payload().address()) + " calls=" + allocator.calls());
            // SQLite is initialized now: the allocator is fixed for the life of this process (hence the fork).
            int late = Sqlite.config(Sqlite.SQLITE_CONFIG_MALLOC, allocator.table().payload());
            out.println("late-config rc=" + late);
            require(late == Sqlite.SQLITE_MISUSE, "sqlite3_config after sqlite3_initialize is SQLITE_MISUSE");
            if (scenario.equals("honest")) {
                honest(rows, rounds, () -> new long[]{allocator.allocations(), allocator.reallocations(), allocator.frees(),
                        allocator.calls()});
            } else {
                tamper(allocator, rows);
            }
            long calls = allocator.calls();
            allocator.close();   // sqlite3_shutdown, SQLite's own allocator back, leaked blocks freed
            out.println("shutdown status=" + allocator.table().status() + " calls=" + calls + " allocs="
                    + allocator.allocations() + " frees=" + allocator.frees() + " freed_at_close="
                    + allocator.blocksFreedAtClose() + " foreign=" + allocator.foreignPointers());
            if (scenario.equals("honest")) {
                require(allocator.blocksFreedAtClose() == 0, "SQLite freed every block through the table");
                require(allocator.allocations() > 0 && allocator.allocations() == allocator.frees(),
                        "allocations and frees balance");
            }
        } finally {
            registry.close();
        }
        audit(registry, scenario);
        if (scenario.equals("tamper")) {
            // SQLite has its own allocator back: a fresh database works in the same process.
            require(Sqlite.initialize() == Sqlite.SQLITE_OK, "sqlite3_initialize with SQLite's own allocator");
            try (Sqlite.Database db = Sqlite.Database.open(":memory:");
                 Sqlite.Statement s = db.prepare("SELECT 6 * 7")) {
                int rc = s.step();
                long answer = s.columnLong(0);
                out.println("recovered rc=" + rc + " value=" + answer);
                require(rc == Sqlite.SQLITE_ROW && answer == 42, "SQLite works again with its own allocator");
            }
            require(Sqlite.shutdown() == Sqlite.SQLITE_OK, "sqlite3_shutdown");
        }
    }

    /** The workload, {@code rounds} times on a fresh in-memory database; prints {@code round} and {@code result}. */
    private void honest(int rows, int rounds, Supplier<long[]> counters) {
        Expected e = Expected.of(rows);
        String last = null;
        for (int round = 1; round <= rounds; round++) {
            long[] before = counters == null ? null : counters.get();
            long start = System.nanoTime();
            long insertNanos, queryNanos;
            Measured m;
            try (Sqlite.Database db = Sqlite.Database.open(":memory:")) {
                createSchema(db);
                db.execOrThrow("BEGIN");
                insertRows(db, 1, rows);
                db.execOrThrow("COMMIT");
                insertNanos = System.nanoTime() - start;
                long q = System.nanoTime();
                m = Measured.of(db, rows);
                queryNanos = System.nanoTime() - q;
            }
            long elapsed = System.nanoTime() - start;
            last = "rows=" + m.count + " sum=" + m.sum + " point_sum=" + m.pointSum + " range_count=" + m.rangeCount
                    + " groups=" + m.groups + " tag_chars=" + m.tagChars + " insert_ms=" + ms(insertNanos)
                    + " query_ms=" + ms(queryNanos) + " elapsed_ms=" + ms(elapsed)
                    + (counters == null ? " allocs=n/a" : since(before, counters.get()));
            out.println("round n=" + round + " " + last);
            require(m.equals(e.measured()), "round " + round + " results: expected " + e.measured() + ", got " + m);
        }
        out.println("result ok=" + failures.isEmpty() + " " + last);
    }

    private void tamper(GuardedSqliteAllocator allocator, int rows) {
        int half = rows / 2;
        try (Sqlite.Database db = Sqlite.Database.open(":memory:")) {
            createSchema(db);
            db.execOrThrow("BEGIN");
            insertRows(db, 1, half);
            db.execOrThrow("COMMIT");
            Measured before = Measured.of(db, half);
            require(before.equals(Expected.of(half).measured()), "first half: " + before);
            out.println("before rows=" + before.count + " sum=" + before.sum + " allocs=" + allocator.allocations()
                    + " status=" + allocator.table().status());

            // A stray C write: one bit of the xMalloc pointer in the live table. SQLite holds its own copy
            // of the struct; the trampolines compare the live table with the verified snapshot on every call.
            long slotOffset = AbiV1.HEADER_SIZE + GuardedSqliteAllocator.MEM_METHODS.member("xMalloc").orElseThrow().offset();
            long allocsBefore = allocator.allocations(), callsBefore = allocator.calls();
            TableTampering.flipByte(allocator.table(), slotOffset + 1, 0x01);

            // The workload goes on as if nothing happened: its next statement opens the second half's transaction.
            int rc = db.exec("BEGIN");
            int errcode = db.errcode();
            out.println("tamper: rc=" + rc + " errcode=" + errcode + " errmsg=" + quote(db.errmsg()) + " statement=BEGIN"
                    + " table_offset=" + slotOffset + " status=" + allocator.table().status()
                    + " java_calls_since=" + (allocator.calls() - callsBefore)
                    + " allocs_since=" + (allocator.allocations() - allocsBefore));
            require(rc == Sqlite.SQLITE_NOMEM && errcode == Sqlite.SQLITE_NOMEM, "the next statement failed with SQLITE_NOMEM");
            require(allocator.table().status() == TableStatus.QUARANTINED, "the table is quarantined");
            require(allocator.calls() == callsBefore, "the Java allocator never ran after the flip");

            // SQLite is out of memory for good now (every allocator call is refused), but it answers.
            try {
                insertRows(db, half + 1, rows);
                fail("the second half was inserted through a refused allocator");
            } catch (Sqlite.SqliteException e) {
                out.println("insert rc=" + e.code() + " in=" + e.function());
                require(e.code() == Sqlite.SQLITE_NOMEM, "the inserts fail with SQLITE_NOMEM too");
            }
        }
    }

    private static void createSchema(Sqlite.Database db) {
        db.execOrThrow("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL, tag TEXT NOT NULL);"
                + " CREATE INDEX t_v ON t(v)");
    }

    private static void insertRows(Sqlite.Database db, int from, int to) {
        try (Sqlite.Statement insert = db.prepare(INSERT)) {
            for (int i = from; i <= to; i++) {
                insert.bind(1, i);
                insert.bind(2, Expected.value(i));
                int rc = insert.step();
                if (rc != Sqlite.SQLITE_DONE) {
                    throw new Sqlite.SqliteException("sqlite3_step(insert " + i + ")", rc, db.errmsg());
                }
                insert.reset();
            }
        }
    }

    /** What the queries return. */
    record Measured(long count, long sum, long pointSum, long rangeCount, long groups, long tagChars) {
        static Measured of(Sqlite.Database db, int rows) {
            long count, sum, tagChars, pointSum = 0, rangeCount, groups;
            try (Sqlite.Statement s = db.prepare("SELECT count(*), sum(v), sum(length(tag)) FROM t")) {
                requireRow(db, s.step());
                count = s.columnLong(0);
                sum = s.columnLong(1);
                tagChars = s.columnLong(2);
            }
            try (Sqlite.Statement s = db.prepare("SELECT v FROM t WHERE id = ?1")) {
                for (int i = 1; i <= rows; i++) {
                    s.bind(1, i);
                    requireRow(db, s.step());
                    pointSum += s.columnLong(0);
                    s.reset();
                }
            }
            try (Sqlite.Statement s = db.prepare("SELECT count(*) FROM t WHERE v < ?1")) {
                s.bind(1, RANGE_LIMIT);
                requireRow(db, s.step());
                rangeCount = s.columnLong(0);
            }
            try (Sqlite.Statement s = db.prepare(
                    "SELECT count(*) FROM (SELECT v % 1009 AS k, count(*) AS n FROM t GROUP BY k ORDER BY n DESC)")) {
                requireRow(db, s.step());
                groups = s.columnLong(0);
            }
            return new Measured(count, sum, pointSum, rangeCount, groups, tagChars);
        }

        private static void requireRow(Sqlite.Database db, int rc) {
            if (rc != Sqlite.SQLITE_ROW) {
                throw new Sqlite.SqliteException("sqlite3_step", rc, db.errmsg());
            }
        }
    }

    /** The answers, computed in Java. */
    record Expected(int rows, long sum, long rangeCount, long groups) {
        static long value(long i) {
            return (i * 2654435761L) % 1_000_003L;
        }

        static Expected of(int rows) {
            long sum = 0, range = 0;
            BitSet keys = new BitSet(1009);
            for (int i = 1; i <= rows; i++) {
                long v = value(i);
                sum += v;
                range += v < RANGE_LIMIT ? 1 : 0;
                keys.set((int) (v % 1009));
            }
            return new Expected(rows, sum, range, keys.cardinality());
        }

        Measured measured() {
            return new Measured(rows, sum, sum, rangeCount, groups, 12L * rows);   // 'row-%08d' is 12 characters
        }
    }

    /** Reads the closed registry's audit log: the refusals it names, and whether it verifies. */
    private void audit(Registry registry, String scenario) throws IOException {
        Path log = registry.auditLogPath().orElseThrow();
        Pattern refused = Pattern.compile("\"type\":\"TABLE_REFUSED\".*?\"violation\":\"([A-Z_]+)\".*?\"detail\":(\"[^\"]*\"|null).*?\"count\":(\\d+)");
        long refusedRecords = 0, refusedCalls = 0;
        String first = null;
        for (String line : Files.readAllLines(log)) {
            Matcher m = refused.matcher(line);
            if (m.find()) {
                refusedRecords++;
                refusedCalls += Long.parseLong(m.group(3));
                if (first == null) {
                    first = m.group(1) + " detail=" + m.group(2);
                }
            }
        }
        VerificationReport report = AuditVerifier.verify(log);
        out.println("audit refused_records=" + refusedRecords + " refused_calls=" + refusedCalls + " first="
                + first + " intact=" + report.intact() + " path=" + log);
        require(report.intact(), "the audit log verifies: " + report.message());
        if (scenario.equals("tamper")) {
            require(first != null && first.startsWith("CHECKSUM"), "the audit log names the violation");
        } else {
            require(refusedRecords == 0, "an honest run refuses nothing");
        }
    }

    /**
     * The measurement baseline: the same Java allocator behind plain upcall stubs in a plain struct, no
     * Tabguard. Every target is wrapped so that a throwable becomes the slot's refusal value (one escaping
     * an upcall would end the JVM). The stubs live as long as the process (SQLite's config is global).
     */
    private static MemorySegment unguardedMethods(GuardedSqliteAllocator.JavaHeap heap) {
        Arena forever = Arena.global();
        MemorySegment struct = forever.allocate(GuardedSqliteAllocator.MEM_METHODS.layout());
        for (Schema.Slot slot : GuardedSqliteAllocator.MEM_METHODS.slots()) {
            MethodHandle target = heap.target(slot.name());
            Class<?>[] parameters = target.type().parameterArray();
            MethodHandle fallback = slot.descriptor().returnLayout().isPresent()
                    ? MethodHandles.constant(target.type().returnType(), slot.refusalValue().orElseThrow())
                    : MethodHandles.empty(java.lang.invoke.MethodType.methodType(void.class));
            fallback = MethodHandles.dropArguments(fallback, 0, Throwable.class);
            fallback = MethodHandles.dropArguments(fallback, 1, parameters);
            MethodHandle safe = MethodHandles.catchException(target, Throwable.class, fallback);
            struct.set(ADDRESS, slot.offset(), Linker.nativeLinker().upcallStub(safe, slot.descriptor(), forever));
        }
        return struct;
    }

    /** The allocator's counters for one round: {@code allocs reallocs frees calls}. */
    private static String since(long[] before, long[] after) {
        return " allocs=" + (after[0] - before[0]) + " reallocs=" + (after[1] - before[1]) + " frees=" + (after[2] - before[2])
                + " calls=" + (after[3] - before[3]);
    }

    private void require(boolean ok, String what) {
        if (!ok) {
            fail(what);
        }
    }

    private void fail(String what) {
        failures.add(what);
        out.println("FAIL " + what);
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }

    private static String quote(String s) {
        return s == null ? "null" : "\"" + s.replace("\"", "'") + "\"";
    }
}
