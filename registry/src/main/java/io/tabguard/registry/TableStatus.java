package io.tabguard.registry;

/** Where a table is in its life. Only {@link #OPEN} dispatches; the others refuse every call. Immutable and thread-safe. */
public enum TableStatus {
    /** Built (or imported) and dispatching: every call is checked, then run. */
    OPEN,
    /** {@link Registry#revoke(CallbackTable)} was called: every call is refused ({@code REVOKED}). */
    REVOKED,
    /** {@link CallbackTable#close()} was called: every call is refused ({@code CLOSED}). */
    CLOSED,
    /** A check failed before a dispatch (the table was tampered with): every later call is refused. */
    QUARANTINED,
    /** Its registry is closed: the table's memory is freed; native code must not call its slots any more. */
    REGISTRY_CLOSED
}
