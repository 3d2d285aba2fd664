package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The process's native entry thunks (128 bytes each) and table state cells (32 bytes each), packed into
 * pages of two memfd double mappings: each is written once through a writable alias whose address
 * stays here, and read (thunks: executed) through a view that can never become writable. Nothing is
 * ever unmapped or reused: a thunk whose table is gone refuses for the life of the process, so a stale
 * pointer never reaches another table's target (the price: 128 B per native slot, 32 B per Java slot
 * and 40 B per table with native slots, never given back — release is a later step of issue 16).
 *
 * <p>Thread-safe (allocation is synchronized; it runs at build time, never on a call path).
 */
public final class EntryThunks {
    static final long THUNK_SIZE = 128;
    private static final long THUNK_REGION = 512 * 1024;        // 4,096 thunks per mapping
    private static final long STATE_REGION = 64 * 1024;         // 2,048 state cells per mapping
    private static final long COUNTER_CHUNK = 512 * Long.BYTES;

    private static TabguardLibrary.DualMapping thunks;
    private static long thunksUsed;
    private static final long UPCALL_THUNK_REGION = 2 * 1024 * 1024;   // 65,536 Java-target thunks per mapping
    private static TabguardLibrary.DualMapping upcallThunks;
    private static long upcallThunksUsed;
    private static TabguardLibrary.DualMapping states;
    private static long statesUsed;
    private static MemorySegment counters;
    private static long countersUsed;

    private EntryThunks() {}

    /** A fresh state cell and refusal counter for one table; its word refuses until the gate is sealed. */
    public static synchronized NativeEntry newEntry() {
        TabguardLibrary lib = TabguardLibrary.get();
        if (states == null || statesUsed + NativeEntry.STATE_CELL_SIZE > states.size()) {
            states = lib.dualMapping(STATE_REGION, false);
            statesUsed = 0;
        }
        if (counters == null || countersUsed + Long.BYTES > COUNTER_CHUNK) {
            counters = Arena.global().allocate(COUNTER_CHUNK, 64);
            countersUsed = 0;
        }
        long offset = statesUsed;
        statesUsed += NativeEntry.STATE_CELL_SIZE;
        MemorySegment counter = counters.asSlice(countersUsed, Long.BYTES);
        countersUsed += Long.BYTES;
        return new NativeEntry(NativeAccess.view(states.writable() + offset, NativeEntry.STATE_CELL_SIZE),
                states.view() + offset, counter, lib.refusalEntry());
    }

    /**
     * A thunk in front of {@code target} for a table with entry {@code entry}: it jumps to the target
     * while the table's state word says OPEN and otherwise returns {@code refusalBits} (in rax and xmm0)
     * through the refusal entry, counted. Call {@link #publish()} before handing the address out.
     *
     * @param target the function's address, which the caller resolved from an allow-listed library
     * @return the thunk's address in the read+execute view
     */
    public static synchronized long mint(NativeEntry entry, long target, long refusalBits) {
        TabguardLibrary lib = TabguardLibrary.get();
        if (thunks == null || thunksUsed + THUNK_SIZE > thunks.size()) {
            thunks = lib.dualMapping(THUNK_REGION, true);
            thunksUsed = 0;
        }
        long offset = thunksUsed;
        lib.writeThunk(thunks.writable() + offset, thunks.view() + offset, entry.stateCellView(), target, refusalBits);
        thunksUsed += THUNK_SIZE;
        return thunks.view() + offset;
    }

    /**
     * A Java-target thunk (32 bytes, see {@link SharedUpcalls}): loads {@code recordId} into integer argument
     * register {@code freeRegister} and jumps to {@code stub}. Call {@link #publish()} before handing it out.
     *
     * @return the thunk's address in the read+execute view
     */
    static synchronized long mintUpcall(long recordId, int freeRegister, long stub) {
        TabguardLibrary lib = TabguardLibrary.get();
        long size = TabguardLibrary.UPCALL_THUNK_SIZE;
        if (upcallThunks == null || upcallThunksUsed + size > upcallThunks.size()) {
            upcallThunks = lib.dualMapping(UPCALL_THUNK_REGION, true);
            upcallThunksUsed = 0;
        }
        long offset = upcallThunksUsed;
        lib.writeUpcallThunk(upcallThunks.writable() + offset, upcallThunks.view() + offset, recordId, freeRegister, stub);
        upcallThunksUsed += size;
        return upcallThunks.view() + offset;
    }

    /** Makes thunks written so far safe to execute on every thread (membarrier SYNC_CORE). */
    public static void publish() {
        TabguardLibrary.get().publishCode();
    }

    /**
     * The 64-bit pattern a refused call returns for a refusal value boxed in its carrier (Integer,
     * Long, Float, Double, MemorySegment.NULL, ...); narrower integers are sign-extended, floats sit in
     * the low 32 bits as the SysV ABI returns them.
     */
    public static long refusalBits(Object refusal) {
        return switch (refusal) {
            case null -> 0L;
            case Byte v -> v;
            case Short v -> v;
            case Character v -> v;
            case Integer v -> v;
            case Long v -> v;
            case Boolean v -> v ? 1L : 0L;
            case Float v -> Float.floatToRawIntBits(v) & 0xFFFF_FFFFL;
            case Double v -> Double.doubleToRawLongBits(v);
            case MemorySegment v -> v.address();
            default -> throw new IllegalArgumentException("no native refusal value for a " + refusal.getClass().getName());
        };
    }
}
