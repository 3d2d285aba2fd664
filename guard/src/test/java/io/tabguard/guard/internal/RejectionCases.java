package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.Violation;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static io.tabguard.guard.AbiV1.*;
import static io.tabguard.guard.internal.TestTables.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One table per refusal the guard's byte checks can make (TRUNCATED .. SIGNATURE), each with the
 * violation and offset it must be refused with, and the nearest valid table, which must pass.
 *
 * <p>Unless the case is about checksum or signature, the edited table is re-sealed (valid CRC32C and
 * signature over the edited bytes): only the check the case names can refuse it.
 */
final class RejectionCases {
    private RejectionCases() {}

    /** Bytes to verify, and how. */
    record Check(byte[] table, Schema consumer, long bound, KeyLookup keys) {
        VerifiedTable verify() {
            return TableVerifier.verify(MemorySegment.ofArray(table), bound, consumer, keys);
        }
    }

    record Case(String name, Violation violation, long offset, Check refused, Check nearestValid) {
        @Override
        public String toString() {
            return violation + ": " + name;
        }
    }

    /** Fresh tables on every call: tests may not share mutable bytes. */
    static List<Case> all() {
        List<Case> cases = new ArrayList<>();
        Schema small = smallSchema();
        Check valid = new Check(valid(small, 0), small, BOUND, keys());
        int size = valid.table().length;

        // TRUNCATED: fewer bytes than the header, or than the table claims.
        for (int length : new int[] {0, 7, HEADER_SIZE - 1, HEADER_SIZE, size - 8, size - 1}) {
            cases.add(new Case(length + " of " + size + " bytes", Violation.TRUNCATED, length,
                    new Check(resealed(resized(valid(small, 0), length)), small, BOUND, keys()), valid));
        }

        // BAD_MAGIC
        cases.add(header(valid, "TABGUARC", Violation.BAD_MAGIC, OFFSET_MAGIC, t -> t[7] = 'C'));
        cases.add(header(valid, "magic written big-endian", Violation.BAD_MAGIC, OFFSET_MAGIC,
                t -> putLong(t, OFFSET_MAGIC, Long.reverseBytes(MAGIC))));
        cases.add(header(valid, "magic zero", Violation.BAD_MAGIC, OFFSET_MAGIC, t -> putLong(t, OFFSET_MAGIC, 0)));

        // ABI_VERSION
        for (int abi : new int[] {0, 2, 0x0101, 0xFFFF}) {
            cases.add(header(valid, "abi_version " + abi, Violation.ABI_VERSION, OFFSET_ABI_VERSION,
                    t -> putShort(t, OFFSET_ABI_VERSION, abi)));
        }

        // HEADER_SIZE
        for (int headerSize : new int[] {0, 64, HEADER_SIZE - 1, HEADER_SIZE + 1, 2 * HEADER_SIZE, 0xFFFF}) {
            cases.add(header(valid, "header_size " + headerSize, Violation.HEADER_SIZE, OFFSET_HEADER_SIZE,
                    t -> putShort(t, OFFSET_HEADER_SIZE, headerSize)));
        }

        // TABLE_SIZE
        int payload = size - HEADER_SIZE;
        cases.add(header(valid, "table_size one more than header + payload", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                t -> putInt(t, OFFSET_TABLE_SIZE, size + 1)));
        cases.add(header(valid, "table_size 8 less than header + payload", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                t -> putInt(t, OFFSET_TABLE_SIZE, size - 8)));
        cases.add(header(valid, "payload_size 8 more, table_size unchanged", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                t -> putInt(t, OFFSET_PAYLOAD_SIZE, payload + 8)));
        cases.add(header(valid, "empty payload", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                t -> putSizes(t, 0)));
        cases.add(header(valid, "consistent sizes past the hard maximum", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                t -> putSizes(t, MAX_TABLE_SIZE - HEADER_SIZE + 8)));
        cases.add(header(valid, "consistent sizes at 2^32-1", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                t -> putSizes(t, 0xFFFF_FFFFL - HEADER_SIZE)));
        cases.add(header(valid, "table_size 0 with a payload_size that wraps 32-bit arithmetic to 0", Violation.TABLE_SIZE,
                OFFSET_TABLE_SIZE, t -> {
                    putInt(t, OFFSET_PAYLOAD_SIZE, -HEADER_SIZE);
                    putInt(t, OFFSET_TABLE_SIZE, 0);
                }));
        cases.add(new Case("one byte more than the table claims", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                new Check(resealed(resized(valid(small, 0), size + 1)), small, BOUND, keys()), valid));
        cases.add(new Case("an extent past the hard maximum", Violation.TABLE_SIZE, OFFSET_TABLE_SIZE,
                new Check(resealed(resized(valid(small, 0), (int) MAX_TABLE_SIZE + 1)), small, BOUND, keys()), valid));

        // FLAGS
        for (int flags : new int[] {1, 0x100, 0x8000_0000}) {
            cases.add(header(valid, "flags 0x" + Integer.toHexString(flags), Violation.FLAGS, OFFSET_FLAGS,
                    t -> putInt(t, OFFSET_FLAGS, flags)));
        }

        // RESERVED
        cases.add(header(valid, "reserved0 low bit", Violation.RESERVED, OFFSET_RESERVED0, t -> putInt(t, OFFSET_RESERVED0, 1)));
        cases.add(header(valid, "reserved0 high bit", Violation.RESERVED, OFFSET_RESERVED0,
                t -> putInt(t, OFFSET_RESERVED0, 0x8000_0000)));
        for (int i : new int[] {0, 17, RESERVED1_SIZE - 1}) {
            cases.add(header(valid, "reserved1[" + i + "]", Violation.RESERVED, OFFSET_RESERVED1 + i,
                    t -> t[OFFSET_RESERVED1 + i] = (byte) 0x80));
        }
        cases.add(header(valid, "reserved1[3] and [20]: the first is named", Violation.RESERVED, OFFSET_RESERVED1 + 3, t -> {
            t[OFFSET_RESERVED1 + 20] = 1;
            t[OFFSET_RESERVED1 + 3] = 1;
        }));

        // SLOT_COUNT (3 slots in a 32-byte payload)
        for (int slots : new int[] {0, 2, 4, 5, -1}) {
            cases.add(header(valid, "slot_count " + Integer.toUnsignedString(slots), Violation.SLOT_COUNT, OFFSET_SLOT_COUNT,
                    t -> putInt(t, OFFSET_SLOT_COUNT, slots)));
        }

        // SCHEMA_ID
        Schema otherSignature = Schema.builder("test.small", 1)
                .slot("open", OPEN).slot("read", READ).slot("close", OPEN).data("version", JAVA_INT).build();
        cases.add(new Case("a table of test.small checked as a same-shaped schema whose close slot has another C signature",
                Violation.SCHEMA_ID, OFFSET_SCHEMA_ID, new Check(valid(small, 0), otherSignature, BOUND, keys()),
                new Check(valid(otherSignature, 0), otherSignature, BOUND, keys())));
        Schema otherName = Schema.builder("test.other", 1)
                .slot("open", OPEN).slot("read", READ).slot("close", CLOSE).data("version", JAVA_INT).build();
        cases.add(new Case("a table of test.small checked as test.other, the same struct",
                Violation.SCHEMA_ID, OFFSET_SCHEMA_ID, new Check(valid(small, 0), otherName, BOUND, keys()),
                new Check(valid(otherName, 0), otherName, BOUND, keys())));
        cases.add(header(valid, "one bit of schema_id", Violation.SCHEMA_ID, OFFSET_SCHEMA_ID, t -> t[OFFSET_SCHEMA_ID + 5] ^= 0x10));

        // SCHEMA_MAJOR
        cases.add(header(valid, "schema_major + 1", Violation.SCHEMA_MAJOR, OFFSET_SCHEMA_MAJOR,
                t -> putShort(t, OFFSET_SCHEMA_MAJOR, small.major() + 1)));
        Schema major2 = Schema.builder("test.small", 2)
                .slot("open", OPEN).slot("read", READ).slot("close", CLOSE).data("version", JAVA_INT).build();
        cases.add(new Case("a table of test.small 2 checked as test.small 1", Violation.SCHEMA_MAJOR, OFFSET_SCHEMA_MAJOR,
                new Check(valid(major2, 0), small, BOUND, keys()), new Check(valid(major2, 0), major2, BOUND, keys())));

        // PAYLOAD_SIZE: sizes consistent with each other and the bytes, only the schema's size differs.
        cases.add(new Case("a minor-0 table 8 bytes larger than minor 0 defines", Violation.PAYLOAD_SIZE, OFFSET_PAYLOAD_SIZE,
                new Check(resealed(putSizes(resized(valid(small, 0), size + 8), payload + 8)), small, BOUND, keys()), valid));
        cases.add(new Case("a minor-0 table 8 bytes smaller than minor 0 defines", Violation.PAYLOAD_SIZE, OFFSET_PAYLOAD_SIZE,
                new Check(resealed(putSizes(resized(valid(small, 0), size - 8), payload - 8)), small, BOUND, keys()), valid));

        // UNKNOWN_MEMBER_NONZERO: a minor-1 table whose new slot is set, read by a minor-0 caller.
        Schema grown = Schema.builder("test.small", 1)
                .slot("open", OPEN).slot("read", READ).slot("close", CLOSE).data("version", JAVA_INT)
                .minor(1).slot("seek", READ)
                .build();
        Schema.Member seek = grown.member("seek").orElseThrow();
        long seekPointer = fakePointer(9);
        byte[] newer = blank(grown, 1);
        fillPayload(newer, grown, 0);
        putLong(newer, HEADER_SIZE + seek.offset(), seekPointer);
        byte[] newerWithZeroSeek = blank(grown, 1);
        fillPayload(newerWithZeroSeek, grown, 0);
        cases.add(new Case("a minor-1 table whose seek slot is set, read at minor 0", Violation.UNKNOWN_MEMBER_NONZERO,
                HEADER_SIZE + seek.offset() + firstNonZeroByte(seekPointer),
                new Check(stamp(newer, grown, 1, SERIAL, EPOCH, KEY, BOUND), grown.atMinor(0), BOUND, keys()),
                new Check(stamp(newerWithZeroSeek, grown, 1, SERIAL, EPOCH, KEY, BOUND), grown.atMinor(0), BOUND, keys())));

        // LAYOUT_MISMATCH: the schema id matches, the members at the table's minor do not.
        for (int i : new int[] {0, 7}) {
            cases.add(header(valid, "layout_id[" + i + "] flipped, CRC32C and signature fixed up", Violation.LAYOUT_MISMATCH,
                    OFFSET_LAYOUT_ID, t -> t[OFFSET_LAYOUT_ID + i] ^= 0x01));
        }
        cases.add(raw(valid, "layout_id zeroed, nothing fixed up: the version check names it before the CRC32C",
                Violation.LAYOUT_MISMATCH, OFFSET_LAYOUT_ID, t -> putLong(t, OFFSET_LAYOUT_ID, 0)));
        // The case: same name, major and minor-0 members, so the same schema id; offset 24 of minor 1
        // is int (*)(int) in one and void *(*)(void *) in the other.
        Schema intAtMinor1 = Schema.builder("test.small", 1)
                .slot("open", OPEN).slot("read", READ).slot("close", CLOSE).data("version", JAVA_INT)
                .minor(1).slot("hook", java.lang.foreign.FunctionDescriptor.of(JAVA_INT, JAVA_INT))
                .build();
        Schema pointerAtMinor1 = Schema.builder("test.small", 1)
                .slot("open", OPEN).slot("read", READ).slot("close", CLOSE).data("version", JAVA_INT)
                .minor(1).slot("hook", java.lang.foreign.FunctionDescriptor.of(ADDRESS, ADDRESS))
                .build();
        cases.add(new Case("a minor-1 table of one schema checked as another of the same id, whose minor-1 slot has another type",
                Violation.LAYOUT_MISMATCH, OFFSET_LAYOUT_ID, new Check(valid(intAtMinor1, 1), pointerAtMinor1, BOUND, keys()),
                new Check(valid(pointerAtMinor1, 1), pointerAtMinor1, BOUND, keys())));
        cases.add(new Case("the same, the caller's minor-1 schema seen at minor 1 by a minor-2 caller",
                Violation.LAYOUT_MISMATCH, OFFSET_LAYOUT_ID,
                new Check(valid(intAtMinor1, 1), Schema.builder("test.small", 1)
                        .slot("open", OPEN).slot("read", READ).slot("close", CLOSE).data("version", JAVA_INT)
                        .minor(1).slot("hook", java.lang.foreign.FunctionDescriptor.of(ADDRESS, ADDRESS))
                        .minor(2).slot("later", CLOSE).build(), BOUND, keys()),
                new Check(valid(intAtMinor1, 1), intAtMinor1, BOUND, keys())));

        // CHECKSUM: edits an attacker without the key makes and does not fix up.
        cases.add(raw(valid, "a bit of a slot pointer", Violation.CHECKSUM, OFFSET_CHECKSUM, t -> t[HEADER_SIZE + 3] ^= 1));
        cases.add(raw(valid, "a byte of the data member", Violation.CHECKSUM, OFFSET_CHECKSUM, t -> t[HEADER_SIZE + 24] ^= (byte) 0x80));
        cases.add(raw(valid, "a byte of the payload's tail padding", Violation.CHECKSUM, OFFSET_CHECKSUM, t -> t[size - 1] = 1));
        cases.add(raw(valid, "serial", Violation.CHECKSUM, OFFSET_CHECKSUM, t -> putLong(t, OFFSET_SERIAL, SERIAL + 1)));
        cases.add(raw(valid, "key_epoch", Violation.CHECKSUM, OFFSET_CHECKSUM, t -> putLong(t, OFFSET_KEY_EPOCH, EPOCH + 1)));
        cases.add(raw(valid, "schema_minor", Violation.CHECKSUM, OFFSET_CHECKSUM, t -> putShort(t, OFFSET_SCHEMA_MINOR, 1)));
        cases.add(raw(valid, "the checksum itself", Violation.CHECKSUM, OFFSET_CHECKSUM,
                t -> putInt(t, OFFSET_CHECKSUM, getInt(t, OFFSET_CHECKSUM) + 1)));

        // SIGNATURE: one uniform answer whatever is wrong.
        cases.add(fixed(valid, "a slot pointer swapped for another, checksum fixed up", t -> {
            long open = getLong(t, HEADER_SIZE);
            putLong(t, HEADER_SIZE, getLong(t, HEADER_SIZE + 16));
            putLong(t, HEADER_SIZE + 16, open);
        }));
        cases.add(fixed(valid, "a payload byte, checksum fixed up", t -> t[HEADER_SIZE + 9] ^= 0x40));
        cases.add(fixed(valid, "serial, checksum fixed up", t -> putLong(t, OFFSET_SERIAL, SERIAL + 1)));
        cases.add(raw(valid, "one bit of the signature", Violation.SIGNATURE, OFFSET_SIGNATURE, t -> t[OFFSET_SIGNATURE + 31] ^= 1));
        cases.add(raw(valid, "a zeroed signature", Violation.SIGNATURE, OFFSET_SIGNATURE,
                t -> java.util.Arrays.fill(t, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE, (byte) 0)));
        SigningKey otherKey = key(2);
        cases.add(new Case("signed with another registry's key", Violation.SIGNATURE, OFFSET_SIGNATURE,
                new Check(stamp(filled(small), small, 0, SERIAL, EPOCH, otherKey, BOUND), small, BOUND, keys()), valid));
        cases.add(new Case("replayed at another address", Violation.SIGNATURE, OFFSET_SIGNATURE,
                new Check(valid(small, 0), small, BOUND + 0x1000, keys()), valid));
        cases.add(new Case("bound to an address one byte off", Violation.SIGNATURE, OFFSET_SIGNATURE,
                new Check(valid(small, 0), small, BOUND + 1, keys()), valid));
        cases.add(new Case("an epoch whose key the registry no longer holds", Violation.SIGNATURE, OFFSET_SIGNATURE,
                new Check(valid(small, 0), small, BOUND, lookup(EPOCH + 1, KEY)), valid));
        KeyLookup twoEpochs = e -> e == EPOCH ? KEY : e == EPOCH + 1 ? otherKey : null;
        cases.add(new Case("key_epoch moved to the registry's other key, checksum fixed up", Violation.SIGNATURE, OFFSET_SIGNATURE,
                new Check(fixChecksum(putLong(valid(small, 0), OFFSET_KEY_EPOCH, EPOCH + 1)), small, BOUND, twoEpochs),
                new Check(valid(small, 0), small, BOUND, twoEpochs)));
        SigningKey destroyed = key(3);
        byte[] signedByDestroyed = stamp(filled(small), small, 0, SERIAL, EPOCH, destroyed, BOUND);
        Check validUnderLiveKey = new Check(signedByDestroyed.clone(), small, BOUND, lookup(EPOCH, destroyed));
        destroyed.destroy();
        cases.add(new Case("the epoch's key was destroyed", Violation.SIGNATURE, OFFSET_SIGNATURE,
                new Check(signedByDestroyed, small, BOUND, lookup(EPOCH, destroyed)),
                new Check(validUnderLiveKey.table(), small, BOUND, lookup(EPOCH, key(3)))));
        return cases;
    }

    private static byte[] filled(Schema schema) {
        byte[] t = blank(schema, 0);
        fillPayload(t, schema, 0);
        return t;
    }

    /** An edit followed by a reseal with the right key: only the structure/version rules can refuse it. */
    private static Case header(Check valid, String name, Violation violation, long offset, Consumer<byte[]> edit) {
        byte[] t = valid.table().clone();
        edit.accept(t);
        return new Case(name, violation, offset, new Check(reseal(t), valid.consumer(), valid.bound(), valid.keys()), valid);
    }

    /** An edit with no fix-up at all. */
    private static Case raw(Check valid, String name, Violation violation, long offset, Consumer<byte[]> edit) {
        byte[] t = valid.table().clone();
        edit.accept(t);
        return new Case(name, violation, offset, new Check(t, valid.consumer(), valid.bound(), valid.keys()), valid);
    }

    /** An edit followed by a CRC32C fix-up, which anyone can do: only the signature stands in the way. */
    private static Case fixed(Check valid, String name, Consumer<byte[]> edit) {
        byte[] t = valid.table().clone();
        edit.accept(t);
        return new Case(name, Violation.SIGNATURE, OFFSET_SIGNATURE, new Check(fixChecksum(t), valid.consumer(), valid.bound(),
                valid.keys()), valid);
    }

    /** Reseals when there is a header to reseal: a truncated table with a valid checksum and signature over what is left. */
    private static byte[] resealed(byte[] t) {
        return t.length >= HEADER_SIZE ? reseal(t) : t;
    }
}
