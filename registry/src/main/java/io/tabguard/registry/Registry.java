package io.tabguard.registry;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.ffm.internal.DispatchGate;
import io.tabguard.ffm.internal.DispatchTracker;
import io.tabguard.ffm.internal.LibraryAllowList;
import io.tabguard.ffm.internal.TableMemory;
import io.tabguard.ffm.internal.TableState;
import io.tabguard.ffm.internal.Trampolines;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.guard.internal.KeyLookup;
import io.tabguard.guard.internal.TableStamper;
import io.tabguard.guard.internal.TableVerifier;
import io.tabguard.guard.internal.VerifiedTable;
import io.tabguard.registry.internal.DefaultAuditLog;
import io.tabguard.registry.internal.KeyRing;
import io.tabguard.registry.internal.RegistryContext;
import io.tabguard.registry.internal.TableImpl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Owns verified callback tables: their native memory and trampolines, a secret signing key and its
 * epoch, the serial counter, the index of tables by address, revocation, and the refusal policy.
 *
 * <pre>{@code
 * try (Registry registry = Registry.open()) {
 *     CallbackTable table = registry.builder(schema).bind("compare", comparator).build();
 *     qsort(base, n, 4, table.function("compare"));   // every call checked first
 * }
 * }</pre>
 *
 * <p>The key (256 bits from {@link SecureRandom}) is never logged, printed or exported, and is zeroed
 * on {@link #close()}. Serials are never reused.
 *
 * <p>Thread-safe: build, import, revoke, rotate and dispatch may run on any threads at once. Refuses:
 * every operation after {@link #close()} ({@link IllegalStateException}); a table of another registry
 * ({@link IllegalArgumentException}); closing from inside one of its own callbacks.
 *
 * <p>Table memory: memfd-backed slabs mapped twice, read-only for everyone (the addresses handed out)
 * and read-write for the registry alone; nothing is freed or reused before {@code close()}, so a revoked
 * or closed table stays readable (and refusing) for native code that still holds it. Writable tables
 * ({@link TableBuilder#writable()}, {@link RegistryOptions.Builder#writableTables()}, consumer-written
 * members) come from the registry's arena.
 *
 * <p>{@code close()} frees every table's memory and trampolines. Native code must not call a slot
 * pointer of this registry after that: until then a closed or revoked table's slots return their
 * refusal values, but after it the code they point to is gone.
 */
public final class Registry implements AutoCloseable {
    private final RegistryOptions options;
    private final Arena arena = Arena.ofShared();
    private final TableMemory readOnlyMemory = new TableMemory(arena);
    private final KeyRing keys = new KeyRing(new SecureRandom());
    private final AtomicLong serials = new AtomicLong(1);
    private final Map<Long, TableImpl> byPayloadAddress = new ConcurrentHashMap<>();
    private final Map<Long, TableImpl> bySerial = new ConcurrentHashMap<>();
    private final ReentrantReadWriteLock stampingLock = new ReentrantReadWriteLock();
    private final DispatchTracker tracker = new DispatchTracker();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final LibraryAllowList allowList;
    private final AuditSink audit;
    private final boolean ownsAudit;
    private final Optional<java.nio.file.Path> auditLogPath;
    private final Context context = new Context();

    private Registry(RegistryOptions options) {
        this.options = options;
        try {
            this.allowList = new LibraryAllowList(options.allowedLibraries(), arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        this.ownsAudit = options.auditSink().isEmpty();
        if (options.auditSink().isPresent()) {
            this.audit = options.auditSink().get();
            this.auditLogPath = Optional.empty();
        } else {
            io.tabguard.audit.AuditLog log = DefaultAuditLog.open(options.auditLog());
            this.audit = log;
            this.auditLogPath = Optional.of(log.path());
        }
        context.audit(SecurityEvent.of(EventType.REGISTRY_OPENED, 0, null, 0, null, -1,
                "policy " + options.refusalPolicy() + ", checks " + options.checkMode() + ", key epoch " + keys.epoch()));
    }

    /** A registry with the default options: refuse and continue, fast checks, the default audit log. */
    public static Registry open() {
        return open(RegistryOptions.defaults());
    }

    public static Registry open(RegistryOptions options) {
        return new Registry(Objects.requireNonNull(options, "options"));
    }

    public RegistryOptions options() {
        return options;
    }

    /** The audit log this registry writes, unless the caller supplied its own sink. */
    public Optional<java.nio.file.Path> auditLogPath() {
        return auditLogPath;
    }

    /** Starts a table of {@code schema}. */
    public TableBuilder builder(Schema schema) {
        ensureOpen();
        return new TableBuilder(this, schema);
    }

    /**
     * Builds a table from an implementation of a {@link CallbackSchema} interface: each
     * {@link CallbackSlot} method becomes a slot bound to {@code implementation}.
     */
    public <T> CallbackTable table(Class<T> callbackInterface, T implementation) {
        Objects.requireNonNull(implementation, "implementation");
        Schema schema = InterfaceSchemas.schemaOf(callbackInterface);
        TableBuilder builder = builder(schema);
        for (java.lang.reflect.Method m : InterfaceSchemas.slotMethods(callbackInterface)) {
            try {
                builder.bind(m.getName(), java.lang.invoke.MethodHandles.publicLookup().unreflect(m).bindTo(implementation));
            } catch (IllegalAccessException e) {
                throw new IllegalArgumentException(callbackInterface.getName() + " must be public and in an exported package", e);
            }
        }
        return builder.build();
    }

    /**
     * A typed view that calls through {@code table} from Java: each method checks the table, then makes
     * a validated downcall into the slot. A refused call throws {@link TableRejectedException}.
     *
     * @throws IllegalArgumentException if the table was not built for the interface's schema
     */
    public <T> T proxy(Class<T> callbackInterface, CallbackTable table) {
        Schema schema = InterfaceSchemas.schemaOf(callbackInterface);
        TableImpl t = own(table);
        if (t.schema().id() != schema.id() || !t.schema().name().equals(schema.name())) {
            throw new IllegalArgumentException("table of schema " + t.schema().name() + " is not a " + schema.name());
        }
        return callbackInterface.cast(java.lang.reflect.Proxy.newProxyInstance(callbackInterface.getClassLoader(),
                new Class<?>[]{callbackInterface},
                new io.tabguard.registry.internal.TableProxy(callbackInterface, t, InterfaceSchemas.slotMethods(callbackInterface))));
    }

    public long keyEpoch() {
        return keys.epoch();
    }

    /** Tables built and not yet closed or revoked. */
    public int openTables() {
        return (int) bySerial.values().stream().filter(t -> t.status() == TableStatus.OPEN).count();
    }

    /**
     * Imports bytes claimed to be one of this registry's tables, for a caller that expects
     * {@code expected} (at its minor). The bytes are copied first and only the copy is read. Accepted
     * only if the copy is, byte for byte, a table this registry built, under its current key, still open.
     *
     * @throws TableRejectedException naming the first check that failed
     */
    public CallbackTable adopt(byte[] bytes, Schema expected) {
        ensureOpen();
        Objects.requireNonNull(expected, "expected");
        byte[] copy = Objects.requireNonNull(bytes, "bytes").clone();
        MemorySegment segment = MemorySegment.ofArray(copy);
        TableImpl owner = copy.length >= AbiV1.HEADER_SIZE
                ? bySerial.get(segment.get(AbiV1.LE_LONG, AbiV1.OFFSET_SERIAL)) : null;
        return accept(segment, owner, expected);
    }

    /**
     * Imports a table native code handed back: {@code payloadPointer} must be the payload address of a
     * table this registry owns (anything else is refused as {@link Violation#UNKNOWN_TABLE} without
     * being read), and {@code payloadLength} its payload size.
     */
    public CallbackTable adopt(MemorySegment payloadPointer, long payloadLength, Schema expected) {
        ensureOpen();
        Objects.requireNonNull(expected, "expected");
        TableImpl owner = byPayloadAddress.get(payloadPointer.address());
        try {
            if (owner == null) {
                throw new TableRejectedException(Violation.UNKNOWN_TABLE, -1, "no table of this registry is at that address");
            }
            long actual = owner.payload().byteSize();
            if (payloadLength != actual) {
                throw new TableRejectedException(payloadLength < actual ? Violation.TRUNCATED : Violation.TABLE_SIZE,
                        AbiV1.OFFSET_PAYLOAD_SIZE, "length " + payloadLength + " given for a " + actual + "-byte payload");
            }
        } catch (TableRejectedException e) {
            context.audit(SecurityEvent.of(EventType.TABLE_REFUSED, owner == null ? 0 : owner.serial(), expected.name(),
                    expected.id(), e.violation().name(), e.offset(), "import of a native pointer"));
            throw e;
        }
        return accept(owner.tableMemory(), owner, expected);
    }

    private CallbackTable accept(MemorySegment source, TableImpl owner, Schema expected) {
        try {
            VerifiedTable copy = TableVerifier.verify(source, owner == null ? 0 : owner.tableAddress(), expected, keys);
            if (owner == null) {
                throw new TableRejectedException(Violation.SIGNATURE, AbiV1.OFFSET_SIGNATURE);
            }
            owner.acceptImported(copy);
            owner.audit(EventType.TABLE_ACCEPTED, null, -1, "imported");
            return owner;
        } catch (TableRejectedException e) {
            context.audit(SecurityEvent.of(EventType.TABLE_REFUSED, owner == null ? 0 : owner.serial(), expected.name(),
                    expected.id(), e.violation().name(), e.offset(), "import"));
            throw e;
        }
    }

    /** Revokes a table: every later call through it is refused. Returns once no target of it is running on another thread. */
    public void revoke(CallbackTable table) {
        ensureOpen();
        own(table).revoke();
    }

    /**
     * A new key epoch: a fresh key, every table re-signed under it, the old key destroyed. Dispatch goes
     * on meanwhile without false refusals; bytes stamped under the old key are refused from now on.
     */
    public void rotateKey() {
        ensureOpen();
        stampingLock.writeLock().lock();
        try {
            ensureOpen();   // close() may have won the race for the lock
            keys.advance();
            for (TableImpl t : bySerial.values()) {
                t.resign(keys.epoch(), keys.current());
            }
            keys.retirePrevious();
        } finally {
            stampingLock.writeLock().unlock();
        }
        context.audit(SecurityEvent.of(EventType.KEY_ROTATED, 0, null, 0, null, -1, "key epoch " + keys.epoch()));
    }

    /**
     * Refuses every table, waits for running targets, destroys the key and frees all table memory and
     * trampolines. Idempotent.
     *
     * @throws IllegalStateException if called from inside one of this registry's callbacks
     */
    @Override
    public void close() {
        if (tracker.insideDispatch()) {
            throw new IllegalStateException("a registry cannot be closed from inside one of its own callbacks");
        }
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // Wait out a seal in flight (a later one sees `closed` under the lock), but never hold the lock while
        // waiting for running targets: a target building a table would wait for the lock, and close for it.
        stampingLock.writeLock().lock();
        stampingLock.writeLock().unlock();
        for (TableImpl t : bySerial.values()) {
            t.gate().retire(TableState.REGISTRY_CLOSED);
        }
        tracker.awaitAllQuiescent();
        stampingLock.writeLock().lock();
        try {
            keys.destroy();
            context.audit(SecurityEvent.of(EventType.REGISTRY_CLOSED, 0, null, 0, null, -1, bySerial.size() + " tables"));
            if (ownsAudit) {
                audit.close();
            }
            arena.close();
        } finally {
            stampingLock.writeLock().unlock();
        }
    }

    /**
     * Loads a C plugin and lets it build one table of {@code schema} through the host interface
     * {@code tabguard_host_v1}: the library's {@code tabguard_plugin_init_v1} is called once, on this
     * thread, and must hand back a table the host sealed for it. Each function pointer in that table must
     * be the exact start of an exported symbol of the plugin's own file. The library stays loaded until
     * the registry closes.
     *
     * @throws TableRejectedException naming the violation when the plugin's table is refused (also audited)
     * @throws IllegalArgumentException if the library cannot be loaded or has no entry point
     * @throws IllegalStateException if the registry is closed, or the entry point returned non-zero without
     *                               a refusal of the host (e.g. {@code TABGUARD_HOST_REFUSED} for another {@code host_ctx})
     */
    public Plugin loadPlugin(java.nio.file.Path library, Schema schema) {
        ensureOpen();
        return Plugin.load(this, library, schema);
    }

    Arena arena() {
        return arena;
    }

    void auditRefusal(Schema schema, Violation violation, long offset, String detail) {
        context.audit(SecurityEvent.of(EventType.TABLE_REFUSED, 0, schema.name(), schema.id(), violation.name(), offset, detail));
    }

    Optional<MemorySegment> findAllowListed(String symbol) {
        return allowList.find(symbol);
    }

    /** Called by {@link TableBuilder#build()} with a complete, type-checked set of bindings. */
    CallbackTable seal(Schema schema, int minor, Map<String, TableBuilder.Binding> bindings,
                       Map<String, Object> refusals, Map<String, Object> data, MemorySegment registeredContext,
                       boolean writableRequested) {
        ensureOpen();
        long tableSize = AbiV1.HEADER_SIZE + schema.payloadSize(minor);
        long[] consumerWritten = schema.consumerWrittenOffsets(minor);
        boolean writable = writableRequested || options.writableTables() || consumerWritten.length > 0;
        // memory: what native code and the index see; writing: the registry's own path to the same bytes
        MemorySegment memory;
        MemorySegment writing;
        if (writable) {
            memory = writing = arena.allocate(tableSize, 16);
        } else {
            TableMemory.Block block = readOnlyMemory.allocate(tableSize);
            memory = block.readOnly();
            writing = block.writable();
        }
        MemorySegment payload = writing.asSlice(AbiV1.HEADER_SIZE);
        long payloadAddress = memory.address() + AbiV1.HEADER_SIZE;
        long[] consumerWrittenInTable = java.util.Arrays.stream(consumerWritten).map(o -> AbiV1.HEADER_SIZE + o).toArray();
        boolean full = options.checkMode() == CheckMode.FULL;
        boolean failStop = options.refusalPolicy() == RefusalPolicy.FAIL_STOP;
        DispatchGate gate = new DispatchGate(memory, writing, consumerWrittenInTable, payloadAddress,
                registeredContext.address(), full, failStop, tracker);

        List<Schema.Slot> slots = new ArrayList<>();
        for (Schema.Member m : schema.members(minor)) {
            if (m instanceof Schema.Slot s) {
                slots.add(s);
            } else if (m instanceof Schema.Data d && data.containsKey(d.name())) {
                writeData(payload, d, data.get(d.name()));
            }
        }
        long[] expected = new long[slots.size()];
        for (int i = 0; i < slots.size(); i++) {
            Schema.Slot s = slots.get(i);
            TableBuilder.Binding b = bindings.get(s.name());
            long pointer = switch (b) {
                case null -> 0L;
                case TableBuilder.Binding.Native n -> n.function().address();
                case TableBuilder.Binding.Java j -> {
                    MethodHandle guarded = Trampolines.guarded(gate, i, s.descriptor(), j.target(), refusals.get(s.name()),
                            s.contextArgument(), switch (s.contextBinding()) {
                                case NONE -> Trampolines.ContextCheck.NONE;
                                case PAYLOAD_ADDRESS -> Trampolines.ContextCheck.PAYLOAD_ADDRESS;
                                case REGISTERED_CONTEXT -> Trampolines.ContextCheck.REGISTERED_CONTEXT;
                            });
                    yield Trampolines.mint(guarded, s.descriptor(), arena).address();
                }
            };
            expected[i] = pointer;
            payload.set(ValueLayout.JAVA_LONG, s.offset(), pointer);
        }

        stampingLock.readLock().lock();
        try {
            ensureOpen();
            long serial = serials.getAndIncrement();
            TableImpl table = new TableImpl(context, schema, minor, serial, memory, gate, expected);
            gate.bindOwner(table);
            byte[] stamped = TableStamper.stamp(writing, schema, minor, serial, keys.epoch(), keys.current(), memory.address());
            gate.seal(stamped);
            bySerial.put(serial, table);
            byPayloadAddress.put(payloadAddress, table);
            table.audit(EventType.TABLE_BUILT, null, -1, slots.size() + " slots, minor " + minor);
            return table;
        } finally {
            stampingLock.readLock().unlock();
        }
    }

    private static void writeData(MemorySegment payload, Schema.Data d, Object value) {
        switch (value) {
            case Byte v -> payload.set(ValueLayout.JAVA_BYTE, d.offset(), v);
            case Short v -> payload.set(ValueLayout.JAVA_SHORT_UNALIGNED, d.offset(), v);
            case Character v -> payload.set(ValueLayout.JAVA_CHAR_UNALIGNED, d.offset(), v);
            case Integer v -> payload.set(ValueLayout.JAVA_INT_UNALIGNED, d.offset(), v);
            case Long v -> payload.set(ValueLayout.JAVA_LONG_UNALIGNED, d.offset(), v);
            case Float v -> payload.set(ValueLayout.JAVA_FLOAT_UNALIGNED, d.offset(), v);
            case Double v -> payload.set(ValueLayout.JAVA_DOUBLE_UNALIGNED, d.offset(), v);
            case Boolean v -> payload.set(ValueLayout.JAVA_BOOLEAN, d.offset(), v);
            case MemorySegment v -> payload.set(ValueLayout.JAVA_LONG_UNALIGNED, d.offset(), v.address());
            default -> throw new IllegalArgumentException("unsupported data value " + value.getClass());
        }
    }

    private TableImpl own(CallbackTable table) {
        TableImpl t = (TableImpl) Objects.requireNonNull(table, "table");
        if (bySerial.get(t.serial()) != t) {
            throw new IllegalArgumentException("the table belongs to another registry");
        }
        return t;
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("registry is closed");
        }
    }

    /** The registry as its tables see it; kept off the public type. */
    private final class Context implements RegistryContext {
        @Override
        public KeyLookup keys() {
            return keys;
        }

        @Override
        public void audit(SecurityEvent event) {
            try {
                audit.record(event);
            } catch (Throwable ignored) {
                // An audit failure must never turn into a dispatch failure; the sink counts its own failures.
            }
        }

        @Override
        public void failStop(Violation violation) {
            try {
                audit.close();
            } finally {
                Runtime.getRuntime().halt(134);
            }
        }
    }
}
