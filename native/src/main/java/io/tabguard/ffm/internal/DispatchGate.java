package io.tabguard.ffm.internal;

import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The check every dispatch through one table passes first. The fast form reads the table's state,
 * then compares the live table byte for byte with its verified snapshot; any difference at all sends
 * the call to the slow path, which names the violation with the full checks, quarantines the table,
 * audits, and refuses.
 *
 * <p>Thread-safe. The accept path allocates nothing and takes no lock; state changes, re-signing and
 * the slow path serialise on the gate.
 */
public final class DispatchGate {

    private static final java.lang.invoke.VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment live;
    private final MemorySegment writable;
    private final TableMemory.Slab slab;
    private final long trackingId = NEXT_TRACKING_ID.incrementAndGet();
    private static final java.util.concurrent.atomic.AtomicLong NEXT_TRACKING_ID = new java.util.concurrent.atomic.AtomicLong();
    /**
     * Per word of the table: the bits the compare checks (0 for a consumer-written word, else all); null
     * when the table has no consumer-written word, so the usual compare pays nothing for the feature.
     */
    private final long[] comparedBits;
    private final long payloadAddress;
    private final long contextAddress;
    private final boolean fullCheckEveryCall;
    private final boolean failStop;
    private final DispatchTracker tracker;
    private volatile GateOwner owner;
    private volatile TableState state = TableState.CLOSED;   // until sealed
    /**
     * The verified bytes, never handed out (copies are); the per-call compare reads them 8 bytes at a time
     * through {@link #WORD_IN_NATIVE_ORDER}. One array per table and nothing else: a million tables each
     * kept it twice (bytes and words) plus a heap segment, ~300 B a table. Consumer-written words are zero
     * here (as the checksum and signature count them). Replaced whole, never written after publication.
     */
    private volatile byte[] snapshot;
    private volatile NativeEntry nativeEntry;   // the state word C callers' entry thunks read, if any

    /**
     * A gate that refuses everything until {@link #seal}: stubs are minted before the table is stamped.
     *
     * @param live                   the whole table (header and payload) as native code sees it: read-only
     *                               pages for a read-only table, the table's own writable memory otherwise
     * @param writable               the same bytes through the registry's private writable mapping (or
     *                               {@code live} itself for a writable table); never handed out
     * @param consumerWrittenOffsets table offsets (8-byte aligned) of pointer-sized members the consumer
     *                               writes: the compare, like the checksum and signature, leaves them out
     * @param contextAddress         the context registered with the table, or 0
     */
    public DispatchGate(MemorySegment live, MemorySegment writable, long[] consumerWrittenOffsets, long payloadAddress,
                        long contextAddress, boolean fullCheckEveryCall, boolean failStop, DispatchTracker tracker) {
        this(live, writable, null, consumerWrittenOffsets, payloadAddress, contextAddress, fullCheckEveryCall, failStop, tracker);
    }

    /**
     * @param slab the read-only slab the table is in ({@link TableMemory}), or null for a writable table:
     *             while the slab is sealed no store can reach the table, and the per-call compare is skipped
     */
    public DispatchGate(MemorySegment live, MemorySegment writable, TableMemory.Slab slab, long[] consumerWrittenOffsets,
                        long payloadAddress, long contextAddress, boolean fullCheckEveryCall, boolean failStop,
                        DispatchTracker tracker) {
        if (writable.byteSize() != live.byteSize() || live.address() % Long.BYTES != 0 || writable.address() % Long.BYTES != 0) {
            throw new IllegalArgumentException("live and writable views must be the same size and 8-byte aligned");
        }
        this.live = live;
        this.writable = writable;
        this.slab = slab;
        long[] bits = null;
        for (long offset : consumerWrittenOffsets) {
            if (offset % Long.BYTES != 0 || offset < 0 || offset + Long.BYTES > live.byteSize()) {
                throw new IllegalArgumentException("consumer-written word at " + offset);
            }
            if (bits == null) {
                bits = new long[(int) (live.byteSize() / Long.BYTES)];
                java.util.Arrays.fill(bits, -1L);
            }
            bits[(int) (offset / Long.BYTES)] = 0;
        }
        this.comparedBits = bits;
        this.payloadAddress = payloadAddress;
        this.contextAddress = contextAddress;
        this.fullCheckEveryCall = fullCheckEveryCall;
        this.failStop = failStop;
        this.tracker = tracker;
        this.snapshot = snapshotOf(new byte[(int) live.byteSize()]);
    }

    /** Set once, before any stub is minted (the table and its gate refer to each other). */
    public void bindOwner(GateOwner tableOwner) {
        this.owner = tableOwner;
    }

    /**
     * Gives the gate the state cell of the table's native entry thunks; from now on every state change
     * is also written there (see {@link NativeEntry} for what that guarantees to C callers). Set once,
     * before {@link #seal}.
     */
    public void attachNativeEntry(NativeEntry entry, long[] thunks) {
        this.nativeEntry = entry;
        this.nativeThunks = thunks.clone();
    }

    private volatile long[] nativeThunks;

    /**
     * Gives back the thunks, state cell and slot records of a table that has left OPEN and whose consumer
     * has let go (see {@code Registry.release}). Idempotent.
     *
     * @param slotPointers what each slot of the table holds (its thunk, for a Java slot with a shared entry)
     * @throws IllegalStateException if the table is still OPEN
     */
    public synchronized void release(long[] slotPointers) {
        if (state == TableState.OPEN) {
            throw new IllegalStateException("an open table cannot be released");
        }
        releaseSharedEntries(slotPointers);
        long[] thunks = nativeThunks;
        nativeThunks = null;
        if (thunks != null) {
            EntryThunks.release(nativeEntry, thunks);
        }
    }

    /**
     * Gives the gate the id of its table's shared-stub entries ({@link SharedUpcalls#publish}), to
     * release with {@link #releaseSharedEntries}. Set once, before {@link #seal}.
     */
    public void attachSharedEntries(long tableId) {
        this.sharedEntriesId = tableId;
    }

    /**
     * Releases the table's Java-slot entries: a call through one of them is refused from now on without
     * reaching this gate (its record id no longer resolves), and the ids are free for other slots under a
     * new generation. Only once the table has left OPEN and no target runs. Idempotent.
     *
     * @param thunksBySlot the slots' thunk addresses, to free them too (see {@link EntryThunks#release}); or
     *                     null to keep the thunks (a registry close: a late call is then refused, never a fault)
     */
    public void releaseSharedEntries(long[] thunksBySlot) {
        long id = sharedEntriesId;
        sharedEntriesId = NO_SHARED_ENTRIES;
        if (id != NO_SHARED_ENTRIES) {
            if (thunksBySlot != null) {
                SharedUpcalls.releaseAndFree(id, thunksBySlot);
            } else {
                SharedUpcalls.release(id);
            }
        }
    }

    /** Never a table's id (those name slot 0). */
    private static final long NO_SHARED_ENTRIES = -1;
    private volatile long sharedEntriesId = NO_SHARED_ENTRIES;

    /** The table's native entry, or null if no slot has a thunk. */
    public NativeEntry nativeEntry() {
        return nativeEntry;
    }

    private void setState(TableState newState) {
        state = newState;
        NativeEntry entry = nativeEntry;
        if (entry != null) {
            entry.publish(newState);
        }
    }

    /** Opens the gate on the stamped bytes, which become the verified snapshot. */
    public synchronized void seal(byte[] stampedBytes) {
        if (stampedBytes.length != live.byteSize()) {
            throw new IllegalArgumentException("snapshot and live table differ in size");
        }
        snapshot = snapshotOf(stampedBytes);
        setState(TableState.OPEN);
    }

    private static byte[] snapshotOf(byte[] bytes) {
        return bytes.clone();
    }

    /** Word {@code i} of a snapshot, in native byte order as the live table's words are read. */
    private static long word(byte[] snapshot, int i) {
        return (long) WORD_IN_NATIVE_ORDER.get(snapshot, i * Long.BYTES);
    }

    public TableState state() {
        return state;
    }

    /** A copy of the verified snapshot. */
    public byte[] snapshotBytes() {
        return snapshot.clone();
    }

    /** The pointer-sized value at {@code tableOffset} of the verified snapshot (never of the live table). */
    public long snapshotWord(long tableOffset) {
        return (long) WORD_IN_NATIVE_ORDER.get(snapshot, Math.toIntExact(tableOffset));
    }

    /** The class of the last target throw, for the summary's detail; null if none. */
    public Class<?> lastThrowClass() {
        return lastThrowClass;
    }

    /** The violation a negative {@link #enter} result names. */
    public static Violation violationOf(int refusalCode) {
        return VIOLATIONS[-1 - refusalCode];
    }

    private static final Violation[] VIOLATIONS = Violation.values();

    private static int refusalCode(Violation v) {
        return -1 - v.ordinal();
    }

    /**
     * Admits a native → Java call through {@code slot}. Returns the token to hand to {@link #exit(int)}
     * (zero or more) when the target may run, or a negative refusal code ({@link #violationOf}) when the
     * caller must refuse; a refused call has already left the tracker and been accounted for. Never
     * throws, allocates nothing and takes no lock on a retired table after its first refusal.
     */
    public int enter(int slot) {
        int token = -1;
        try {
            TableState s = state;
            if (s != TableState.OPEN) {
                return refused(slot, s.refusal(), -1, null);   // retired: never enters the tracker
            }
            token = tracker.enter(this);
            if (state == TableState.OPEN && !fullCheckEveryCall && unchanged() && !tracker.tooDeep(token)) {
                return token;
            }
            tracker.exit(token);   // leave before any slow work: a retire never waits for a refusal
            if (tracker.tooDeep(token)) {
                token = -1;
                return refused(slot, Violation.DISPATCH_TOO_DEEP, -1, "nested dispatches on one thread");
            }
            token = -1;
            return admitSlowly(slot);
        } catch (Throwable t) {
            // Fail closed. Unwinding to here freed the stack the failed step used, so leaving usually works;
            // if it does not, the enclosing frame's exit repairs the record.
            if (token >= 0) {
                tracker.exit(token);
            }
            return refusalCode(Violation.SNAPSHOT_MISMATCH);
        }
    }

    /** {@link #enter(int)}, plus the slot's context argument must be the bound address. */
    public int enterWithPayloadContext(int slot, MemorySegment argument) {
        return enterWithContext(slot, argument, payloadAddress);
    }

    public int enterWithRegisteredContext(int slot, MemorySegment argument) {
        return enterWithContext(slot, argument, contextAddress);
    }

    /**
     * {@link #enter(int)}, plus the slot's context argument must point to a struct whose word at
     * {@code offset} is the payload address ({@code *(void **)(argument + offset) == payload}). The word is
     * copied with {@link NativeAccess#readFaultSafe} (one {@code process_vm_readv} per call, and a small
     * confined arena: this accept path, unlike {@link #enter}'s, allocates), never dereferenced: a NULL,
     * unmapped or misaligned argument, or a kernel that refuses the call, is a {@code CONTEXT_MISMATCH}.
     * The read happens after the table check, inside the tracker, so a revoke waits for it like for a target.
     */
    public int enterWithPointedPayloadContext(int slot, MemorySegment argument, long offset) {
        int token = enter(slot);
        if (token < 0) {
            return token;
        }
        boolean matches;
        try {
            matches = pointsToPayload(argument.address(), offset);
        } catch (Throwable t) {
            matches = false;   // fail closed
        }
        return matches ? token : refuseContext(slot, token);
    }

    private boolean pointsToPayload(long argument, long offset) {
        long wordAddress = argument + offset;
        if (argument == 0 || wordAddress % Long.BYTES != 0 || Long.compareUnsigned(wordAddress, argument) < 0) {
            return false;
        }
        byte[] word = new byte[Long.BYTES];
        return NativeAccess.readFaultSafe(wordAddress, word) == NativeAccess.Transfer.DONE
                && (long) WORD_IN_NATIVE_ORDER.get(word, 0) == payloadAddress;
    }

    private static final java.lang.invoke.VarHandle WORD_IN_NATIVE_ORDER =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.nativeOrder());

    private int enterWithContext(int slot, MemorySegment argument, long expected) {
        int token = enter(slot);
        if (token < 0 || argument.address() == expected) {
            return token;
        }
        return refuseContext(slot, token);
    }

    private int refuseContext(int slot, int token) {
        tracker.exit(token);
        try {
            return refused(slot, Violation.CONTEXT_MISMATCH, -1, "argument is not the table's bound context");
        } catch (Throwable t) {
            return refusalCode(Violation.CONTEXT_MISMATCH);
        }
    }

    /**
     * Admits a Java → native call, or throws the refusal. Returns the token the caller must hand to
     * {@link #exit(int)} when the call ends.
     */
    public int enterOrThrow(int slot) {
        TableState s = state;
        if (s != TableState.OPEN) {
            throw rejection(refused(slot, s.refusal(), -1, null), -1, null);
        }
        int token = tracker.enter(this);
        try {
            if (state == TableState.OPEN && !fullCheckEveryCall && unchanged() && !tracker.tooDeep(token)) {
                return token;
            }
        } catch (Throwable t) {
            // fall through to the slow path, which fails closed
        }
        tracker.exit(token);
        if (tracker.tooDeep(token)) {
            throw rejection(refused(slot, Violation.DISPATCH_TOO_DEEP, -1, "nested dispatches on one thread"), -1, null);
        }
        Outcome o;
        try {
            o = admitSlowlyOrExplain(slot);
        } catch (Throwable t) {
            o = new Outcome(-1, Violation.SNAPSHOT_MISMATCH, -1, "check failed: " + t.getClass().getName());
        }
        if (o.token() >= 0) {
            return o.token();
        }
        throw rejection(refused(slot, o.violation(), o.offset(), o.detail()), o.offset(), o.detail());
    }

    private static TableRejectedException rejection(int code, long offset, String detail) {
        return new TableRejectedException(violationOf(code), offset, detail);
    }

    /**
     * Leaves the dispatch that {@code token} was returned for, and any frame of this thread above it
     * whose own exit never ran. Idempotent.
     */
    public void exit(int token) {
        tracker.exit(token);
    }

    /**
     * Accounts a throwing target; never throws itself. The table's first throw is audited at once, with
     * the exception's class, if there is the stack to do so; every other throw (and a first whose report
     * failed) is counted, and the count written with the table's next summary. The count comes last, so
     * nothing after it can fail and have the last resort count the same throw again.
     */
    public void targetThrew(int slot, Throwable thrown) {
        lastThrowClass = thrown.getClass();
        if (!firstThrowClaimed && FIRST_THROW.compareAndSet(this, false, true)) {
            try {
                owner.callbackThrew(slot, thrown);
                return;
            } catch (Throwable reportFailed) {
                // counted below instead
            }
        }
        throwsNotReported(slot);
        try {
            ledger().markPending();
        } catch (Throwable noStackLeft) {
            // the count is kept; the next summary or the close writes it
        }
    }

    /**
     * A trampoline caught {@code thrown} from its admitted branch: leaves the dispatch (again: the
     * {@code finally} exit may be what threw), then accounts the throw.
     */
    public void afterThrow(int token, int slot, Throwable thrown) {
        if (token >= 0) {
            tracker.exit(token);
        }
        targetThrew(slot, thrown);
    }

    /** The trampoline's last resort when {@link #afterThrow} failed (a stack overflow): count, then leave. */
    public void lastResort(int token, int slot) {
        throwsNotReported(slot);
        if (token >= 0) {
            tracker.exit(token);
        }
    }

    /** Reports a throwing refusal handler; never throws itself. */
    public void handlerThrew(int slot, Throwable thrown) {
        try {
            if (ledger().account(RefusalLedger.HANDLER_THREW)) {
                owner.refusalHandlerThrew(slot, thrown);
            }
        } catch (Throwable ignored) {
            throwsNotReported(slot);
        }
    }

    /** Counts one throw for the next summary: a single atomic add, no deeper call. */
    private void throwsNotReported(int slot) {
        UNREPORTED.getAndAdd(this, 1L);
    }

    private static final java.lang.invoke.VarHandle UNREPORTED;
    private static final java.lang.invoke.VarHandle FIRST_THROW;

    static {
        try {
            java.lang.invoke.MethodHandles.Lookup l = java.lang.invoke.MethodHandles.lookup();
            UNREPORTED = l.findVarHandle(DispatchGate.class, "unreportedThrows", long.class);
            FIRST_THROW = l.findVarHandle(DispatchGate.class, "firstThrowClaimed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile boolean firstThrowClaimed;
    private volatile Class<?> lastThrowClass;
    @SuppressWarnings("unused") // through UNREPORTED
    private volatile long unreportedThrows;
    private volatile RefusalLedger ledger;

    private RefusalLedger ledger() {
        RefusalLedger l = ledger;
        if (l == null) {
            synchronized (this) {
                l = ledger;
                if (l == null) {
                    l = new RefusalLedger(this::countsPending);
                    ledger = l;
                }
            }
        }
        return l;
    }

    private void countsPending() {
        try {
            owner.countsPending();
        } catch (Throwable ignored) {
            // the registry's final drain still writes the counts
        }
    }

    /**
     * Hands the calls counted since the last drain to {@code out}: refusals by violation, throws of
     * targets and of refusal handlers. Target throws carry the drain's time (counting them keeps no clock
     * reading, so that it still works on an exhausted stack).
     */
    public void drainCounts(RefusalLedger.Summary out) {
        RefusalLedger l = ledger;
        if (l != null) {
            l.clearPending();
        }
        long threw = (long) UNREPORTED.getAndSet(this, 0L);
        if (threw > 0) {
            java.time.Instant now = java.time.Instant.now();
            out.counted(RefusalLedger.TARGET_THREW, threw, now, now);
        }
        if (l != null) {
            l.drain(out);
        }
    }

    /**
     * The fast form of "the live table equals its verified snapshot": true without reading it while its
     * slab is sealed (no store can reach it without a system call, and it matched when the slab was
     * sealed), else the word-by-word compare.
     */
    private boolean unchanged() {
        TableMemory.Slab s = slab;
        return (s != null && s.sealed()) || liveMatches(snapshot);
    }

    /**
     * Compares the live table with its snapshot now, and quarantines it (audited) if they differ; called
     * by {@link TableMemory} when a write window of the table's slab closes.
     */
    synchronized void verifyNow() {
        try {
            if (state == TableState.OPEN && !liveMatches(snapshot)) {
                quarantineForTamper(snapshot);
            }
        } catch (Throwable t) {
            setState(TableState.QUARANTINED);   // fail closed
        }
    }

    /** What the dispatch tracker records for this gate: unique in the process, never 0. */
    long trackingId() {
        return trackingId;
    }

    /** The read-only slab the table is in, or null for a writable table. */
    public TableMemory.Slab slab() {
        return slab;
    }

    private boolean liveMatches(byte[] bytes) {
        int words = bytes.length / Long.BYTES;
        long[] compared = comparedBits;
        long difference = 0;
        if (compared == null) {
            for (int i = 0; i < words; i++) {
                difference |= live.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * Long.BYTES) ^ word(bytes, i);
            }
        } else {
            for (int i = 0; i < words; i++) {
                difference |= (live.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * Long.BYTES) ^ word(bytes, i)) & compared[i];
            }
        }
        for (int i = words * Long.BYTES; i < bytes.length; i++) {
            difference |= live.get(ValueLayout.JAVA_BYTE, i) ^ bytes[i];
        }
        return difference == 0;
    }

    /** What the slow path decided: a token (admitted) or a refusal. */
    private record Outcome(int token, Violation violation, long offset, String detail) {}

    private int admitSlowly(int slot) {
        Outcome o = admitSlowlyOrExplain(slot);
        return o.token() >= 0 ? o.token() : refused(slot, o.violation(), o.offset(), o.detail());
    }

    /**
     * Under the gate's lock, which every state change also takes: an admitted call re-enters the tracker
     * while the state cannot change. The refusal itself is accounted (and audited) by the caller,
     * outside the lock and outside the tracker.
     */
    private synchronized Outcome admitSlowlyOrExplain(int slot) {
        TableState s = state;
        if (s != TableState.OPEN) {
            return new Outcome(-1, s.refusal(), -1, null);
        }
        boolean matches = liveMatches(snapshot);
        if (matches && !fullCheckEveryCall) {
            return admitted(slot);   // a re-signing raced the fast check
        }
        byte[] liveCopy = live.toArray(ValueLayout.JAVA_BYTE);
        TableRejectedException failed = owner.fullCheck(liveCopy);
        if (failed == null && !matches) {
            failed = new TableRejectedException(Violation.SNAPSHOT_MISMATCH, firstDifference(liveCopy));
        }
        if (failed == null) {
            return admitted(slot);
        }
        setState(TableState.QUARANTINED);
        owner.quarantined(failed.violation(), failed.offset());
        return new Outcome(-1, failed.violation(), failed.offset(), null);
    }

    private Outcome admitted(int slot) {
        int token = tracker.enter(this);
        if (!tracker.tooDeep(token)) {
            return new Outcome(token, null, -1, null);
        }
        tracker.exit(token);
        return new Outcome(-1, Violation.DISPATCH_TOO_DEEP, -1, "nested dispatches on one thread");
    }

    private long firstDifference(byte[] liveCopy) {
        return firstDifference(liveCopy, snapshot);
    }

    /** The first offset where {@code liveCopy} and {@code verified} differ outside consumer-written words, or -1. */
    public long firstDifference(byte[] liveCopy, byte[] verified) {
        int length = Math.min(liveCopy.length, verified.length);
        for (int i = 0; i < length; i++) {
            if (compared(i / Long.BYTES) && liveCopy[i] != verified[i]) {
                return i;
            }
        }
        return liveCopy.length == verified.length ? -1 : length;
    }

    /**
     * Accounts one refused call: the table's first refusal for {@code violation} is audited before this
     * returns, later ones are counted for the table's next summary record. Fail-stop halts here.
     *
     * @return the refusal code for {@code violation}
     */
    private int refused(int slot, Violation violation, long offset, String detail) {
        if (ledger().account(violation.ordinal())) {
            owner.refused(slot, violation, offset, detail);
        }
        if (failStop) {
            owner.failStop(violation);
        }
        return refusalCode(violation);
    }

    /**
     * Moves the table out of {@link TableState#OPEN} and waits until no other thread is inside one of its
     * targets: when this returns, no target of the table starts again. For C callers entering through the
     * table's native entry thunks, {@link NativeEntry} says exactly what holds (a tail jump is not waited for).
     *
     * @return false if the table had already left OPEN (the first state change wins)
     */
    public boolean retire(TableState newState) {
        if (newState == TableState.OPEN) {
            throw new IllegalArgumentException("a table never returns to OPEN");
        }
        boolean changed;
        synchronized (this) {
            changed = state == TableState.OPEN || newState == TableState.REGISTRY_CLOSED;
            if (changed) {
                setState(newState);
            }
        }
        tracker.awaitQuiescence(this);
        return changed;
    }

    /**
     * Re-signs the table (key rotation): {@code resign} turns the verified snapshot into the re-signed
     * bytes, and only the words that differ (the header's epoch, checksum and signature) are written,
     * each by a compare-and-set from its verified value. Holding the gate's lock, so a dispatch that sees
     * the half-written table in the fast path re-checks here and waits.
     *
     * <p>Rotation never erases a tamper: a table that no longer matches its snapshot is quarantined and
     * audited first; a tamper of a word being rewritten that lands after that compare makes the
     * compare-and-set fail (the tampered word is left as it is, the table quarantined); one that lands
     * after a word was written differs from the new snapshot, which the compare after the writes catches
     * and later dispatches would. Consumer-written words are never written, nor is the memory of a table
     * that is no longer OPEN (only its snapshot is re-signed).
     */
    public synchronized void replace(java.util.function.UnaryOperator<byte[]> resign) {
        if (state == TableState.OPEN && !liveMatches(snapshot)) {
            quarantineForTamper(snapshot);
        }
        byte[] before = snapshot;
        byte[] resigned = resign.apply(before.clone());
        if (resigned.length != before.length) {
            throw new IllegalArgumentException("re-signing changed the table's size");
        }
        for (int i = resigned.length / Long.BYTES * Long.BYTES; i < resigned.length; i++) {
            if (resigned[i] != before[i]) {   // re-signing changes header words only; checked before any write
                throw new IllegalStateException("re-signing changed a byte past the last whole word");
            }
        }
        byte[] after = snapshotOf(resigned);
        if (state != TableState.OPEN) {
            // Nothing reads a retired table's memory (every call is refused on its state first): leave it
            // exactly as it is, a tamper's evidence included, and re-sign the snapshot alone.
            snapshot = after;
            return;
        }
        boolean tamperedUnderUs = false;
        for (int i = 0; i < after.length / Long.BYTES; i++) {
            long old = word(before, i);
            long now = word(after, i);
            if (old != now && compared(i)
                    && !WORD.compareAndSet(writable, (long) i * Long.BYTES, old, now)) {
                tamperedUnderUs = true;
            }
        }
        snapshot = after;
        if (state == TableState.OPEN && (tamperedUnderUs || !liveMatches(after))) {
            quarantineForTamper(after);
        }
    }

    /** Whether word {@code word} of the table is checked (every word but a consumer-written one; the tail bytes are). */
    private boolean compared(int word) {
        return comparedBits == null || word >= comparedBits.length || comparedBits[word] != 0;
    }

    private void quarantineForTamper(byte[] against) {
        byte[] liveCopy = live.toArray(ValueLayout.JAVA_BYTE);
        TableRejectedException failed = owner.fullCheck(liveCopy);
        if (failed == null) {
            failed = new TableRejectedException(Violation.SNAPSHOT_MISMATCH, firstDifference(liveCopy, against));
        }
        setState(TableState.QUARANTINED);
        owner.quarantined(failed.violation(), failed.offset());
    }

    /** The table as native code sees it (read-only pages for a read-only table). */
    public MemorySegment live() {
        return live;
    }
}
