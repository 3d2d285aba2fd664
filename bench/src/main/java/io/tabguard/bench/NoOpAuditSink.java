package io.tabguard.bench;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;

/**
 * An audit sink that keeps nothing, so that the benchmarks measure Tabguard's checks and not the
 * audit log's I/O. The registry still builds every {@link SecurityEvent} it would record (that cost
 * is Tabguard's and stays in the numbers); only the writing is left out.
 */
public final class NoOpAuditSink implements AuditSink {
    public static final NoOpAuditSink INSTANCE = new NoOpAuditSink();

    private NoOpAuditSink() {}

    @Override
    public void record(SecurityEvent event) {
        // deliberately nothing
    }

    @Override
    public void close() {
        // nothing to release
    }
}
