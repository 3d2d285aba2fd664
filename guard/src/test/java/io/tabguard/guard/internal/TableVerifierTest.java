package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.tabguard.guard.AbiV1.*;
import static io.tabguard.guard.internal.TestTables.*;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How the verifier reads its input and what it hands back, beyond which violation it names. */
class TableVerifierTest {

    private static final Schema SMALL = smallSchema();

    @Test
    void checksumIsTheCrc32cOfTheTableWithChecksumAndSignatureZeroed() {
        byte[] t = valid(SMALL, 0);
        assertAll(
                () -> assertEquals(IndependentCrypto.crc32c(t), TableVerifier.checksum(t)),
                () -> assertEquals(IndependentCrypto.crc32c(t), getInt(t, OFFSET_CHECKSUM)));
    }

    @Test
    void signatureIsTheHmacOfDomainTableAndAddress() {
        byte[] t = valid(SMALL, 0);
        byte[] expected = IndependentCrypto.hmac(keyBytes(1), t, BOUND);
        assertAll(
                () -> assertArrayEquals(expected, TableVerifier.signature(t, BOUND, KEY)),
                () -> assertArrayEquals(expected, Arrays.copyOfRange(t, OFFSET_SIGNATURE, OFFSET_SIGNATURE + SIGNATURE_SIZE)));
    }

    @Test
    void theVerifiedTableIsAPrivateCopyTheSourceCannotChangeAfterwards() {
        byte[] t = valid(SMALL, 0);
        byte[] original = t.clone();
        VerifiedTable v = verify(t, SMALL);
        Arrays.fill(t, (byte) 0);
        assertAll(
                () -> assertNotSame(t, v.bytes()),
                () -> assertArrayEquals(original, v.bytes()),
                () -> assertEquals(fakePointer(1), v.payloadAddressAt(8), "the read slot"),
                () -> assertTrue(v.segment().isReadOnly()),
                () -> assertEquals(original.length, v.segment().byteSize()));
    }

    @Test
    void verifyNeverWritesToItsSource() {
        byte[] t = valid(SMALL, 0);
        byte[] before = t.clone();
        verify(t, SMALL);
        t[HEADER_SIZE] ^= 1;
        byte[] tampered = t.clone();
        rejected(t, SMALL);
        assertArrayEquals(tampered, t);
        t[HEADER_SIZE] ^= 1;
        assertArrayEquals(before, t);
    }

    @Test
    void aReadOnlySourceIsVerified() {
        byte[] t = valid(SMALL, 0);
        VerifiedTable v = TableVerifier.verify(MemorySegment.ofArray(t).asReadOnly(), BOUND, SMALL, keys());
        assertEquals(SERIAL, v.serial());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 8})
    void aTableAtAnyOffsetOfLargerMemoryIsVerifiedWithinItsSliceOnly(int at) {
        byte[] t = valid(SMALL, 0);
        byte[] memory = new byte[at + t.length + 16];
        Arrays.fill(memory, (byte) 0x77);
        System.arraycopy(t, 0, memory, at, t.length);
        MemorySegment slice = MemorySegment.ofArray(memory).asSlice(at, t.length);
        assertEquals(SERIAL, TableVerifier.verify(slice, BOUND, SMALL, keys()).serial());
        MemorySegment oneMore = MemorySegment.ofArray(memory).asSlice(at, t.length + 1);
        assertEquals(Violation.TABLE_SIZE, assertThrows(TableRejectedException.class,
                () -> TableVerifier.verify(oneMore, BOUND, SMALL, keys())).violation());
    }

    @Test
    void theKeyIsNotLookedUpForATableThatFailsACheaperCheck() {
        List<Long> asked = new ArrayList<>();
        KeyLookup recording = epoch -> {
            asked.add(epoch);
            return KEY;
        };
        byte[] badChecksum = valid(SMALL, 0);
        badChecksum[HEADER_SIZE] ^= 1;
        byte[] badMagic = reseal(putLong(valid(SMALL, 0), OFFSET_MAGIC, 0));
        for (byte[] t : List.of(badChecksum, badMagic, new byte[3])) {
            assertThrows(TableRejectedException.class, () -> TableVerifier.verify(MemorySegment.ofArray(t), BOUND, SMALL, recording));
        }
        assertEquals(List.of(), asked);
        TableVerifier.verify(MemorySegment.ofArray(valid(SMALL, 0)), BOUND, SMALL, recording);
        assertEquals(List.of(EPOCH), asked);
    }

    @Test
    void everyByteOfTheVerifiedCopyIsWhatWasGiven() {
        byte[] t = valid(familySchema(), 2);
        VerifiedTable v = verify(t, familySchema());
        for (long i = 0; i < t.length; i++) {
            assertEquals(t[(int) i], v.segment().get(ValueLayout.JAVA_BYTE, i));
        }
    }
}
