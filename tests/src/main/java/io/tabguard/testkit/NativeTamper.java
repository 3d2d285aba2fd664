package io.tabguard.testkit;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.zip.CRC32C;

/**
 * Plays hostile (or merely careless) native code against live tables, for tests: it writes into a
 * table's registry-owned memory and calls slot pointers directly, exactly as a C caller holding the
 * payload pointer could. Nothing here goes through Tabguard's API except to find where a table is.
 *
 * <p>The write methods write through the address native code was handed. Tables are read-only to
 * native code by default, so on those a write faults (SIGSEGV) and the process stops: use them on
 * tables built writable ({@code TableBuilder.writable()}, {@code RegistryOptions.Builder.writableTables()}),
 * or in a forked JVM that is expected to die.
 *
 * <p>This is why the test kit's module is granted native access: every method below calls a restricted
 * FFM method ({@link MemorySegment#reinterpret(long)} or the {@link Linker}). Stateless and thread-safe
 * as far as Java is concerned; writes race with dispatch exactly as a native writer's would.
 */
@SuppressWarnings("restricted")
public final class NativeTamper {
    private static final Linker LINKER = Linker.nativeLinker();

    private NativeTamper() {}

    /**
     * The whole live table, header and payload, as native code sees it: a view of
     * {@code HEADER_SIZE + payload size} bytes starting {@link AbiV1#HEADER_SIZE} bytes before the payload.
     */
    public static MemorySegment liveTable(CallbackTable table) {
        MemorySegment payload = table.payload();
        return MemorySegment.ofAddress(payload.address() - AbiV1.HEADER_SIZE)
                .reinterpret(AbiV1.HEADER_SIZE + payload.byteSize());
    }

    /** The table's size in bytes, header included. */
    public static long tableSize(CallbackTable table) {
        return AbiV1.HEADER_SIZE + table.payload().byteSize();
    }

    /** A copy of the live table's bytes. */
    public static byte[] liveBytes(CallbackTable table) {
        return liveTable(table).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Overwrites the live table with {@code bytes} (as long as the table). */
    public static void writeBytes(CallbackTable table, byte[] bytes) {
        MemorySegment live = liveTable(table);
        if (bytes.length != live.byteSize()) {
            throw new IllegalArgumentException(bytes.length + " bytes for a " + live.byteSize() + "-byte table");
        }
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, live, 0, bytes.length);
    }

    /** Flips the lowest bit of the byte at {@code tableOffset} (from the start of the header). */
    public static void flipByte(CallbackTable table, long tableOffset) {
        flipByte(table, tableOffset, (byte) 1);
    }

    /** XORs the byte at {@code tableOffset} (from the start of the header) with {@code mask}. */
    public static void flipByte(CallbackTable table, long tableOffset, byte mask) {
        MemorySegment live = liveTable(table);
        live.set(ValueLayout.JAVA_BYTE, tableOffset, (byte) (live.get(ValueLayout.JAVA_BYTE, tableOffset) ^ mask));
    }

    /** Offset of {@code slot} from the start of the header. */
    public static long slotOffset(CallbackTable table, String slot) {
        Schema.Member m = table.schema().member(slot)
                .filter(Schema.Slot.class::isInstance)
                .orElseThrow(() -> new IllegalArgumentException("no slot " + slot + " in " + table.schema()));
        return AbiV1.HEADER_SIZE + m.offset();
    }

    /** The pointer the live table holds in {@code slot} (not the verified snapshot's). */
    public static MemorySegment readSlot(CallbackTable table, String slot) {
        return MemorySegment.ofAddress(liveTable(table).get(ValueLayout.JAVA_LONG_UNALIGNED, slotOffset(table, slot)));
    }

    /** Exchanges the function pointers of two slots in the live table. */
    public static void swapSlots(CallbackTable table, String a, String b) {
        MemorySegment live = liveTable(table);
        long offsetA = slotOffset(table, a);
        long offsetB = slotOffset(table, b);
        long pointerA = live.get(ValueLayout.JAVA_LONG_UNALIGNED, offsetA);
        long pointerB = live.get(ValueLayout.JAVA_LONG_UNALIGNED, offsetB);
        live.set(ValueLayout.JAVA_LONG_UNALIGNED, offsetA, pointerB);
        live.set(ValueLayout.JAVA_LONG_UNALIGNED, offsetB, pointerA);
    }

    /** Plants {@code address} in {@code slot} of the live table. */
    public static void writeSlot(CallbackTable table, String slot, MemorySegment address) {
        liveTable(table).set(ValueLayout.JAVA_LONG_UNALIGNED, slotOffset(table, slot), address.address());
    }

    /**
     * Rewrites the live table's CRC32C to match its current content, as an attacker who knows the
     * (public) checksum rule would after editing it; the signature stays as it was.
     */
    public static void fixChecksum(CallbackTable table) {
        MemorySegment live = liveTable(table);
        byte[] bytes = live.toArray(ValueLayout.JAVA_BYTE);
        live.set(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM, checksum(bytes));
    }

    /** The ABI v1 checksum of {@code table}: CRC32C with the checksum and signature fields read as zero. */
    public static int checksum(byte[] table) {
        byte[] zeroed = table.clone();
        java.util.Arrays.fill(zeroed, AbiV1.OFFSET_CHECKSUM, AbiV1.OFFSET_CHECKSUM + Integer.BYTES, (byte) 0);
        java.util.Arrays.fill(zeroed, AbiV1.OFFSET_SIGNATURE, AbiV1.OFFSET_SIGNATURE + AbiV1.SIGNATURE_SIZE, (byte) 0);
        CRC32C crc = new CRC32C();
        crc.update(zeroed);
        return (int) crc.getValue();
    }

    /**
     * A raw downcall straight into the function pointer {@code function}, of C type {@code descriptor}:
     * what native code does when it calls a slot it was handed. No Tabguard check runs on this side;
     * whatever checking happens is the trampoline's.
     */
    public static MethodHandle callPointer(MemorySegment function, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(function, descriptor);
    }

    /** {@link #callPointer} on the pointer the live table holds in {@code slot}, with the slot's own type. */
    public static MethodHandle callSlot(CallbackTable table, String slot) {
        Schema.Slot s = (Schema.Slot) table.schema().member(slot).orElseThrow();
        return callPointer(readSlot(table, slot), s.descriptor());
    }
}
