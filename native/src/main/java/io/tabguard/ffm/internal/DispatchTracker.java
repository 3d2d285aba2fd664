package io.tabguard.ffm.internal;

import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Knows which gates each thread is dispatching through, so that revoke and close can wait until no
 * thread that was admitted before them is still inside a target.
 *
 * <p>Each thread writes only its own record (no shared counter, so dispatch scales across threads);
 * the waiting side scans all records. The entry's volatile write and the state's volatile read form a
 * Dekker pair with the revoker's state write and record read: either the dispatcher sees the new
 * state and refuses, or the revoker sees the dispatcher and waits for it. Thread-safe.
 */
public final class DispatchTracker {

    private static final class ThreadRecord {
        final WeakReference<Thread> thread;
        DispatchGate[] gates = new DispatchGate[8];
        volatile int depth;

        ThreadRecord(Thread thread) {
            this.thread = new WeakReference<>(thread);
        }

        boolean contains(DispatchGate gate) {
            int d = depth;
            DispatchGate[] g = gates;
            for (int i = 0; i < d && i < g.length; i++) {
                if (g[i] == gate) {
                    return true;
                }
            }
            return false;
        }
    }

    private final Set<ThreadRecord> records = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<ThreadRecord> current = ThreadLocal.withInitial(this::register);

    private ThreadRecord register() {
        ThreadRecord r = new ThreadRecord(Thread.currentThread());
        records.add(r);
        return r;
    }

    void enter(DispatchGate gate) {
        ThreadRecord r = current.get();
        int d = r.depth;
        if (d == r.gates.length) {
            r.gates = Arrays.copyOf(r.gates, d * 2);
        }
        r.gates[d] = gate;
        r.depth = d + 1;
    }

    void exit() {
        ThreadRecord r = current.get();
        int d = r.depth - 1;
        r.gates[d] = null;
        // Leaving needs no fence: a waiter that still sees the old depth merely waits a little longer.
        DEPTH.setRelease(r, d);
    }

    private static final java.lang.invoke.VarHandle DEPTH;

    static {
        try {
            DEPTH = java.lang.invoke.MethodHandles.lookup().findVarHandle(ThreadRecord.class, "depth", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** True if the calling thread is inside any dispatch of this tracker's registry. */
    public boolean insideDispatch() {
        return current.get().depth > 0;
    }

    /**
     * Waits until no other thread is inside a dispatch through {@code gate}. The caller has already
     * moved the gate out of {@link TableState#OPEN}. Dispatches of the calling thread itself (a
     * callback that revokes its own table) are already running and are not waited for.
     */
    public void awaitQuiescence(DispatchGate gate) {
        awaitAll(r -> r.contains(gate));
    }

    /** Waits until no other thread is inside any dispatch of this registry. */
    public void awaitAllQuiescent() {
        awaitAll(r -> r.depth > 0);
    }

    private void awaitAll(java.util.function.Predicate<ThreadRecord> busy) {
        ThreadRecord own = current.get();
        for (ThreadRecord r : records) {
            if (r == own) {
                continue;
            }
            Thread t = r.thread.get();
            if (t == null || !t.isAlive()) {
                if (r.depth == 0) {
                    records.remove(r);
                }
                continue;
            }
            int spins = 0;
            while (busy.test(r)) {
                if (++spins < 1_000) {
                    Thread.onSpinWait();
                } else if (spins < 2_000) {
                    Thread.yield();
                } else {
                    // A long-running callback: stop burning a core while waiting for it.
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                }
            }
        }
    }
}
