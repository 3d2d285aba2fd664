package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.IntStream;
import java.util.stream.Stream;

import static io.tabguard.guard.AbiV1.*;
import static io.tabguard.guard.internal.TestTables.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The version rule over one schema family with minors 0, 1 and 2, tables of every minor against
 * callers of every minor: an older table is accepted (its missing members take their defaults); a
 * newer one only if every member the caller does not know is zero (Linux's copy_struct_from_user);
 * and a table's size is exactly what its own minor defines.
 */
class VersionMatrixTest {

    private static final Schema FAMILY = familySchema();

    static Stream<Arguments> tableAndCallerMinors() {
        return IntStream.rangeClosed(0, 2).boxed()
                .flatMap(t -> IntStream.rangeClosed(0, 2).mapToObj(c -> Arguments.of(t, c)));
    }

    static Stream<Arguments> newerTableThanCaller() {
        return tableAndCallerMinors().filter(a -> (int) a.get()[0] > (int) a.get()[1]);
    }

    /** A table of minor {@code t} (the producer's view {@code FAMILY.atMinor(t)}) whose members of minors above {@code filledUpTo} are zero. */
    private static byte[] table(int t, int filledUpTo) {
        Schema producer = FAMILY.atMinor(t);
        byte[] bytes = blank(producer, t);
        fillPayload(bytes, producer, Math.min(t, filledUpTo));
        return stamp(bytes, producer, t, SERIAL + t, EPOCH, KEY, BOUND);
    }

    @Test
    void theFamilyGrowsAsDocumented() {
        assertAll(
                () -> assertEquals(16, FAMILY.payloadSize(0)),
                () -> assertEquals(24, FAMILY.payloadSize(1)),
                () -> assertEquals(40, FAMILY.payloadSize(2)),
                () -> assertEquals(1, FAMILY.slotCount(0)),
                () -> assertEquals(2, FAMILY.slotCount(1)),
                () -> assertEquals(3, FAMILY.slotCount(2)),
                () -> assertEquals(FAMILY.id(), FAMILY.atMinor(0).id(), "every minor's view shares the id"));
    }

    @ParameterizedTest(name = "table minor {0}, caller minor {1}")
    @MethodSource("tableAndCallerMinors")
    void fullTableIsAcceptedByACallerAtLeastAsNewAndItsOwnMinorReturned(int t, int c) {
        if (t > c) {
            // covered below: a full newer table is refused
            TableRejectedException e = rejected(table(t, t), FAMILY.atMinor(c));
            assertEquals(Violation.UNKNOWN_MEMBER_NONZERO, e.violation(), e.getMessage());
            return;
        }
        VerifiedTable v = verify(table(t, t), FAMILY.atMinor(c));
        assertAll(
                () -> assertEquals(t, v.minor()),
                () -> assertEquals(SERIAL + t, v.serial()),
                () -> assertEquals(EPOCH, v.keyEpoch()),
                () -> assertEquals(FAMILY.payloadSize(t), v.payloadSize()),
                () -> assertEquals(fakePointer(0), v.payloadAddressAt(0), "the open slot"));
    }

    @ParameterizedTest(name = "table minor {0}, caller minor {1}")
    @MethodSource("tableAndCallerMinors")
    void tableWhoseMembersUnknownToTheCallerAreZeroIsAcceptedAtAnyMinor(int t, int c) {
        VerifiedTable v = verify(table(t, c), FAMILY.atMinor(c));
        assertEquals(t, v.minor(), "the table's own minor is returned, not the caller's");
    }

    @ParameterizedTest(name = "table minor {0}, caller minor {1}")
    @MethodSource("newerTableThanCaller")
    void newerTableWithANonNullSlotTheCallerDoesNotKnowIsRefusedAtThatSlot(int t, int c) {
        Schema producer = FAMILY.atMinor(t);
        for (Schema.Member unknown : producer.members(t)) {
            if (unknown.sinceMinor() <= c) {
                continue;
            }
            byte[] bytes = blank(producer, t);
            fillPayload(bytes, producer, c);
            long pointer = fakePointer(7);
            if (unknown instanceof Schema.Slot) {
                putLong(bytes, HEADER_SIZE + unknown.offset(), pointer);
            } else {
                putInt(bytes, HEADER_SIZE + unknown.offset(), 0x100);
            }
            stamp(bytes, producer, t, SERIAL, EPOCH, KEY, BOUND);
            long expectedOffset = HEADER_SIZE + unknown.offset()
                    + (unknown instanceof Schema.Slot ? firstNonZeroByte(pointer) : 1);
            assertTrue(expectedOffset >= HEADER_SIZE + FAMILY.payloadSize(c), "past the caller's payload");
            TableRejectedException e = rejected(bytes, FAMILY.atMinor(c));
            assertAll(unknown.name(),
                    () -> assertEquals(Violation.UNKNOWN_MEMBER_NONZERO, e.violation(), e.getMessage()),
                    () -> assertEquals(expectedOffset, e.offset(), e.getMessage()));
        }
    }

    @Test
    void newerTableRefusalNamesTheFirstNonZeroByteWhenSeveralAreSet() {
        byte[] bytes = table(2, 0);
        putInt(bytes, HEADER_SIZE + FAMILY.member("level").orElseThrow().offset(), 1);
        putLong(bytes, HEADER_SIZE + FAMILY.member("read").orElseThrow().offset(), 0xFF00L);
        reseal(bytes);
        TableRejectedException e = rejected(bytes, FAMILY.atMinor(0));
        assertEquals(HEADER_SIZE + FAMILY.member("read").orElseThrow().offset() + 1, e.offset());
    }

    // ---- the size rule: exactly what the table's own minor defines, never "at least" ----

    /** Sizes (header and extent) consistent, checksum and signature valid: only the size rule can refuse. */
    private static byte[] withPayloadSize(byte[] table, long payloadSize) {
        byte[] t = resized(table, (int) (HEADER_SIZE + payloadSize));
        return reseal(putSizes(t, payloadSize));
    }

    @ParameterizedTest(name = "table minor {0}, caller minor {1}")
    @MethodSource("tableAndCallerMinors")
    void tableLargerThanItsMinorDefinesIsRefusedByACallerWhoKnowsThatMinor(int t, int c) {
        byte[] larger = withPayloadSize(table(t, t), FAMILY.payloadSize(t) + 8);
        if (t <= c) {
            TableRejectedException e = rejected(larger, FAMILY.atMinor(c));
            assertEquals(Violation.PAYLOAD_SIZE, e.violation(), e.getMessage());
            assertEquals(OFFSET_PAYLOAD_SIZE, e.offset());
        } else {
            // The caller cannot know the newer minor's size: it sees its own members and zeros past them.
            byte[] zeroTail = withPayloadSize(table(t, c), FAMILY.payloadSize(t) + 8);
            assertEquals(t, verify(zeroTail, FAMILY.atMinor(c)).minor());
        }
    }

    @Test
    void tableOfMinorOneWithMinorTwosSizeIsRefused() {
        byte[] t = table(1, 1);
        byte[] grown = withPayloadSize(t, FAMILY.payloadSize(2));
        TableRejectedException e = rejected(grown, FAMILY);
        assertEquals(Violation.PAYLOAD_SIZE, e.violation(), e.getMessage());
    }

    @ParameterizedTest(name = "table minor {0}")
    @MethodSource("minors")
    void tableSmallerThanItsMinorDefinesIsRefused(int t) {
        byte[] smaller = withPayloadSize(table(t, t), FAMILY.payloadSize(t) - 8);
        TableRejectedException e = rejected(smaller, FAMILY);
        assertEquals(Violation.PAYLOAD_SIZE, e.violation(), e.getMessage());
        assertEquals(OFFSET_PAYLOAD_SIZE, e.offset());
    }

    static IntStream minors() {
        return IntStream.rangeClosed(0, 2);
    }

    @Test
    void newerTableSmallerThanTheCallersOwnPayloadIsRefused() {
        // Claims minor 2 but is only as large as minor 0: a minor-1 caller would read past it.
        byte[] t = table(2, 0);
        putShort(t, OFFSET_SCHEMA_MINOR, 2);
        putInt(t, OFFSET_SLOT_COUNT, FAMILY.slotCount(1));
        byte[] shrunk = withPayloadSize(t, FAMILY.payloadSize(0));
        TableRejectedException e = rejected(shrunk, FAMILY.atMinor(1));
        assertEquals(Violation.PAYLOAD_SIZE, e.violation(), e.getMessage());
    }

    @Test
    void newerTableWithFewerSlotsThanTheCallerKnowsIsRefused() {
        byte[] t = table(2, 1);
        putInt(t, OFFSET_SLOT_COUNT, FAMILY.slotCount(1) - 1);
        reseal(t);
        TableRejectedException e = rejected(t, FAMILY.atMinor(1));
        assertEquals(Violation.SLOT_COUNT, e.violation(), e.getMessage());
        assertEquals(OFFSET_SLOT_COUNT, e.offset());
    }

    @ParameterizedTest(name = "table minor {0}, caller minor {1}")
    @MethodSource("tableAndCallerMinors")
    void slotCountOfAnotherMinorIsRefusedByACallerWhoKnowsTheTablesMinor(int t, int c) {
        if (t > c) {
            return;
        }
        byte[] bytes = table(t, t);
        putInt(bytes, OFFSET_SLOT_COUNT, FAMILY.slotCount(t) + 1);
        reseal(bytes);
        TableRejectedException e = rejected(bytes, FAMILY.atMinor(c));
        assertEquals(Violation.SLOT_COUNT, e.violation(), e.getMessage());
    }

    // ---- a newer minor whose member sits in the older struct's tail padding ----

    /**
     * Minor 0 is {@code open@0 version@8} padded to 16; minor 1's {@code mode} lands at 12, inside that
     * padding, so minors 0 and 1 have the same size; minor 2 adds {@code read@16}.
     */
    private static final Schema PADDED = Schema.builder("test.padded", 1)
            .slot("open", OPEN).data("version", JAVA_INT)
            .minor(1).data("mode", JAVA_INT)
            .minor(2).slot("read", READ)
            .build();

    private static byte[] padded(int t, int filledUpTo) {
        byte[] bytes = blank(PADDED, t);
        fillPayload(bytes, PADDED, Math.min(t, filledUpTo));
        return stamp(bytes, PADDED, t, SERIAL, EPOCH, KEY, BOUND);
    }

    @Test
    void aMemberInTheOlderStructsTailPaddingIsWhereCMakesIt() {
        assertAll(
                () -> assertEquals(12, PADDED.member("mode").orElseThrow().offset()),
                () -> assertEquals(PADDED.payloadSize(0), PADDED.payloadSize(1)));
    }

    @ParameterizedTest(name = "table minor {0}")
    @MethodSource("newerPaddedMinors")
    void newerTableWhoseNewMemberInThePaddingIsZeroIsAccepted(int t) {
        assertEquals(t, verify(padded(t, 0), PADDED.atMinor(0)).minor());
    }

    static IntStream newerPaddedMinors() {
        return IntStream.rangeClosed(1, 2);
    }

    @ParameterizedTest(name = "table minor {0}")
    @MethodSource("newerPaddedMinors")
    void newerTableWhoseNewMemberInThePaddingIsSetIsRefused(int t) {
        byte[] bytes = padded(t, 0);
        putInt(bytes, HEADER_SIZE + 12, 0x01);
        reseal(bytes);
        TableRejectedException e = rejected(bytes, PADDED.atMinor(0));
        assertEquals(Violation.UNKNOWN_MEMBER_NONZERO, e.violation(), e.getMessage());
        assertEquals(HEADER_SIZE + 12, e.offset(), e.getMessage());
    }

    @Test
    void minorOneTableIsAcceptedByAMinorOneCallerWithItsPaddingMemberSet() {
        assertEquals(1, verify(padded(1, 1), PADDED.atMinor(1)).minor());
        assertEquals(2, verify(padded(2, 1), PADDED.atMinor(1)).minor());
    }
}
