package io.tabguard.registry;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.*;

/** Array and nested-struct data members: written by the builder from bytes of exactly their size, covered by the signature. */
class AggregateDataTest extends WithRegistry {
    static final MemoryLayout POINT = MemoryLayout.structLayout(JAVA_INT.withName("x"), JAVA_INT.withName("y"), JAVA_DOUBLE.withName("w"));
    /** {@code void (*f)(void); char name[16]; struct { int x, y; double w; } origin; int count;} */
    static final Schema NAMED = Schema.builder("test.aggregate", 1)
            .slot("f", FunctionDescriptor.ofVoid())
            .data("name", sequenceLayout(16, JAVA_BYTE))
            .data("origin", POINT)
            .data("count", JAVA_INT)
            .build();



    private TableBuilder builder() {
        return registry.builder(NAMED).bind("f", MethodHandles.empty(FunctionDescriptor.ofVoid().toMethodType()));
    }

    private static byte[] name(String s) {
        return Arrays.copyOf(s.getBytes(StandardCharsets.US_ASCII), 16);
    }

    @Test
    void anArrayAndAStructAreWrittenAtTheirOffsets() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment origin = arena.allocate(POINT);
            origin.set(JAVA_INT, 0, 3);
            origin.set(JAVA_INT, 4, -4);
            origin.set(JAVA_DOUBLE, 8, 0.5);
            CallbackTable t = builder().data("name", name("tabguard")).data("origin", origin).data("count", 2).build();
            MemorySegment p = t.payload();
            long nameAt = NAMED.member("name").orElseThrow().offset();
            long originAt = NAMED.member("origin").orElseThrow().offset();
            assertAll(
                    () -> assertEquals(8, nameAt),
                    () -> assertEquals(24, originAt),
                    () -> assertArrayEquals(name("tabguard"), p.asSlice(nameAt, 16).toArray(JAVA_BYTE)),
                    () -> assertEquals(3, p.get(JAVA_INT, originAt)),
                    () -> assertEquals(-4, p.get(JAVA_INT, originAt + 4)),
                    () -> assertEquals(0.5, p.get(JAVA_DOUBLE, originAt + 8)),
                    () -> assertEquals(2, p.get(JAVA_INT, 40)));
        }
    }

    @Test
    void bytesOfAnotherSizeOrTypeAreRefusedAndExactlyItsSizeAccepted() {
        assertThrows(IllegalArgumentException.class, () -> builder().data("name", new byte[15]));
        assertThrows(IllegalArgumentException.class, () -> builder().data("name", new byte[17]));
        assertThrows(IllegalArgumentException.class, () -> builder().data("name", MemorySegment.ofArray(new byte[8])));
        assertThrows(IllegalArgumentException.class, () -> builder().data("name", 7));
        assertThrows(IllegalArgumentException.class, () -> builder().data("count", new byte[4]), "a scalar takes its carrier");
        assertNotNull(builder().data("name", new byte[16]).build());
    }

    @Test
    void theBuilderCopiesTheBytesWhenGivenThem() {
        byte[] given = name("first");
        TableBuilder b = builder().data("name", given);
        given[0] = 'X';
        CallbackTable t = b.build();
        assertEquals('f', t.payload().get(JAVA_BYTE, NAMED.member("name").orElseThrow().offset()));
    }

    @Test
    void anAggregateByteChangedWithTheChecksumFixedUpFailsTheSignature() {
        CallbackTable t = builder().data("name", name("tabguard")).build();
        byte[] edited = t.verifiedBytes();
        edited[AbiV1.HEADER_SIZE + 8 + 3] ^= 0x20;
        Unkeyed.fixChecksum(edited);
        assertEquals(Violation.SIGNATURE, assertThrows(TableRejectedException.class, () -> registry.adopt(edited, NAMED)).violation());
        assertSame(t, registry.adopt(t.verifiedBytes(), NAMED), "the valid twin");
    }
}
