package io.tabguard.ffm.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * Knows which gates each thread is dispatching through, so that revoke and close can wait until no
 * thread that was admitted before them is still inside a target.
 *
 * <p><b>Frames.</b> Each thread writes only its own record (no shared counter, so dispatch scales across
 * threads); the waiting side scans all records. {@link #enter} pushes a frame and returns a token, the
 * depth before the push; {@link #exit(int)} sets the depth back to that token. Leaving is therefore
 * absolute and idempotent: a frame whose own exit never ran (a {@link StackOverflowError} thrown inside
 * the exit itself, deep in a recursion through native code) is discarded by the first enclosing frame
 * that exits, and the outermost frame of a thread always leaves it at depth 0.
 *
 * <p><b>Waiting.</b> The entry's volatile write and the state's volatile read form a Dekker pair with the
 * revoker's state write and record read: either the dispatcher sees the new state and refuses, or the
 * revoker sees the dispatcher. The revoker takes one snapshot of the frames inside the gate (their depth
 * and entry number) right after its state write and waits only for those: a frame has left once the
 * thread is shallower than it, or a newer entry has replaced it. Threads that keep entering and being
 * refused afterwards are never waited for, so a waiter cannot starve under a flood of refused calls
 * (read-copy-update's grace period, with frames as the read-side sections).
 *
 * <p>Thread-safe.
 */
public final class DispatchTracker {

    private static final VarHandle DEPTH;
    private static final VarHandle ENTRIES_AT;

    static {
        try {
            DEPTH = MethodHandles.lookup().findVarHandle(ThreadRecord.class, "depth", int.class);
            ENTRIES_AT = MethodHandles.arrayElementVarHandle(long[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final class ThreadRecord {
        final WeakReference<Thread> thread;
        /**
         * The {@link DispatchGate#trackingId} of each frame's gate, by depth; slots at and above
         * {@code depth} are stale. Written by the owner only. Ids, not references: a reference store
         * per call would run G1's post-write barrier, whose StoreLoad fence is taken whenever the gate
         * and this array lie in different heap regions (the common case with many old tables).
         */
        long[] gates = new long[8];
        /** The entry number of each frame, by depth: tells a frame from a later one at the same depth. */
        long[] entries = new long[8];
        long entryCount;
        volatile int depth;

        ThreadRecord(Thread thread) {
            this.thread = new WeakReference<>(thread);
        }
    }

    /** One frame a waiter waits for. */
    private record Frame(ThreadRecord record, int depth, long entry) {
        boolean left() {
            ThreadRecord r = record;
            if ((int) DEPTH.getVolatile(r) <= depth) {
                return true;
            }
            long[] e = r.entries;
            return depth >= e.length || (long) ENTRIES_AT.getAcquire(e, depth) != entry;
        }
    }

    /**
     * True when the process has an expedited membarrier (libtabguard's {@code MEMBARRIER_PRIVATE_EXPEDITED}
     * or {@code _RSEQ} mode): dispatchers then publish their frames with a release store and no fence,
     * and every waiter runs the membarrier between its state write and its scan of the frames. The
     * membarrier makes every running thread pass a full barrier, so either a dispatcher's frame store
     * is visible to the scan or its later state load sees the new state (liburcu's urcu-memb flavour;
     * the fence this saves was a third of the accept path's cost). Otherwise the store is volatile.
     */
    private static final boolean ASYMMETRIC = expeditedMembarrier();
    private static volatile boolean membarrierFailed;

    private static boolean expeditedMembarrier() {
        if (Boolean.getBoolean("io.tabguard.fencedDispatch")) {
            return false;
        }
        try {
            TabguardLibrary.BarrierMode mode = TabguardLibrary.get().barrierMode();
            return mode == TabguardLibrary.BarrierMode.MEMBARRIER_PRIVATE_EXPEDITED
                    || mode == TabguardLibrary.BarrierMode.MEMBARRIER_RSEQ;
        } catch (RuntimeException | Error unavailable) {
            return false;
        }
    }

    private final int maxNested;
    private final Set<ThreadRecord> records = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<ThreadRecord> current = ThreadLocal.withInitial(this::register);

    /**
     * @param maxNested dispatches one thread may nest (a callback calling back in through native code)
     *                  before the next is refused: a stack overflow at an upcall's entry ends the JVM,
     *                  so deep recursion through trampolines is stopped while there is stack to refuse with
     */
    public DispatchTracker(int maxNested) {
        if (maxNested < 1) {
            throw new IllegalArgumentException("maxNested must be at least 1");
        }
        this.maxNested = maxNested;
    }

    /** True if a frame entered with {@code token} nests deeper than this registry allows. */
    boolean tooDeep(int token) {
        return token >= maxNested;
    }

    private ThreadRecord register() {
        ThreadRecord r = new ThreadRecord(Thread.currentThread());
        records.add(r);
        return r;
    }

    /** Pushes a frame for {@code gate}; returns the token to hand to {@link #exit(int)}. */
    int enter(DispatchGate gate) {
        ThreadRecord r = current.get();
        int d = r.depth;
        if (d == r.gates.length) {
            r.gates = Arrays.copyOf(r.gates, d * 2);
            r.entries = Arrays.copyOf(r.entries, d * 2);
        }
        r.gates[d] = gate.trackingId();
        ENTRIES_AT.setRelease(r.entries, d, ++r.entryCount);
        if (ASYMMETRIC && !membarrierFailed) {
            // The dispatcher's half of the Dekker pair without a fence: the store, then a barrier the
            // compiler moves no access across (no instruction on x86), so the caller's state load stays
            // after it in program order; the revoker's membarrier orders the two in hardware.
            DEPTH.setRelease(r, d + 1);
            VarHandle.acquireFence();
        } else {
            r.depth = d + 1;   // volatile store: a full fence on this side
        }
        return d;
    }

    /**
     * Leaves every frame at and above {@code token}. Needs no fence: a waiter that still sees the old
     * depth merely waits a little longer.
     */
    void exit(int token) {
        DEPTH.setRelease(current.get(), token);
    }

    /** True if the calling thread is inside any dispatch of this tracker's registry. */
    public boolean insideDispatch() {
        return current.get().depth > 0;
    }

    /**
     * Waits until every frame of another thread that was inside {@code gate} when this was called has
     * left. The caller has already moved the gate out of {@link TableState#OPEN}, so no later frame runs
     * a target. Frames of the calling thread itself (a callback that revokes its own table) are already
     * running and are not waited for.
     */
    public void awaitQuiescence(DispatchGate gate) {
        long id = gate.trackingId();
        awaitAll(g -> g == id);
    }

    /** Waits until every frame of another thread inside any dispatch of this registry at the call has left. */
    public void awaitAllQuiescent() {
        awaitAll(g -> true);
    }

    private void awaitAll(java.util.function.LongPredicate watched) {
        if (ASYMMETRIC && !TabguardLibrary.get().publishState()) {
            // Not seen on a kernel that accepted the registration. Dispatchers fence their own stores from
            // now on; this one wait may miss a dispatcher that was between its store and its state load.
            membarrierFailed = true;
        }
        for (Frame f : snapshot(watched)) {
            int spins = 0;
            while (!f.left()) {
                if (++spins < 1_000) {
                    Thread.onSpinWait();
                } else if (spins < 2_000) {
                    Thread.yield();
                } else {
                    // A long-running callback: stop burning a core while waiting for it.
                    LockSupport.parkNanos(100_000);
                }
            }
        }
    }

    private List<Frame> snapshot(java.util.function.LongPredicate watched) {
        ThreadRecord own = current.get();
        List<Frame> inside = new ArrayList<>();
        for (ThreadRecord r : records) {
            if (r == own) {
                continue;
            }
            int d = (int) DEPTH.getVolatile(r);
            Thread t = r.thread.get();
            if (t == null || !t.isAlive()) {
                if (d == 0) {
                    records.remove(r);
                }
                continue;
            }
            // Read after the volatile depth: at least as new as the frames below it (possibly newer,
            // which only makes a frame look as if it had left, and it had).
            long[] g = r.gates;
            long[] e = r.entries;
            for (int i = 0; i < d && i < g.length && i < e.length; i++) {
                long gate = g[i];
                if (gate != 0 && watched.test(gate)) {
                    inside.add(new Frame(r, i, (long) ENTRIES_AT.getAcquire(e, i)));
                }
            }
        }
        return inside;
    }
}
