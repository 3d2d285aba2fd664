package io.tabguard.testkit;

import io.tabguard.guard.Schema;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import static io.tabguard.guard.AbiV1.HEADER_SIZE;

/**
 * Structure-aware mutations of a valid table, chosen by a fuzzer: the fuzzer's bytes are read as a
 * script of edits (set or flip a byte, set a header field to a boundary value, swap or replace slot
 * pointers, rewrite the checksum, truncate, extend, apply one of {@link MalformedTables}'s variants,
 * copy a range, restore a range of the valid table). A coverage-guided fuzzer such as Jazzer mutates the
 * script, so it explores edits a guard must refuse, and combinations of them, without ever having to
 * guess a CRC32C. Deterministic: the same script gives the same table. Stateless and thread-safe.
 *
 * <pre>{@code
 * @FuzzTest
 * void adoptMutated(FuzzedDataProvider data) {
 *     byte[] mutated = TableMutator.mutate(schema, valid, data.consumeRemainingAsBytes(), false);
 *     if (Arrays.equals(mutated, valid)) {
 *         assertSame(table, registry.adopt(mutated, schema));
 *     } else {
 *         assertThrows(TableRejectedException.class, () -> registry.adopt(mutated, schema));
 *     }
 * }
 * }</pre>
 */
public final class TableMutator {
    /** Scripts longer than this many edits are cut: long scripts add nothing that short ones cannot reach. */
    public static final int MAX_EDITS = 32;
    private static final int EDIT_KINDS = 11;

    private TableMutator() {}

    /**
     * Applies the edits {@code script} encodes to a copy of {@code valid} (a table of {@code schema}, as
     * {@link io.tabguard.registry.CallbackTable#verifiedBytes()} gives it).
     *
     * @param keepLength true for a live table: edits that change the length (truncate, extend, variants
     *                   of another length) are skipped, so the result can be written over the table
     */
    public static byte[] mutate(Schema schema, byte[] valid, byte[] script, boolean keepLength) {
        Objects.requireNonNull(script, "script");
        int minor = MalformedTables.checkValid(schema, valid);
        List<Schema.Slot> slots = MalformedTables.slots(schema, minor);
        Reader in = new Reader(script);
        byte[] t = valid.clone();
        for (int edit = 0; edit < MAX_EDITS && in.more(); edit++) {
            switch (in.u8() % EDIT_KINDS) {
                case 0 -> {                                         // set a byte
                    if (t.length > 0) {
                        t[in.u16() % t.length] = (byte) in.u8();
                    }
                }
                case 1 -> {                                         // flip a bit
                    if (t.length > 0) {
                        t[in.u16() % t.length] ^= (byte) (1 << (in.u8() % 8));
                    }
                }
                case 2 -> {                                         // a header field to a boundary value
                    MalformedTables.Field f = MalformedTables.FIELDS.get(in.u8() % MalformedTables.FIELDS.size());
                    if (t.length >= HEADER_SIZE) {
                        long v = f.get(t);
                        long[] choices = {0, 1, v - 1, v + 1, f.max(), 1L << (8 * f.width() - 1), v ^ f.max(), in.u64()};
                        f.set(t, choices[in.u8() % choices.length]);
                    }
                }
                case 3 -> {                                         // swap two slots
                    if (!slots.isEmpty() && t.length == valid.length) {
                        int a = slotOffset(slots, in.u8());
                        int b = slotOffset(slots, in.u8());
                        long pa = MalformedTables.word(t, a);
                        MalformedTables.setWord(t, a, MalformedTables.word(t, b));
                        MalformedTables.setWord(t, b, pa);
                    }
                }
                case 4 -> {                                         // replace a slot's pointer
                    if (!slots.isEmpty() && t.length == valid.length) {
                        int a = slotOffset(slots, in.u8());
                        long current = MalformedTables.word(t, a);
                        long[] choices = {0, MalformedTables.word(valid, slotOffset(slots, in.u8())), current + 1 + in.u8(),
                                current - 1 - in.u8(), MalformedTables.abortAddress(), in.u64()};
                        MalformedTables.setWord(t, a, choices[in.u8() % choices.length]);
                    }
                }
                case 5 -> {                                         // rewrite the CRC32C, as any attacker can
                    if (t.length >= HEADER_SIZE) {
                        MalformedTables.CHECKSUM.set(t, NativeTamper.checksum(t) & 0xFFFF_FFFFL);
                    }
                }
                case 6 -> {                                         // truncate
                    int n = in.u16() % (t.length + 1);
                    if (!keepLength) {
                        t = Arrays.copyOf(t, n);
                    }
                }
                case 7 -> {                                         // extend with the script's next bytes
                    int n = 1 + in.u8() % 64;
                    if (!keepLength) {
                        byte[] longer = Arrays.copyOf(t, t.length + n);
                        for (int i = t.length; i < longer.length; i++) {
                            longer[i] = (byte) in.u8();
                        }
                        t = longer;
                    }
                }
                case 8 -> {                                         // one of the catalogue's variants
                    List<TableVariant> variants = MalformedTables.variants(schema, valid);
                    TableVariant v = variants.get(in.u16() % variants.size());
                    if (!keepLength || v.length() == valid.length) {
                        t = v.bytes();
                    }
                }
                case 9 -> {                                         // copy a range within the table
                    if (t.length > 0) {
                        int from = in.u16() % t.length;
                        int to = in.u16() % t.length;
                        int n = Math.min(1 + in.u8() % 32, t.length - Math.max(from, to));
                        System.arraycopy(t, from, t, to, n);
                    }
                }
                default -> {                                        // restore a range of the valid table
                    int from = in.u16() % valid.length;
                    int n = Math.min(1 + in.u16() % valid.length, valid.length - from);
                    if (t.length < from + n) {
                        if (keepLength) {
                            continue;
                        }
                        t = Arrays.copyOf(t, from + n);
                    }
                    System.arraycopy(valid, from, t, from, n);
                }
            }
        }
        return t;
    }

    private static int slotOffset(List<Schema.Slot> slots, int choice) {
        return HEADER_SIZE + (int) slots.get(choice % slots.size()).offset();
    }

    /** Reads the script; past its end every read is zero. */
    private static final class Reader {
        private final byte[] script;
        private int position;

        Reader(byte[] script) {
            this.script = script;
        }

        boolean more() {
            return position < script.length;
        }

        int u8() {
            return position < script.length ? script[position++] & 0xFF : 0;
        }

        int u16() {
            return u8() | u8() << 8;
        }

        long u64() {
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v |= (long) u8() << (8 * i);
            }
            return v;
        }
    }
}
