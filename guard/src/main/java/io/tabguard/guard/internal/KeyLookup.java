package io.tabguard.guard.internal;

/** Finds the signing key of a key epoch; {@code null} for an epoch the registry does not hold (any more). */
@FunctionalInterface
public interface KeyLookup {
    SigningKey forEpoch(long epoch);
}
