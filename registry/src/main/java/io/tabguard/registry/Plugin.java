package io.tabguard.registry;

import io.tabguard.ffm.internal.AllowedObject;
import io.tabguard.ffm.internal.NativeAccess;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.guard.internal.TableVerifier;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static io.tabguard.guard.AbiV1.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A C plugin the registry loaded ({@link Registry#loadPlugin}), and the table it built through the host
 * interface {@code tabguard_host_v1} of {@code include/tabguard.h}:
 * <ol>
 *   <li>the host builds the host table (itself a Tabguard table, slots {@code table_init},
 *       {@code table_seal}, {@code table_release}, each checking that argument 0 is this plugin's
 *       {@code host_ctx}) and calls the plugin's {@code tabguard_plugin_init_v1(host, host_ctx, &out)};</li>
 *   <li>{@code table_init} writes the header of the plugin's schema and minor, and zero for every member,
 *       into the plugin's buffer (zero: the host's default); it refuses a size that is not exactly the
 *       size of that minor;</li>
 *   <li>{@code table_seal} consumes that initialisation (a buffer is sealed at most once), copies the
 *       buffer once into Java memory, checks the header against what {@code table_init} wrote, checks that
 *       members a newer minor added are zero, and that every non-null slot is a function of the plugin's own
 *       file ({@link AllowedObject}: the exact start of a defined, sized {@code STT_FUNC} symbol, in its
 *       executable code and not in a PLT/GOT stub), then builds a table through the registry's
 *       sealed builder (new memory, stamped, indexed, audited) at the host's minor, with defaults for the
 *       slots the plugin's minor lacks;</li>
 *   <li>the pointer the plugin hands back must be the payload of a table sealed for it.</li>
 * </ol>
 * Every refusal names a {@link Violation} and is audited as {@code TABLE_REFUSED}; {@code table_init} and
 * {@code table_seal} return 0 or that violation's code to C.
 *
 * <p>The host never dereferences a pointer the plugin passed: the buffer and {@code out_table} are read and
 * written with {@code process_vm_readv}/{@code process_vm_writev} on the own process
 * ({@link NativeAccess#readFaultSafe}), so NULL, a wild pointer, an unmapped or read-only tail page is the
 * refusal {@link Violation#BAD_POINTER}, never a crash of the JVM. {@code *out_table} is set to NULL first
 * and to the sealed table last; a buffer that faults may be left partly written.
 *
 * <p>Thread-safe: the host slots may be called from any thread (two seals of one buffer: exactly one
 * wins). {@link #close()} closes the plugin's tables and the host table; the library itself stays
 * loaded (its code may still be on a stack) until the registry closes.
 */
public final class Plugin implements AutoCloseable {
    /** The plugin's entry point: {@code int tabguard_plugin_init_v1(const struct tabguard_host_v1 *, void *, const void **)}. */
    public static final String ENTRY_POINT = "tabguard_plugin_init_v1";

    /**
     * What {@code table_init} and {@code table_seal} return when the host table itself refuses the call
     * (another {@code host_ctx}: {@code CONTEXT_MISMATCH}; the host table closed or tampered with) or the
     * host failed: {@code TABGUARD_HOST_REFUSED}, never a violation code. The audit log names the reason.
     */
    static final int HOST_REFUSED = -1;

    /** The host interface {@code struct tabguard_host_v1} of {@code tabguard.h}. */
    static final Schema HOST = Schema.builder("tabguard.host", 1)
            .slot("table_init", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG),
                    o -> o.refusal(HOST_REFUSED).contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
            .slot("table_seal", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS),
                    o -> o.refusal(HOST_REFUSED).contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
            .slot("table_release", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS),
                    o -> o.contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
            .build();

    private record Pending(int minor, long size, byte[] header) {}

    private final Registry registry;
    private final Path file;
    private final Schema schema;
    private final AllowedObject own;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Map<Long, CallbackTable> sealed = new ConcurrentHashMap<>();
    private final AtomicReference<TableRejectedException> lastRefusal = new AtomicReference<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile CallbackTable hostTable;
    private volatile CallbackTable table;

    private Plugin(Registry registry, Path file, Schema schema, AllowedObject own) {
        this.registry = registry;
        this.file = file;
        this.schema = schema;
        this.own = own;
    }

    static Plugin load(Registry registry, Path library, Schema schema) {
        Objects.requireNonNull(schema, "schema");
        Path file;
        try {
            file = Objects.requireNonNull(library, "library").toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException("plugin " + library + " cannot be read", e);
        }
        Optional<MemorySegment> found;
        try {
            found = NativeAccess.loadPlugin(file.toString(), ENTRY_POINT, registry.arena());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("plugin " + file + " cannot be loaded: " + e.getMessage(), e);
        }
        MemorySegment entry = found
                .orElseThrow(() -> new IllegalArgumentException("plugin " + file + " does not export " + ENTRY_POINT));
        AllowedObject own = AllowedObject.loaded(file.toString());
        AllowedObject.Check entryCheck = own.check(entry.address());
        if (!entryCheck.accepted()) {
            throw new IllegalArgumentException("plugin " + file + ": " + ENTRY_POINT + " is not a function of the plugin's own file: "
                    + entryCheck.detail());
        }
        requireFaultSafeAccess();
        Plugin plugin = new Plugin(registry, file, schema, own);
        plugin.start(entry);
        return plugin;
    }

    private void start(MemorySegment entry) {
        MemorySegment context = registry.arena().allocate(16, 16);   // host_ctx: unique per plugin, never read
        hostTable = registry.builder(HOST).context(context)
                .bind("table_init", handle("tableInit", int.class, MemorySegment.class, long.class, int.class, MemorySegment.class, long.class))
                .bind("table_seal", handle("tableSeal", int.class, MemorySegment.class, MemorySegment.class, long.class, MemorySegment.class))
                .bind("table_release", handle("tableRelease", void.class, MemorySegment.class, MemorySegment.class))
                .build();
        MethodHandle init = NativeAccess.downcall(entry, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        MemorySegment out = registry.arena().allocate(ADDRESS);
        int rc;
        try {
            rc = (int) init.invokeExact(hostTable.payload(), context, out);
        } catch (Throwable t) {
            throw new IllegalStateException("plugin " + file + " entry point failed", t);
        }
        if (rc != 0) {
            close();
            TableRejectedException refused = lastRefusal.get();
            if (refused != null) {
                throw refused;
            }
            throw new IllegalStateException("plugin " + file + " returned " + rc + " from " + ENTRY_POINT);
        }
        long handedBack = out.get(ADDRESS, 0).address();
        CallbackTable t = sealed.get(handedBack);
        if (t == null) {
            close();
            throw refuse(Violation.UNSEALED_TABLE, -1, "the plugin handed back a pointer that is not a table the host sealed for it");
        }
        table = t;
    }

    /**
     * The plugin's file.
     *
     * @return its canonical path
     */
    public Path file() {
        return file;
    }

    /**
     * The table the plugin sealed and handed back; call its functions with {@link CallbackTable#slotHandle}.
     *
     * @return the table
     */
    public CallbackTable table() {
        return table;
    }

    /** Closes every table the plugin sealed and the host table; later host calls are refused. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            sealed.values().forEach(CallbackTable::close);
            hostTable.close();
        }
    }

    // ---- the host slots (Java targets of the host table's trampolines; argument 0 already checked) ----

    private int tableInit(MemorySegment hostContext, long schemaId, int minor, MemorySegment buf, long size) {
        try {
            if (schemaId != schema.id()) {
                throw new TableRejectedException(Violation.SCHEMA_ID, OFFSET_SCHEMA_ID, "table_init for another schema");
            }
            if (buf.address() == 0) {
                throw new TableRejectedException(Violation.BAD_POINTER, -1, "table_init with a null buffer");
            }
            if (minor < 0 || minor > MAX_MINOR) {
                throw new TableRejectedException(Violation.PAYLOAD_SIZE, OFFSET_SCHEMA_MINOR, "minor " + Integer.toUnsignedString(minor));
            }
            long hostSize = HEADER_SIZE + schema.payloadSize(schema.minor());
            if (minor <= schema.minor()) {
                long expected = HEADER_SIZE + schema.payloadSize(minor);
                if (size != expected) {
                    throw new TableRejectedException(Violation.PAYLOAD_SIZE, OFFSET_PAYLOAD_SIZE,
                            "size " + size + " for minor " + minor + ", which is " + expected + " bytes");
                }
            } else if (size < hostSize || size > MAX_TABLE_SIZE || size % 8 != 0) {
                throw new TableRejectedException(Violation.PAYLOAD_SIZE, OFFSET_PAYLOAD_SIZE,
                        "size " + size + " for minor " + minor + ", newer than the host's " + schema.minor());
            }
            byte[] header = new byte[HEADER_SIZE];
            MemorySegment h = MemorySegment.ofArray(header);
            h.set(LE_LONG, OFFSET_MAGIC, MAGIC);
            h.set(LE_SHORT, OFFSET_ABI_VERSION, (short) ABI_VERSION);
            h.set(LE_SHORT, OFFSET_HEADER_SIZE, (short) HEADER_SIZE);
            h.set(LE_INT, OFFSET_TABLE_SIZE, (int) size);
            h.set(LE_INT, OFFSET_PAYLOAD_SIZE, (int) (size - HEADER_SIZE));
            h.set(LE_INT, OFFSET_SLOT_COUNT, schema.slotCount(Math.min(minor, schema.minor())));
            h.set(LE_SHORT, OFFSET_SCHEMA_MAJOR, (short) schema.major());
            h.set(LE_SHORT, OFFSET_SCHEMA_MINOR, (short) minor);
            h.set(LE_LONG, OFFSET_SCHEMA_ID, schema.id());
            byte[] image = new byte[(int) size];   // size checked above: at most MAX_TABLE_SIZE
            System.arraycopy(header, 0, image, 0, HEADER_SIZE);
            writePluginMemory(buf.address(), image, "table_init's buffer");
            pending.put(buf.address(), new Pending(minor, size, header));
            return 0;
        } catch (TableRejectedException e) {
            return refused(e, "table_init");
        }
    }

    private int tableSeal(MemorySegment hostContext, MemorySegment buf, long size, MemorySegment out) {
        try {
            if (closed.get()) {
                throw new TableRejectedException(Violation.CLOSED, -1, "the plugin was closed");
            }
            Pending p = pending.remove(buf.address());    // one seal per table_init, even from two threads
            if (p == null) {
                throw new TableRejectedException(Violation.BUFFER_NOT_INITIALIZED, -1, "table_seal of a buffer table_init did not prepare");
            }
            if (size != p.size()) {
                throw new TableRejectedException(Violation.TABLE_SIZE, OFFSET_TABLE_SIZE, "size " + size + ", table_init had " + p.size());
            }
            if (out.address() == 0) {
                throw new TableRejectedException(Violation.BAD_POINTER, -1, "table_seal with a null out pointer");
            }
            writePluginMemory(out.address(), pointerBytes(0), "table_seal's out_table");   // *out = NULL until sealed
            byte[] copy = readPluginMemory(buf.address(), size, "table_seal's buffer");    // read once, never again
            CallbackTable t = build(copy, p);
            try {
                writePluginMemory(out.address(), pointerBytes(t.payload().address()), "table_seal's out_table");
            } catch (TableRejectedException e) {   // out_table was unmapped since: the table is never handed out
                t.close();
                throw e;
            }
            sealed.put(t.payload().address(), t);
            return 0;
        } catch (TableRejectedException e) {
            return refused(e, "table_seal");
        }
    }

    private void tableRelease(MemorySegment hostContext, MemorySegment t) {
        CallbackTable found = sealed.get(t.address());
        if (found == null) {
            refused(new TableRejectedException(Violation.UNSEALED_TABLE, -1, "table_release of a pointer the host did not seal"), "table_release");
        } else {
            found.close();
        }
    }

    private CallbackTable build(byte[] copy, Pending p) {
        MemorySegment c = MemorySegment.ofArray(copy);
        long headerDifference = MemorySegment.mismatch(c, 0, HEADER_SIZE, MemorySegment.ofArray(p.header()), 0, HEADER_SIZE);
        if (headerDifference != -1) {
            throw new TableRejectedException(headerViolation(headerDifference), headerDifference, "the plugin edited the header table_init wrote");
        }
        int known = Math.min(p.minor(), schema.minor());
        if (p.minor() > schema.minor()) {
            TableVerifier.requireUnknownMembersZero(c, schema, p.minor());
        }
        TableBuilder builder = registry.builder(schema);
        for (Schema.Member m : schema.members(known)) {
            long offset = HEADER_SIZE + m.offset();
            if (m instanceof Schema.Slot s) {
                long pointer = c.get(LE_LONG, offset);
                if (pointer == 0) {
                    if (s.required()) {
                        throw new TableRejectedException(Violation.NULL_REQUIRED_SLOT, offset, "slot " + s.name());
                    }
                    continue;   // the host's default (or null)
                }
                String symbol = checkFunction(s, pointer, offset);
                builder.bindVerifiedNative(s.name(), symbol, MemorySegment.ofAddress(pointer));
            } else if (m instanceof Schema.Data d) {
                Object value = readData(c, d, offset);
                builder.data(d.name(), value);
            } else if (m instanceof Schema.Aggregate a) {
                builder.data(a.name(), c.asSlice(offset, a.layout().byteSize()).toArray(ValueLayout.JAVA_BYTE));
            }
        }
        try {
            return builder.build();
        } catch (IllegalStateException e) {   // e.g. a required slot of a newer host minor the plugin's minor lacks
            throw new TableRejectedException(Violation.NULL_REQUIRED_SLOT, -1, e.getMessage());
        }
    }

    /** The function rule of {@link AllowedObject}, for the plugin's own file. Returns the symbol's name. */
    private String checkFunction(Schema.Slot s, long pointer, long offset) {
        AllowedObject.Check check = own.check(pointer);
        Violation v = switch (check.verdict()) {
            case FUNCTION -> null;
            case OTHER_OBJECT -> Violation.SLOT_OUTSIDE_ALLOW_LIST;
            case NOT_A_SYMBOL_START -> Violation.SLOT_NOT_A_SYMBOL_START;
            case NOT_A_FUNCTION -> Violation.SLOT_NOT_A_FUNCTION;
        };
        if (v != null) {
            throw new TableRejectedException(v, offset, "slot " + s.name() + ": " + check.detail());
        }
        return check.symbol();
    }

    /**
     * Plugin memory is touched only through the kernel ({@code process_vm_readv}/{@code writev}): refuse to load
     * a plugin at all where that is not allowed (an old kernel, a seccomp filter), rather than fault later.
     */
    private static void requireFaultSafeAccess() {
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment probe = a.allocate(8, 8);
            if (NativeAccess.readFaultSafe(probe.address(), new byte[8]) != NativeAccess.Transfer.DONE
                    || NativeAccess.writeFaultSafe(probe.address(), new byte[8]) != NativeAccess.Transfer.DONE) {
                throw new IllegalStateException("plugins need process_vm_readv/process_vm_writev on the own process, which this system refuses");
            }
        }
    }

    private static byte[] readPluginMemory(long address, long size, String what) {
        byte[] bytes = new byte[(int) size];   // size checked by the caller against table_init's, at most MAX_TABLE_SIZE
        requireTransferred(NativeAccess.readFaultSafe(address, bytes), address, size, what, "read");
        return bytes;
    }

    private static void writePluginMemory(long address, byte[] bytes, String what) {
        requireTransferred(NativeAccess.writeFaultSafe(address, bytes), address, bytes.length, what, "written");
    }

    private static void requireTransferred(NativeAccess.Transfer t, long address, long size, String what, String verb) {
        if (t != NativeAccess.Transfer.DONE) {
            throw new TableRejectedException(Violation.BAD_POINTER, -1, what + " (" + size + " bytes at 0x" + Long.toHexString(address)
                    + ") cannot be " + verb + (t == NativeAccess.Transfer.UNAVAILABLE ? ": process_vm_readv/writev refused" : ""));
        }
    }

    private static byte[] pointerBytes(long address) {
        byte[] b = new byte[8];
        MemorySegment.ofArray(b).set(LE_LONG, 0, address);
        return b;
    }

    private static Object readData(MemorySegment c, Schema.Data d, long offset) {
        ValueLayout l = d.layout().withByteAlignment(1);
        return switch (l) {
            case ValueLayout.OfByte b -> c.get(b, offset);
            case ValueLayout.OfShort b -> c.get(b, offset);
            case ValueLayout.OfChar b -> c.get(b, offset);
            case ValueLayout.OfInt b -> c.get(b, offset);
            case ValueLayout.OfLong b -> c.get(b, offset);
            case ValueLayout.OfFloat b -> c.get(b, offset);
            case ValueLayout.OfDouble b -> c.get(b, offset);
            case ValueLayout.OfBoolean b -> c.get(b, offset);
            case java.lang.foreign.AddressLayout b -> c.get(b, offset);
            default -> throw new IllegalArgumentException("unsupported data member " + d);
        };
    }

    private static Violation headerViolation(long offset) {
        if (offset < OFFSET_ABI_VERSION) return Violation.BAD_MAGIC;
        if (offset < OFFSET_HEADER_SIZE) return Violation.ABI_VERSION;
        if (offset < OFFSET_FLAGS) return Violation.HEADER_SIZE;
        if (offset < OFFSET_TABLE_SIZE) return Violation.FLAGS;
        if (offset < OFFSET_PAYLOAD_SIZE) return Violation.TABLE_SIZE;
        if (offset < OFFSET_SLOT_COUNT) return Violation.PAYLOAD_SIZE;
        if (offset < OFFSET_SCHEMA_MAJOR) return Violation.SLOT_COUNT;
        if (offset < OFFSET_SCHEMA_MINOR) return Violation.SCHEMA_MAJOR;
        if (offset < OFFSET_SCHEMA_ID) return Violation.PAYLOAD_SIZE;
        if (offset < OFFSET_SERIAL) return Violation.SCHEMA_ID;
        return Violation.RESERVED;   // serial, epoch, checksum, signature: the host writes them at seal, never the plugin
    }

    private int refused(TableRejectedException e, String where) {
        lastRefusal.set(e);
        registry.auditRefusal(schema, e.violation(), e.offset(), "plugin " + file.getFileName() + " " + where
                + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        return e.violation().code();
    }

    private TableRejectedException refuse(Violation v, long offset, String detail) {
        TableRejectedException e = new TableRejectedException(v, offset, detail);
        refused(e, ENTRY_POINT);
        return e;
    }

    private static final int MAX_MINOR = 0xFFFF;

    private MethodHandle handle(String name, Class<?> returnType, Class<?>... parameters) {
        try {
            return MethodHandles.lookup().findVirtual(Plugin.class, name, MethodType.methodType(returnType, parameters)).bindTo(this);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
