package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.tabguard.guard.AbiV1.*;

/**
 * Writes a table's header, checksum and signature. Only the registry's sealed builder and its key
 * rotation call this (an architecture test enforces it); the package is exported to Tabguard's own
 * modules alone. Stateless and thread-safe; the caller owns the table memory.
 */
public final class TableStamper {
    private TableStamper() {}

    /**
     * Stamps {@code table} — header followed by a payload the caller has already written — as a table of
     * {@code schema} at {@code minor}, and returns the stamped bytes: the snapshot later checks compare
     * the live table against.
     *
     * @param table exactly {@code HEADER_SIZE + schema.payloadSize(minor)} bytes
     */
    public static byte[] stamp(MemorySegment table, Schema schema, int minor, long serial, long keyEpoch,
                               SigningKey key, long boundAddress) {
        long payloadSize = schema.payloadSize(minor);
        if (table.byteSize() != HEADER_SIZE + payloadSize) {
            throw new IllegalArgumentException("table memory is " + table.byteSize() + " bytes, schema " + schema.name()
                    + " minor " + minor + " needs " + (HEADER_SIZE + payloadSize));
        }
        byte[] bytes = table.toArray(ValueLayout.JAVA_BYTE);
        MemorySegment h = MemorySegment.ofArray(bytes);
        h.asSlice(0, HEADER_SIZE).fill((byte) 0);
        h.set(LE_LONG, OFFSET_MAGIC, MAGIC);
        h.set(LE_SHORT, OFFSET_ABI_VERSION, (short) ABI_VERSION);
        h.set(LE_SHORT, OFFSET_HEADER_SIZE, (short) HEADER_SIZE);
        h.set(LE_INT, OFFSET_TABLE_SIZE, (int) (HEADER_SIZE + payloadSize));
        h.set(LE_INT, OFFSET_PAYLOAD_SIZE, (int) payloadSize);
        h.set(LE_INT, OFFSET_SLOT_COUNT, schema.slotCount(minor));
        h.set(LE_SHORT, OFFSET_SCHEMA_MAJOR, (short) schema.major());
        h.set(LE_SHORT, OFFSET_SCHEMA_MINOR, (short) minor);
        h.set(LE_LONG, OFFSET_SCHEMA_ID, schema.id());
        h.set(LE_LONG, OFFSET_LAYOUT_ID, schema.layoutId(minor));
        h.set(LE_LONG, OFFSET_SERIAL, serial);
        for (long offset : schema.consumerWrittenOffsets(minor)) {
            h.set(LE_LONG, HEADER_SIZE + offset, 0L);   // counted as zero, and NULL until the consumer writes it
        }
        byte[] sealed = seal(bytes, keyEpoch, key, boundAddress);
        MemorySegment.copy(MemorySegment.ofArray(sealed), 0, table, 0, sealed.length);
        return sealed;
    }

    /**
     * The bytes of a stamped table re-signed under a new key epoch (key rotation), from its verified
     * snapshot; only the header's epoch, checksum and signature differ. Writes no memory: the caller
     * writes the words that changed, each checked against the verified value it replaces, so that a
     * tamper racing the rotation is neither undone nor blessed.
     */
    public static byte[] resign(byte[] verifiedSnapshot, long keyEpoch, SigningKey key, long boundAddress) {
        return seal(verifiedSnapshot.clone(), keyEpoch, key, boundAddress);
    }

    private static byte[] seal(byte[] bytes, long keyEpoch, SigningKey key, long boundAddress) {
        MemorySegment h = MemorySegment.ofArray(bytes);
        h.set(LE_LONG, OFFSET_KEY_EPOCH, keyEpoch);
        h.set(LE_INT, OFFSET_CHECKSUM, 0);
        h.asSlice(OFFSET_SIGNATURE, SIGNATURE_SIZE).fill((byte) 0);
        h.set(LE_INT, OFFSET_CHECKSUM, TableVerifier.checksum(bytes));
        byte[] signature = TableVerifier.signature(bytes, boundAddress, key);
        MemorySegment.copy(MemorySegment.ofArray(signature), 0, h, OFFSET_SIGNATURE, SIGNATURE_SIZE);
        return bytes;
    }
}
