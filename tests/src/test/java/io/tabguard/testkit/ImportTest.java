package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import io.tabguard.testkit.Fixtures.Audit;
import io.tabguard.testkit.Fixtures.Targets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.tabguard.testkit.Fixtures.CALC;
import static org.junit.jupiter.api.Assertions.*;

/** {@link Registry#adopt}: bytes or a pointer claimed to be a table, checked before anything is used. */
class ImportTest {
    private final Audit audit = new Audit();
    private final Targets targets = new Targets();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private static Violation refused(Executable adoption) {
        return assertThrows(TableRejectedException.class, adoption).violation();
    }

    @Test
    void itsOwnVerifiedBytesAdoptToTheSameTable() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertSame(table, registry.adopt(table.verifiedBytes(), CALC));
        assertEquals(1, audit.count(table, EventType.TABLE_ACCEPTED));
        assertEquals(42, Fixtures.callNative(table, "inc", 41), "adoption changes nothing");
    }

    @Test
    void bytesOfARevokedOrClosedTableAreRefused() {
        CallbackTable revoked = Fixtures.calcTable(registry, targets);
        byte[] bytes = revoked.verifiedBytes();
        registry.revoke(revoked);
        assertEquals(Violation.REVOKED, refused(() -> registry.adopt(bytes, CALC)));

        CallbackTable closed = Fixtures.calcTable(registry, targets);
        byte[] closedBytes = closed.verifiedBytes();
        closed.close();
        assertEquals(Violation.CLOSED, refused(() -> registry.adopt(closedBytes, CALC)));
        assertEquals(List.of("REVOKED"), audit.violations(revoked, EventType.TABLE_REFUSED));
    }

    @Test
    void bytesFromAnotherRegistryFailTheSignature() {
        CallbackTable ours = Fixtures.calcTable(registry, targets);
        try (Registry other = Fixtures.open(new Audit())) {
            CallbackTable theirs = Fixtures.calcTable(other, new Targets());
            assertEquals(ours.serial(), theirs.serial(), "same serial, so the lookup finds one of ours");
            assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(theirs.verifiedBytes(), CALC)));
            CallbackTable theirSecond = Fixtures.calcTable(other, new Targets());
            assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(theirSecond.verifiedBytes(), CALC)),
                    "a serial we never issued");
            assertSame(theirs, other.adopt(theirs.verifiedBytes(), CALC));
        }
        assertSame(ours, registry.adopt(ours.verifiedBytes(), CALC));
    }

    @Test
    void afterRotationOldBytesFailTheSignatureAndNewBytesAreAccepted() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        byte[] old = table.verifiedBytes();
        long epoch = registry.keyEpoch();
        registry.rotateKey();
        assertEquals(epoch + 1, registry.keyEpoch());
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(old, CALC)));
        byte[] current = table.verifiedBytes();
        assertFalse(Arrays.equals(old, current));
        assertEquals(epoch + 1, MemorySegment.ofArray(current).get(AbiV1.LE_LONG, AbiV1.OFFSET_KEY_EPOCH));
        assertSame(table, registry.adopt(current, CALC));
        assertArrayEquals(current, NativeTamper.liveBytes(table), "the live table was re-signed too");
        assertEquals(42, Fixtures.callNative(table, "inc", 41));
        assertEquals(TableStatus.OPEN, table.status());
    }

    @Test
    void rotationNeverSignsATamperedLiveTable() throws Throwable {
        CallbackTable table = Fixtures.writableCalcTable(registry, targets);
        byte[] honest = table.verifiedBytes();
        long dataOffset = AbiV1.HEADER_SIZE + CALC.member("version").orElseThrow().offset();
        NativeTamper.flipByte(table, dataOffset);   // not dispatched yet, so not quarantined yet
        byte[] tamperedLive = NativeTamper.liveBytes(table);
        registry.rotateKey();
        byte[] resigned = table.verifiedBytes();
        assertEquals(honest[(int) dataOffset], resigned[(int) dataOffset], "the tampered byte was signed");
        // the rotation quarantined it and then left its memory exactly as the attacker did: evidence, not undone
        assertArrayEquals(tamperedLive, NativeTamper.liveBytes(table), "the tampered table's memory was rewritten");
        assertEquals((byte) (honest[(int) dataOffset] ^ 1), tamperedLive[(int) dataOffset]);
        // the tampered content under the new epoch is refused
        byte[] tampered = resigned.clone();
        tampered[(int) dataOffset] ^= 1;
        assertEquals(Violation.CHECKSUM, refused(() -> registry.adopt(tampered, CALC)));
        // the rotation found the tamper and quarantined the table rather than erase the evidence
        assertEquals(io.tabguard.registry.TableStatus.QUARANTINED, table.status());
        assertEquals(Violation.QUARANTINED, refused(() -> registry.adopt(resigned, CALC)));
    }

    @Test
    void aSchemaOtherThanTheTablesIsRefused() {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertEquals(Violation.SCHEMA_ID, refused(() -> registry.adopt(table.verifiedBytes(), BuilderRefusalTest.VERSIONED)));
        Schema sameNameOtherMajor = Schema.builder(CALC.name(), 2).slot("inc", Fixtures.INT_INT, o -> o.refusal(-1)).build();
        assertEquals(Violation.SCHEMA_MAJOR, refused(() -> registry.adopt(table.verifiedBytes(), sameNameOtherMajor)));
    }

    @Test
    void truncatedAndExtendedBytesAreRefused() {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        byte[] bytes = table.verifiedBytes();
        assertEquals(Violation.TRUNCATED, refused(() -> registry.adopt(Arrays.copyOf(bytes, bytes.length - 1), CALC)));
        assertEquals(Violation.TRUNCATED, refused(() -> registry.adopt(Arrays.copyOf(bytes, 127), CALC)));
        assertEquals(Violation.TRUNCATED, refused(() -> registry.adopt(new byte[0], CALC)));
        assertEquals(Violation.TABLE_SIZE, refused(() -> registry.adopt(Arrays.copyOf(bytes, bytes.length + 8), CALC)));
        assertEquals(Violation.TABLE_SIZE, refused(() -> registry.adopt(new byte[1 << 20], CALC)));
    }

    @Test
    void everySingleByteChangeOfTheVerifiedBytesIsRefused() {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        Fixtures.calcTable(registry, new Targets());   // serial 2 exists too: a flipped serial may name it
        byte[] honest = table.verifiedBytes();
        List<String> wrong = new ArrayList<>();
        for (int offset = 0; offset < honest.length; offset++) {
            for (byte mask : new byte[]{1, (byte) 0x80}) {
                byte[] bytes = honest.clone();
                bytes[offset] ^= mask;
                Violation expected = Fixtures.expectedViolationForChangedByte(offset);
                try {
                    registry.adopt(bytes, CALC);
                    wrong.add("offset " + offset + " mask " + mask + ": accepted");
                } catch (TableRejectedException e) {
                    if (mask == 1 && e.violation() != expected) {
                        wrong.add("offset " + offset + ": " + e.violation() + ", expected " + expected);
                    }
                }
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
        assertSame(table, registry.adopt(honest, CALC), "the honest twin");
        assertEquals(TableStatus.OPEN, table.status(), "refused imports do not touch the table");
    }

    @Test
    void thePayloadPointerOfAnOwnedTableAdopts() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        MemorySegment fromNative = MemorySegment.ofAddress(table.payload().address());   // what C hands back
        assertSame(table, registry.adopt(fromNative, table.payload().byteSize(), CALC));
        assertEquals(42, Fixtures.callNative(table, "inc", 41));
    }

    @Test
    void aPointerToForeignMemoryIsUnknownAndNotRead() {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        long size = table.payload().byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment foreign = arena.allocate(AbiV1.HEADER_SIZE + size, 16);
            MemorySegment.copy(MemorySegment.ofArray(table.verifiedBytes()), 0, foreign, 0, foreign.byteSize());
            // a byte-exact copy of a valid table, at an address the registry does not own
            assertEquals(Violation.UNKNOWN_TABLE, refused(() -> registry.adopt(foreign.asSlice(AbiV1.HEADER_SIZE), size, CALC)));
        }
        // addresses that would crash the JVM if they were read
        assertEquals(Violation.UNKNOWN_TABLE, refused(() -> registry.adopt(MemorySegment.ofAddress(8), size, CALC)));
        assertEquals(Violation.UNKNOWN_TABLE, refused(() -> registry.adopt(MemorySegment.NULL, size, CALC)));
        assertEquals(Violation.UNKNOWN_TABLE, refused(() -> registry.adopt(MemorySegment.ofAddress(-16), 1 << 30, CALC)));
        // the table's header address is not its payload address
        assertEquals(Violation.UNKNOWN_TABLE,
                refused(() -> registry.adopt(MemorySegment.ofAddress(table.payload().address() - AbiV1.HEADER_SIZE), size, CALC)));
        assertEquals(3 + 2, audit.of(EventType.TABLE_REFUSED).size(), audit.toString());
    }

    @Test
    void aWrongLengthIsRefused() {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        MemorySegment p = MemorySegment.ofAddress(table.payload().address());
        long size = table.payload().byteSize();
        assertEquals(Violation.TRUNCATED, refused(() -> registry.adopt(p, size - 8, CALC)));
        assertEquals(Violation.TRUNCATED, refused(() -> registry.adopt(p, 0, CALC)));
        assertEquals(Violation.TABLE_SIZE, refused(() -> registry.adopt(p, size + 8, CALC)));
        assertEquals(Violation.TABLE_SIZE, refused(() -> registry.adopt(p, Long.MAX_VALUE, CALC)));
        assertSame(table, registry.adopt(p, size, CALC), "the right length");
    }

    @Test
    void aPointerToATamperedOrRevokedTableIsRefused() {
        CallbackTable table = Fixtures.writableCalcTable(registry, targets);
        MemorySegment p = MemorySegment.ofAddress(table.payload().address());
        long size = table.payload().byteSize();
        NativeTamper.flipByte(table, AbiV1.HEADER_SIZE + 1);
        assertEquals(Violation.CHECKSUM, refused(() -> registry.adopt(p, size, CALC)));

        CallbackTable revoked = Fixtures.calcTable(registry, targets);
        registry.revoke(revoked);
        assertEquals(Violation.REVOKED,
                refused(() -> registry.adopt(MemorySegment.ofAddress(revoked.payload().address()), size, CALC)));
    }

    /** {@code adopted} is {@code built} seen by {@code caller}: the same table (serial, payload), as a table of {@code caller}. */
    private static void assertAdoptedAs(CallbackTable built, CallbackTable adopted, Schema caller) {
        FuzzWorld.assertAdoptedAs(built, adopted, caller, () -> built + " adopted as " + caller);
    }

    @Test
    void theVersionRuleHoldsAcrossMinors() {
        Schema v = BuilderRefusalTest.VERSIONED;
        Schema oldCaller = v.atMinor(0);
        CallbackTable old = registry.builder(v).minor(0).bind("inc", targets.incHandle()).build();
        CallbackTable newerZero = registry.builder(v).bind("inc", targets.incHandle()).build();
        CallbackTable newerSet = registry.builder(v).bind("inc", targets.incHandle()).bind("extra", targets.dblHandle()).build();

        assertSame(old, registry.adopt(old.verifiedBytes(), v), "an older table, a newer caller: accepted");
        assertAdoptedAs(old, registry.adopt(old.verifiedBytes(), oldCaller), oldCaller);
        assertAdoptedAs(newerZero, registry.adopt(newerZero.verifiedBytes(), oldCaller), oldCaller);   // its new members are zero
        assertEquals(Violation.UNKNOWN_MEMBER_NONZERO, refused(() -> registry.adopt(newerSet.verifiedBytes(), oldCaller)),
                "a newer table with a member the caller cannot know");
        assertSame(newerSet, registry.adopt(newerSet.verifiedBytes(), v));
    }

    @Test
    void bytesOfAQuarantinedTableAreRefused() throws Throwable {
        CallbackTable table = Fixtures.writableCalcTable(registry, targets);
        NativeTamper.flipByte(table, AbiV1.OFFSET_FLAGS);
        assertEquals(Fixtures.REFUSED, Fixtures.callNative(table, "inc", 1));
        assertEquals(Violation.QUARANTINED, refused(() -> registry.adopt(table.verifiedBytes(), CALC)),
                "the verified snapshot is intact, but the table is not open");
    }

    @Test
    void nothingIsAdoptedAfterTheRegistryCloses() {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        byte[] bytes = table.verifiedBytes();
        MemorySegment p = MemorySegment.ofAddress(table.payload().address());
        registry.close();
        assertThrows(IllegalStateException.class, () -> registry.adopt(bytes, CALC));
        assertThrows(IllegalStateException.class, () -> registry.adopt(p, table.payload().byteSize(), CALC));
    }
}
