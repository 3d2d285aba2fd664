package io.tabguard.registry;

/** How much of the checks runs before each dispatch. Immutable and thread-safe. */
public enum CheckMode {
    /** The state, then a byte-for-byte compare of the live table with its verified snapshot (the default). */
    FAST,
    /** Every check, including checksum and signature, on every call. */
    FULL
}
