package io.tabguard.ffm.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The process's Java slots as their shared upcall stubs find them: one record per table, holding the
 * table's gate and, per slot, the slot's shape, target, refusal handler and refusal value. A Java-target
 * entry thunk carries a record id, {@code (generation << 40) | (slot << 27) | index}, and the stub's Java
 * side looks the table up here by index and the slot's parts by slot. One record per table rather than
 * per slot: a million 8-slot tables held eight million 40-byte records and their ids.
 *
 * <p>An index is reused after {@link #release}, under a new generation: a thunk still carrying the old
 * id (a stale pointer a consumer kept) no longer matches and resolves to its shape's refusing record,
 * never to the table that now holds the index. A generation wraps after 2<sup>24</sup> reuses of one
 * index; a stale id must then also name a slot of the same shape to reach the new table.
 *
 * <p>Thread-safe: {@link #resolve} takes no lock and allocates nothing (it runs on every call);
 * reserving, publishing and releasing are synchronized.
 */
final class SlotRecords {
    static final int INDEX_BITS = 27;
    static final int SLOT_BITS = 13;
    private static final int GENERATION_SHIFT = INDEX_BITS + SLOT_BITS;
    private static final int INDEX_MASK = (1 << INDEX_BITS) - 1;
    private static final int SLOT_MASK = (1 << SLOT_BITS) - 1;
    private static final int GENERATION_MASK = (1 << (Long.SIZE - GENERATION_SHIFT)) - 1;
    /** Parts per slot in {@link TableRecord#parts}: shape, target, handler, refusal. */
    private static final int PARTS = 4;

    /**
     * One table's Java slots. {@code parts[4 * slot ...]} is the slot's shape (null for a slot without a
     * shared-stub entry), target, handler and refusal; never written after the record is published. A
     * shape's refusing record ({@code stale}) has one slot's parts and answers for any slot.
     */
    static final class TableRecord {
        final DispatchGate gate;
        final Object[] parts;
        final int generation;
        final boolean stale;

        TableRecord(DispatchGate gate, Object[] parts, int generation, boolean stale) {
            this.gate = gate;
            this.parts = parts;
            this.generation = generation;
            this.stale = stale;
        }

        /** A shape's refusing record: its one slot is reported as -1. */
        static TableRecord refusing(Object shape, DispatchGate gate, MethodHandle target, MethodHandle handler, Object refusal) {
            return new TableRecord(gate, new Object[]{shape, target, handler, refusal}, -1, true);
        }

        private int base(long id) {
            return stale ? 0 : PARTS * slotOf(id);
        }

        DispatchGate gate(long id) {
            return gate;
        }

        int slot(long id) {
            return stale ? -1 : slotOf(id);
        }

        MethodHandle target(long id) {
            return (MethodHandle) parts[base(id) + 1];
        }

        MethodHandle handler(long id) {
            return (MethodHandle) parts[base(id) + 2];
        }

        Object refusal(long id) {
            return parts[base(id) + 3];
        }
    }

    private static int slotOf(long id) {
        return (int) (id >>> INDEX_BITS) & SLOT_MASK;
    }

    private static final int CHUNK_BITS = 12;
    private static final int CHUNK = 1 << CHUNK_BITS;
    private static final VarHandle ELEMENT = MethodHandles.arrayElementVarHandle(TableRecord[].class);

    /** Chunks of records by index; a chunk, once made, never moves, so a reader needs no lock. */
    private static volatile TableRecord[][] chunks = new TableRecord[16][];
    /** The generation the next record at each index gets; writer side only. */
    private static int[][] generations = new int[16][];
    private static int nextFresh;
    private static int[] freeIndices = new int[64];
    private static int freeCount;

    private SlotRecords() {}

    /**
     * The table whose slot {@code id} names, if that slot belongs to {@code shape}, else {@code stale}.
     * Never throws.
     */
    static TableRecord resolve(Object shape, TableRecord stale, long id) {
        int index = (int) id & INDEX_MASK;
        TableRecord[][] c = chunks;
        int chunk = index >>> CHUNK_BITS;
        if (chunk < c.length) {
            TableRecord[] records = c[chunk];
            if (records != null) {
                TableRecord r = (TableRecord) ELEMENT.getAcquire(records, index & (CHUNK - 1));
                int at = PARTS * slotOf(id);
                if (r != null && r.generation == (int) (id >>> GENERATION_SHIFT) && at < r.parts.length && r.parts[at] == shape) {
                    return r;
                }
            }
        }
        return stale;
    }


    /**
     * A table's record while its slots are bound: an index and generation (so the slots' ids are known
     * before their thunks are written) and the parts, filled by {@link #bind}. Nothing resolves to it
     * before {@link #publish}; {@link #abandon} gives the index back if the table is never built.
     * Confined to the building thread.
     */
    static final class Reservation {
        private final DispatchGate gate;
        private final int index;
        private final int generation;
        private final Object[] parts;
        private boolean done;

        private Reservation(DispatchGate gate, int index, int generation, int slots) {
            this.gate = gate;
            this.index = index;
            this.generation = generation;
            this.parts = new Object[PARTS * slots];
        }

        /** The id a thunk of slot {@code slot} carries. */
        long idOf(int slot) {
            return ((long) generation << GENERATION_SHIFT) | ((long) slot << INDEX_BITS) | index;
        }

        /** The id {@link #release} takes: the table's (slot 0's). */
        long tableId() {
            return idOf(0);
        }

        /** The shapes bound so far, by slot (null for a slot without an entry). */
        Object[] shapes() {
            return shapesIn(parts);
        }

        void bind(int slot, Object shape, MethodHandle target, MethodHandle handler, Object refusal) {
            int at = PARTS * slot;
            parts[at] = shape;
            parts[at + 1] = target;
            parts[at + 2] = handler;
            parts[at + 3] = refusal;
        }
    }

    /** Reserves an index for a table of {@code slots} slots. */
    static synchronized Reservation reserve(DispatchGate gate, int slots) {
        if (slots <= 0 || slots > SLOT_MASK + 1) {
            throw new IllegalArgumentException(slots + " slots");
        }
        int index;
        if (freeCount > 0) {
            index = freeIndices[--freeCount];
        } else {
            if (nextFresh > INDEX_MASK) {
                throw new IllegalStateException("2^" + INDEX_BITS + " tables with Java slots are live at once");
            }
            index = nextFresh++;
        }
        int chunk = index >>> CHUNK_BITS;
        TableRecord[][] c = chunks;
        if (chunk >= c.length) {
            c = Arrays.copyOf(c, c.length * 2);
            generations = Arrays.copyOf(generations, c.length);
        }
        if (c[chunk] == null) {
            c[chunk] = new TableRecord[CHUNK];
            generations[chunk] = new int[CHUNK];
        }
        chunks = c;   // volatile: the grown outer array (and the new chunk) before any record in it
        return new Reservation(gate, index, generations[chunk][index & (CHUNK - 1)], slots);
    }

    /** Makes a reserved table resolvable on every thread once this returns; returns its {@link Reservation#tableId()}. */
    static synchronized long publish(Reservation r) {
        if (r.done) {
            throw new IllegalStateException("published or abandoned already");
        }
        r.done = true;
        ELEMENT.setRelease(chunks[r.index >>> CHUNK_BITS], r.index & (CHUNK - 1),
                new TableRecord(r.gate, r.parts, r.generation, false));
        return r.tableId();
    }

    /** Gives back the index of a table that will not be built (no thunk of it was handed out); idempotent. */
    static synchronized void abandon(Reservation r) {
        if (!r.done) {
            r.done = true;
                free(r.index, r.generation);
        }
    }

    /**
     * Forgets the table registered under {@code tableId} (no-op if it is not live): calls carrying one of
     * its ids are refused from now on, and the index is free for a later table under the next generation.
     */
    static synchronized void release(long tableId) {
        int index = (int) tableId & INDEX_MASK;
        int chunk = index >>> CHUNK_BITS;
        TableRecord[][] c = chunks;
        if (chunk >= c.length || c[chunk] == null) {
            return;
        }
        int at = index & (CHUNK - 1);
        TableRecord r = (TableRecord) ELEMENT.getAcquire(c[chunk], at);
        if (r == null || r.generation != (int) (tableId >>> GENERATION_SHIFT)) {
            return;
        }
        ELEMENT.setRelease(c[chunk], at, (TableRecord) null);
        free(index, r.generation);
    }

    private static void free(int index, int generation) {
        generations[index >>> CHUNK_BITS][index & (CHUNK - 1)] = (generation + 1) & GENERATION_MASK;
        if (freeCount == freeIndices.length) {
            freeIndices = Arrays.copyOf(freeIndices, freeCount * 2);
        }
        freeIndices[freeCount++] = index;
    }

    /**
     * The shapes of the slots of the live table registered under {@code tableId}, by slot (null for a slot
     * without a shared-stub entry), or null if it is not live.
     */
    static synchronized Object[] shapesOf(long tableId) {
        int index = (int) tableId & INDEX_MASK;
        int chunk = index >>> CHUNK_BITS;
        TableRecord[][] c = chunks;
        if (chunk >= c.length || c[chunk] == null) {
            return null;
        }
        TableRecord r = c[chunk][index & (CHUNK - 1)];
        if (r == null || r.generation != (int) (tableId >>> GENERATION_SHIFT)) {
            return null;
        }
        return shapesIn(r.parts);
    }

    /** Each slot's shape out of a record's parts, by slot. */
    private static Object[] shapesIn(Object[] parts) {
        Object[] shapes = new Object[parts.length / PARTS];
        for (int slot = 0; slot < shapes.length; slot++) {
            shapes[slot] = parts[PARTS * slot];
        }
        return shapes;
    }

}
