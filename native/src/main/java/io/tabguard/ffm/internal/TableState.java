package io.tabguard.ffm.internal;

import io.tabguard.guard.Violation;

/** The lifecycle of a table. Only {@link #OPEN} dispatches; every other state refuses with its violation. */
public enum TableState {
    OPEN(null),
    REVOKED(Violation.REVOKED),
    CLOSED(Violation.CLOSED),
    QUARANTINED(Violation.QUARANTINED),
    REGISTRY_CLOSED(Violation.REGISTRY_CLOSED);

    private final Violation refusal;

    TableState(Violation refusal) {
        this.refusal = refusal;
    }

    /** The violation a call in this state is refused with; {@code null} for {@link #OPEN}. */
    public Violation refusal() {
        return refusal;
    }
}
