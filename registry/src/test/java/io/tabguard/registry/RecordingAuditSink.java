package io.tabguard.registry;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** An audit sink that keeps every event in memory, for tests that assert what was audited. Thread-safe. */
final class RecordingAuditSink implements AuditSink {
    final List<SecurityEvent> events = new CopyOnWriteArrayList<>();

    @Override
    public void record(SecurityEvent event) {
        events.add(event);
    }

    @Override
    public void close() {
    }

    /** A registry with default options that audits into this sink. */
    Registry open() {
        return Registry.open(RegistryOptions.builder().auditSink(this).build());
    }
}
