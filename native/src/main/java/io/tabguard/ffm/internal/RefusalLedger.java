package io.tabguard.ffm.internal;

import io.tabguard.guard.Violation;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The refusal accounting of one table: the first refused call for each reason (a violation, or a
 * callback that threw) is the caller's to audit synchronously; every later one is only counted here,
 * and the owner writes the counts as summary records ({@link #drain}) at most about once a second and
 * when the table leaves service.
 *
 * <p>The counting path takes no lock and allocates nothing after a reason's first call: a
 * {@link LongAdder} increment (no shared cache line between threads) and two reads of mostly unchanging
 * fields (no clock read: a coarse clock ticks every 10 ms). Counts are exact: each drain writes the
 * difference between the adder's sum and what it wrote before, so every counted call is written exactly
 * once. The first and last times are those of the coarse clock, so exact to about 10 ms.
 *
 * <p>Created lazily, on a table's first refusal: honest tables carry none. Thread-safe.
 */
public final class RefusalLedger {
    /** Reasons {@code 0..Violation.values().length-1} are violations, by ordinal; then these two. */
    public static final int TARGET_THREW = Violation.values().length;
    public static final int HANDLER_THREW = TARGET_THREW + 1;
    static final int REASONS = HANDLER_THREW + 1;

    /** How often the coarse clock ticks: the precision of a summary's first and last times. */
    private static final long TICK_NANOS = 10_000_000;
    /** Wall-clock anchor for {@link System#nanoTime()} readings; fixed once per JVM. */
    private static final long EPOCH_NANOS_AT_ORIGIN;
    private static final long NANO_ORIGIN;
    private static final VarHandle DIRTY;

    static {
        Instant now = Instant.now();
        NANO_ORIGIN = System.nanoTime();
        EPOCH_NANOS_AT_ORIGIN = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        try {
            DIRTY = MethodHandles.lookup().findVarHandle(RefusalLedger.class, "dirty", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        coarseNow = System.nanoTime() | 1;
        Thread.ofPlatform().daemon().name("tabguard-coarse-clock").start(RefusalLedger::tick);
    }

    /**
     * {@link System#nanoTime()} as of the last tick (never 0, which means "none"). One JVM-wide daemon
     * thread, started with the first table that ever refused a call, updates it every 10 ms, so that
     * counting a refusal reads a field instead of the clock.
     */
    private static volatile long coarseNow;

    private static void tick() {
        while (true) {
            java.util.concurrent.locks.LockSupport.parkNanos(TICK_NANOS);
            coarseNow = System.nanoTime() | 1;
        }
    }

    /** What one drain found for one reason. */
    public interface Summary {
        /** {@code count} calls of {@code reason} since the last drain, the first and last at these times. */
        void counted(int reason, long count, Instant first, Instant last);
    }

    private static final class Tally {
        final LongAdder calls = new LongAdder();
        long written;                 // guarded by the ledger's lock
        volatile long periodFirst;    // 0: no call since the last drain
        volatile long last;
    }

    private final AtomicReferenceArray<Tally> tallies = new AtomicReferenceArray<>(REASONS);
    private final Runnable onPending;
    @SuppressWarnings("unused") // through DIRTY
    private volatile boolean dirty;

    /** @param onPending called (without locks held) when counts start waiting for a drain; never throws */
    RefusalLedger(Runnable onPending) {
        this.onPending = onPending;
    }

    /**
     * Accounts one refused call.
     *
     * @return true if it is the first of its reason for this table: the caller audits it itself, and it
     *         is not counted here
     */
    boolean account(int reason) {
        Tally t = tallies.get(reason);
        if (t == null) {
            if (tallies.compareAndSet(reason, null, new Tally())) {
                return true;
            }
            t = tallies.get(reason);
        }
        long now = coarseNow;   // a shared, rarely written field: no clock read on the calling thread
        if (t.periodFirst == 0) {
            t.periodFirst = now;
        }
        if (t.last != now) {
            t.last = now;
        }
        t.calls.increment();
        markPending();
        return false;
    }

    /** Tells the owner, once per drain, that counts are waiting. */
    void markPending() {
        if (!dirty && DIRTY.compareAndSet(this, false, true)) {
            onPending.run();
        }
    }

    /** Called before reading any count: a call counted after the reads marks the ledger again. */
    void clearPending() {
        dirty = false;
    }

    /** Hands every reason's calls counted since the last drain to {@code out}; serialised with other drains. */
    synchronized void drain(Summary out) {
        for (int reason = 0; reason < REASONS; reason++) {
            Tally t = tallies.get(reason);
            if (t == null) {
                continue;
            }
            long total = t.calls.sum();
            long n = total - t.written;
            if (n <= 0) {
                continue;
            }
            t.written = total;
            long first = t.periodFirst;
            t.periodFirst = 0;
            long last = t.last;
            if (first == 0) {
                first = last;   // the period's first call raced the previous drain's reset
            }
            out.counted(reason, n, instantOf(first), instantOf(first - last > 0 ? first : last));
        }
    }

    private static Instant instantOf(long nanoTime) {
        long epochNanos = EPOCH_NANOS_AT_ORIGIN + (nanoTime - NANO_ORIGIN);
        return Instant.ofEpochSecond(Math.floorDiv(epochNanos, 1_000_000_000L), Math.floorMod(epochNanos, 1_000_000_000L));
    }
}
