package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static io.tabguard.guard.AbiV1.*;

/**
 * Checks 2-5 of the design — structure, version, checksum, signature — over untrusted bytes.
 *
 * <p>The source is read exactly once, into a private copy, and only within its extent; every check
 * runs on the copy. Whatever the bytes, the only exception thrown is {@link TableRejectedException}.
 * Stateless and thread-safe.
 */
public final class TableVerifier {
    private TableVerifier() {}

    /**
     * Verifies {@code source} (whose {@code byteSize()} is the extent the caller vouches for) as a table
     * of {@code expected}'s schema, signed for {@code boundAddress}.
     *
     * @param expected the caller's schema, at the caller's minor
     */
    public static VerifiedTable verify(MemorySegment source, long boundAddress, Schema expected, KeyLookup keys) {
        byte[] copy = copyWithinExtent(source);
        MemorySegment t = MemorySegment.ofArray(copy);
        checkStructure(t, copy.length);
        int minor = checkVersion(t, expected);
        zeroConsumerWritten(t, expected, minor);
        checkChecksum(copy);
        long epoch = t.get(LE_LONG, OFFSET_KEY_EPOCH);
        checkSignature(copy, boundAddress, keys.forEpoch(epoch));
        return new VerifiedTable(copy, minor, t.get(LE_LONG, OFFSET_SERIAL), epoch);
    }

    /** Check 1's byte form: refuse an extent no table can have, else copy it once. */
    static byte[] copyWithinExtent(MemorySegment source) {
        long extent = source.byteSize();
        if (extent < HEADER_SIZE) {
            throw new TableRejectedException(Violation.TRUNCATED, extent, extent + " bytes, the header alone is " + HEADER_SIZE);
        }
        if (extent > MAX_TABLE_SIZE) {
            throw new TableRejectedException(Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                    extent + " bytes exceed the maximum table size " + MAX_TABLE_SIZE);
        }
        byte[] copy = new byte[(int) extent];
        MemorySegment.copy(source, 0, MemorySegment.ofArray(copy), 0, extent);
        return copy;
    }

    private static void checkStructure(MemorySegment t, long extent) {
        if (t.get(LE_LONG, OFFSET_MAGIC) != MAGIC) {
            throw new TableRejectedException(Violation.BAD_MAGIC, OFFSET_MAGIC);
        }
        int abi = Short.toUnsignedInt(t.get(LE_SHORT, OFFSET_ABI_VERSION));
        if (abi != ABI_VERSION) {
            throw new TableRejectedException(Violation.ABI_VERSION, OFFSET_ABI_VERSION, "version " + abi);
        }
        int headerSize = Short.toUnsignedInt(t.get(LE_SHORT, OFFSET_HEADER_SIZE));
        if (headerSize != HEADER_SIZE) {
            throw new TableRejectedException(Violation.HEADER_SIZE, OFFSET_HEADER_SIZE, headerSize + " != " + HEADER_SIZE);
        }
        if (t.get(LE_INT, OFFSET_FLAGS) != 0) {
            throw new TableRejectedException(Violation.FLAGS, OFFSET_FLAGS);
        }
        if (t.get(LE_INT, OFFSET_RESERVED0) != 0) {
            throw new TableRejectedException(Violation.RESERVED, OFFSET_RESERVED0);
        }
        for (int i = 0; i < RESERVED1_SIZE; i++) {
            if (t.get(java.lang.foreign.ValueLayout.JAVA_BYTE, OFFSET_RESERVED1 + i) != 0) {
                throw new TableRejectedException(Violation.RESERVED, OFFSET_RESERVED1 + i);
            }
        }
        long tableSize = Integer.toUnsignedLong(t.get(LE_INT, OFFSET_TABLE_SIZE));
        long payloadSize = Integer.toUnsignedLong(t.get(LE_INT, OFFSET_PAYLOAD_SIZE));
        // Both are at most 2^32-1, so the sum cannot overflow a long.
        if (tableSize != headerSize + payloadSize || tableSize > MAX_TABLE_SIZE || payloadSize == 0) {
            throw new TableRejectedException(Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                    "table_size " + tableSize + ", payload_size " + payloadSize);
        }
        if (tableSize > extent) {
            throw new TableRejectedException(Violation.TRUNCATED, extent, "the table claims " + tableSize + " bytes, " + extent + " given");
        }
        if (tableSize < extent) {
            throw new TableRejectedException(Violation.TABLE_SIZE, OFFSET_TABLE_SIZE, "the table claims " + tableSize + " bytes, " + extent + " given");
        }
        long slotCount = Integer.toUnsignedLong(t.get(LE_INT, OFFSET_SLOT_COUNT));
        if (slotCount > payloadSize / Long.BYTES) {
            throw new TableRejectedException(Violation.SLOT_COUNT, OFFSET_SLOT_COUNT, slotCount + " slots in " + payloadSize + " bytes");
        }
    }

    /**
     * The version rule. Major and schema id match exactly. Then, for the table's minor {@code t} and the
     * caller's {@code c}: if {@code t <= c} the payload size and slot count are exactly those minor
     * {@code t} defines, and the layout id is the caller's at minor {@code t} (every member the caller
     * knows at {@code t} is the table's); if {@code t > c} the payload is at least the caller's and every
     * byte past the caller's last member (its tail padding included, where a newer minor's members may
     * sit) is zero. A newer table's layout id hashes members the caller has never seen, so it cannot be
     * checked here: the registry checks the schema it built the table with instead.
     */
    private static int checkVersion(MemorySegment t, Schema expected) {
        int major = Short.toUnsignedInt(t.get(LE_SHORT, OFFSET_SCHEMA_MAJOR));
        if (major != expected.major()) {
            throw new TableRejectedException(Violation.SCHEMA_MAJOR, OFFSET_SCHEMA_MAJOR, "major " + major + ", expected " + expected.major());
        }
        if (t.get(LE_LONG, OFFSET_SCHEMA_ID) != expected.id()) {
            throw new TableRejectedException(Violation.SCHEMA_ID, OFFSET_SCHEMA_ID, "expected schema " + expected.name());
        }
        int minor = Short.toUnsignedInt(t.get(LE_SHORT, OFFSET_SCHEMA_MINOR));
        long payloadSize = Integer.toUnsignedLong(t.get(LE_INT, OFFSET_PAYLOAD_SIZE));
        long slotCount = Integer.toUnsignedLong(t.get(LE_INT, OFFSET_SLOT_COUNT));
        int callerMinor = expected.minor();
        if (minor <= callerMinor) {
            if (payloadSize != expected.payloadSize(minor)) {
                throw new TableRejectedException(Violation.PAYLOAD_SIZE, OFFSET_PAYLOAD_SIZE,
                        "minor " + minor + " defines " + expected.payloadSize(minor) + " bytes, the table has " + payloadSize);
            }
            if (slotCount != expected.slotCount(minor)) {
                throw new TableRejectedException(Violation.SLOT_COUNT, OFFSET_SLOT_COUNT,
                        "minor " + minor + " defines " + expected.slotCount(minor) + " slots, the table has " + slotCount);
            }
            if (t.get(LE_LONG, OFFSET_LAYOUT_ID) != expected.layoutId(minor)) {
                throw new TableRejectedException(Violation.LAYOUT_MISMATCH, OFFSET_LAYOUT_ID,
                        "the members of minor " + minor + " are not those of " + expected.name() + " minor " + minor);
            }
        } else {
            long known = expected.payloadSize(callerMinor);
            if (payloadSize < known) {
                throw new TableRejectedException(Violation.PAYLOAD_SIZE, OFFSET_PAYLOAD_SIZE,
                        "a newer minor " + minor + " cannot be smaller than minor " + callerMinor + "'s " + known + " bytes");
            }
            if (slotCount < expected.slotCount(callerMinor)) {
                throw new TableRejectedException(Violation.SLOT_COUNT, OFFSET_SLOT_COUNT,
                        "a newer minor has fewer slots than minor " + callerMinor);
            }
            requireUnknownMembersZero(t, expected, minor);
        }
        return minor;
    }

    /**
     * The copy_struct_from_user rule for a table of a newer minor than {@code caller} knows: every byte
     * past the caller's last member is zero. A newer minor's first members may sit in the tail padding of
     * the caller's struct (C puts them there), so the scan starts where that member ends, not at the
     * caller's size. {@code table} is header and payload, already bounded by its verified size.
     */
    public static void requireUnknownMembersZero(MemorySegment table, Schema caller, int tableMinor) {
        for (long offset = HEADER_SIZE + endOfMembers(caller, caller.minor()); offset < table.byteSize(); offset++) {
            if (table.get(java.lang.foreign.ValueLayout.JAVA_BYTE, offset) != 0) {
                throw new TableRejectedException(Violation.UNKNOWN_MEMBER_NONZERO, offset,
                        "minor " + tableMinor + " has data past what minor " + caller.minor() + " knows");
            }
        }
    }

    /** Where the last member of {@code schema} at {@code minor} ends: its size without tail padding. */
    private static long endOfMembers(Schema schema, int minor) {
        long end = 0;
        for (Schema.Member m : schema.members(minor)) {
            end = Math.max(end, m.offset() + m.layout().byteSize());
        }
        return end;
    }

    private static void checkChecksum(byte[] table) {
        if (checksum(table) != MemorySegment.ofArray(table).get(LE_INT, OFFSET_CHECKSUM)) {
            throw new TableRejectedException(Violation.CHECKSUM, OFFSET_CHECKSUM);
        }
    }

    private static void checkSignature(byte[] table, long boundAddress, SigningKey key) {
        byte[] claimed = java.util.Arrays.copyOfRange(table, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE);
        byte[] actual;
        try {
            actual = key == null ? null : signature(table, boundAddress, key);
        } catch (IllegalStateException destroyedDuringRotation) {
            actual = null;
        }
        if (actual == null || !MacComparison.equal(actual, claimed)) {
            throw new TableRejectedException(Violation.SIGNATURE, OFFSET_SIGNATURE);
        }
    }

    /**
     * The consumer-written members the caller's schema knows (up to the table's minor) count as zero:
     * the native consumer may have written them. The copy, not the source, is changed.
     */
    private static void zeroConsumerWritten(MemorySegment copy, Schema expected, int tableMinor) {
        for (long offset : expected.consumerWrittenOffsets(Math.min(tableMinor, expected.minor()))) {
            copy.set(LE_LONG, HEADER_SIZE + offset, 0L);
        }
    }

    /** CRC32C of the table with checksum and signature read as zero. */
    static int checksum(byte[] table) {
        CRC32C crc = new CRC32C();
        crc.update(table, 0, OFFSET_CHECKSUM);
        crc.update(ZEROS, 0, Integer.BYTES);
        crc.update(table, OFFSET_CHECKSUM + Integer.BYTES, OFFSET_SIGNATURE - OFFSET_CHECKSUM - Integer.BYTES);
        crc.update(ZEROS, 0, SIGNATURE_SIZE);
        int rest = OFFSET_SIGNATURE + SIGNATURE_SIZE;
        crc.update(table, rest, table.length - rest);
        return (int) crc.getValue();
    }

    /** The MAC of the table with its signature read as zero, bound to {@code boundAddress}. */
    static byte[] signature(byte[] table, long boundAddress, SigningKey key) {
        return key.mac(table, boundAddress);
    }

    private static final byte[] ZEROS = new byte[SIGNATURE_SIZE];
}
