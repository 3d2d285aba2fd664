package io.tabguard.ffm.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The process's Java slots as their shared upcall stubs find them: a Java-target entry thunk carries a
 * record id, {@code (generation << 32) | index}, and the stub's Java side looks the slot up here.
 *
 * <p>An index is reused after {@link #release}, under a new generation: a thunk still carrying the old
 * id (a stale pointer a consumer kept) no longer matches and resolves to its shape's refusing record,
 * never to the slot that now holds the index. A generation wraps after 2<sup>32</sup> reuses of one index.
 *
 * <p>Thread-safe: {@link #resolve} takes no lock and allocates nothing (it runs on every call);
 * registering and releasing are synchronized.
 */
final class SlotRecords {
    /** One Java slot: what the template of its shape needs, and the id it was registered under. */
    record SlotRecord(Object shape, DispatchGate gate, int slot, MethodHandle target, MethodHandle handler,
                      Object refusal, int generation) {}

    private static final int CHUNK_BITS = 12;
    private static final int CHUNK = 1 << CHUNK_BITS;
    private static final VarHandle ELEMENT = MethodHandles.arrayElementVarHandle(SlotRecord[].class);

    /** Chunks of records by index; a chunk, once made, never moves, so a reader needs no lock. */
    private static volatile SlotRecord[][] chunks = new SlotRecord[16][];
    /** The generation the next record at each index gets; writer side only. */
    private static int[][] generations = new int[16][];
    private static int nextFresh;
    private static int[] freeIndices = new int[64];
    private static int freeCount;

    private SlotRecords() {}

    /**
     * The slot registered under {@code id} if it belongs to {@code shape}, else {@code stale}. Never throws.
     */
    static SlotRecord resolve(Object shape, SlotRecord stale, long id) {
        int index = (int) id;
        SlotRecord[][] c = chunks;
        int chunk = index >>> CHUNK_BITS;
        if (chunk < c.length) {
            SlotRecord[] records = c[chunk];
            if (records != null) {
                SlotRecord r = (SlotRecord) ELEMENT.getAcquire(records, index & (CHUNK - 1));
                if (r != null && r.shape() == shape && r.generation() == (int) (id >>> 32)) {
                    return r;
                }
            }
        }
        STALE_CALLS.increment();
        return stale;
    }

    private static final java.util.concurrent.atomic.LongAdder STALE_CALLS = new java.util.concurrent.atomic.LongAdder();

    /** Calls that resolved to a refusing record since the process started. */
    static long staleCalls() {
        return STALE_CALLS.sum();
    }

    /** What a slot's parts are, before it has an id. */
    record Parts(Object shape, DispatchGate gate, int slot, MethodHandle target, MethodHandle handler, Object refusal) {}

    /** Registers a slot; returns its id. Visible to {@link #resolve} on every thread once this returns. */
    static synchronized long register(Parts p) {
        int index;
        if (freeCount > 0) {
            index = freeIndices[--freeCount];
        } else {
            if (nextFresh == Integer.MAX_VALUE) {
                throw new IllegalStateException("2^31 Java slots are live at once");
            }
            index = nextFresh++;
        }
        int chunk = index >>> CHUNK_BITS;
        SlotRecord[][] c = chunks;
        if (chunk >= c.length) {
            c = Arrays.copyOf(c, c.length * 2);
            generations = Arrays.copyOf(generations, c.length);
        }
        if (c[chunk] == null) {
            c[chunk] = new SlotRecord[CHUNK];
            generations[chunk] = new int[CHUNK];
        }
        chunks = c;   // volatile: the grown outer array (and the new chunk) before the record
        int generation = generations[chunk][index & (CHUNK - 1)];
        SlotRecord r = new SlotRecord(p.shape(), p.gate(), p.slot(), p.target(), p.handler(), p.refusal(), generation);
        ELEMENT.setRelease(c[chunk], index & (CHUNK - 1), r);
        return ((long) generation << 32) | index;
    }

    /**
     * Forgets the slot registered under {@code id} (no-op if it is not live): calls carrying the id are
     * refused from now on, and the index is free for a later slot under the next generation.
     */
    static synchronized void release(long id) {
        int index = (int) id;
        int chunk = index >>> CHUNK_BITS;
        SlotRecord[][] c = chunks;
        if (index < 0 || chunk >= c.length || c[chunk] == null) {
            return;
        }
        int at = index & (CHUNK - 1);
        SlotRecord r = (SlotRecord) ELEMENT.getAcquire(c[chunk], at);
        if (r == null || r.generation() != (int) (id >>> 32)) {
            return;
        }
        ELEMENT.setRelease(c[chunk], at, (SlotRecord) null);
        generations[chunk][at] = r.generation() + 1;
        if (freeCount == freeIndices.length) {
            freeIndices = Arrays.copyOf(freeIndices, freeCount * 2);
        }
        freeIndices[freeCount++] = index;
    }

    /** The shape of the live record registered under {@code id}, or null. */
    static synchronized Object shapeOf(long id) {
        int index = (int) id;
        int chunk = index >>> CHUNK_BITS;
        SlotRecord[][] c = chunks;
        if (index < 0 || chunk >= c.length || c[chunk] == null) {
            return null;
        }
        SlotRecord r = c[chunk][index & (CHUNK - 1)];
        return r != null && r.generation() == (int) (id >>> 32) ? r.shape() : null;
    }

    /** Live records (for tests and footprint measurements). */
    static synchronized int live() {
        return nextFresh - freeCount;
    }
}
