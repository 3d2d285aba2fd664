package io.tabguard.examples;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.zip.CRC32C;

/**
 * What an attacker with a write primitive does to a live table, for the demo and the tests: flip a
 * byte, swap or overwrite slot pointers, and recompute the (unkeyed) CRC32C so that only the signature
 * can tell. Every method writes the table's native memory directly, behind Tabguard's back, exactly as
 * a stray or hostile C write would.
 *
 * <p>Only for tables built writable ({@code TableBuilder.writable()}, {@code RegistryOptions.Builder.writableTables()}):
 * a write into a read-only table faults and the process stops, which is the point of read-only tables.
 *
 * <p>Stateless; thread-safe as far as it goes (concurrent writes to the same table race, as they would in C).
 */
@SuppressWarnings("restricted")   // reaching the header from the payload pointer, as C can
public final class TableTampering {
    private TableTampering() {}

    /** The whole live table, header and payload, as native code can reach it from the payload pointer. */
    public static MemorySegment liveTable(CallbackTable table) {
        MemorySegment payload = table.payload();
        return MemorySegment.ofAddress(payload.address() - AbiV1.HEADER_SIZE)
                .reinterpret(AbiV1.HEADER_SIZE + payload.byteSize());
    }

    /** XORs one byte at {@code tableOffset} (from the start of the header) with {@code mask}. */
    public static void flipByte(CallbackTable table, long tableOffset, int mask) {
        MemorySegment t = liveTable(table);
        t.set(ValueLayout.JAVA_BYTE, tableOffset, (byte) (t.get(ValueLayout.JAVA_BYTE, tableOffset) ^ mask));
    }

    /** Exchanges the function pointers of two slots in the live payload. */
    public static void swapSlots(CallbackTable table, String slotA, String slotB) {
        MemorySegment payload = liveTable(table).asSlice(AbiV1.HEADER_SIZE);
        long a = offsetOf(table, slotA);
        long b = offsetOf(table, slotB);
        long pa = payload.get(ValueLayout.JAVA_LONG, a);
        payload.set(ValueLayout.JAVA_LONG, a, payload.get(ValueLayout.JAVA_LONG, b));
        payload.set(ValueLayout.JAVA_LONG, b, pa);
    }

    /** Writes {@code function} into a slot of the live payload (for instance another table's trampoline). */
    public static void plant(CallbackTable table, String slot, MemorySegment function) {
        liveTable(table).asSlice(AbiV1.HEADER_SIZE).set(ValueLayout.JAVA_LONG, offsetOf(table, slot), function.address());
    }

    /**
     * Recomputes the header's CRC32C over the tampered bytes, as anyone can (it has no key): after this,
     * the checksum passes and only the signature can catch the change.
     */
    public static void recomputeChecksum(CallbackTable table) {
        MemorySegment t = liveTable(table);
        byte[] bytes = t.toArray(ValueLayout.JAVA_BYTE);
        MemorySegment copy = MemorySegment.ofArray(bytes);
        copy.set(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM, 0);
        copy.asSlice(AbiV1.OFFSET_SIGNATURE, AbiV1.SIGNATURE_SIZE).fill((byte) 0);
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        t.set(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM, (int) crc.getValue());
    }

    private static long offsetOf(CallbackTable table, String slot) {
        return table.schema().member(slot)
                .filter(Schema.Slot.class::isInstance)
                .orElseThrow(() -> new IllegalArgumentException("no slot " + slot + " in " + table.schema().name()))
                .offset();
    }
}
