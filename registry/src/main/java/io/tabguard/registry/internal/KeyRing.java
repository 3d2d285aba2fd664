package io.tabguard.registry.internal;

import io.tabguard.guard.internal.KeyLookup;
import io.tabguard.guard.internal.SigningKey;

import java.security.SecureRandom;

/**
 * A registry's signing keys: the current epoch's, and during a rotation the previous one, so tables not
 * yet re-signed still verify. Epochs only grow. Thread-safe: one volatile immutable state.
 */
public final class KeyRing implements KeyLookup {
    private record Keys(long epoch, SigningKey current, long previousEpoch, SigningKey previous) {}

    private final SecureRandom random;
    private volatile Keys keys;

    public KeyRing(SecureRandom random) {
        this.random = random;
        this.keys = new Keys(1, SigningKey.generate(random), -1, null);
    }

    @Override
    public SigningKey forEpoch(long epoch) {
        Keys k = keys;
        if (epoch == k.epoch()) {
            return k.current();
        }
        return epoch == k.previousEpoch() ? k.previous() : null;
    }

    public long epoch() {
        return keys.epoch();
    }

    public SigningKey current() {
        return keys.current();
    }

    /** Starts a rotation: a new current key; the old one still verifies until {@link #retirePrevious()}. */
    public synchronized void advance() {
        Keys k = keys;
        if (k.previous() != null) {
            k.previous().destroy();
        }
        keys = new Keys(k.epoch() + 1, SigningKey.generate(random), k.epoch(), k.current());
    }

    /** Ends a rotation: the previous key is destroyed and its epoch refused. */
    public synchronized void retirePrevious() {
        Keys k = keys;
        keys = new Keys(k.epoch(), k.current(), -1, null);
        if (k.previous() != null) {
            k.previous().destroy();
        }
    }

    public synchronized void destroy() {
        Keys k = keys;
        k.current().destroy();
        if (k.previous() != null) {
            k.previous().destroy();
        }
    }
}
