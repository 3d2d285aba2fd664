package io.tabguard.guard.internal;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;

import java.io.Serial;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.random.RandomGenerator;

import static io.tabguard.guard.AbiV1.HEADER_SIZE;
import static io.tabguard.guard.AbiV1.LE_INT;
import static io.tabguard.guard.AbiV1.LE_LONG;
import static io.tabguard.guard.AbiV1.LE_SHORT;
import static io.tabguard.guard.AbiV1.OFFSET_CHECKSUM;
import static io.tabguard.guard.AbiV1.OFFSET_SIGNATURE;
import static io.tabguard.guard.AbiV1.SIGNATURE_SIZE;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Makes valid tables the way the registry's builder does (write the payload, then stamp), and edits
 * them the way an attacker or a bug would. Tables are plain {@code byte[]}s so tests can poke at them.
 */
final class TestTables {
    private TestTables() {}

    /** Where the tests' tables claim to live: the address their signatures are bound to. */
    static final long BOUND = 0x7f12_3456_7000L;
    static final long EPOCH = 3;
    static final long SERIAL = 0x5151_0000_0042L;
    /** The registry key of the tests; never destroyed. */
    static final SigningKey KEY = key(1);

    static final FunctionDescriptor OPEN = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    static final FunctionDescriptor READ = FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG);
    static final FunctionDescriptor CLOSE = FunctionDescriptor.ofVoid(ADDRESS);

    /** Three slots and an int: payload {@code open@0 read@8 close@16 version@24}, 28 bytes padded to 32. */
    static Schema smallSchema() {
        return Schema.builder("test.small", 1)
                .slot("open", OPEN)
                .slot("read", READ)
                .slot("close", CLOSE)
                .data("version", JAVA_INT)
                .build();
    }

    /**
     * A family with three minors, each growing the struct: minor 0 {@code open@0 version@8} (16 bytes),
     * minor 1 adds {@code read@16} (24), minor 2 adds {@code close@24 level@32} (40).
     */
    static Schema familySchema() {
        return Schema.builder("test.family", 2)
                .slot("open", OPEN).data("version", JAVA_INT)
                .minor(1).slot("read", READ)
                .minor(2).slot("close", CLOSE).data("level", JAVA_INT)
                .build();
    }

    /** The 32 key bytes of test key {@code seed}: all distinct from those of other seeds. */
    static byte[] keyBytes(int seed) {
        byte[] k = new byte[SigningKey.KEY_BYTES];
        for (int i = 0; i < k.length; i++) {
            k[i] = (byte) (0x5A + 31 * seed + 7 * i + (i * i) * seed);
        }
        return k;
    }

    /** A signing key with known bytes, so tests can look for them where they must not be. */
    static SigningKey key(int seed) {
        return SigningKey.generate(new FixedBytes(keyBytes(seed)));
    }

    static String keyHex(int seed) {
        return HexFormat.of().formatHex(keyBytes(seed));
    }

    static KeyLookup lookup(long epoch, SigningKey key) {
        return e -> e == epoch ? key : null;
    }

    static KeyLookup keys() {
        return lookup(EPOCH, KEY);
    }

    /** A fake code address for slot {@code i}: non-zero, 16-aligned, different for every slot. */
    static long fakePointer(int i) {
        return 0x7f00_dead_0000L + 0x100L * (i + 1);
    }

    /** A blank table of the right size for {@code schema} at {@code minor}. */
    static byte[] blank(Schema schema, int minor) {
        return new byte[HEADER_SIZE + Math.toIntExact(schema.payloadSize(minor))];
    }

    /** Writes every member of minors {@code 0..upToMinor}: a fake pointer per slot, a non-zero pattern per data member. */
    static void fillPayload(byte[] table, Schema schema, int upToMinor) {
        MemorySegment t = MemorySegment.ofArray(table);
        int i = 0;
        for (Schema.Member m : schema.members(upToMinor)) {
            writeNonZero(t, m, fakePointer(i++));
        }
    }

    /** Writes a non-zero value into member {@code m}: {@code pointer} into a slot, else bytes none of which is zero. */
    static void writeNonZero(MemorySegment table, Schema.Member m, long pointer) {
        long at = HEADER_SIZE + m.offset();
        if (m instanceof Schema.Slot) {
            table.set(LE_LONG, at, pointer);
        } else {
            for (long b = 0; b < m.layout().byteSize(); b++) {
                table.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at + b, (byte) (0x11 * (b + 1) | 1));
            }
        }
    }

    /** Random, non-zero bytes for member {@code m}. */
    static void writeRandomNonZero(MemorySegment table, Schema.Member m, RandomGenerator random) {
        long at = HEADER_SIZE + m.offset();
        for (long b = 0; b < m.layout().byteSize(); b++) {
            table.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at + b, (byte) (1 + random.nextInt(255)));
        }
    }

    static byte[] stamp(byte[] table, Schema schema, int minor, long serial, long epoch, SigningKey key, long bound) {
        TableStamper.stamp(MemorySegment.ofArray(table), schema, minor, serial, epoch, key, bound);
        return table;
    }

    /** A valid table of {@code schema} at {@code minor}, every member filled, stamped with the test key for {@link #BOUND}. */
    static byte[] valid(Schema schema, int minor) {
        byte[] t = blank(schema, minor);
        fillPayload(t, schema, minor);
        return stamp(t, schema, minor, SERIAL, EPOCH, KEY, BOUND);
    }

    static VerifiedTable verify(byte[] table, Schema consumer) {
        return TableVerifier.verify(MemorySegment.ofArray(table), BOUND, consumer, keys());
    }

    /** Asserts that verifying fails with {@link TableRejectedException} (and nothing else), and returns it. */
    static TableRejectedException rejected(byte[] table, Schema consumer) {
        return assertThrows(TableRejectedException.class, () -> verify(table, consumer));
    }

    /** Recomputes checksum and signature over the table as it now is, as a key holder would. */
    static byte[] reseal(byte[] table) {
        return reseal(table, KEY, BOUND);
    }

    static byte[] reseal(byte[] table, SigningKey key, long bound) {
        fixChecksum(table);
        byte[] signature = TableVerifier.signature(table, bound, key);
        System.arraycopy(signature, 0, table, OFFSET_SIGNATURE, SIGNATURE_SIZE);
        return table;
    }

    /** Recomputes the CRC32C only, as anyone can: what an attacker without the key does after an edit. */
    static byte[] fixChecksum(byte[] table) {
        putInt(table, OFFSET_CHECKSUM, TableVerifier.checksum(table));
        return table;
    }

    static int getInt(byte[] t, long offset) {
        return MemorySegment.ofArray(t).get(LE_INT, offset);
    }

    static long getLong(byte[] t, long offset) {
        return MemorySegment.ofArray(t).get(LE_LONG, offset);
    }

    static int getUnsignedShort(byte[] t, long offset) {
        return Short.toUnsignedInt(MemorySegment.ofArray(t).get(LE_SHORT, offset));
    }

    static byte[] putShort(byte[] t, long offset, int value) {
        MemorySegment.ofArray(t).set(LE_SHORT, offset, (short) value);
        return t;
    }

    static byte[] putInt(byte[] t, long offset, int value) {
        MemorySegment.ofArray(t).set(LE_INT, offset, value);
        return t;
    }

    static byte[] putLong(byte[] t, long offset, long value) {
        MemorySegment.ofArray(t).set(LE_LONG, offset, value);
        return t;
    }

    /** Sets table_size and payload_size consistently for a payload of {@code payloadSize} bytes. */
    static byte[] putSizes(byte[] t, long payloadSize) {
        putInt(t, AbiV1.OFFSET_PAYLOAD_SIZE, (int) payloadSize);
        return putInt(t, AbiV1.OFFSET_TABLE_SIZE, (int) (HEADER_SIZE + payloadSize));
    }

    static byte[] resized(byte[] t, int length) {
        return Arrays.copyOf(t, length);
    }

    /** Index, in a little-endian long, of its lowest non-zero byte. */
    static int firstNonZeroByte(long value) {
        return Long.numberOfTrailingZeros(value) / 8;
    }

    /** A SecureRandom that hands out fixed bytes: lets tests know a key's bytes. */
    static final class FixedBytes extends SecureRandom {
        @Serial
        private static final long serialVersionUID = 1L;
        private final byte[] bytes;

        FixedBytes(byte[] bytes) {
            this.bytes = bytes.clone();
        }

        @Override
        public void nextBytes(byte[] out) {
            if (out.length != bytes.length) {
                throw new IllegalArgumentException("asked for " + out.length + " bytes, holds " + bytes.length);
            }
            System.arraycopy(bytes, 0, out, 0, out.length);
        }
    }
}
