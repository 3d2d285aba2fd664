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
    /**
     * Hard ceiling on a whole table, header included (64 KiB): a builder refuses a schema whose payload
     * does not fit, and bytes claiming more are refused ({@code TABLE_SIZE}) without being read.
     */
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

    /** Size of the header, and the offset of the payload from the table's start: 128 bytes. */
    public static final int HEADER_SIZE = Math.toIntExact(HEADER.byteSize());

    /** Byte offset of {@code magic}, u64 in the header. */
    public static final int OFFSET_MAGIC = offsetOf("magic");
    /** Byte offset of {@code abi_version}, u16 in the header. */
    public static final int OFFSET_ABI_VERSION = offsetOf("abi_version");
    /** Byte offset of {@code header_size}, u16 in the header. */
    public static final int OFFSET_HEADER_SIZE = offsetOf("header_size");
    /** Byte offset of {@code flags}, u32 (zero in v1) in the header. */
    public static final int OFFSET_FLAGS = offsetOf("flags");
    /** Byte offset of {@code table_size}, u32 (header and payload) in the header. */
    public static final int OFFSET_TABLE_SIZE = offsetOf("table_size");
    /** Byte offset of {@code payload_size}, u32 in the header. */
    public static final int OFFSET_PAYLOAD_SIZE = offsetOf("payload_size");
    /** Byte offset of {@code slot_count}, u32 in the header. */
    public static final int OFFSET_SLOT_COUNT = offsetOf("slot_count");
    /** Byte offset of {@code schema_major}, u16 in the header. */
    public static final int OFFSET_SCHEMA_MAJOR = offsetOf("schema_major");
    /** Byte offset of {@code schema_minor}, u16 in the header. */
    public static final int OFFSET_SCHEMA_MINOR = offsetOf("schema_minor");
    /** Byte offset of {@code schema_id}, u64 in the header. */
    public static final int OFFSET_SCHEMA_ID = offsetOf("schema_id");
    /** Byte offset of {@code serial}, u64 in the header. */
    public static final int OFFSET_SERIAL = offsetOf("serial");
    /** Byte offset of {@code key_epoch}, u64 in the header. */
    public static final int OFFSET_KEY_EPOCH = offsetOf("key_epoch");
    /** Byte offset of {@code checksum}, u32 CRC32C in the header. */
    public static final int OFFSET_CHECKSUM = offsetOf("checksum");
    /** Byte offset of {@code reserved0}, u32 (zero) in the header. */
    public static final int OFFSET_RESERVED0 = offsetOf("reserved0");
    /** Byte offset of {@code signature}, {@link #SIGNATURE_SIZE} bytes in the header. */
    public static final int OFFSET_SIGNATURE = offsetOf("signature");
    /** Byte offset of {@code reserved1}, {@link #RESERVED1_SIZE} bytes (zero) in the header. */
    public static final int OFFSET_RESERVED1 = offsetOf("reserved1");
    /** Length of {@code reserved1}, the zero bytes before {@code layout_id}. */
    public static final int RESERVED1_SIZE = 24;
    /** Byte offset of {@code layout_id}, u64 in the header: the hash of the table's members at its minor. */
    public static final int OFFSET_LAYOUT_ID = offsetOf("layout_id");

    /** Little-endian, unaligned 16-bit accessor: untrusted bytes may sit at any address. */
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned 32-bit accessor. */
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned 64-bit accessor. */
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private static int offsetOf(String field) {
        return Math.toIntExact(HEADER.byteOffset(PathElement.groupElement(field)));
    }
}
