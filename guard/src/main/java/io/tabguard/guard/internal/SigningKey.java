package io.tabguard.guard.internal;

import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * A registry's secret HMAC-SHA-256 key for one epoch. Never printed, never serialised; {@link #destroy()}
 * zeroes it, after which every MAC computed with it fails closed.
 *
 * <p>Thread-safe: each MAC uses its own {@link HMac}.
 */
public final class SigningKey {
    /** 256 bits: the HMAC-SHA-256 block-size-safe minimum the design asks for. */
    public static final int KEY_BYTES = 32;
    private static final byte[] DOMAIN = "tabguard.table.v1\0".getBytes(StandardCharsets.US_ASCII);

    private final byte[] key;
    private volatile boolean destroyed;

    private SigningKey(byte[] key) {
        this.key = key;
    }

    public static SigningKey generate(SecureRandom random) {
        byte[] k = new byte[KEY_BYTES];
        random.nextBytes(k);
        return new SigningKey(k);
    }

    /**
     * HMAC over the domain label, {@code table[0, length)} (whose signature field the caller has
     * zeroed) and the table's address, little-endian.
     *
     * @throws IllegalStateException if the key was destroyed (callers fail closed on it)
     */
    public byte[] mac(byte[] table, int length, long boundAddress) {
        HMac hmac = new HMac(new SHA256Digest());
        hmac.init(new KeyParameter(key));
        if (destroyed) {
            throw new IllegalStateException("signing key destroyed");
        }
        hmac.update(DOMAIN, 0, DOMAIN.length);
        hmac.update(table, 0, length);
        for (int i = 0; i < Long.BYTES; i++) {
            hmac.update((byte) (boundAddress >>> (8 * i)));
        }
        byte[] out = new byte[hmac.getMacSize()];
        hmac.doFinal(out, 0);
        if (destroyed) {
            throw new IllegalStateException("signing key destroyed");
        }
        return out;
    }

    public void destroy() {
        destroyed = true;
        Arrays.fill(key, (byte) 0);
    }

    public boolean isDestroyed() {
        return destroyed;
    }

    @Override
    public String toString() {
        return "SigningKey[redacted]";
    }
}
