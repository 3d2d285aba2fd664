package io.tabguard.registry;

/** What a registry does when a check refuses a call from native code. Immutable and thread-safe. */
public enum RefusalPolicy {
    /** Audit, return the slot's refusal value to the caller, and keep running (the default). */
    REFUSE_AND_CONTINUE,
    /** Audit, flush the log, then halt the process at once, as pointer authentication does. */
    FAIL_STOP
}
