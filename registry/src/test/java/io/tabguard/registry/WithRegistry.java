package io.tabguard.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A fresh registry per test, auditing into {@link #audit}, closed after the test. */
abstract class WithRegistry {
    final RecordingAuditSink audit = new RecordingAuditSink();
    Registry registry;

    @BeforeEach
    void openRegistry() {
        registry = audit.open();
    }

    @AfterEach
    void closeRegistry() {
        registry.close();
    }
}
