package io.tabguard.examples;

import io.tabguard.guard.Schema;
import io.tabguard.guard.Schema.ContextBinding;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableBuilder;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * SQLite's memory allocator, replaced by a verified table: a Tabguard table in SQLite's own
 * {@code sqlite3_mem_methods} layout, installed with {@code sqlite3_config(SQLITE_CONFIG_MALLOC, table)}.
 * From then on every {@code xMalloc}, {@code xFree}, {@code xRealloc}, {@code xSize}, {@code xRoundup},
 * {@code xInit} and {@code xShutdown} SQLite makes, in the whole process, goes through a trampoline that
 * checks the table before the Java allocator runs.
 *
 * <h2>The struct ({@code sqlite3.h}, LP64; 64 bytes)</h2>
 * <pre>
 *  0 void *(*xMalloc)(int);          32 int   (*xRoundup)(int);
 *  8 void  (*xFree)(void*);          40 int   (*xInit)(void*);
 * 16 void *(*xRealloc)(void*,int);   48 void  (*xShutdown)(void*);
 * 24 int   (*xSize)(void*);          56 void  *pAppData;
 * </pre>
 * {@code pAppData} is a data member of the table holding the context registered with it; {@code xInit}
 * and {@code xShutdown}, which SQLite calls with {@code pAppData}, refuse any other argument
 * ({@code CONTEXT_MISMATCH}). The other slots take no context, so nothing ties a call to this struct
 * but the table check itself. ({@code NativeLayoutTest} compares the offsets with {@code sqlite3.h} when
 * the header is installed.)
 *
 * <h2>How SQLite holds the table</h2>
 * {@code sqlite3_config} copies the struct into SQLite's global configuration, so tampering with the
 * table afterwards changes nothing SQLite calls: it keeps calling the original trampolines. Each of
 * them checks the live table against its verified snapshot on every call, so any change to the table
 * makes the very next allocator call refused, the table quarantined (every later call refused too) and
 * the event audited; SQLite then reports {@code SQLITE_NOMEM} (7) for the statement that needed memory.
 *
 * <h2>Refusal values (what SQLite sees when a call is refused)</h2>
 * Chosen so that a refused call can only make SQLite fail, never make it use memory it does not have:
 * <ul>
 *   <li>{@code xMalloc}, {@code xRealloc}: {@code NULL}. SQLite reports {@code SQLITE_NOMEM}; a failed
 *       realloc leaves the old block in place, as C's does.</li>
 *   <li>{@code xFree}: nothing is freed (a refused free leaks rather than free on a forged request;
 *       {@link #close()} frees the leaked blocks once SQLite is shut down).</li>
 *   <li>{@code xSize}: {@code 0}. SQLite uses it for memory statistics and to decide whether a block
 *       must grow: too small an answer makes it reallocate (and be refused), never write past the end.</li>
 *   <li>{@code xRoundup}: {@code -1}, deliberately different from {@code xSize}'s 0: SQLite's
 *       {@code sqlite3Realloc} skips {@code xRealloc} when {@code xSize(old) == xRoundup(new)}, so two
 *       equal refusal values would make a refused realloc "succeed" with the old, too small block.
 *       With -1 SQLite calls {@code xRealloc}, which is refused ({@code NULL}).</li>
 *   <li>{@code xInit}: {@code SQLITE_NOMEM}; {@code sqlite3_initialize} fails. {@code xShutdown}: nothing.</li>
 * </ul>
 *
 * <h2>The Java allocator</h2>
 * Takes memory from the C heap ({@code malloc}/{@code realloc}/{@code free} by downcall), rounds every
 * request up to a multiple of 8 (what {@code xRoundup} answers, so {@code xSize} of a block is exactly
 * the rounded size SQLite asked for, as with SQLite's own allocator) and keeps every live block and its
 * size in a concurrent map. So, unlike SQLite's default allocator, which reads a size prefix at
 * {@code p - 8}, it never reads memory it did not hand out: {@code xFree}, {@code xRealloc} and
 * {@code xSize} of a pointer that is not a live block of its own are ignored (counted as
 * {@link #foreignPointers()}), answering nothing freed, {@code NULL} and {@code 0}. Requests of 0 bytes,
 * negative sizes, or more than SQLite's own limit ({@code 0x7fffff00}) get {@code NULL}.
 *
 * <h2>Process-global</h2>
 * SQLite has one allocator per process, and accepts a new one only before {@code sqlite3_initialize}
 * or after {@code sqlite3_shutdown} ({@code sqlite3_config} returns {@code SQLITE_MISUSE} otherwise).
 * {@link #install()} therefore refuses when SQLite is already initialized, and at most one instance is
 * installed at a time. {@link #close()} shuts SQLite down and puts SQLite's own allocator back; every
 * connection must be closed before (SQLite's rule for {@code sqlite3_shutdown}).
 *
 * <p><b>Lifetime.</b> The trampolines belong to the registry: close this allocator before the registry
 * ({@link Registry#close()} frees them, and SQLite would jump into freed code at its next allocation).
 *
 * <p><b>Threads.</b> The allocator callbacks are thread-safe: SQLite may call them from any thread at
 * once (its bookkeeping is a concurrent map and adders). {@link #install()} and {@link #close()} are
 * serialised on a process-wide lock; they must not overlap SQLite calls of other threads.
 */
public final class GuardedSqliteAllocator implements AutoCloseable {

    /** {@code SQLITE_NOMEM}: what a refused {@code xInit} returns. */
    public static final int SQLITE_NOMEM = 7;
    /** The largest request SQLite itself makes ({@code sqlite3Malloc} refuses from here on). */
    static final int MAX_REQUEST = 0x7fffff00;

    /** {@code struct sqlite3_mem_methods}; {@code xInit}/{@code xShutdown} take {@code pAppData}, the registered context. */
    public static final Schema MEM_METHODS = Schema.builder("sqlite3_mem_methods", 1)
            .slot("xMalloc", FunctionDescriptor.of(ADDRESS, JAVA_INT), s -> s.refusal(MemorySegment.NULL))
            .slot("xFree", FunctionDescriptor.ofVoid(ADDRESS))
            .slot("xRealloc", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT), s -> s.refusal(MemorySegment.NULL))
            .slot("xSize", FunctionDescriptor.of(JAVA_INT, ADDRESS), s -> s.refusal(0))
            .slot("xRoundup", FunctionDescriptor.of(JAVA_INT, JAVA_INT), s -> s.refusal(-1))
            .slot("xInit", FunctionDescriptor.of(JAVA_INT, ADDRESS),
                    s -> s.refusal(SQLITE_NOMEM).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            .slot("xShutdown", FunctionDescriptor.ofVoid(ADDRESS),
                    s -> s.contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            .data("pAppData", ADDRESS)
            .build();

    private static final Object PROCESS_LOCK = new Object();
    private static final AtomicReference<GuardedSqliteAllocator> INSTALLED = new AtomicReference<>();

    private final Arena arena = Arena.ofShared();
    private final MemorySegment appData;
    private final JavaHeap heap = new JavaHeap();
    private final CallbackTable table;
    /** SQLite's allocator as it was before {@link #install()} ({@code SQLITE_CONFIG_GETMALLOC}), to put back. */
    private final MemorySegment previous;
    private boolean installed;   // guarded by PROCESS_LOCK
    private boolean closed;      // guarded by PROCESS_LOCK
    private volatile int freedAtClose;

    /** Builds the allocator table in {@code registry}; SQLite does not use it until {@link #install()}. */
    public GuardedSqliteAllocator(Registry registry) {
        Objects.requireNonNull(registry, "registry");
        try {
            appData = arena.allocate(JAVA_LONG);   // an identity token: SQLite passes it back, nobody reads it
            previous = arena.allocate(MEM_METHODS.layout());
            table = heap.bindAll(registry.builder(MEM_METHODS)).data("pAppData", appData).context(appData).build();
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Makes the table SQLite's allocator, for the whole process: {@code sqlite3_config(SQLITE_CONFIG_MALLOC, table)}.
     *
     * @throws IllegalStateException if SQLite is already initialized ({@code SQLITE_MISUSE}: fork a process,
     *                               or shut SQLite down first), another instance is installed, or this one is closed
     */
    public void install() {
        synchronized (PROCESS_LOCK) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            if (installed) {
                return;
            }
            if (!INSTALLED.compareAndSet(null, this)) {
                throw new IllegalStateException("another GuardedSqliteAllocator is SQLite's allocator");
            }
            try {
                int rc = Sqlite.config(Sqlite.SQLITE_CONFIG_GETMALLOC, previous);
                if (rc == Sqlite.SQLITE_OK) {
                    rc = Sqlite.config(Sqlite.SQLITE_CONFIG_MALLOC, table.payload());
                }
                if (rc != Sqlite.SQLITE_OK) {
                    throw new IllegalStateException("sqlite3_config(SQLITE_CONFIG_MALLOC) returned " + rc
                            + (rc == Sqlite.SQLITE_MISUSE ? ": SQLite is already initialized in this process" : ""));
                }
                installed = true;
            } finally {
                if (!installed) {
                    INSTALLED.set(null);
                }
            }
        }
    }

    /** Whether this table is SQLite's allocator now. */
    public boolean installed() {
        synchronized (PROCESS_LOCK) {
            return installed;
        }
    }

    /** The verified {@code sqlite3_mem_methods} table. */
    public CallbackTable table() {
        return table;
    }

    /** The {@code pAppData} value registered with the table. */
    public MemorySegment appData() {
        return appData;
    }

    /** xMalloc calls (and xRealloc calls of {@code NULL}) that got memory. */
    public long allocations() {
        return heap.mallocs.sum();
    }

    /** xRealloc calls that got memory. */
    public long reallocations() {
        return heap.reallocs.sum();
    }

    /** xFree calls that freed a block the allocator had handed out. */
    public long frees() {
        return heap.frees.sum();
    }

    /** Calls of every slot that reached the Java allocator (refused calls never do). */
    public long calls() {
        return heap.calls.sum();
    }

    /** xFree/xRealloc/xSize calls with a pointer that was not a live block of this allocator (ignored). */
    public long foreignPointers() {
        return heap.foreign.sum();
    }

    /** Blocks handed out and not yet freed. */
    public int liveBlocks() {
        return heap.live.size();
    }

    /**
     * Blocks still live when {@link #close()} had shut SQLite down, which it then freed: 0 after an honest
     * run (SQLite freed everything through the table), the blocks of refused {@code xFree} calls after a
     * refusal.
     */
    public int blocksFreedAtClose() {
        return freedAtClose;
    }

    /**
     * If installed: {@code sqlite3_shutdown()} (which calls {@code xShutdown}), then SQLite's own allocator
     * is put back, then every block a refused {@code xFree} left behind is freed. Then the table is closed
     * (its slots refuse from now on). Every SQLite connection must be closed before. Idempotent.
     *
     * @throws IllegalStateException if SQLite refuses to shut down or to take its allocator back; the
     *                               table then stays installed and open
     */
    @Override
    public void close() {
        synchronized (PROCESS_LOCK) {
            if (closed) {
                return;
            }
            if (installed) {
                int rc = Sqlite.shutdown();
                if (rc == Sqlite.SQLITE_OK) {
                    rc = Sqlite.config(Sqlite.SQLITE_CONFIG_MALLOC, previous);
                }
                if (rc != Sqlite.SQLITE_OK) {
                    throw new IllegalStateException("could not give SQLite its allocator back: " + rc);
                }
                installed = false;
                INSTALLED.set(null);
                freedAtClose = heap.freeAll();   // SQLite is shut down and holds none of them
            }
            closed = true;
            table.close();
            arena.close();
        }
    }

    /**
     * The Java allocator behind the table: C-heap blocks, every live one tracked with its size. Thread-safe.
     * Package-private so that the cost measurement can also call it through plain upcalls
     * ({@link SqliteWorkload}'s {@code java-unguarded} baseline).
     */
    static final class JavaHeap {
        final Map<Long, Integer> live = new ConcurrentHashMap<>(1 << 12);
        final LongAdder mallocs = new LongAdder(), reallocs = new LongAdder(), frees = new LongAdder(),
                calls = new LongAdder(), foreign = new LongAdder();

        /** The Java side of each slot, unbound (receiver first). */
        private static final Map<String, MethodHandle> TARGETS;

        static {
            MethodHandles.Lookup l = MethodHandles.lookup();
            try {
                TARGETS = Map.of(
                        "xMalloc", l.findVirtual(JavaHeap.class, "xMalloc", MethodType.methodType(MemorySegment.class, int.class)),
                        "xFree", l.findVirtual(JavaHeap.class, "xFree", MethodType.methodType(void.class, MemorySegment.class)),
                        "xRealloc", l.findVirtual(JavaHeap.class, "xRealloc",
                                MethodType.methodType(MemorySegment.class, MemorySegment.class, int.class)),
                        "xSize", l.findVirtual(JavaHeap.class, "xSize", MethodType.methodType(int.class, MemorySegment.class)),
                        "xRoundup", l.findVirtual(JavaHeap.class, "xRoundup", MethodType.methodType(int.class, int.class)),
                        "xInit", l.findVirtual(JavaHeap.class, "xInit", MethodType.methodType(int.class, MemorySegment.class)),
                        "xShutdown", l.findVirtual(JavaHeap.class, "xShutdown", MethodType.methodType(void.class, MemorySegment.class)));
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        /** The method handle behind {@code slot}, bound to this heap: exactly the slot's type. */
        MethodHandle target(String slot) {
            MethodHandle h = TARGETS.get(slot);
            if (h == null) {
                throw new IllegalArgumentException("no slot " + slot);
            }
            return h.bindTo(this);
        }

        /** Binds every slot of {@link #MEM_METHODS} to this heap. */
        TableBuilder bindAll(TableBuilder builder) {
            for (Schema.Slot slot : MEM_METHODS.slots()) {
                builder.bind(slot.name(), target(slot.name()));
            }
            return builder;
        }

        static int roundUp(int n) {
            return n <= 0 || n > MAX_REQUEST ? n : (n + 7) & ~7;
        }

        MemorySegment xMalloc(int n) throws Throwable {
            calls.increment();
            if (n <= 0 || n > MAX_REQUEST) {
                return MemorySegment.NULL;
            }
            int size = roundUp(n);
            MemorySegment block = (MemorySegment) Libc.MALLOC.invokeExact((long) size);
            if (block.address() == 0) {
                return MemorySegment.NULL;
            }
            live.put(block.address(), size);
            mallocs.increment();
            return block;
        }

        void xFree(MemorySegment p) throws Throwable {
            calls.increment();
            if (p.address() == 0) {
                return;
            }
            if (live.remove(p.address()) == null) {
                foreign.increment();   // not a block of ours (or already freed): never hand it to free()
                return;
            }
            Libc.FREE.invokeExact(p);
            frees.increment();
        }

        MemorySegment xRealloc(MemorySegment p, int n) throws Throwable {
            if (p.address() == 0) {
                return xMalloc(n);   // C's realloc(NULL, n); SQLite itself never asks
            }
            calls.increment();
            if (n <= 0 || n > MAX_REQUEST) {
                return MemorySegment.NULL;
            }
            Integer old = live.remove(p.address());
            if (old == null) {
                foreign.increment();
                return MemorySegment.NULL;
            }
            int size = roundUp(n);
            MemorySegment block = (MemorySegment) Libc.REALLOC.invokeExact(p, (long) size);
            if (block.address() == 0) {
                live.put(p.address(), old);   // C's rule: a failed realloc leaves the old block as it was
                return MemorySegment.NULL;
            }
            live.put(block.address(), size);
            reallocs.increment();
            return block;
        }

        int xSize(MemorySegment p) {
            calls.increment();
            if (p.address() == 0) {
                return 0;
            }
            Integer size = live.get(p.address());
            if (size == null) {
                foreign.increment();
                return 0;
            }
            return size;
        }

        int xRoundup(int n) {
            calls.increment();
            return roundUp(n);
        }

        int xInit(MemorySegment appData) {
            calls.increment();
            return 0;   // SQLITE_OK: nothing to set up
        }

        void xShutdown(MemorySegment appData) {
            calls.increment();
        }

        /** Frees every block still live (only when SQLite holds none of them); returns how many. */
        int freeAll() {
            int freed = 0;
            for (Long address : live.keySet()) {
                if (live.remove(address) != null) {
                    freed++;
                    try {
                        Libc.FREE.invokeExact(MemorySegment.ofAddress(address));
                    } catch (Throwable ignored) {
                        // free() does not fail
                    }
                }
            }
            return freed;
        }
    }
}
