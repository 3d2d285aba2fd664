package io.tabguard.testkit;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;

import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;

import static io.tabguard.guard.AbiV1.*;

/**
 * Malformed twins of a valid table, for an embedder's own tests: give it the schema and one table the
 * builder made, get back every attack of Tabguard's catalogue that can be expressed in the bytes
 * alone. Each variant differs from the valid table in at least one byte, so each must be refused:
 * by {@code registry.adopt(variant.bytes(), schema)} with a {@code TableRejectedException}, and, for
 * variants as long as the table, by every slot after {@link TableVariant#writeTo} plants it in the live
 * table.
 *
 * <pre>{@code
 * static Stream<TableVariant> malformed() {
 *     return MalformedTables.arguments(table);            // a JUnit 5 argument source
 * }
 *
 * @ParameterizedTest @MethodSource("malformed")
 * void refused(TableVariant v) {
 *     assertThrows(TableRejectedException.class, () -> registry.adopt(v.bytes(), schema));
 * }
 * }</pre>
 *
 * For fuzzing, {@link TableMutator} applies edits a fuzzer chooses (Jazzer's bytes) to the same table.
 * Stateless and thread-safe.
 */
public final class MalformedTables {
    private MalformedTables() {}

    /** A header field: its name, offset and width in bytes (all little-endian unsigned). */
    record Field(String name, int offset, int width) {
        long max() {
            return width == 8 ? -1L : (1L << (8 * width)) - 1;
        }

        long get(byte[] t) {
            long v = 0;
            for (int i = width - 1; i >= 0; i--) {
                v = (v << 8) | (t[offset + i] & 0xFF);
            }
            return v;
        }

        void set(byte[] t, long value) {
            for (int i = 0; i < width; i++) {
                t[offset + i] = (byte) (value >>> (8 * i));
            }
        }
    }

    static final Field MAGIC = new Field("magic", OFFSET_MAGIC, 8);
    static final Field ABI = new Field("abi_version", OFFSET_ABI_VERSION, 2);
    static final Field HEADER = new Field("header_size", OFFSET_HEADER_SIZE, 2);
    static final Field FLAGS = new Field("flags", OFFSET_FLAGS, 4);
    static final Field TABLE_SIZE = new Field("table_size", OFFSET_TABLE_SIZE, 4);
    static final Field PAYLOAD_SIZE = new Field("payload_size", OFFSET_PAYLOAD_SIZE, 4);
    static final Field SLOT_COUNT = new Field("slot_count", OFFSET_SLOT_COUNT, 4);
    static final Field MAJOR = new Field("schema_major", OFFSET_SCHEMA_MAJOR, 2);
    static final Field MINOR = new Field("schema_minor", OFFSET_SCHEMA_MINOR, 2);
    static final Field SCHEMA_ID = new Field("schema_id", OFFSET_SCHEMA_ID, 8);
    static final Field SERIAL = new Field("serial", OFFSET_SERIAL, 8);
    static final Field KEY_EPOCH = new Field("key_epoch", OFFSET_KEY_EPOCH, 8);
    static final Field CHECKSUM = new Field("checksum", OFFSET_CHECKSUM, 4);
    static final Field RESERVED0 = new Field("reserved0", OFFSET_RESERVED0, 4);
    static final Field LAYOUT_ID = new Field("layout_id", OFFSET_LAYOUT_ID, 8);

    /** Every numeric header field, in header order. */
    static final List<Field> FIELDS = List.of(MAGIC, ABI, HEADER, FLAGS, TABLE_SIZE, PAYLOAD_SIZE, SLOT_COUNT, MAJOR,
            MINOR, SCHEMA_ID, SERIAL, KEY_EPOCH, CHECKSUM, RESERVED0, LAYOUT_ID);

    /** The address of the C library's {@code abort}: an arbitrary native function no table may point to. */
    static long abortAddress() {
        return Holder.ABORT;
    }

    private static final class Holder {
        static final long ABORT = Linker.nativeLinker().defaultLookup().find("abort")
                .map(MemorySegment::address).orElse(0x1000L);
    }

    /** {@link #variants(Schema, byte[])} of a live table's verified bytes. */
    public static List<TableVariant> variants(CallbackTable table) {
        return variants(table.schema(), table.verifiedBytes());
    }

    /**
     * {@link #variants(CallbackTable)} as a JUnit 5 argument source: return it from a {@code @MethodSource}
     * factory of a {@code @ParameterizedTest} taking one {@link TableVariant}; each invocation is named
     * after its variant. (A stream of single arguments needs no JUnit type, so the kit does not depend on
     * JUnit.)
     */
    public static Stream<TableVariant> arguments(CallbackTable table) {
        return variants(table).stream();
    }

    /** {@link #variants(Schema, byte[])} as a JUnit 5 argument source; see {@link #arguments(CallbackTable)}. */
    public static Stream<TableVariant> arguments(Schema schema, byte[] valid) {
        return variants(schema, valid).stream();
    }

    /**
     * Every malformed twin of {@code valid}, a table of {@code schema} (at the minor its header names) as
     * the builder made it. No two variants have the same bytes, and none has {@code valid}'s.
     *
     * @throws IllegalArgumentException if {@code valid} is not a whole table of {@code schema}
     */
    public static List<TableVariant> variants(Schema schema, byte[] valid) {
        Objects.requireNonNull(schema, "schema");
        int minor = checkValid(schema, valid);
        Maker m = new Maker(valid);
        long tableSize = TABLE_SIZE.get(valid);
        long payloadSize = PAYLOAD_SIZE.get(valid);

        m.field(Attack.WRONG_MAGIC, MAGIC, 0, "= 0", false);
        m.field(Attack.WRONG_MAGIC, MAGIC, MAGIC.get(valid) ^ 0x20, "= \"tABGUARD\"", false);
        m.field(Attack.WRONG_MAGIC, MAGIC, Long.reverseBytes(MAGIC.get(valid)), "byte-swapped (a big-endian writer)", false);

        for (Field f : List.of(ABI, HEADER, TABLE_SIZE, PAYLOAD_SIZE, SLOT_COUNT, MAJOR)) {
            long v = f.get(valid);
            m.field(Attack.FIELD_TOO_SMALL, f, 0, "= 0", false);
            if (v > 0) {
                m.field(Attack.FIELD_TOO_SMALL, f, v - 1, "- 1", false);
            }
            m.field(Attack.FIELD_TOO_LARGE, f, v + 1, "+ 1", false);
            m.field(Attack.FIELD_TOO_LARGE, f, f.max(), "= all ones", false);
            m.field(Attack.FIELD_TOO_LARGE, f, 1L << (8 * f.width() - 1), "= its sign bit alone", false);
        }
        for (long k : new long[]{0, 8, Math.min(payloadSize, 127)}) {
            byte[] t = valid.clone();
            PAYLOAD_SIZE.set(t, 0x1_0000_0000L - HEADER_SIZE + k);
            TABLE_SIZE.set(t, k);
            m.add(Attack.FIELD_OVERFLOW, "table_size = " + k + ", payload_size = 2^32 - header_size + " + k
                    + " (header_size + payload_size wraps to table_size in 32 bits)", t, true);
        }
        for (long count : new long[]{0x2000_0000L, 0x2000_0001L, 0x4000_0000L}) {
            m.field(Attack.FIELD_OVERFLOW, SLOT_COUNT, count, "= 0x" + Long.toHexString(count) + " (slot_count * 8 wraps in 32 bits)", true);
        }
        m.field(Attack.FIELD_OVERFLOW, TABLE_SIZE, tableSize + 0x1_0000L, "+ 0x10000 (the right size in 16 bits)", true);
        m.field(Attack.FIELD_OVERFLOW, TABLE_SIZE, MAX_TABLE_SIZE + 1, "= MAX_TABLE_SIZE + 1", true);

        m.field(Attack.RESERVED_BITS, FLAGS, 1, "= 1", true);
        m.field(Attack.RESERVED_BITS, FLAGS, 0x8000_0000L, "= 0x80000000", true);
        m.field(Attack.RESERVED_BITS, RESERVED0, 1, "= 1", true);
        for (int i : new int[]{0, RESERVED1_SIZE - 1}) {
            byte[] t = valid.clone();
            t[OFFSET_RESERVED1 + i] = 1;
            m.add(Attack.RESERVED_BITS, "reserved1[" + i + "] = 1", t, true);
        }

        for (long less : new long[]{8, payloadSize}) {
            if (less <= payloadSize) {
                byte[] t = valid.clone();
                TABLE_SIZE.set(t, tableSize - less);
                PAYLOAD_SIZE.set(t, payloadSize - less);
                m.add(Attack.SIZE_CLAIMS_LESS, "table_size and payload_size " + less + " bytes less than given", t, true);
            }
        }
        for (long more : new long[]{8, 4096}) {
            byte[] t = valid.clone();
            TABLE_SIZE.set(t, tableSize + more);
            PAYLOAD_SIZE.set(t, payloadSize + more);
            m.add(Attack.SIZE_CLAIMS_MORE, "table_size and payload_size " + more + " bytes more than given", t, true);
        }

        for (int length : new int[]{0, 1, OFFSET_TABLE_SIZE, HEADER_SIZE - 1, HEADER_SIZE, valid.length - 8, valid.length - 1}) {
            if (length >= 0 && length < valid.length) {
                m.add(Attack.TRUNCATED, "cut to " + length + " bytes", Arrays.copyOf(valid, length), false);
            }
        }
        m.add(Attack.EXTENDED, "8 zero bytes appended", Arrays.copyOf(valid, valid.length + 8), false);
        byte[] doubled = Arrays.copyOf(valid, valid.length * 2);
        System.arraycopy(valid, 0, doubled, valid.length, valid.length);
        m.add(Attack.EXTENDED, "the table twice", doubled, false);

        newerMinor(m, schema, minor, valid, true);
        newerMinor(m, schema, minor, valid, false);
        if (minor > 0) {
            int older = minor - 1;
            byte[] t = Arrays.copyOf(valid, (int) (HEADER_SIZE + schema.payloadSize(older)));
            MINOR.set(t, older);
            PAYLOAD_SIZE.set(t, schema.payloadSize(older));
            TABLE_SIZE.set(t, t.length);
            SLOT_COUNT.set(t, schema.slotCount(older));
            byte[] keptLayout = t.clone();
            LAYOUT_ID.set(t, schema.layoutId(older));
            m.add(Attack.VERSION_DOWNGRADE, "claims minor " + older + ", cut to its size, with that minor's layout_id", t, true);
            m.add(Attack.VERSION_DOWNGRADE, "claims minor " + older + ", cut to its size, layout_id kept", keptLayout, true);
        }
        m.field(Attack.VERSION_DOWNGRADE, MINOR, minor == 0 ? 0xFFFF : minor - 1, minor == 0 ? "- 1 (wraps to 0xffff)" : "- 1, size kept", true);
        m.field(Attack.VERSION_DOWNGRADE, MAJOR, MAJOR.get(valid) == 0 ? 0xFFFF : MAJOR.get(valid) - 1, "- 1", true);
        m.field(Attack.VERSION_DOWNGRADE, ABI, 0, "= 0", true);

        for (Field f : List.of(SCHEMA_ID, SERIAL, KEY_EPOCH, LAYOUT_ID)) {
            long v = f.get(valid);
            long[] values = {v + 1, v - 1, v ^ Long.MIN_VALUE, 0};
            String[] labels = {"+ 1", "- 1", "with its top bit flipped", "= 0"};
            for (int i = 0; i < values.length; i++) {
                m.field(Attack.STAMP_EDITED, f, values[i], labels[i], true);
                m.field(Attack.STAMP_EDITED, f, values[i], labels[i], false);
            }
        }
        for (int i : new int[]{0, SIGNATURE_SIZE / 2, SIGNATURE_SIZE - 1}) {
            byte[] t = valid.clone();
            t[OFFSET_SIGNATURE + i] ^= (byte) 0x80;
            m.add(Attack.SIGNATURE_EDITED, "signature[" + i + "] ^= 0x80", t, false);
        }
        byte[] zeroSignature = valid.clone();
        Arrays.fill(zeroSignature, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE, (byte) 0);
        m.add(Attack.SIGNATURE_EDITED, "signature zeroed", zeroSignature, false);
        m.field(Attack.CHECKSUM_EDITED, CHECKSUM, CHECKSUM.get(valid) ^ 1, "with its low bit flipped", false);
        m.field(Attack.CHECKSUM_EDITED, CHECKSUM, 0, "= 0", false);

        List<Schema.Slot> slots = slots(schema, minor);
        for (int i = 0; i < slots.size(); i++) {
            Schema.Slot a = slots.get(i);
            int offA = HEADER_SIZE + (int) a.offset();
            for (int j = i + 1; j < slots.size(); j++) {
                int offB = HEADER_SIZE + (int) slots.get(j).offset();
                byte[] t = valid.clone();
                byte[] tmp = Arrays.copyOfRange(t, offA, offA + 8);
                System.arraycopy(t, offB, t, offA, 8);
                System.arraycopy(tmp, 0, t, offB, 8);
                m.add(Attack.SLOTS_SWAPPED, "slots " + a.name() + " and " + slots.get(j).name() + " swapped", t, true);
            }
            for (Schema.Slot other : slots) {
                if (other != a) {
                    byte[] t = valid.clone();
                    System.arraycopy(valid, HEADER_SIZE + (int) other.offset(), t, offA, 8);
                    m.add(Attack.SLOT_DUPLICATED, "slot " + a.name() + " holds " + other.name() + "'s pointer", t, true);
                }
            }
            long pointer = word(valid, offA);
            m.slot(Attack.NULL_SLOT, a, offA, 0, "null");
            if (pointer != 0) {
                m.slot(Attack.FOREIGN_POINTER, a, offA, pointer + 1, "its trampoline + 1");
                m.slot(Attack.FOREIGN_POINTER, a, offA, pointer + 16, "its trampoline + 16");
            }
            m.slot(Attack.FOREIGN_POINTER, a, offA, abortAddress(), "abort()");
        }
        Set<Integer> slotBytes = new HashSet<>();
        for (Schema.Slot s : slots) {
            for (int k = 0; k < 8; k++) {
                slotBytes.add(HEADER_SIZE + (int) s.offset() + k);
            }
        }
        for (Schema.Member member : schema.members(minor)) {
            if (member instanceof Schema.Data d) {
                int off = HEADER_SIZE + (int) d.offset();
                byte[] t = valid.clone();
                t[off] ^= 1;
                m.add(Attack.PAYLOAD_EDITED, "data member " + d.name() + " changed", t, true);
                m.add(Attack.PAYLOAD_EDITED, "data member " + d.name() + " changed, checksum stale", t, false);
            }
        }
        for (int off = HEADER_SIZE; off < valid.length; off++) {
            if (!slotBytes.contains(off) && !isDataByte(schema, minor, off - HEADER_SIZE)) {
                byte[] t = valid.clone();
                t[off] = (byte) 0xA5;
                m.add(Attack.PAYLOAD_EDITED, "padding byte at payload offset " + (off - HEADER_SIZE) + " set", t, true);
                break;   // one padding byte is as good as any
            }
        }
        return List.copyOf(m.variants);
    }

    private static void newerMinor(Maker m, Schema schema, int minor, byte[] valid, boolean nonZero) {
        if (minor >= 0xFFFF) {
            return;
        }
        long oldPayload = schema.payloadSize(minor);
        long newPayload;
        int newSlots;
        long firstNewByte;
        if (minor < schema.minor()) {
            newPayload = schema.payloadSize(minor + 1);
            newSlots = schema.slotCount(minor + 1);
            firstNewByte = endOfMembers(schema, minor);
        } else {
            newPayload = oldPayload + 8;           // a hypothetical next minor adding one pointer
            newSlots = schema.slotCount(minor) + 1;
            firstNewByte = oldPayload;
        }
        byte[] t = Arrays.copyOf(valid, (int) (HEADER_SIZE + newPayload));
        MINOR.set(t, minor + 1);
        PAYLOAD_SIZE.set(t, newPayload);
        TABLE_SIZE.set(t, t.length);
        SLOT_COUNT.set(t, newSlots);
        if (nonZero) {
            t[(int) (HEADER_SIZE + firstNewByte)] = 0x5A;
        }
        m.add(nonZero ? Attack.NEWER_MINOR_NONZERO : Attack.NEWER_MINOR_ZERO,
                "claims minor " + (minor + 1) + (nonZero ? " with a new member set" : " with its new members zero"), t, true);
    }

    private static long endOfMembers(Schema schema, int minor) {
        long end = 0;
        for (Schema.Member member : schema.members(minor)) {
            end = Math.max(end, member.offset() + member.layout().byteSize());
        }
        return end;
    }

    private static boolean isDataByte(Schema schema, int minor, long payloadOffset) {
        for (Schema.Member member : schema.members(minor)) {
            if (payloadOffset >= member.offset() && payloadOffset < member.offset() + member.layout().byteSize()) {
                return true;
            }
        }
        return false;
    }

    static List<Schema.Slot> slots(Schema schema, int minor) {
        return schema.members(minor).stream().filter(Schema.Slot.class::isInstance).map(Schema.Slot.class::cast).toList();
    }

    static long word(byte[] t, int offset) {
        return MemorySegment.ofArray(t).get(AbiV1.LE_LONG, offset);
    }

    static void setWord(byte[] t, int offset, long value) {
        MemorySegment.ofArray(t).set(AbiV1.LE_LONG, offset, value);
    }

    /** The table's minor, after checking that {@code valid} is a whole, well-formed table of {@code schema}. */
    static int checkValid(Schema schema, byte[] valid) {
        Objects.requireNonNull(valid, "valid");
        if (valid.length < HEADER_SIZE || MAGIC.get(valid) != AbiV1.MAGIC || TABLE_SIZE.get(valid) != valid.length
                || SCHEMA_ID.get(valid) != schema.id()) {
            throw new IllegalArgumentException("not a whole table of " + schema.name() + ": pass CallbackTable.verifiedBytes()");
        }
        int minor = (int) MINOR.get(valid);
        if (minor > schema.minor() || HEADER_SIZE + schema.payloadSize(minor) != valid.length) {
            throw new IllegalArgumentException("the table's minor " + minor + " does not fit schema " + schema);
        }
        return minor;
    }

    /** Collects variants, dropping any equal to the valid table or to an earlier variant. */
    private static final class Maker {
        final byte[] valid;
        final List<TableVariant> variants = new ArrayList<>();
        final Set<String> seen = new HashSet<>();

        Maker(byte[] valid) {
            this.valid = valid;
            seen.add(Arrays.toString(valid));
        }

        /** A variant with one field set; {@code how} says how, without the table's own values, so names compare across tables. */
        void field(Attack attack, Field f, long value, String how, boolean fixChecksum) {
            byte[] t = valid.clone();
            f.set(t, value);
            add(attack, f.name() + " " + how, t, fixChecksum);
        }

        void slot(Attack attack, Schema.Slot s, int offset, long value, String what) {
            byte[] t = valid.clone();
            setWord(t, offset, value);
            add(attack, "slot " + s.name() + " = " + what, t, true);
        }

        void add(Attack attack, String name, byte[] t, boolean fixChecksum) {
            if (fixChecksum && t.length >= HEADER_SIZE) {
                CHECKSUM.set(t, NativeTamper.checksum(t) & 0xFFFF_FFFFL);
                name += ", checksum rewritten";
            }
            if (seen.add(Arrays.toString(t))) {
                variants.add(new TableVariant(name, attack, t));
            }
        }
    }
}
