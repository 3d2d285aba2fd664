package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.tabguard.guard.AbiV1.*;
import static io.tabguard.guard.internal.TestTables.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The consumer-written rule (issue 15): a pointer-sized data member the native consumer writes (as
 * {@code sqlite3_vfs_register} writes {@code pNext}) counts as zero in the checksum and the signature;
 * every byte beside it is covered as before.
 */
class ConsumerWrittenMemberTest {
    /** {@code struct { int iVersion; void *pNext; int (*f)(void *, void *); }}: pNext at payload offset 8. */
    static final Schema LINKED = Schema.builder("tabguard.test.linked", 1)
            .data("iVersion", ValueLayout.JAVA_INT)
            .consumerWritten("pNext")
            .slot("f", OPEN)
            .build();
    static final long P_NEXT = HEADER_SIZE + LINKED.member("pNext").orElseThrow().offset();

    static byte[] stamped() {
        byte[] t = blank(LINKED, 0);
        MemorySegment.ofArray(t).set(LE_INT, HEADER_SIZE, 3);
        MemorySegment.ofArray(t).set(LE_LONG, HEADER_SIZE + LINKED.member("f").orElseThrow().offset(), fakePointer(0));
        return stamp(t, LINKED, 0, SERIAL, EPOCH, KEY, BOUND);
    }

    @Test
    void theMemberIsPointerSizedAndPartOfTheSchemasIdentity() {
        Schema.Data pNext = (Schema.Data) LINKED.member("pNext").orElseThrow();
        assertTrue(pNext.consumerWritten());
        assertEquals(8, pNext.offset());
        assertEquals(8, pNext.layout().byteSize());
        assertArrayEquals(new long[]{8}, LINKED.consumerWrittenOffsets(0));
        Schema plain = Schema.builder("tabguard.test.linked", 1).data("iVersion", ValueLayout.JAVA_INT)
                .data("pNext", ValueLayout.ADDRESS).slot("f", OPEN).build();
        assertNotEquals(plain.id(), LINKED.id(), "declaring a member consumer-written changes what the table means");
        assertArrayEquals(new long[0], plain.consumerWrittenOffsets(0));
    }

    @Test
    void stampingCountsTheMemberAsZero() {
        byte[] t = blank(LINKED, 0);
        MemorySegment.ofArray(t).set(LE_LONG, P_NEXT, 0x7f00_1234_5678L);
        byte[] snapshot = stamp(t, LINKED, 0, SERIAL, EPOCH, KEY, BOUND);
        assertEquals(0L, MemorySegment.ofArray(snapshot).get(LE_LONG, P_NEXT));
    }

    @Test
    void aWriteIntoTheMemberIsIgnoredByChecksumAndSignature() {
        byte[] t = stamped();
        MemorySegment.ofArray(t).set(LE_LONG, P_NEXT, 0x7f00_1234_5678L);
        VerifiedTable v = verify(t, LINKED);
        assertEquals(SERIAL, v.serial());
        assertEquals(0L, MemorySegment.ofArray(v.bytes()).get(LE_LONG, P_NEXT), "the verified copy counts it as zero");
    }

    @Test
    void aWriteOneByteBesideTheMemberIsCaught() {
        for (long offset : new long[]{P_NEXT - 1, P_NEXT + 8}) {
            byte[] t = stamped();
            t[(int) offset] ^= 1;
            assertEquals(Violation.CHECKSUM, rejected(t, LINKED).violation(), "byte " + offset);
            byte[] resealedChecksum = t.clone();
            MemorySegment.ofArray(resealedChecksum).set(LE_INT, OFFSET_CHECKSUM, TableVerifier.checksum(resealedChecksum));
            assertEquals(Violation.SIGNATURE, rejected(resealedChecksum, LINKED).violation(), "byte " + offset);
        }
    }

    @Test
    void aCallerThatDoesNotDeclareTheMemberConsumerWrittenChecksItsBytes() {
        Schema plain = Schema.builder("tabguard.test.linked", 1).data("iVersion", ValueLayout.JAVA_INT)
                .data("pNext", ValueLayout.ADDRESS).slot("f", OPEN).build();
        byte[] t = blank(plain, 0);
        MemorySegment.ofArray(t).set(LE_LONG, HEADER_SIZE + 16, fakePointer(0));
        stamp(t, plain, 0, SERIAL, EPOCH, KEY, BOUND);
        MemorySegment.ofArray(t).set(LE_LONG, P_NEXT, 0x7f00_1234_5678L);
        assertEquals(Violation.CHECKSUM, rejected(t, plain).violation());
    }
}
