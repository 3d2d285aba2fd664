package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.tabguard.guard.AbiV1.*;
import static io.tabguard.guard.internal.TestTables.*;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TableStamperTest {

    private static final Schema SMALL = smallSchema();

    @Test
    void stampWritesEveryHeaderField() {
        Schema family = familySchema();
        byte[] t = blank(family, 1);
        fillPayload(t, family, 1);
        stamp(t, family, 1, 0x0102_0304_0506_0708L, 0x1112_1314_1516_1718L, KEY, BOUND);
        MemorySegment h = MemorySegment.ofArray(t);
        assertAll(
                () -> assertEquals(MAGIC, h.get(LE_LONG, OFFSET_MAGIC)),
                () -> assertEquals("TABGUARD", new String(t, 0, 8, java.nio.charset.StandardCharsets.US_ASCII)),
                () -> assertEquals(ABI_VERSION, getUnsignedShort(t, OFFSET_ABI_VERSION)),
                () -> assertEquals(HEADER_SIZE, getUnsignedShort(t, OFFSET_HEADER_SIZE)),
                () -> assertEquals(0, getInt(t, OFFSET_FLAGS)),
                () -> assertEquals(HEADER_SIZE + 24, getInt(t, OFFSET_TABLE_SIZE)),
                () -> assertEquals(24, getInt(t, OFFSET_PAYLOAD_SIZE)),
                () -> assertEquals(2, getInt(t, OFFSET_SLOT_COUNT)),
                () -> assertEquals(family.major(), getUnsignedShort(t, OFFSET_SCHEMA_MAJOR)),
                () -> assertEquals(1, getUnsignedShort(t, OFFSET_SCHEMA_MINOR)),
                () -> assertEquals(family.id(), getLong(t, OFFSET_SCHEMA_ID)),
                () -> assertEquals(family.layoutId(1), getLong(t, OFFSET_LAYOUT_ID)),
                () -> assertNotEquals(family.layoutId(0), getLong(t, OFFSET_LAYOUT_ID), "minor 1 adds a member: another layout id"),
                () -> assertEquals(0x0102_0304_0506_0708L, getLong(t, OFFSET_SERIAL)),
                () -> assertEquals(0x1112_1314_1516_1718L, getLong(t, OFFSET_KEY_EPOCH)),
                () -> assertEquals(IndependentCrypto.crc32c(t), getInt(t, OFFSET_CHECKSUM)),
                () -> assertEquals(0, getInt(t, OFFSET_RESERVED0)),
                () -> assertArrayEquals(new byte[RESERVED1_SIZE], Arrays.copyOfRange(t, OFFSET_RESERVED1, OFFSET_RESERVED1 + RESERVED1_SIZE)),
                () -> assertArrayEquals(IndependentCrypto.hmac(keyBytes(1), t, BOUND),
                        Arrays.copyOfRange(t, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE)));
    }

    @Test
    void stampKeepsThePayloadAndReturnsTheBytesItWrote() {
        byte[] expectedPayload = blank(SMALL, 0);
        fillPayload(expectedPayload, SMALL, 0);
        byte[] t = expectedPayload.clone();
        byte[] snapshot = TableStamper.stamp(MemorySegment.ofArray(t), SMALL, 0, SERIAL, EPOCH, KEY, BOUND);
        assertAll(
                () -> assertArrayEquals(Arrays.copyOfRange(expectedPayload, HEADER_SIZE, t.length), Arrays.copyOfRange(t, HEADER_SIZE, t.length)),
                () -> assertArrayEquals(t, snapshot),
                () -> assertNotSame(t, snapshot));
    }

    @Test
    void stampOverwritesWhateverWasInTheHeader() {
        byte[] t = blank(SMALL, 0);
        Arrays.fill(t, 0, HEADER_SIZE, (byte) 0xFF);
        fillPayload(t, SMALL, 0);
        stamp(t, SMALL, 0, SERIAL, EPOCH, KEY, BOUND);
        assertEquals(SERIAL, verify(t, SMALL).serial());
    }

    @Test
    void stampAtAnOlderMinorThanTheSchemasNewest() {
        Schema family = familySchema();
        byte[] t = blank(family, 0);
        fillPayload(t, family, 0);
        stamp(t, family, 0, SERIAL, EPOCH, KEY, BOUND);
        assertEquals(0, verify(t, family).minor());
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, +1, -8, +8, -32, Integer.MIN_VALUE})
    void stampRefusesMemoryOfTheWrongSizeAndLeavesItAlone(int delta) {
        int right = HEADER_SIZE + (int) SMALL.payloadSize(0);
        int size = delta == Integer.MIN_VALUE ? 0 : right + delta;
        byte[] t = new byte[size];
        Arrays.fill(t, (byte) 0x33);
        byte[] before = t.clone();
        assertThrows(IllegalArgumentException.class,
                () -> TableStamper.stamp(MemorySegment.ofArray(t), SMALL, 0, SERIAL, EPOCH, KEY, BOUND));
        assertArrayEquals(before, t);
    }

    @Test
    void stampRefusesMemorySizedForAnotherMinor() {
        Schema family = familySchema();
        byte[] t = blank(family, 1);
        assertThrows(IllegalArgumentException.class,
                () -> TableStamper.stamp(MemorySegment.ofArray(t), family, 2, SERIAL, EPOCH, KEY, BOUND));
        assertThrows(IllegalArgumentException.class,
                () -> TableStamper.stamp(MemorySegment.ofArray(t), family, 0, SERIAL, EPOCH, KEY, BOUND));
    }

    @Test
    void stampRefusesAMinorTheSchemaDoesNotHave() {
        byte[] t = blank(SMALL, 0);
        assertThrows(IllegalArgumentException.class,
                () -> TableStamper.stamp(MemorySegment.ofArray(t), SMALL, 1, SERIAL, EPOCH, KEY, BOUND));
        assertThrows(IllegalArgumentException.class,
                () -> TableStamper.stamp(MemorySegment.ofArray(t), SMALL, -1, SERIAL, EPOCH, KEY, BOUND));
    }

    @Test
    void stampWithADestroyedKeyFailsClosedAndWritesNothing() {
        SigningKey key = key(5);
        key.destroy();
        byte[] t = blank(SMALL, 0);
        fillPayload(t, SMALL, 0);
        byte[] before = t.clone();
        assertThrows(IllegalStateException.class,
                () -> TableStamper.stamp(MemorySegment.ofArray(t), SMALL, 0, SERIAL, EPOCH, key, BOUND));
        assertArrayEquals(before, t);
    }

    // ---- resign (key rotation) ----

    @Test
    void resignedTableVerifiesUnderTheNewEpochAndKeyAndNotTheOld() {
        byte[] t = blank(SMALL, 0);
        fillPayload(t, SMALL, 0);
        byte[] snapshot = TableStamper.stamp(MemorySegment.ofArray(t), SMALL, 0, SERIAL, EPOCH, KEY, BOUND);
        SigningKey newKey = key(6);
        long newEpoch = EPOCH + 1;
        byte[] resigned = TableStamper.resign(snapshot, newEpoch, newKey, BOUND);

        VerifiedTable v = TableVerifier.verify(MemorySegment.ofArray(resigned), BOUND, SMALL, lookup(newEpoch, newKey));
        assertAll(
                () -> assertEquals(newEpoch, v.keyEpoch()),
                () -> assertEquals(SERIAL, v.serial()),
                () -> assertArrayEquals(Arrays.copyOfRange(snapshot, HEADER_SIZE, t.length), Arrays.copyOfRange(resigned, HEADER_SIZE, t.length)),
                () -> assertEquals(Violation.SIGNATURE, assertThrows(TableRejectedException.class,
                        () -> TableVerifier.verify(MemorySegment.ofArray(resigned), BOUND, SMALL, keys())).violation(),
                        "the old epoch's key no longer signs it"),
                () -> assertEquals(Violation.SIGNATURE, assertThrows(TableRejectedException.class,
                        () -> TableVerifier.verify(MemorySegment.ofArray(resigned), BOUND, SMALL, lookup(newEpoch, KEY))).violation(),
                        "the old key under the new epoch does not verify it"),
                () -> assertEquals(Violation.SIGNATURE, assertThrows(TableRejectedException.class,
                        () -> TableVerifier.verify(MemorySegment.ofArray(snapshot), BOUND, SMALL, lookup(newEpoch, newKey))).violation(),
                        "the old stamping does not verify under the new key"));
    }

    /** The gate writes only the words that differ, so re-signing must differ only in epoch, checksum and signature. */
    @Test
    void resignWritesNoMemoryAndChangesOnlyEpochChecksumAndSignature() {
        byte[] t = blank(SMALL, 0);
        fillPayload(t, SMALL, 0);
        byte[] snapshot = TableStamper.stamp(MemorySegment.ofArray(t), SMALL, 0, SERIAL, EPOCH, KEY, BOUND);
        byte[] original = snapshot.clone();
        byte[] live = t.clone();
        byte[] resigned = TableStamper.resign(snapshot, EPOCH + 1, key(6), BOUND);
        java.util.List<Integer> changed = new java.util.ArrayList<>();
        for (int i = 0; i < resigned.length; i++) {
            if (resigned[i] != original[i]) {
                changed.add(i);
            }
        }
        assertAll(
                () -> assertArrayEquals(original, snapshot, "the caller's snapshot is not written to"),
                () -> assertArrayEquals(live, t, "no table memory is written"),
                () -> assertTrue(changed.stream().allMatch(i -> (i >= OFFSET_KEY_EPOCH && i < OFFSET_KEY_EPOCH + 8)
                        || (i >= OFFSET_CHECKSUM && i < OFFSET_CHECKSUM + 4)
                        || (i >= OFFSET_SIGNATURE && i < OFFSET_SIGNATURE + SIGNATURE_SIZE)), "changed bytes " + changed),
                () -> assertTrue(changed.stream().anyMatch(i -> i >= OFFSET_SIGNATURE), "the signature changed"));
    }

    @Test
    void resignBindsToTheAddressItIsGiven() {
        byte[] t = valid(SMALL, 0);
        long moved = BOUND + 0x10_0000;
        byte[] resigned = TableStamper.resign(t.clone(), EPOCH, KEY, moved);
        assertEquals(SERIAL, TableVerifier.verify(MemorySegment.ofArray(resigned), moved, SMALL, keys()).serial());
        assertEquals(Violation.SIGNATURE, rejected(resigned, SMALL).violation());
    }
}
