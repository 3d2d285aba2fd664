package io.tabguard.guard.internal;

import io.tabguard.guard.AbiV1;

import java.lang.foreign.MemorySegment;

/**
 * A table that passed checks 2-5, as the private copy the checks ran on. Later checks and users read
 * this copy, never the source again (no double fetch).
 *
 * @param bytes      the verified copy; owned by this record, never handed to untrusted code
 * @param minor      the table's own minor
 * @param serial     the registry serial stamped in the header
 * @param keyEpoch   the key epoch stamped in the header
 */
public record VerifiedTable(byte[] bytes, int minor, long serial, long keyEpoch) {

    public MemorySegment segment() {
        return MemorySegment.ofArray(bytes).asReadOnly();
    }

    public long payloadSize() {
        return bytes.length - AbiV1.HEADER_SIZE;
    }

    /** A pointer-sized value of the payload at {@code payloadOffset}. */
    public long payloadAddressAt(long payloadOffset) {
        return MemorySegment.ofArray(bytes).get(AbiV1.LE_LONG, AbiV1.HEADER_SIZE + payloadOffset);
    }
}
