package io.tabguard.guard.internal;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.zip.CRC32C;

import static io.tabguard.guard.AbiV1.OFFSET_CHECKSUM;
import static io.tabguard.guard.AbiV1.OFFSET_SIGNATURE;
import static io.tabguard.guard.AbiV1.SIGNATURE_SIZE;

/**
 * The checksum and signature as ABI v1 defines them, computed with the JDK alone (java.util.zip and
 * javax.crypto, not Bouncy Castle and not the guard's code), so the tests do not check the guard
 * against itself.
 */
final class IndependentCrypto {
    private IndependentCrypto() {}

    /** CRC32C of the table with its checksum and signature fields zeroed. */
    static int crc32c(byte[] table) {
        byte[] zeroed = table.clone();
        Arrays.fill(zeroed, OFFSET_CHECKSUM, OFFSET_CHECKSUM + Integer.BYTES, (byte) 0);
        Arrays.fill(zeroed, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE, (byte) 0);
        CRC32C crc = new CRC32C();
        crc.update(zeroed);
        return (int) crc.getValue();
    }

    /** HMAC-SHA-256 of the domain label {@code "tabguard.table.v1\0"}, the table with its signature zeroed, and the address, little-endian. */
    static byte[] hmac(byte[] key, byte[] table, long address) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update("tabguard.table.v1\0".getBytes(StandardCharsets.US_ASCII));
            byte[] zeroed = table.clone();
            Arrays.fill(zeroed, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE, (byte) 0);
            mac.update(zeroed);
            for (int i = 0; i < Long.BYTES; i++) {
                mac.update((byte) (address >>> (8 * i)));
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
