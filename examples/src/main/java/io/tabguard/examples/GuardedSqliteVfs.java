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
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An SQLite VFS whose every method goes through verified tables: an {@code sqlite3_vfs} (iVersion 3)
 * and the {@code sqlite3_io_methods} (iVersion 3) it hands out from {@code xOpen}, both Tabguard
 * tables, forwarding to the default VFS ({@code sqlite3_vfs_find(NULL)}, "unix" on Linux) and to the
 * io methods that VFS gives each file.
 *
 * <p><b>{@code pNext} is written by SQLite.</b> {@code sqlite3_vfs_register} links the struct into its
 * list by writing {@code pVfs->pNext}, and registering or unregistering a neighbour rewrites it. The
 * schema declares it {@linkplain Schema.Builder#consumerWritten consumer-written}: the vfs table lives
 * in writable memory and its checks leave those 8 bytes out (and nothing else). The io methods table
 * has no such member and is read-only to native code.
 *
 * <p><b>Files.</b> {@code szOsFile} is the default VFS's plus 8: each file SQLite allocates for this VFS
 * is {@code [pMethods = the io methods table][the default VFS's own sqlite3_file]}; every io method
 * forwards to the inner file's methods. A refused vfs call returns {@code SQLITE_CANTOPEN}/{@code SQLITE_IOERR}
 * or NULL, a refused io call {@code SQLITE_IOERR}: the statement fails, nothing is read or written.
 * Context binding: every vfs method's first argument must be this table's own payload, and every io
 * method's first argument a file whose {@code pMethods} is this io table
 * ({@link Schema.SlotOptions#contextArgumentPointsTo contextArgumentPointsTo(0, 0)}: one fault-safe
 * 8-byte read per io call), so a counterfeit {@code sqlite3_file} cannot drive the io trampolines.
 *
 * <p>Thread-safe as SQLite's VFS contract requires (no state but counters). Refuses: a second
 * {@link #register()} ({@link IllegalStateException}). {@link #close()} unregisters it; close every
 * database that uses it first.
 */
@SuppressWarnings("restricted")   // the application calls C itself: this module is granted native access
public final class GuardedSqliteVfs implements AutoCloseable {
    static final int SQLITE_IOERR = 10, SQLITE_CANTOPEN = 14;
    /** The name databases open it by ({@code sqlite3_open_v2(..., zVfs)}). */
    public static final String NAME = "tabguard-guarded";

    private static final FunctionDescriptor VFS_OPEN = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);

    /** {@code struct sqlite3_vfs}, iVersion 3 ({@code sqlite3.h}; {@code NativeLayoutTest} checks the offsets with gcc). */
    public static final Schema VFS = Schema.builder("sqlite3_vfs", 3)
            .data("iVersion", JAVA_INT).data("szOsFile", JAVA_INT).data("mxPathname", JAVA_INT)
            .consumerWritten("pNext")
            .data("zName", ADDRESS).data("pAppData", ADDRESS)
            .slot("xOpen", VFS_OPEN, vfs(SQLITE_CANTOPEN))
            .slot("xDelete", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), vfs(SQLITE_IOERR))
            .slot("xAccess", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS), vfs(SQLITE_IOERR))
            .slot("xFullPathname", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS), vfs(SQLITE_CANTOPEN))
            .slot("xDlOpen", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), vfs(MemorySegment.NULL))
            .slot("xDlError", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, ADDRESS), vfs(null))
            .slot("xDlSym", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS), vfs(MemorySegment.NULL))
            .slot("xDlClose", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS), vfs(null))
            .slot("xRandomness", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), vfs(0))
            .slot("xSleep", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), vfs(0))
            .slot("xCurrentTime", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), vfs(SQLITE_IOERR))
            .slot("xGetLastError", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), vfs(0))
            .slot("xCurrentTimeInt64", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), vfs(SQLITE_IOERR))
            .slot("xSetSystemCall", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), vfs(SQLITE_IOERR))
            .slot("xGetSystemCall", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), vfs(MemorySegment.NULL))
            .slot("xNextSystemCall", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), vfs(MemorySegment.NULL))
            .build();

    /** {@code struct sqlite3_io_methods}, iVersion 3. */
    public static final Schema IO_METHODS = Schema.builder("sqlite3_io_methods", 3)
            .data("iVersion", JAVA_INT)
            .slot("xClose", FunctionDescriptor.of(JAVA_INT, ADDRESS), io())
            .slot("xRead", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG), io())
            .slot("xWrite", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG), io())
            .slot("xTruncate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), io())
            .slot("xSync", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), io())
            .slot("xFileSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), io())
            .slot("xLock", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), io())
            .slot("xUnlock", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), io())
            .slot("xCheckReservedLock", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), io())
            .slot("xFileControl", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), io())
            .slot("xSectorSize", FunctionDescriptor.of(JAVA_INT, ADDRESS), io(4096))
            .slot("xDeviceCharacteristics", FunctionDescriptor.of(JAVA_INT, ADDRESS), io(0))
            .slot("xShmMap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), io())
            .slot("xShmLock", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT), io())
            .slot("xShmBarrier", FunctionDescriptor.ofVoid(ADDRESS), s -> s.contextArgumentPointsTo(0, 0))
            .slot("xShmUnmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), io())
            .slot("xFetch", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS), io())
            .slot("xUnfetch", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS), io())
            .build();

    private static java.util.function.Consumer<Schema.SlotOptions> vfs(Object refusal) {
        return s -> {
            s.contextArgument(0, ContextBinding.PAYLOAD_ADDRESS);
            if (refusal != null) {
                s.refusal(refusal);
            }
        };
    }

    private static java.util.function.Consumer<Schema.SlotOptions> io() {
        return io(SQLITE_IOERR);
    }

    /** An io method's first argument is an {@code sqlite3_file *} whose first word, {@code pMethods}, must be this table. */
    private static java.util.function.Consumer<Schema.SlotOptions> io(int refusal) {
        return s -> s.contextArgumentPointsTo(0, 0).refusal(refusal);
    }

    private static final long FILE_HEADER = ADDRESS.byteSize();   // our pMethods, then the inner file
    private static final MethodHandle VFS_FIND = Sqlite.function("sqlite3_vfs_find", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle VFS_REGISTER = Sqlite.function("sqlite3_vfs_register", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle VFS_UNREGISTER = Sqlite.function("sqlite3_vfs_unregister", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle OPEN_DOWNCALL = Libc.LINKER.downcallHandle(VFS_OPEN);   // (function, vfs, name, file, flags, outFlags)
    private static final MethodHandle OPEN_HANDLE;
    private static final MethodHandle INNER_METHOD;
    private static final MethodHandle INNER_FILE;
    private static final MethodHandle COUNT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            OPEN_HANDLE = l.findVirtual(GuardedSqliteVfs.class, "xOpen", VFS_OPEN.toMethodType());
            INNER_METHOD = l.findStatic(GuardedSqliteVfs.class, "innerMethod", MethodType.methodType(MemorySegment.class, long.class, MemorySegment.class));
            INNER_FILE = l.findStatic(GuardedSqliteVfs.class, "innerFile", MethodType.methodType(MemorySegment.class, MemorySegment.class));
            COUNT = l.findVirtual(AtomicLong.class, "incrementAndGet", MethodType.methodType(long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment defaultVfs;
    private final int szOsFile;
    private final CallbackTable vfsTable;
    private final CallbackTable ioTable;
    private final AtomicLong vfsCalls = new AtomicLong();
    private final AtomicLong ioCalls = new AtomicLong();
    private final AtomicLong opens = new AtomicLong();
    private boolean registered;

    /**
     * Builds both tables in {@code registry}, forwarding to the current default VFS; SQLite does not
     * see them until {@link #register()}.
     */
    public GuardedSqliteVfs(Registry registry) {
        Objects.requireNonNull(registry, "registry");
        try {
            defaultVfs = ((MemorySegment) VFS_FIND.invokeExact(MemorySegment.NULL)).reinterpret(VFS.layout(VFS.minor()).byteSize());
        } catch (Throwable t) {
            throw new IllegalStateException("sqlite3_vfs_find", t);
        }
        if (defaultVfs.get(JAVA_INT, offset(VFS, "iVersion")) < 3) {
            throw new IllegalStateException("the default VFS is older than iVersion 3");
        }
        szOsFile = Math.toIntExact(defaultVfs.get(JAVA_INT, offset(VFS, "szOsFile")) + FILE_HEADER);
        try {
            ioTable = bindIo(registry.builder(IO_METHODS).data("iVersion", 3)).build();
            TableBuilder vfs = registry.builder(VFS)
                    .data("iVersion", 3).data("szOsFile", szOsFile)
                    .data("mxPathname", defaultVfs.get(JAVA_INT, offset(VFS, "mxPathname")))
                    .data("zName", arena.allocateFrom(NAME)).data("pAppData", MemorySegment.NULL);
            vfsTable = bindVfs(vfs).build();
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** {@code sqlite3_vfs_register(table, 0)}: databases opened with {@link #NAME} use it; the default VFS stays the default. */
    public synchronized void register() {
        if (registered) {
            throw new IllegalStateException("already registered");
        }
        Sqlite.require(call(VFS_REGISTER, vfsTable.payload(), 0), "sqlite3_vfs_register");
        registered = true;
    }

    public CallbackTable vfsTable() {
        return vfsTable;
    }

    public CallbackTable ioMethodsTable() {
        return ioTable;
    }

    /** Calls through the vfs table, calls through the io methods table, files opened. */
    public long vfsCalls() {
        return vfsCalls.get();
    }

    public long ioCalls() {
        return ioCalls.get();
    }

    public long opens() {
        return opens.get();
    }

    /** {@code sqlite3_vfs_unregister}, then the tables are closed (their slots refuse). Idempotent. */
    @Override
    public synchronized void close() {
        if (registered) {
            Sqlite.require(call(VFS_UNREGISTER, vfsTable.payload(), -1), "sqlite3_vfs_unregister");
            registered = false;
        }
        vfsTable.close();
        ioTable.close();
    }

    /**
     * Registers or unregisters any VFS struct (for tests and the README example: a neighbour whose
     * (un)registration makes SQLite rewrite this VFS's {@code pNext}).
     */
    static int registerOther(MemorySegment vfs, boolean register) {
        return call(register ? VFS_REGISTER : VFS_UNREGISTER, vfs, register ? 0 : -1);
    }

    /** A copy of the default VFS under another name, allocated in {@code arena}: a plain C struct, no table. */
    static MemorySegment plainCopyOfDefault(String name, Arena arena) {
        try {
            MemorySegment d = ((MemorySegment) VFS_FIND.invokeExact(MemorySegment.NULL)).reinterpret(VFS.payloadSize(VFS.minor()));
            MemorySegment copy = arena.allocate(d.byteSize(), 8);
            copy.copyFrom(d);
            copy.set(ADDRESS, offset(VFS, "pNext"), MemorySegment.NULL);
            copy.set(ADDRESS, offset(VFS, "zName"), arena.allocateFrom(name));
            return copy;
        } catch (Throwable t) {
            throw new IllegalStateException("sqlite3_vfs_find", t);
        }
    }

    private static int call(MethodHandle registration, MemorySegment vfs, int makeDefault) {
        try {
            return makeDefault < 0 ? (int) registration.invokeExact(vfs) : (int) registration.invokeExact(vfs, makeDefault);
        } catch (Throwable t) {
            throw new IllegalStateException("sqlite3_vfs_(un)register", t);
        }
    }

    private static long offset(Schema schema, String member) {
        return schema.member(member).orElseThrow().offset();
    }

    /** Every vfs slot but xOpen forwards to the default VFS's function, with the default VFS as its first argument. */
    private TableBuilder bindVfs(TableBuilder b) {
        for (Schema.Member m : VFS.members()) {
            if (!(m instanceof Schema.Slot s)) {
                continue;
            }
            MethodHandle target;
            if (s.name().equals("xOpen")) {
                target = OPEN_HANDLE.bindTo(this);
            } else {
                MemorySegment function = defaultVfs.get(ADDRESS, s.offset());
                MethodHandle downcall = Libc.LINKER.downcallHandle(function, s.descriptor());
                // drop the caller's vfs pointer, pass the default VFS's
                target = MethodHandles.dropArguments(MethodHandles.insertArguments(downcall, 0, defaultVfs), 0, MemorySegment.class);
            }
            b.bind(s.name(), counted(target, vfsCalls));
        }
        return b;
    }

    /** Every io slot forwards to the same method of the inner file's own io methods, with the inner file. */
    private TableBuilder bindIo(TableBuilder b) {
        for (Schema.Member m : IO_METHODS.members()) {
            if (!(m instanceof Schema.Slot s)) {
                continue;
            }
            // downcall(function, file, rest...) with file → inner file, then function ← innerMethod(offset, file)
            MethodHandle downcall = Libc.LINKER.downcallHandle(s.descriptor());
            MethodHandle onInner = MethodHandles.filterArguments(downcall, 1, INNER_FILE);
            MethodHandle target = MethodHandles.foldArguments(onInner, MethodHandles.insertArguments(INNER_METHOD, 0, s.offset()));
            b.bind(s.name(), counted(target, ioCalls));
        }
        return b;
    }

    private static MethodHandle counted(MethodHandle target, AtomicLong counter) {
        return MethodHandles.foldArguments(target, MethodHandles.dropReturn(COUNT.bindTo(counter)));
    }

    /** The inner file: the default VFS's {@code sqlite3_file}, right after our {@code pMethods}. */
    private static MemorySegment innerFile(MemorySegment file) {
        return MemorySegment.ofAddress(file.address() + FILE_HEADER);
    }

    /**
     * The inner file's io method at {@code offset} of its {@code sqlite3_io_methods}. Throws (the trampoline
     * then returns the refusal value) where the inner file has none: never call NULL.
     */
    private static MemorySegment innerMethod(long offset, MemorySegment file) {
        MemorySegment methods = innerFile(file).reinterpret(ADDRESS.byteSize()).get(ADDRESS, 0);
        if (methods.equals(MemorySegment.NULL)) {
            throw new IllegalStateException("the inner file is not open");
        }
        int version = methods.reinterpret(JAVA_INT.byteSize()).get(JAVA_INT, 0);
        long lastOfVersion = version >= 3 ? offset(IO_METHODS, "xUnfetch") : version == 2 ? offset(IO_METHODS, "xShmUnmap")
                : offset(IO_METHODS, "xDeviceCharacteristics");
        MemorySegment function = offset <= lastOfVersion ? methods.reinterpret(offset + ADDRESS.byteSize()).get(ADDRESS, offset)
                : MemorySegment.NULL;
        if (function.equals(MemorySegment.NULL)) {
            throw new IllegalStateException("the inner file has no io method at offset " + offset);
        }
        return function;
    }

    /**
     * {@code xOpen}: the default VFS opens the inner file; our file's {@code pMethods} becomes the io
     * methods table when it did (SQLite then calls {@code xClose}), NULL when it did not (SQLite does not).
     */
    private int xOpen(MemorySegment vfs, MemorySegment name, MemorySegment file, int flags, MemorySegment outFlags) throws Throwable {
        MemorySegment ours = file.reinterpret(szOsFile);
        ours.set(ADDRESS, 0, MemorySegment.NULL);
        MemorySegment inner = ours.asSlice(FILE_HEADER);
        inner.set(ADDRESS, 0, MemorySegment.NULL);
        int rc = (int) OPEN_DOWNCALL.invokeExact(defaultVfs.get(ADDRESS, offset(VFS, "xOpen")), defaultVfs, name, inner, flags, outFlags);
        if (!inner.get(ADDRESS, 0).equals(MemorySegment.NULL)) {
            ours.set(ADDRESS, 0, ioTable.payload());
            opens.incrementAndGet();
        }
        return rc;
    }
}
