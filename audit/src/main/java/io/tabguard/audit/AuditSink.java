package io.tabguard.audit;

/**
 * Where security events go. Implementations never block the caller for long and never throw.
 *
 * <p>Thread-safety: every implementation in this module is safe for concurrent use by any number of
 * threads, including native upcall threads; {@link #record} may be called concurrently with
 * {@link #close}.
 *
 * <p>Refuses: nothing is ever thrown to the caller. An event that cannot be kept (the sink is closed,
 * or its storage failed) is counted by the implementation instead (see {@link AuditLog#failures()}).
 */
public interface AuditSink extends AutoCloseable {

    /**
     * Records one event. Returns promptly and never throws; see the implementation for exactly when
     * the event is durable.
     *
     * @param event the event; a {@code null} event is counted as a failure and otherwise ignored
     */
    void record(SecurityEvent event);

    /** Flushes everything recorded so far and releases the sink; idempotent; no checked exception. */
    @Override
    void close();
}
