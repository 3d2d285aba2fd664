package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The process's entry thunks and table state cells, in regions of memfd double mappings
 * ({@link CellRegions}): each cell is written once through a writable alias whose address stays here,
 * and read (thunks: executed) through a view that can never become writable. Cells are never reused:
 * {@link #release} frees a released table's cells, whose region retires (memory returned, addresses
 * reserved and inaccessible) once all its cells are freed, so a stale pointer never reaches another
 * table's target. Sizes: 128 B per native-slot thunk, 32 B per Java-slot thunk (64 B when the slot's
 * id travels in a vector register), 32 B state cell per table with native slots.
 *
 * <p>Thread-safe (allocation is synchronized; it runs at build and release time, never on a call path).
 */
public final class EntryThunks {
    static final long THUNK_SIZE = 128;
    private static final long COUNTER_CHUNK = 512 * Long.BYTES;

    private static final CellRegions NATIVE_THUNKS = new CellRegions(THUNK_SIZE, 512 * 1024, true);
    private static final CellRegions UPCALL_THUNKS = new CellRegions(32, 512 * 1024, true);
    private static final CellRegions WIDE_UPCALL_THUNKS = new CellRegions(64, 512 * 1024, true);
    private static final CellRegions STATE_CELLS = new CellRegions(NativeEntry.STATE_CELL_SIZE, 64 * 1024, false);
    private static MemorySegment counters;
    private static long countersUsed;

    private EntryThunks() {}

    /** A fresh state cell and refusal counter for one table; its word refuses until the gate is sealed. */
    public static synchronized NativeEntry newEntry() {
        TabguardLibrary lib = TabguardLibrary.get();
        if (counters == null || countersUsed + Long.BYTES > COUNTER_CHUNK) {
            counters = Arena.global().allocate(COUNTER_CHUNK, 64);
            countersUsed = 0;
        }
        CellRegions.Cell cell = STATE_CELLS.allocate();
        MemorySegment counter = counters.asSlice(countersUsed, Long.BYTES);
        countersUsed += Long.BYTES;
        return new NativeEntry(NativeAccess.view(cell.writable(), NativeEntry.STATE_CELL_SIZE),
                cell.view(), counter, lib.refusalEntry());
    }

    /**
     * A thunk in front of {@code target} for a table with entry {@code entry}: it jumps to the target
     * while the table's state word says OPEN and otherwise returns {@code refusalBits} (in rax and xmm0)
     * through the refusal entry, counted. Call {@link #publish()} before handing the address out.
     *
     * @param target the function's address, which the caller resolved from an allow-listed library
     * @return the thunk's address in the read+execute view
     */
    public static long mint(NativeEntry entry, long target, long refusalBits) {
        CellRegions.Cell cell = NATIVE_THUNKS.allocate();
        TabguardLibrary.get().writeThunk(cell.writable(), cell.view(), entry.stateCellView(), target, refusalBits);
        return cell.view();
    }

    /**
     * A Java-target thunk (see {@link SharedUpcalls}): puts {@code recordId} in argument register
     * {@code idRegister} and jumps to {@code stub}. Call {@link #publish()} before handing it out.
     *
     * @return the thunk's address in the read+execute view
     */
    static long mintUpcall(long recordId, int idRegister, long stub) {
        CellRegions.Cell cell = (idRegister >= SharedUpcalls.VECTOR_REGISTER ? WIDE_UPCALL_THUNKS : UPCALL_THUNKS).allocate();
        TabguardLibrary.get().writeUpcallThunk(cell.writable(), cell.view(), recordId, idRegister, stub);
        return cell.view();
    }

    /** Frees a Java-target thunk minted with {@code idRegister}; its table was released. */
    static void freeUpcall(long thunk, int idRegister) {
        (idRegister >= SharedUpcalls.VECTOR_REGISTER ? WIDE_UPCALL_THUNKS : UPCALL_THUNKS).free(thunk);
    }

    /**
     * Frees a released table's native-slot thunks and its state cell. The state word must already
     * refuse (the table left OPEN): until their region retires, a stale call through one of the thunks is
     * refused (and counted where nobody reads it); after, it faults. The state cell is freed only once
     * every region holding one of the table's thunks has retired: a thunk reads it on every call, and
     * freed first its region could retire while the thunk's page still serves other tables, turning a
     * stale call that should be refused into a fault.
     */
    public static void release(NativeEntry entry, long[] thunks) {
        long stateCell = entry.stateCellView();
        NATIVE_THUNKS.freeAll(thunks, () -> STATE_CELLS.free(stateCell));
    }

    /** Regions (of all kinds) mapped now, for footprint tests. */
    public static int liveRegions() {
        return NATIVE_THUNKS.liveRegions() + UPCALL_THUNKS.liveRegions() + WIDE_UPCALL_THUNKS.liveRegions()
                + STATE_CELLS.liveRegions();
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
