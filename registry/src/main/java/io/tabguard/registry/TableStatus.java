package io.tabguard.registry;

/** Where a table is in its life. Only {@link #OPEN} dispatches; the others refuse every call. Immutable and thread-safe. */
public enum TableStatus { OPEN, REVOKED, CLOSED, QUARANTINED, REGISTRY_CLOSED }
