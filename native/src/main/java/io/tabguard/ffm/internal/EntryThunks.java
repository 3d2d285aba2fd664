package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The process's entry thunks and table state cells, in regions of memfd double mappings
 * ({@link CellRegions}): each cell is written once through a writable alias whose address stays here,
 * and read (thunks: executed) through a view that can never become writable. Cells are never reused:
 * {@link #release} frees a released table's cells, whose region retires (memory returned, addresses
 * reserved and inaccessible) once all its cells are freed, so a stale pointer never reaches another
 * table's target. Sizes: 128 B per native-slot thunk (256 B with a context check), 32 B per Java-slot thunk (64 B when the slot's
 * id travels in a vector register), 32 B state cell per table with native slots.
 *
 * <p>Thread-safe (allocation is synchronized; it runs at build and release time, never on a call path).
 */
public final class EntryThunks {
    static final long THUNK_SIZE = 128;
    private static final long COUNTER_CHUNK = 512 * Long.BYTES;
    private static final long COUNTERS_PER_TABLE = 2 * Long.BYTES;
    static final long CONTEXT_THUNK_SIZE = 256;

    private static final CellRegions NATIVE_THUNKS = new CellRegions(THUNK_SIZE, 512 * 1024, true);
    private static final CellRegions CONTEXT_THUNKS = new CellRegions(CONTEXT_THUNK_SIZE, 512 * 1024, true);
    private static final CellRegions UPCALL_THUNKS = new CellRegions(32, 512 * 1024, true);
    private static final CellRegions WIDE_UPCALL_THUNKS = new CellRegions(64, 512 * 1024, true);
    private static final CellRegions GUARD_ENTRIES = new CellRegions(128, 64 * 1024, true);
    private static final CellRegions STATE_CELLS = new CellRegions(NativeEntry.STATE_CELL_SIZE, 64 * 1024, false);
    private static MemorySegment counters;
    private static long countersUsed;

    private EntryThunks() {}

    /** A fresh state cell and refusal counter for one table; its word refuses until the gate is sealed. */
    public static synchronized NativeEntry newEntry() {
        TabguardLibrary lib = TabguardLibrary.get();
        if (counters == null || countersUsed + COUNTERS_PER_TABLE > COUNTER_CHUNK) {
            counters = Arena.global().allocate(COUNTER_CHUNK, 64);
            countersUsed = 0;
        }
        CellRegions.Cell cell = STATE_CELLS.allocate();
        try {
            MemorySegment counter = counters.asSlice(countersUsed, COUNTERS_PER_TABLE);
            countersUsed += COUNTERS_PER_TABLE;
            return new NativeEntry(NativeAccess.view(cell.writable(), NativeEntry.STATE_CELL_SIZE),
                    cell.view(), counter, lib.refusalEntry(), lib.contextRefusalEntry());
        } finally {
            STATE_CELLS.doneWriting(cell.view());
        }
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
        try {
            TabguardLibrary.get().writeThunk(cell.writable(), cell.view(), entry.stateCellView(), target, refusalBits);
        } catch (RuntimeException | Error e) {
            abandon(NATIVE_THUNKS, cell);
            throw e;
        }
        return cell.view();
    }

    /**
     * The SysV integer argument register (0 = rdi ... 5 = r9) argument {@code argument} of
     * {@code descriptor} arrives in, or -1 if it is not an integer-class scalar among the first six
     * (a struct before it, or more integer arguments, would move it; a thunk can only compare a register).
     */
    public static int integerRegisterOf(java.lang.foreign.FunctionDescriptor descriptor, int argument) {
        var arguments = descriptor.argumentLayouts();
        if (argument < 0 || argument >= arguments.size()) {
            return -1;
        }
        int integers = 0;
        for (int i = 0; i <= argument; i++) {
            if (!(arguments.get(i) instanceof java.lang.foreign.ValueLayout v)) {
                return -1;
            }
            boolean floating = v.carrier() == float.class || v.carrier() == double.class;
            if (i == argument) {
                return floating || integers >= 6 ? -1 : integers;
            }
            if (!floating) {
                integers++;
            }
        }
        return -1;
    }

    /**
     * {@link #mint}, plus a context check: the thunk refuses (counted apart, see
     * {@link NativeEntry#drainContextRefusals}) a call whose integer argument register
     * {@code contextRegister} (0 = rdi ... 5 = r9) does not hold {@code context}.
     */
    public static long mintWithContext(NativeEntry entry, long target, long refusalBits, int contextRegister, long context) {
        CellRegions.Cell cell = CONTEXT_THUNKS.allocate();
        try {
            TabguardLibrary.get().writeContextThunk(cell.writable(), cell.view(), entry.stateCellView(), target, refusalBits,
                    contextRegister, context);
        } catch (RuntimeException | Error e) {
            abandon(CONTEXT_THUNKS, cell);
            throw e;
        }
        return cell.view();
    }

    /**
     * A Java-target thunk (see {@link SharedUpcalls}): puts {@code recordId} in argument register
     * {@code idRegister} and jumps to {@code stub}. Call {@link #publish()} before handing it out.
     *
     * @return the thunk's address in the read+execute view
     */
    static long mintUpcall(long recordId, int idRegister, long stub) {
        CellRegions kind = idRegister >= SharedUpcalls.VECTOR_REGISTER ? WIDE_UPCALL_THUNKS : UPCALL_THUNKS;
        CellRegions.Cell cell = kind.allocate();
        try {
            TabguardLibrary.get().writeUpcallThunk(cell.writable(), cell.view(), recordId, idRegister, stub);
        } catch (RuntimeException | Error e) {
            abandon(kind, cell);
            throw e;
        }
        return cell.view();
    }

    /**
     * The stack-headroom check in front of a shared upcall stub (one per shape, never freed): Java-slot
     * thunks jump here, and it jumps to {@code stub} unless the calling thread is out of stack.
     */
    static long mintGuardEntry(long stub) {
        CellRegions.Cell cell = GUARD_ENTRIES.allocate();
        try {
            TabguardLibrary.get().writeGuardEntry(cell.writable(), cell.view(), stub);
        } finally {
            GUARD_ENTRIES.doneWriting(cell.view());
        }
        publish();
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
        long[] plain = java.util.Arrays.stream(thunks).filter(t -> !CONTEXT_THUNKS.owns(t)).toArray();
        long[] checkingContext = java.util.Arrays.stream(thunks).filter(CONTEXT_THUNKS::owns).toArray();
        java.util.concurrent.atomic.AtomicInteger kindsPending = new java.util.concurrent.atomic.AtomicInteger(2);
        Runnable whenBothRetired = () -> {
            if (kindsPending.decrementAndGet() == 0) {
                STATE_CELLS.free(stateCell);
            }
        };
        NATIVE_THUNKS.freeAll(plain, whenBothRetired);
        CONTEXT_THUNKS.freeAll(checkingContext, whenBothRetired);
    }


    /** A cell whose write failed: nothing points to it; close its window and free it. */
    private static void abandon(CellRegions kind, CellRegions.Cell cell) {
        kind.doneWriting(cell.view());
        kind.free(cell.view());
    }

    /** Writes a table's state word ({@code write}) inside a write window of its state cell's region. */
    static void writeState(long stateCellView, Runnable write) {
        STATE_CELLS.rewrite(stateCellView, write);
    }

    /**
     * The thunk minted at {@code thunk} is written: the writable alias of its region closes
     * ({@code PROT_NONE}) once no other thunk in it is being written. Every {@code mint*} must be followed
     * by exactly one call, also when the build fails; until then the alias stays open, so a build calls
     * this for all its thunks at its end (two {@code mprotect} calls per build, not per thunk).
     */
    public static void written(long thunk) {
        for (CellRegions kind : new CellRegions[] {NATIVE_THUNKS, CONTEXT_THUNKS, UPCALL_THUNKS, WIDE_UPCALL_THUNKS}) {
            if (kind.owns(thunk)) {
                kind.doneWriting(thunk);
                return;
            }
        }
        throw new IllegalArgumentException("no thunk at 0x" + Long.toHexString(thunk));
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
