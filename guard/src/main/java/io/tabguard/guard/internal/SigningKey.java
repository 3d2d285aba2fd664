package io.tabguard.guard.internal;

import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;

import io.tabguard.guard.AbiV1;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * A registry's secret HMAC-SHA-256 key for one epoch. Never printed, never serialised; {@link #destroy()}
 * zeroes it, after which every MAC computed with it fails closed.
 *
 * <p>Thread-safe: a MAC in progress holds its keyed {@link HMac} alone.
 */
public final class SigningKey {
    /** 256 bits: the HMAC-SHA-256 block-size-safe minimum the design asks for. */
    public static final int KEY_BYTES = 32;
    private static final byte[] DOMAIN = "tabguard.table.v1\0".getBytes(StandardCharsets.US_ASCII);

    private static final byte[] ZERO_SIGNATURE = new byte[AbiV1.SIGNATURE_SIZE];

    private final byte[] key;
    private final java.util.concurrent.ConcurrentLinkedQueue<HMac> pool = new java.util.concurrent.ConcurrentLinkedQueue<>();
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
     * HMAC over the domain label, the whole of {@code table} with its signature field read as zero, and
     * the table's address, little-endian. Keyed MAC states are pooled, so a MAC costs no re-keying.
     *
     * @throws IllegalStateException if the key was destroyed (callers fail closed on it)
     */
    public byte[] mac(byte[] table, long boundAddress) {
        if (destroyed) {
            throw new IllegalStateException("signing key destroyed");
        }
        HMac hmac = pool.poll();
        if (hmac == null) {
            hmac = new HMac(new SHA256Digest());
            hmac.init(new KeyParameter(key));
        }
        byte[] out = new byte[hmac.getMacSize()];
        try {
            hmac.update(DOMAIN, 0, DOMAIN.length);
            int signatureEnd = AbiV1.OFFSET_SIGNATURE + AbiV1.SIGNATURE_SIZE;
            hmac.update(table, 0, AbiV1.OFFSET_SIGNATURE);
            hmac.update(ZERO_SIGNATURE, 0, AbiV1.SIGNATURE_SIZE);
            hmac.update(table, signatureEnd, table.length - signatureEnd);
            for (int i = 0; i < Long.BYTES; i++) {
                hmac.update((byte) (boundAddress >>> (8 * i)));
            }
            hmac.doFinal(out, 0);   // also resets the state to "keyed, nothing hashed"
        } finally {
            if (destroyed) {
                wipe(hmac);
            } else {
                pool.offer(hmac);
            }
        }
        if (destroyed) {
            throw new IllegalStateException("signing key destroyed");
        }
        return out;
    }

    private static void wipe(HMac hmac) {
        hmac.init(new KeyParameter(new byte[KEY_BYTES]));
    }

    /** Zeroes the key and every pooled keyed MAC state; MACs in flight on other threads fail closed. */
    public void destroy() {
        destroyed = true;
        Arrays.fill(key, (byte) 0);
        for (HMac h; (h = pool.poll()) != null; ) {
            wipe(h);
        }
    }

    @Override
    public String toString() {
        return "SigningKey[redacted]";
    }
}
