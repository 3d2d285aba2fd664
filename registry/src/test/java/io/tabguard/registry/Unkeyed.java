package io.tabguard.registry;

import io.tabguard.guard.AbiV1;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/** What anyone without the key can do to table bytes. */
final class Unkeyed {
    private Unkeyed() {}

    /** Rewrites the CRC32C of {@code table} (checksum and signature read as zero) to match its bytes. */
    static byte[] fixChecksum(byte[] table) {
        byte[] zeroed = table.clone();
        MemorySegment z = MemorySegment.ofArray(zeroed);
        z.set(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM, 0);
        z.asSlice(AbiV1.OFFSET_SIGNATURE, AbiV1.SIGNATURE_SIZE).fill((byte) 0);
        CRC32C crc = new CRC32C();
        crc.update(zeroed);
        MemorySegment.ofArray(table).set(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM, (int) crc.getValue());
        return table;
    }
}
