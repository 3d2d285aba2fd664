package io.tabguard.audit;

import io.tabguard.audit.internal.JfrEvents;
import io.tabguard.audit.internal.OperatorLog;

/**
 * Sinks that keep no file. Stateless and thread-safe.
 */
public final class AuditSinks {
    private AuditSinks() {
    }

    /**
     * A sink that emits each event as a JFR event ({@code tabguard.*}, when a recording enables it)
     * and to {@code System.Logger} {@code io.tabguard.audit} (refusals at WARNING, rate-limited), and
     * keeps nothing else: for users who opt out of an audit file. Its {@code record} never blocks and
     * never throws; a {@code null} event is ignored. {@code close} does nothing. Thread-safe.
     *
     * @return the shared JFR-only sink
     */
    public static AuditSink jfrOnly() {
        return JfrOnly.INSTANCE;
    }

    private enum JfrOnly implements AuditSink {
        INSTANCE;

        @Override
        public void record(SecurityEvent e) {
            if (e == null) {
                return;
            }
            try {
                JfrEvents.emit(e);
                OperatorLog.event(e.type().name(), e.tableSerial(), e.schemaName(), e.violation(), e.offset(),
                        e.detail(), e.count());
            } catch (RuntimeException ignored) {
                // never throw to the caller
            }
        }

        @Override
        public void close() {
        }

        @Override
        public String toString() {
            return "AuditSinks.jfrOnly()";
        }
    }
}
