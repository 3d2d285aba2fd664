package io.tabguard.registry;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.ffm.internal.DispatchGate;
import io.tabguard.ffm.internal.DispatchTracker;
import io.tabguard.ffm.internal.EntryThunks;
import io.tabguard.ffm.internal.LibraryAllowList;
import io.tabguard.ffm.internal.NativeEntry;
import io.tabguard.ffm.internal.SharedUpcalls;
import io.tabguard.ffm.internal.TabguardLibrary;
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
import io.tabguard.registry.internal.LaunchMode;
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
 * <p>{@code close()} frees every table's memory. Native code must not call a slot pointer of this
 * registry after that: until then a closed or revoked table's slots return their refusal values; after
 * it the entry thunks stay and refuse (Java slots return zero, native slots their refusal values), except
 * for slots whose shape keeps an upcall stub of its own (see {@link #release}), whose code is gone.
 *
 * <p><b>Limits.</b>
 * <ul>
 * <li><b>Close order</b>: close (or unregister) the C objects that hold slot pointers — an {@code fclose}d
 *     cookie stream, an LLVM engine, a plugin — before the registry; {@code close()} cannot know them.</li>
 * <li><b>Table size</b>: a table, its 128-byte header included, is at most
 *     {@link io.tabguard.guard.AbiV1#MAX_TABLE_SIZE} (64 KiB); the schema builder refuses a larger payload.</li>
 * <li><b>Many tables</b>: a Java-bound slot is a 32-byte entry thunk (64 bytes for six integer-class
 *     arguments) into the one FFM upcall stub of its function shape (minted once per process), so the code
 *     cache does not grow with tables: a million live 8-slot tables fit a JVM with default flags, at about
 *     0.8 KB of heap and 0.6 KB of native memory each (the tests' MillionTablesForkTest). A shape no thunk
 *     can carry (a struct by value; six or more integer-class arguments together with eight or more
 *     floating-point ones) gets an upcall stub per slot (~6 KB of code cache), freed only when the
 *     registry closes.</li>
 * <li><b>Stack</b>: a call into a Java slot made with 160 KiB of stack or less left is refused (it
 *     returns zero, see {@link #auditNativeRefusals()}), because the JVM cannot enter an upcall that low.</li>
 * <li><b>Refusal cost</b>: a refusal is the slow path. A refused call takes the table's lock (refusals of
 *     one table are serialized) and writes one audit event; the first refusal of a tampered table also runs
 *     the full checks (CRC32C and HMAC-SHA-256 over the table, about the cost of one
 *     {@link #adopt(byte[], Schema) import}) and quarantines it. Under a flood the audit log coalesces
 *     events into counted records and the operator log is rate-limited; with
 *     {@link RefusalPolicy#FAIL_STOP} the first refusal halts the process.</li>
 * <li><b>Launch mode</b>: on the class path the registry refuses to open unless
 *     {@link RegistryOptions.Builder#allowClassPath()}; there JPMS does not protect the key.</li>
 * </ul>
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
    private final DispatchTracker tracker;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final LibraryAllowList allowList;
    private final AuditSink audit;
    private final boolean ownsAudit;
    private final Optional<java.nio.file.Path> auditLogPath;
    private final Context context = new Context();
    /** Tables with counted refusals not yet written; a table is queued at most once per drain. */
    private final java.util.Queue<TableImpl> countsPending = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Serialises drains with closing the audit sink, so no summary is written to a closed sink. */
    private final Object countsLock = new Object();
    private boolean countsClosed;   // guarded by countsLock
    private final Thread countsFlusher;

    private Registry(RegistryOptions options, LaunchMode launchMode) {
        this.options = options;
        this.tracker = new DispatchTracker(options.maxNestedDispatches());
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
            io.tabguard.audit.AuditLog log = DefaultAuditLog.open(options.auditLog(), options.auditKeyFile());
            this.audit = log;
            this.auditLogPath = Optional.of(log.path());
        }
        context.audit(SecurityEvent.of(EventType.REGISTRY_OPENED, 0, null, 0, null, -1,
                "policy " + options.refusalPolicy() + ", checks " + options.checkMode() + ", key epoch " + keys.epoch()
                        + ", " + launchMode.auditDetail()));
        launchMode.warnIfClassPath();
        this.countsFlusher = Thread.ofPlatform().daemon().name("tabguard-refusal-counts").unstarted(this::flushCountsPeriodically);
        countsFlusher.start();
    }

    /** Period of the summary records of counted refusals: at most one per table and reason per period. */
    private static final long COUNTS_PERIOD_NANOS = 1_000_000_000L;

    private void flushCountsPeriodically() {
        while (!closed.get()) {
            java.util.concurrent.locks.LockSupport.parkNanos(this, COUNTS_PERIOD_NANOS);
            try {
                flushAudit();
            } catch (Throwable ignored) {
                // the next period, or close(), writes them; this thread must outlive any one failure
            }
        }
    }

    /**
     * Writes the refusals (and callback throws) counted so far as summary records now, instead of at the
     * next period (about a second) or at close. Each table's first refusal for a violation is audited
     * when it happens; later ones are counted and written by this. Never throws; a no-op once closed.
     */
    public void flushAudit() {
        synchronized (countsLock) {
            if (countsClosed) {
                return;
            }
            // Only the tables queued when this drain began, each once: a table whose callers keep being refused
            // re-queues itself as soon as its counts are taken (also by the summary written when it retires, so
            // it can be queued twice), and draining the queue until empty wrote a summary per few dozen refusals
            // for as long as the flood lasted. A re-queued table waits for the next period.
            java.util.Set<TableImpl> due = new java.util.LinkedHashSet<>();
            for (TableImpl t; (t = countsPending.poll()) != null; ) {
                due.add(t);
            }
            for (TableImpl t : due) {
                t.flushCounts();
            }
        }
    }

    /**
     * A registry with the default options: refuse and continue, fast checks, the default audit log.
     *
     * @return an open registry, which the caller must close
     * @throws IllegalStateException on the class path (see {@link #open(RegistryOptions)})
     * @throws java.io.UncheckedIOException if the audit log cannot be opened
     */
    public static Registry open() {
        return open(RegistryOptions.defaults());
    }

    /**
     * A registry with {@code options}. It writes a {@code REGISTRY_OPENED} event to its audit trail before
     * returning, naming the policy, the check mode, the key epoch and the launch mode.
     *
     * @param options how the registry behaves; see {@link RegistryOptions#builder()}
     * @return an open registry, which the caller must close
     * @throws IllegalStateException if Tabguard runs on the class path (its classes in the unnamed module)
     *                               and {@code options} does not {@linkplain RegistryOptions.Builder#allowClassPath()
     *                               allow the class path}: the message names the fix (module path and
     *                               {@code --enable-native-access=io.tabguard.ffm})
     * @throws java.io.UncheckedIOException if the audit log cannot be opened (it never runs without one)
     * @throws IllegalArgumentException if an allow-listed library cannot be loaded
     */
    public static Registry open(RegistryOptions options) {
        Objects.requireNonNull(options, "options");
        LaunchMode launchMode = LaunchMode.of(Registry.class.getModule());
        launchMode.requireAllowed(options.classPathAllowed());
        return new Registry(options, launchMode);
    }

    /**
     * The options the registry was opened with.
     *
     * @return the options
     */
    public RegistryOptions options() {
        return options;
    }

    /**
     * The audit log this registry writes, unless the caller supplied its own sink.
     *
     * @return the log file, or empty when events go to a caller's {@link io.tabguard.audit.AuditSink}
     */
    public Optional<java.nio.file.Path> auditLogPath() {
        return auditLogPath;
    }

    /**
     * Starts a table of {@code schema}.
     *
     * @param schema the payload's layout and slots
     * @return a builder for one table
     * @throws IllegalStateException if the registry is closed
     */
    public TableBuilder builder(Schema schema) {
        ensureOpen();
        return new TableBuilder(this, schema);
    }

    /**
     * Builds a table from an implementation of a {@link CallbackSchema} interface: each
     * {@link CallbackSlot} method becomes a slot bound to {@code implementation}.
     *
     * @param <T>               the interface type
     * @param callbackInterface a public interface annotated {@link CallbackSchema}, in an exported package
     * @param implementation    what the slots call
     * @return the built table
     * @throws IllegalArgumentException if the interface breaks a rule of {@link InterfaceSchemas}
     * @throws IllegalStateException if the registry is closed
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
     * @param <T>               the interface type
     * @param callbackInterface a public interface annotated {@link CallbackSchema}
     * @param table             a table of this registry built for that interface's schema
     * @return a proxy implementing the interface
     * @throws IllegalArgumentException if the table was not built for the interface's schema, or belongs
     *                                  to another registry
     */
    public <T> T proxy(Class<T> callbackInterface, CallbackTable table) {
        Schema schema = InterfaceSchemas.schemaOf(callbackInterface);
        TableImpl t = own(table);
        int seen = Math.min(t.builtMinor(), schema.minor());
        if (t.schema().id() != schema.id() || t.builtSchema().layoutId(seen) != schema.layoutId(seen)) {
            throw new IllegalArgumentException("table of schema " + t.schema().name() + " is not a " + schema.name()
                    + (t.schema().id() == schema.id() ? " (the same id, other members at minor " + seen + ")" : ""));
        }
        return callbackInterface.cast(java.lang.reflect.Proxy.newProxyInstance(callbackInterface.getClassLoader(),
                new Class<?>[]{callbackInterface},
                new io.tabguard.registry.internal.TableProxy(callbackInterface, t, InterfaceSchemas.slotMethods(callbackInterface))));
    }

    /**
     * The current key epoch, stamped in every table's header; {@link #rotateKey()} advances it.
     *
     * @return the epoch, from 1
     */
    public long keyEpoch() {
        return keys.epoch();
    }

    /**
     * Tables built and not yet closed, revoked or quarantined.
     *
     * @return how many tables are {@link TableStatus#OPEN}
     */
    public int openTables() {
        return (int) bySerial.values().stream().filter(t -> t.status() == TableStatus.OPEN).count();
    }

    /**
     * Imports bytes claimed to be one of this registry's tables, for a caller that expects
     * {@code expected} (at its minor). The bytes are copied first and only the copy is read. Accepted
     * only if the copy is, byte for byte, a table this registry built, under its current key, still open,
     * and every member {@code expected} knows at the table's minor is the table's: for a table of minor
     * {@code t <= expected.minor()} the header's layout id is {@code expected.layoutId(t)}; for a newer
     * one, the schema this registry built it with equals {@code expected} up to {@code expected.minor()}
     * (else {@link Violation#LAYOUT_MISMATCH}).
     *
     * @param bytes    the claimed table, header first
     * @param expected the schema (at its minor) the caller will use the table as
     * @return the table, as a table of {@code expected}: its {@code schema()} equals {@code expected}. When
     *         the table was built with another (compatible) schema object, such as a newer minor of the
     *         caller's schema, the result is a view of the same table (same serial, memory, state and
     *         slots) whose {@code schema()} is {@code expected} and whose {@code minor()} is the lesser of
     *         the table's and {@code expected.minor()}: the members the caller sees.
     * @throws TableRejectedException naming the first check that failed (also audited)
     * @throws IllegalStateException if the registry is closed
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
     *
     * @param payloadPointer the payload address native code handed back
     * @param payloadLength  the payload's size in bytes, as native code claims it
     * @param expected       the schema (at its minor) the caller will use the table as
     * @return the registry's table at that address
     * @throws TableRejectedException naming the first check that failed (also audited)
     * @throws IllegalStateException if the registry is closed
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
            requireSameMembers(owner, expected);
            owner.acceptImported(copy);
            requireCallersSlotPolicy(owner, copy, expected);
            owner.audit(EventType.TABLE_ACCEPTED, null, -1, "imported");
            return owner.asTableOf(expected);
        } catch (TableRejectedException e) {
            context.audit(SecurityEvent.of(EventType.TABLE_REFUSED, owner == null ? 0 : owner.serial(), expected.name(),
                    expected.id(), e.violation().name(), e.offset(), "import"));
            throw e;
        }
    }

    /**
     * The members {@code expected} and the table share are the same members: compared through the schema
     * this registry built the table with, at the lesser minor. For a table no newer than the caller this
     * repeats the verifier's layout_id check from the registry's own record; for a newer table it is the
     * only check possible (the header's layout id hashes members the caller has never seen).
     */
    private static void requireSameMembers(TableImpl table, Schema expected) {
        int seen = Math.min(table.builtMinor(), expected.minor());
        if (table.builtSchema().layoutId(seen) != expected.layoutId(seen)) {
            throw new TableRejectedException(Violation.LAYOUT_MISMATCH, AbiV1.OFFSET_LAYOUT_ID, "the table's schema "
                    + table.builtSchema().name() + " and the caller's differ at minor " + seen);
        }
    }

    /**
     * What {@code expected} promises of each slot it sees, the table keeps: a slot it requires is not
     * null (the table's own schema may have left it optional), and a context binding it declares is the
     * one the table's trampolines enforce. Slot options are not part of the layout id: they are the
     * builder's policy, so only the registry, which knows both schemas, can compare them.
     */
    private static String contextOffsetText(Schema.Slot slot) {
        return slot.contextOffset() < 0 ? "" : " at offset " + slot.contextOffset();
    }

    private static void requireCallersSlotPolicy(TableImpl table, VerifiedTable copy, Schema expected) {
        int seen = Math.min(table.builtMinor(), expected.minor());
        for (Schema.Member m : expected.members(seen)) {
            if (m instanceof Schema.Slot wanted && table.builtSchema().member(wanted.name()).orElseThrow() instanceof Schema.Slot built) {
                long offset = AbiV1.HEADER_SIZE + wanted.offset();
                if (wanted.required() && copy.payloadAddressAt(wanted.offset()) == 0) {
                    throw new TableRejectedException(Violation.NULL_REQUIRED_SLOT, offset, "slot " + wanted.name()
                            + " is required by the caller's schema, optional and null in the table");
                }
                if (wanted.contextBinding() != Schema.ContextBinding.NONE && (wanted.contextBinding() != built.contextBinding()
                        || wanted.contextArgument() != built.contextArgument() || wanted.contextOffset() != built.contextOffset())) {
                    throw new TableRejectedException(Violation.LAYOUT_MISMATCH, offset, "slot " + wanted.name()
                            + ": the caller binds argument " + wanted.contextArgument() + " to " + wanted.contextBinding()
                            + contextOffsetText(wanted) + ", the table's trampolines check " + built.contextBinding()
                            + contextOffsetText(built));
                }
            }
        }
    }

    /**
     * Revokes a table: every later call through it is refused. Returns once no target of it is running on another thread.
     *
     * @param table a table of this registry
     * @throws IllegalArgumentException if the table belongs to another registry
     * @throws IllegalStateException if the registry is closed
     */
    public void revoke(CallbackTable table) {
        ensureOpen();
        own(table).revoke();
    }

    /**
     * Gives back what a closed or revoked table holds besides its table memory: the entry thunks of its
     * slots, the state cell of its native slots' thunks (once the pages of those thunks have been given
     * back: the thunks read it) and its Java slots' records (their targets become unreachable), and
     * forgets the table: it is no longer one of the registry's tables, nor
     * is it re-signed by {@link #rotateKey()}; {@link #adopt(MemorySegment, long, Schema)} refuses its
     * payload as foreign. Its table memory stays mapped, read-only and refusing until the registry
     * closes, so its payload address is never another table's. Counts not yet audited are audited first;
     * then one {@code TABLE_RELEASED} record.
     *
     * <p><b>The danger:</b> call this only when no native code will call through any of the table's
     * function pointers again, that is once the consumer has let go (for LLVM: its {@code Destroy}
     * callback has been called, or {@code LLVMDisposeExecutionEngine} has returned). A call through a
     * released pointer is still refused while the memory page of its thunk serves other tables (it
     * returns zero, not the slot's refusal value, and is not audited); once every thunk of that page has
     * been released the page is given back to the kernel, its addresses stay reserved, and such a call
     * <em>faults</em>: the process ends with SIGSEGV. It never reaches another table's target. Slots
     * whose shape keeps an upcall stub of its own (see docs/internals.md) keep that stub until the
     * registry closes. May be called from inside one of the table's own callbacks (its thunk is not on
     * the return path). Idempotent.
     *
     * @param table a closed or revoked table of this registry
     * @throws IllegalArgumentException if the table belongs to another registry
     * @throws IllegalStateException if the table is still open, or the registry is closed
     */
    public void release(CallbackTable table) {
        ensureOpen();
        TableImpl t = own(table).built();
        if (t.status() == TableStatus.OPEN) {
            throw new IllegalStateException("close or revoke the table before releasing it");
        }
        stampingLock.readLock().lock();
        try {
            ensureOpen();
            if (!bySerial.remove(t.serial(), t)) {
                return;
            }
            byPayloadAddress.remove(t.payload().address(), t);
            t.auditNativeRefusals();
            t.flushCounts();
            t.release();
            if (t.gate().slab() != null) {
                readOnlyMemory.forget(t.gate().slab(), t.gate());
            }
        } finally {
            stampingLock.readLock().unlock();
        }
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
            readOnlyMemory.openAll();
            try {
                for (TableImpl t : bySerial.values()) {
                    t.resign(keys.epoch(), keys.current());
                }
            } finally {
                readOnlyMemory.closeAll();   // every table compared again before its slab is sealed
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
        for (TableImpl t : bySerial.values()) {
            t.gate().releaseSharedEntries(null);
        }
        auditNativeRefusals();
        java.util.concurrent.locks.LockSupport.unpark(countsFlusher);
        stampingLock.writeLock().lock();
        try {
            keys.destroy();
            synchronized (countsLock) {
                for (TableImpl t : bySerial.values()) {
                    t.flushCounts();
                }
                countsPending.clear();
                countsClosed = true;
                context.audit(SecurityEvent.of(EventType.REGISTRY_CLOSED, 0, null, 0, null, -1, bySerial.size() + " tables"));
                if (ownsAudit) {
                    audit.close();
                }
            }
            arena.close();
        } finally {
            stampingLock.writeLock().unlock();
        }
    }

    /**
     * Audits the calls that C callers made through native slots' entry thunks and that were refused
     * (the thunks only count, so the call path stays a load, a compare and a jump): one TABLE_REFUSED
     * record per table with refusals since the last time, carrying their number. Also the calls into Java
     * slots that their entry refused because the calling thread had 160 KiB of stack or less left (an upcall
     * entered that low would overflow inside the JVM, which ends the process): those are counted
     * process-wide, so they are one record with table serial 0 and {@code DISPATCH_TOO_DEEP}, written by the
     * first registry to drain them. Runs on {@link #close()} too; call it whenever the log should be current
     * (after revoking, on a timer).
     *
     * @return the number of refused calls audited
     */
    public long auditNativeRefusals() {
        long total = 0;
        for (TableImpl t : bySerial.values()) {
            total += t.auditNativeRefusals();
        }
        long lowStack = SharedUpcalls.drainLowStackRefusals();
        if (lowStack > 0) {
            // The guard entries count process-wide (they know the shape, not the table): one summary.
            java.time.Instant now = java.time.Instant.now();
            context.audit(SecurityEvent.summary(EventType.TABLE_REFUSED, 0, null, 0, Violation.DISPATCH_TOO_DEEP.name(), -1,
                    lowStack + " calls into Java slots refused at entry: " + (TabguardLibrary.STACK_HEADROOM / 1024)
                            + " KiB of stack or less left", lowStack, now, now));
            total += lowStack;
        }
        return total;
    }

    /**
     * Loads a C plugin and lets it build one table of {@code schema} through the host interface
     * {@code tabguard_host_v1}: the library's {@code tabguard_plugin_init_v1} is called once, on this
     * thread, and must hand back a table the host sealed for it. Each function pointer in that table must
     * be the exact start of an exported symbol of the plugin's own file. The library stays loaded until
     * the registry closes.
     *
     * @param library the plugin's shared library
     * @param schema  the schema of the one table the plugin must seal
     * @return the loaded plugin and its table
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

    LibraryAllowList.Resolution findAllowListed(String symbol) {
        return allowList.resolve(symbol);
    }

    /** Called by {@link TableBuilder#build()} with a complete, type-checked set of bindings. */
    CallbackTable seal(Schema schema, int minor, Map<String, TableBuilder.Binding> bindings,
                       Map<String, Object> refusals, Map<String, MethodHandle> refusalHandlers, Map<String, Object> data,
                       MemorySegment registeredContext,
                       boolean writableRequested) {
        ensureOpen();
        long tableSize = AbiV1.HEADER_SIZE + schema.payloadSize(minor);
        long[] consumerWritten = schema.consumerWrittenOffsets(minor);
        boolean writable = writableRequested || options.writableTables() || consumerWritten.length > 0;
        // memory: what native code and the index see; writing: the registry's own path to the same bytes
        MemorySegment memory;
        MemorySegment writing;
        TableMemory.Block block = null;
        if (writable) {
            memory = writing = arena.allocate(tableSize, 16);
        } else {
            block = readOnlyMemory.allocate(tableSize);   // its slab's write window is open until doneWriting
            memory = block.readOnly();
            writing = block.writable();
        }
        DispatchGate[] built = new DispatchGate[1];   // the sealed gate, for doneWriting
        try {
            MemorySegment payload = writing.asSlice(AbiV1.HEADER_SIZE);
            long payloadAddress = memory.address() + AbiV1.HEADER_SIZE;
            long[] consumerWrittenInTable = java.util.Arrays.stream(consumerWritten).map(o -> AbiV1.HEADER_SIZE + o).toArray();
            boolean full = options.checkMode() == CheckMode.FULL;
            boolean failStop = options.refusalPolicy() == RefusalPolicy.FAIL_STOP;
            DispatchGate gate = new DispatchGate(memory, writing, block == null ? null : block.slab(), consumerWrittenInTable,
                    payloadAddress, registeredContext.address(), full, failStop, tracker);

            List<Schema.Slot> slots = new ArrayList<>();
            for (Schema.Member m : schema.members(minor)) {
                if (m instanceof Schema.Slot s) {
                    slots.add(s);
                } else if (m instanceof Schema.Data d && data.containsKey(d.name())) {
                    writeData(payload, d, data.get(d.name()));
                } else if (m instanceof Schema.Aggregate a && data.get(a.name()) instanceof byte[] bytes) {
                    writeAggregate(payload, a, bytes);
                }
            }
            long[] expected = new long[slots.size()];
            boolean[] sharedThunk = new boolean[slots.size()];
            long[] nativeThunks = new long[slots.size()];
            int nativeCount = 0;
            // One record for the table's Java slots (their entry thunks carry its id), reserved before the first one.
            SharedUpcalls.TableEntries shared = bindings.values().stream().anyMatch(TableBuilder.Binding.Java.class::isInstance)
                    ? SharedUpcalls.forTable(gate, slots.size()) : null;
            boolean published = false;
            // Native slots hold an entry thunk that checks the table's state word before jumping to the function.
            NativeEntry entry = bindings.values().stream().anyMatch(TableBuilder.Binding.Native.class::isInstance)
                    ? EntryThunks.newEntry() : null;
            boolean sealed = false;
            try {
                for (int i = 0; i < slots.size(); i++) {
                    Schema.Slot s = slots.get(i);
                    TableBuilder.Binding b = bindings.get(s.name());
                    long pointer = switch (b) {
                        case null -> 0L;
                        case TableBuilder.Binding.Native n -> {
                            long refusalBits = EntryThunks.refusalBits(refusals.get(s.name()));
                            long thunk = switch (s.contextBinding()) {
                                case NONE -> EntryThunks.mint(entry, n.function().address(), refusalBits);
                                case PAYLOAD_ADDRESS -> EntryThunks.mintWithContext(entry, n.function().address(), refusalBits,
                                        EntryThunks.integerRegisterOf(s.descriptor(), s.contextArgument()), payloadAddress);
                                case REGISTERED_CONTEXT -> EntryThunks.mintWithContext(entry, n.function().address(), refusalBits,
                                        EntryThunks.integerRegisterOf(s.descriptor(), s.contextArgument()), registeredContext.address());
                                // TableBuilder.bindNative refuses it: a thunk must not dereference a caller's pointer
                                case POINTS_TO_PAYLOAD -> throw new IllegalStateException("slot " + s.name() + ": no native thunk dereferences a context");
                            };
                            nativeThunks[nativeCount++] = thunk;
                            yield thunk;
                        }
                        case TableBuilder.Binding.Java j -> {
                            Trampolines.ContextCheck check = switch (s.contextBinding()) {
                                case NONE -> Trampolines.ContextCheck.NONE;
                                case PAYLOAD_ADDRESS -> Trampolines.ContextCheck.PAYLOAD_ADDRESS;
                                case REGISTERED_CONTEXT -> Trampolines.ContextCheck.REGISTERED_CONTEXT;
                                case POINTS_TO_PAYLOAD -> Trampolines.ContextCheck.POINTED_PAYLOAD;
                            };
                            // A 32-byte thunk into the one upcall stub of the slot's shape; a stub of its own only
                            // for shapes a thunk cannot carry (SharedUpcalls.idRegister).
                            long thunk = SharedUpcalls.entry(shared, i, s.descriptor(), j.target(),
                                    refusals.get(s.name()), refusalHandlers.get(s.name()), s.contextArgument(), check, s.contextOffset());
                            if (thunk != 0) {
                                sharedThunk[i] = true;
                                yield thunk;
                            }
                            MethodHandle guarded = Trampolines.guarded(gate, i, s.descriptor(), j.target(), refusals.get(s.name()),
                                    refusalHandlers.get(s.name()), s.contextArgument(), check, s.contextOffset());
                            yield Trampolines.mint(guarded, s.descriptor(), arena).address();
                        }
                    };
                    expected[i] = pointer;
                    payload.set(ValueLayout.JAVA_LONG, s.offset(), pointer);
                }
                boolean sharedEntries = shared != null && !shared.isEmpty();
                if (sharedEntries) {
                    gate.attachSharedEntries(SharedUpcalls.publish(shared));
                    published = true;
                }
                if (entry != null || sharedEntries) {
                    EntryThunks.publish();
                }
                if (entry != null) {
                    gate.attachNativeEntry(entry, java.util.Arrays.copyOf(nativeThunks, nativeCount));
                }

                stampingLock.readLock().lock();
                try {
                    ensureOpen();
                    long serial = serials.getAndIncrement();
                    TableImpl table = new TableImpl(context, schema, minor, serial, memory, gate);
                    gate.bindOwner(table);
                    byte[] stamped = TableStamper.stamp(writing, schema, minor, serial, keys.epoch(), keys.current(), memory.address());
                    gate.seal(stamped);
                    sealed = true;   // open from here on: its entries are its own
                    built[0] = gate;
                    bySerial.put(serial, table);
                    byPayloadAddress.put(payloadAddress, table);
                    table.audit(EventType.TABLE_BUILT, null, -1, slots.size() + " slots, minor " + minor);
                    return table;
                } finally {
                    stampingLock.readLock().unlock();
                }
            } finally {
                // the thunks are written: their pages' writable aliases close (they were open since minting)
                for (int i = 0; i < nativeCount; i++) {
                    EntryThunks.written(nativeThunks[i]);
                }
                for (int i = 0; i < expected.length; i++) {
                    if (sharedThunk[i]) {
                        EntryThunks.written(expected[i]);
                    }
                }
                if (!sealed) {
                    // A build that failed (or lost a race with close()) hands out no pointer: give back what
                    // it registered, so its record and thunks do not stay for the life of the process.
                    if (shared != null && published) {
                        gate.releaseSharedEntries(expected);
                    } else if (shared != null) {
                        SharedUpcalls.freeAbandoned(shared, expected);
                        SharedUpcalls.abandon(shared);
                    }
                    if (entry != null) {
                        EntryThunks.release(entry, java.util.Arrays.copyOf(nativeThunks, nativeCount));
                    }
                } else if (shared != null && !published) {
                    SharedUpcalls.abandon(shared);   // no Java slot got a shared entry
                }
            }
        } finally {
            if (block != null) {
                readOnlyMemory.doneWriting(block, built[0]);
            }
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

    /** An array or nested struct: the builder checked that {@code bytes} is exactly its size. */
    private static void writeAggregate(MemorySegment payload, Schema.Aggregate a, byte[] bytes) {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, payload, a.offset(), a.layout().byteSize());
    }

    private TableImpl own(CallbackTable table) {
        TableImpl t = (TableImpl) Objects.requireNonNull(table, "table");
        // By the registry that built it, not by bySerial: a released table is no longer there, and is still
        // this registry's (release is idempotent, revoke of a released table a no-op).
        if (!t.built().builtBy(context)) {
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
        public void countsPending(TableImpl table) {
            try {
                countsPending.add(table);
            } catch (Throwable ignored) {
                // close() drains every table anyway
            }
        }

        @Override
        public void failStop(Violation violation) {
            try {
                flushAudit();
                audit.close();
            } finally {
                Runtime.getRuntime().halt(134);
            }
        }
    }
}
