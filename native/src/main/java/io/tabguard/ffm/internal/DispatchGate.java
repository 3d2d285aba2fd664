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

    /**
     * The verified bytes, also as little-endian words: the per-call compare reads 8 bytes at a time.
     * Consumer-written words are zero here (as the checksum and signature count them).
     */
    private record Snapshot(byte[] bytes, MemorySegment segment, long[] words) {}

    private static final java.lang.invoke.VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment live;
    private final MemorySegment writable;
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
    private volatile Snapshot snapshot;

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
        if (writable.byteSize() != live.byteSize() || live.address() % Long.BYTES != 0 || writable.address() % Long.BYTES != 0) {
            throw new IllegalArgumentException("live and writable views must be the same size and 8-byte aligned");
        }
        this.live = live;
        this.writable = writable;
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

    /** Opens the gate on the stamped bytes, which become the verified snapshot. */
    public synchronized void seal(byte[] stampedBytes) {
        if (stampedBytes.length != live.byteSize()) {
            throw new IllegalArgumentException("snapshot and live table differ in size");
        }
        snapshot = snapshotOf(stampedBytes);
        state = TableState.OPEN;
    }

    private static Snapshot snapshotOf(byte[] bytes) {
        byte[] copy = bytes.clone();
        MemorySegment segment = MemorySegment.ofArray(copy);
        long[] words = new long[copy.length / Long.BYTES];
        for (int i = 0; i < words.length; i++) {
            words[i] = segment.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * Long.BYTES);
        }
        return new Snapshot(copy, segment, words);
    }

    public TableState state() {
        return state;
    }

    /** A copy of the verified snapshot. */
    public byte[] snapshotBytes() {
        return snapshot.bytes().clone();
    }

    /** The pointer-sized value at {@code tableOffset} of the verified snapshot (never of the live table). */
    public long snapshotWord(long tableOffset) {
        return snapshot.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, tableOffset);
    }

    /** Admits a native → Java call through {@code slot}; on {@code false} the caller returns the refusal value. */
    public boolean enter(int slot) {
        tracker.enter(this);
        try {
            if (state == TableState.OPEN && !fullCheckEveryCall && liveMatches(snapshot)) {
                return true;
            }
            if (admitSlowly(slot)) {
                return true;
            }
        } catch (Throwable t) {
            // Fail closed: whatever went wrong, this call is refused.
        }
        tracker.exit();
        return false;
    }

    /** {@link #enter(int)}, plus the slot's context argument must be the bound address. */
    public boolean enterWithPayloadContext(int slot, MemorySegment argument) {
        return enterWithContext(slot, argument, payloadAddress);
    }

    public boolean enterWithRegisteredContext(int slot, MemorySegment argument) {
        return enterWithContext(slot, argument, contextAddress);
    }

    private boolean enterWithContext(int slot, MemorySegment argument, long expected) {
        if (!enter(slot)) {
            return false;
        }
        if (argument.address() == expected) {
            return true;
        }
        tracker.exit();
        refuse(slot, Violation.CONTEXT_MISMATCH, -1, "argument is not the table's bound context");
        return false;
    }

    /** Admits a Java → native call, or throws the refusal. On return the caller must {@link #exit()}. */
    public void enterOrThrow(int slot) {
        tracker.enter(this);
        try {
            if (state == TableState.OPEN && !fullCheckEveryCall && liveMatches(snapshot)) {
                return;
            }
        } catch (Throwable t) {
            // fall through to the slow path, which fails closed
        }
        enterOrThrowSlowly(slot);
    }

    private void enterOrThrowSlowly(int slot) {
        TableRejectedException refusal;
        try {
            refusal = admitSlowlyOrExplain(slot);
            if (refusal == null) {
                return;
            }
        } catch (Throwable t) {
            refusal = new TableRejectedException(Violation.SNAPSHOT_MISMATCH, -1, "check failed: " + t.getClass().getName());
        }
        tracker.exit();
        throw refusal;
    }

    /** Leaves a dispatch admitted by one of the {@code enter} methods. */
    public void exit() {
        tracker.exit();
    }

    /** Reports a throwing target; never throws itself. */
    public void targetThrew(int slot, Throwable thrown) {
        try {
            owner.callbackThrew(slot, thrown);
        } catch (Throwable ignored) {
            // The upcall must return its refusal value whatever happens here.
        }
    }

    private boolean liveMatches(Snapshot s) {
        long[] words = s.words();
        long[] compared = comparedBits;
        long difference = 0;
        if (compared == null) {
            for (int i = 0; i < words.length; i++) {
                difference |= live.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * Long.BYTES) ^ words[i];
            }
        } else {
            for (int i = 0; i < words.length; i++) {
                difference |= (live.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * Long.BYTES) ^ words[i]) & compared[i];
            }
        }
        byte[] bytes = s.bytes();
        for (int i = words.length * Long.BYTES; i < bytes.length; i++) {
            difference |= live.get(ValueLayout.JAVA_BYTE, i) ^ bytes[i];
        }
        return difference == 0;
    }

    private boolean admitSlowly(int slot) {
        TableRejectedException refusal = admitSlowlyOrExplain(slot);
        return refusal == null;
    }

    private synchronized TableRejectedException admitSlowlyOrExplain(int slot) {
        TableState s = state;
        if (s != TableState.OPEN) {
            return refuse(slot, s.refusal(), -1, null);
        }
        boolean matches = liveMatches(snapshot);
        if (matches && !fullCheckEveryCall) {
            return null;   // a re-signing raced the fast check and has finished
        }
        byte[] liveCopy = live.toArray(ValueLayout.JAVA_BYTE);
        TableRejectedException failed = owner.fullCheck(liveCopy);
        if (failed == null && !matches) {
            failed = new TableRejectedException(Violation.SNAPSHOT_MISMATCH, firstDifference(liveCopy));
        }
        if (failed == null) {
            return null;
        }
        state = TableState.QUARANTINED;
        owner.quarantined(failed.violation(), failed.offset());
        return refuse(slot, failed.violation(), failed.offset(), null);
    }

    private long firstDifference(byte[] liveCopy) {
        return firstDifference(liveCopy, snapshot.bytes());
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

    private TableRejectedException refuse(int slot, Violation violation, long offset, String detail) {
        owner.refused(slot, violation, offset, detail);
        if (failStop) {
            owner.failStop(violation);
        }
        return new TableRejectedException(violation, offset, detail);
    }

    /**
     * Moves the table out of {@link TableState#OPEN} and waits until no other thread is inside one of its
     * targets: when this returns, no target of the table starts again.
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
                state = newState;
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
        Snapshot before = snapshot;
        byte[] resigned = resign.apply(before.bytes().clone());
        if (resigned.length != before.bytes().length) {
            throw new IllegalArgumentException("re-signing changed the table's size");
        }
        for (int i = resigned.length / Long.BYTES * Long.BYTES; i < resigned.length; i++) {
            if (resigned[i] != before.bytes()[i]) {   // re-signing changes header words only; checked before any write
                throw new IllegalStateException("re-signing changed a byte past the last whole word");
            }
        }
        Snapshot after = snapshotOf(resigned);
        if (state != TableState.OPEN) {
            // Nothing reads a retired table's memory (every call is refused on its state first): leave it
            // exactly as it is, a tamper's evidence included, and re-sign the snapshot alone.
            snapshot = after;
            return;
        }
        boolean tamperedUnderUs = false;
        for (int i = 0; i < after.words().length; i++) {
            long old = before.words()[i];
            long now = after.words()[i];
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

    private void quarantineForTamper(Snapshot against) {
        byte[] liveCopy = live.toArray(ValueLayout.JAVA_BYTE);
        TableRejectedException failed = owner.fullCheck(liveCopy);
        if (failed == null) {
            failed = new TableRejectedException(Violation.SNAPSHOT_MISMATCH, firstDifference(liveCopy, against.bytes()));
        }
        state = TableState.QUARANTINED;
        owner.quarantined(failed.violation(), failed.offset());
    }

    /** The table as native code sees it (read-only pages for a read-only table). */
    public MemorySegment live() {
        return live;
    }
}
