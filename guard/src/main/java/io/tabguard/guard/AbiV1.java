package io.tabguard.guard;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Tabguard table format, ABI version 1: the one place where the header's layout and field offsets
 * are defined. {@code native/include/tabguard.h} mirrors it, and a test compiles that header to prove
 * the two agree.
 *
 * <p>A table is one contiguous, 8-byte aligned block, little-endian:
 * {@code [header: HEADER_SIZE bytes][payload: the C struct the native consumer expects]}. Native code
 * is handed the payload's address; the header sits just before it.
 *
 * <p>Field semantics: {@code table_size = header_size + payload_size}; {@code flags} and every
 * {@code reserved} byte are zero in v1; {@code checksum} is the CRC32C of the whole table with
 * {@code checksum} and {@code signature} zeroed; {@code signature} is an HMAC-SHA-256 under the owning
 * registry's key over the whole table with {@code signature} zeroed, followed by the table's address;
 * {@code layout_id} is {@link Schema#layoutId(int)} at the table's own minor (the full member
 * description, where {@code schema_id} covers only minor 0), so checksum and signature cover it.
 *
 * <p>This class holds constants only; it is immutable and thread-safe.
 */
public final class AbiV1 {
    private AbiV1() {}

    /** {@code "TABGUARD"} read as a little-endian 64-bit integer. */
    public static final long MAGIC = 0x4452415547424154L;
    /** The only ABI version this library reads or writes. */
    public static final int ABI_VERSION = 1;
    /** Length of the signature field: an HMAC-SHA-256. */
    public static final int SIGNATURE_SIZE = 32;
    /** Hard ceiling on a whole table; anything claiming more is refused without being read. */
    public static final long MAX_TABLE_SIZE = 64 * 1024;

    /** The header, field by field, as C sees it on a little-endian LP64 machine. */
    public static final StructLayout HEADER = MemoryLayout.structLayout(
            JAVA_LONG.withName("magic"),
            JAVA_SHORT.withName("abi_version"),
            JAVA_SHORT.withName("header_size"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("table_size"),
            JAVA_INT.withName("payload_size"),
            JAVA_INT.withName("slot_count"),
            JAVA_SHORT.withName("schema_major"),
            JAVA_SHORT.withName("schema_minor"),
            JAVA_LONG.withName("schema_id"),
            JAVA_LONG.withName("serial"),
            JAVA_LONG.withName("key_epoch"),
            JAVA_INT.withName("checksum"),
            JAVA_INT.withName("reserved0"),
            MemoryLayout.sequenceLayout(SIGNATURE_SIZE, JAVA_BYTE).withName("signature"),
            MemoryLayout.sequenceLayout(24, JAVA_BYTE).withName("reserved1"),
            JAVA_LONG.withName("layout_id"))
            .withName("tabguard_header_v1");

    public static final int HEADER_SIZE = Math.toIntExact(HEADER.byteSize());

    public static final int OFFSET_MAGIC = offsetOf("magic");
    public static final int OFFSET_ABI_VERSION = offsetOf("abi_version");
    public static final int OFFSET_HEADER_SIZE = offsetOf("header_size");
    public static final int OFFSET_FLAGS = offsetOf("flags");
    public static final int OFFSET_TABLE_SIZE = offsetOf("table_size");
    public static final int OFFSET_PAYLOAD_SIZE = offsetOf("payload_size");
    public static final int OFFSET_SLOT_COUNT = offsetOf("slot_count");
    public static final int OFFSET_SCHEMA_MAJOR = offsetOf("schema_major");
    public static final int OFFSET_SCHEMA_MINOR = offsetOf("schema_minor");
    public static final int OFFSET_SCHEMA_ID = offsetOf("schema_id");
    public static final int OFFSET_SERIAL = offsetOf("serial");
    public static final int OFFSET_KEY_EPOCH = offsetOf("key_epoch");
    public static final int OFFSET_CHECKSUM = offsetOf("checksum");
    public static final int OFFSET_RESERVED0 = offsetOf("reserved0");
    public static final int OFFSET_SIGNATURE = offsetOf("signature");
    public static final int OFFSET_RESERVED1 = offsetOf("reserved1");
    public static final int RESERVED1_SIZE = 24;
    public static final int OFFSET_LAYOUT_ID = offsetOf("layout_id");

    /** Little-endian, unaligned accessors: untrusted bytes may sit at any address. */
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private static int offsetOf(String field) {
        return Math.toIntExact(HEADER.byteOffset(PathElement.groupElement(field)));
    }
}
