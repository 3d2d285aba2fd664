package io.tabguard.registry.internal;

import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Violation;
import io.tabguard.guard.internal.KeyLookup;

/** What a table needs from the registry that owns it. Implementations never throw from {@link #audit}. */
public interface RegistryContext {
    KeyLookup keys();

    void audit(SecurityEvent event);

    /** {@code table} has counted refusals or throws waiting for a summary record; never throws. */
    void countsPending(TableImpl table);

    /** Fail-stop policy: flush the audit trail and halt the process. */
    void failStop(Violation violation);
}
