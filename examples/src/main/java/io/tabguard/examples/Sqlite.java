package io.tabguard.examples;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few SQLite entry points the examples call, as an embedding application would: downcall handles
 * into {@code libsqlite3.so.0} (the runtime library; no headers needed), resolved on first use and kept
 * for the life of the process, and two thin owners, {@link Database} and {@link Statement}.
 *
 * <p>Every C string an entry point takes is copied into a confined arena for the duration of the call.
 * Nothing here calls back into Java, so no handle is {@code critical}.
 *
 * <p><b>Threads.</b> The static functions are thread-safe as SQLite is (its default "serialized"
 * mode). A {@link Database} or {@link Statement} is not: use each from one thread at a time.
 */
@SuppressWarnings("restricted")   // the application calls C itself: this module is granted native access
final class Sqlite {
    /** Result codes ({@code sqlite3.h}). */
    static final int SQLITE_OK = 0, SQLITE_ERROR = 1, SQLITE_NOMEM = 7, SQLITE_MISUSE = 21, SQLITE_ROW = 100,
            SQLITE_DONE = 101;
    /** {@code sqlite3_config} verbs: install / read back a {@code sqlite3_mem_methods}. */
    static final int SQLITE_CONFIG_MALLOC = 4, SQLITE_CONFIG_GETMALLOC = 5;
    /** {@code sqlite3_config} verb: keep memory statistics (an int; on by default). */
    static final int SQLITE_CONFIG_MEMSTATUS = 9;

    private static final SymbolLookup LIB = SymbolLookup.libraryLookup("libsqlite3.so.0", Arena.global());
    private static final Linker LINKER = Libc.LINKER;

    /** {@code int sqlite3_config(int, ...)} called with one pointer vararg (the MALLOC/GETMALLOC shape). */
    private static final MethodHandle CONFIG_POINTER = LINKER.downcallHandle(symbol("sqlite3_config"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), Linker.Option.firstVariadicArg(1));
    /** {@code int sqlite3_config(int, ...)} called with one int vararg (the MEMSTATUS shape). */
    private static final MethodHandle CONFIG_INT = LINKER.downcallHandle(symbol("sqlite3_config"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle INITIALIZE = find("sqlite3_initialize", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SHUTDOWN = find("sqlite3_shutdown", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle LIBVERSION = find("sqlite3_libversion", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle OPEN = find("sqlite3_open", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle CLOSE = find("sqlite3_close", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle OPEN_V2 = find("sqlite3_open_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    /** {@code sqlite3_open_v2} flags. */
    static final int SQLITE_OPEN_READWRITE = 0x2, SQLITE_OPEN_CREATE = 0x4;
    private static final MethodHandle EXEC = find("sqlite3_exec",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle ERRCODE = find("sqlite3_errcode", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ERRMSG = find("sqlite3_errmsg", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle PREPARE_V2 = find("sqlite3_prepare_v2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle BIND_INT64 = find("sqlite3_bind_int64",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle STEP = find("sqlite3_step", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle COLUMN_INT64 = find("sqlite3_column_int64", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle RESET = find("sqlite3_reset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FINALIZE = find("sqlite3_finalize", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    private Sqlite() {}

    /** SQLite failed: {@code function} returned {@code code}. */
    static final class SqliteException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String function;
        private final int code;

        SqliteException(String function, int code, String message) {
            super(function + " returned " + code + (message == null ? "" : " (" + message + ")"));
            this.function = function;
            this.code = code;
        }

        String function() {
            return function;
        }

        int code() {
            return code;
        }
    }

    /** {@code sqlite3_libversion()}, e.g. "3.40.1". */
    static String version() {
        try {
            return ((MemorySegment) LIBVERSION.invokeExact()).reinterpret(64).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code sqlite3_config(op, pointer)} for the verbs that take one pointer. Process-global; SQLite
     * answers {@link #SQLITE_MISUSE} once it is initialized (until {@link #shutdown()}).
     */
    static int config(int op, MemorySegment pointer) {
        try {
            return (int) CONFIG_POINTER.invokeExact(op, pointer);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code sqlite3_config(op, value)} for the verbs that take one int; process-global, as {@link #config}. */
    static int config(int op, int value) {
        try {
            return (int) CONFIG_INT.invokeExact(op, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int initialize() {
        try {
            return (int) INITIALIZE.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int shutdown() {
        try {
            return (int) SHUTDOWN.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** An open connection ({@code sqlite3*}). Not thread-safe. */
    static final class Database implements AutoCloseable {
        private final MemorySegment db;
        private boolean closed;

        private Database(MemorySegment db) {
            this.db = db;
        }

        /**
         * {@code sqlite3_open(path)}; {@code ":memory:"} for an in-memory database.
         *
         * @throws SqliteException when SQLite cannot open it (also {@link #SQLITE_NOMEM} when no memory)
         */
        static Database open(String path) {
            return open(path, null);
        }

        /** {@code sqlite3_open_v2(path, read-write | create, vfs)}; {@code vfs} null for the default VFS. */
        static Database open(String path, String vfs) {
            try (Arena call = Arena.ofConfined()) {
                MemorySegment out = call.allocate(ADDRESS);
                int rc = vfs == null ? (int) OPEN.invokeExact(call.allocateFrom(path), out)
                        : (int) OPEN_V2.invokeExact(call.allocateFrom(path), out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                call.allocateFrom(vfs));
                MemorySegment db = out.get(ADDRESS, 0);
                if (rc != SQLITE_OK) {
                    String message = db.equals(MemorySegment.NULL) ? null : errmsg(db);
                    int ignored = (int) CLOSE.invokeExact(db);   // sqlite3_close(NULL) is a no-op
                    throw new SqliteException("sqlite3_open", rc, message);
                }
                return new Database(db);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_exec(db, sql, NULL, NULL, NULL)}: runs every statement, returns SQLite's code. */
        int exec(String sql) {
            ensureOpen();
            try (Arena call = Arena.ofConfined()) {
                return (int) EXEC.invokeExact(db, call.allocateFrom(sql), MemorySegment.NULL, MemorySegment.NULL,
                        MemorySegment.NULL);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@link #exec}, throwing unless it returned {@link #SQLITE_OK}. */
        void execOrThrow(String sql) {
            int rc = exec(sql);
            if (rc != SQLITE_OK) {
                throw new SqliteException("sqlite3_exec", rc, errmsg());
            }
        }

        /**
         * {@code sqlite3_prepare_v2} of one statement.
         *
         * @throws SqliteException when SQLite refuses it (a syntax error, or {@link #SQLITE_NOMEM})
         */
        Statement prepare(String sql) {
            ensureOpen();
            try (Arena call = Arena.ofConfined()) {
                MemorySegment out = call.allocate(ADDRESS);
                int rc = (int) PREPARE_V2.invokeExact(db, call.allocateFrom(sql), -1, out, MemorySegment.NULL);
                MemorySegment stmt = out.get(ADDRESS, 0);
                if (rc != SQLITE_OK) {
                    int ignored = (int) FINALIZE.invokeExact(stmt);   // NULL is a no-op
                    throw new SqliteException("sqlite3_prepare_v2", rc, errmsg());
                }
                return new Statement(this, stmt);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_errcode(db)}: the code of the most recent failed call on this connection. */
        int errcode() {
            ensureOpen();
            try {
                return (int) ERRCODE.invokeExact(db);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_errmsg(db)}. */
        String errmsg() {
            ensureOpen();
            return errmsg(db);
        }

        private static String errmsg(MemorySegment db) {
            try {
                MemorySegment m = (MemorySegment) ERRMSG.invokeExact(db);
                return m.equals(MemorySegment.NULL) ? null : m.reinterpret(1024).getString(0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_close}; every statement must be finalized first. Idempotent once it succeeded. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            try {
                int rc = (int) CLOSE.invokeExact(db);
                if (rc != SQLITE_OK) {
                    throw new SqliteException("sqlite3_close", rc, errmsg(db));
                }
                closed = true;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        private void ensureOpen() {
            if (closed) {
                throw new IllegalStateException("database is closed");
            }
        }
    }

    /** A prepared statement ({@code sqlite3_stmt*}). Not thread-safe. */
    static final class Statement implements AutoCloseable {
        private final Database database;
        private final MemorySegment stmt;
        private boolean finalized;

        private Statement(Database database, MemorySegment stmt) {
            this.database = database;
            this.stmt = stmt;
        }

        /** {@code sqlite3_bind_int64(stmt, index, value)}, parameters counted from 1. */
        void bind(int index, long value) {
            try {
                int rc = (int) BIND_INT64.invokeExact(stmt, index, value);
                if (rc != SQLITE_OK) {
                    throw new SqliteException("sqlite3_bind_int64", rc, database.errmsg());
                }
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_step}: {@link #SQLITE_ROW}, {@link #SQLITE_DONE}, or an error code. */
        int step() {
            try {
                return (int) STEP.invokeExact(stmt);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_column_int64(stmt, column)}, columns counted from 0. */
        long columnLong(int column) {
            try {
                return (long) COLUMN_INT64.invokeExact(stmt, column);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_reset}: ready to step again (bindings are kept). Returns SQLite's code. */
        int reset() {
            try {
                return (int) RESET.invokeExact(stmt);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** {@code sqlite3_finalize}. Idempotent. */
        @Override
        public void close() {
            if (finalized) {
                return;
            }
            finalized = true;
            try {
                int ignored = (int) FINALIZE.invokeExact(stmt);   // returns the last step's error, already seen
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
    }

    private static MemorySegment symbol(String name) {
        return LIB.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libsqlite3.so.0 has no " + name));
    }

    private static MethodHandle find(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(Objects.requireNonNull(name)), descriptor);
    }

    /** A downcall handle to another entry point of {@code libsqlite3.so.0} (for the VFS example). */
    static MethodHandle function(String name, FunctionDescriptor descriptor) {
        return find(name, descriptor);
    }

    /** Throws unless {@code rc} is {@link #SQLITE_OK}. */
    static void require(int rc, String function) {
        if (rc != SQLITE_OK) {
            throw new SqliteException(function, rc, null);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("SQLite downcall failed", t);
    }
}
