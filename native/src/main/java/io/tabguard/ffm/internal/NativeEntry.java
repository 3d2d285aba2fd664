package io.tabguard.ffm.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One table's side of its native entry thunks: the state cell every thunk of the table reads (in a
 * read-only view; written here through the registry's private writable alias, which is inaccessible
 * outside each write) and the counters the refusal entries increment. The state word says OPEN only between {@link DispatchGate#seal} and the
 * table's first state change; it starts (and, once left, stays) refusing.
 *
 * <p>What a state change guarantees for C callers, exactly. When {@link #publish} returns:
 * <ul>
 *   <li>every thunk whose state load executes afterwards refuses (the word was written, then a full
 *       fence, then a membarrier made every running thread of the process pass a full barrier);</li>
 *   <li>with rseq (mode {@code MEMBARRIER_RSEQ}, the default on Linux 5.10+ with glibc 2.35+): no thread
 *       is still between its state load and its jump with a stale OPEN. The load-compare-jump is an rseq
 *       critical section and {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)} restarts every one
 *       in flight, so no target starts through a thunk after {@code revoke()}/{@code close()} return.
 *       Every calling thread must then be a glibc thread (the thunk writes glibc's per-thread rseq area);</li>
 *   <li>without rseq (older kernel or glibc, glibc.pthread.rseq=0): a
 *       thread that had loaded OPEN and was between that load and its jump (two instructions; longer
 *       only if it was preempted or signalled right there) may still start its target afterwards;</li>
 *   <li>in both modes, a native target that already started is <em>not</em> waited for: a thunk is a
 *       tail jump, it cannot know when its target returns. Java targets and Java → native calls keep
 *       the dispatch tracker's full "waited for the running ones" guarantee.</li>
 * </ul>
 *
 * <p>Thread-safe; the counter is drained with an atomic exchange.
 */
public final class NativeEntry {
    /** {@code TG_STATE_OPEN} of tabguard_native.h: the one value a thunk lets through. */
    static final long STATE_OPEN = 0x4E45504FL;
    static final long STATE_CELL_SIZE = 32;
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment stateWritable;
    private final long stateView;
    private final MemorySegment refusals;

    /**
     * @param refusals two counters: refusals for the table's state, and for a context argument that is not
     *                 the bound one (see {@code tg_state_cell})
     */
    NativeEntry(MemorySegment stateWritable, long stateView, MemorySegment refusals, long refusalEntry,
                long contextRefusalEntry) {
        if (refusals.byteSize() != 2 * Long.BYTES) {
            throw new IllegalArgumentException("two refusal counters");
        }
        this.stateWritable = stateWritable;
        this.stateView = stateView;
        this.refusals = refusals;
        stateWritable.set(ValueLayout.JAVA_LONG, 8, refusals.address());
        stateWritable.set(ValueLayout.JAVA_LONG, 16, refusalEntry);
        stateWritable.set(ValueLayout.JAVA_LONG, 24, contextRefusalEntry);
        WORD.setVolatile(stateWritable, 0L, wordOf(TableState.CLOSED));
    }

    /** The state cell's address in the read-only view: what each thunk of the table reads. */
    long stateCellView() {
        return stateView;
    }

    /** The value of the state word for {@code state}; only OPEN lets a call through. */
    static long wordOf(TableState state) {
        return state == TableState.OPEN ? STATE_OPEN : 0x5245465553450000L | state.ordinal();   // "REFUSE" + n
    }

    /** Writes the state word, then runs the asymmetric barrier (see the class comment for what holds). */
    void publish(TableState state) {
        EntryThunks.writeState(stateView, () -> WORD.setVolatile(stateWritable, 0L, wordOf(state)));
        TabguardLibrary.get().publishState();
    }

    /** The state word as the thunks read it now (through the read-only view). */
    public long stateWord() {
        return (long) WORD.getVolatile(NativeAccess.view(stateView, STATE_CELL_SIZE), 0L);
    }

    /** The calls refused by this table's thunks for its state since the last drain, and resets the count. */
    public long drainRefusals() {
        return (long) WORD.getAndSet(refusals, 0L, 0L);
    }

    /**
     * The calls refused by this table's context-checking thunks since the last drain because their context
     * argument was not the bound one, and resets the count.
     */
    public long drainContextRefusals() {
        return (long) WORD.getAndSet(refusals, (long) Long.BYTES, 0L);
    }
}
