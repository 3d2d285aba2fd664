package io.tabguard.guard;

import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.ADDRESS_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_CHAR;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Members are laid out as a C compiler lays out the same struct (LP64): natural alignment, padded size. */
class SchemaLayoutTest {

    private static final FunctionDescriptor FN = FunctionDescriptor.ofVoid(ADDRESS);

    private static long offset(Schema s, String member) {
        return s.member(member).orElseThrow().offset();
    }

    @Test
    void anIntThenAPointerPutsThePointerAt8() {
        Schema s = Schema.builder("l", 0).data("n", JAVA_INT).slot("f", FN).build();
        assertAll(() -> assertEquals(0, offset(s, "n")), () -> assertEquals(8, offset(s, "f")), () -> assertEquals(16, s.payloadSize(0)));
    }

    @Test
    void aPointerThenAnIntIsPaddedTo16() {
        Schema s = Schema.builder("l", 0).slot("f", FN).data("n", JAVA_INT).build();
        assertAll(() -> assertEquals(8, offset(s, "n")), () -> assertEquals(16, s.payloadSize(0)));
    }

    @Test
    void mixedScalarsTakeTheirNaturalAlignment() {
        Schema s = Schema.builder("l", 0)
                .data("b", JAVA_BYTE).data("s", JAVA_SHORT).data("c", JAVA_CHAR).data("i", JAVA_INT)
                .data("z", JAVA_BOOLEAN).data("d", JAVA_DOUBLE).data("f", JAVA_FLOAT)
                .build();
        assertAll(
                () -> assertEquals(0, offset(s, "b")),
                () -> assertEquals(2, offset(s, "s")),
                () -> assertEquals(4, offset(s, "c")),
                () -> assertEquals(8, offset(s, "i")),
                () -> assertEquals(12, offset(s, "z")),
                () -> assertEquals(16, offset(s, "d")),
                () -> assertEquals(24, offset(s, "f")),
                () -> assertEquals(32, s.payloadSize(0)));
    }

    @Test
    void bytesAloneNeedNoPadding() {
        Schema s = Schema.builder("l", 0).data("a", JAVA_BYTE).data("b", JAVA_BYTE).data("c", JAVA_BOOLEAN).build();
        assertEquals(3, s.payloadSize(0));
    }

    /** Unaligned or big-endian layouts (such as {@link AbiV1#LE_INT}) describe the same C type as the plain one. */
    static Stream<Arguments> sameCTypeSpelledDifferently() {
        return Stream.of(
                arguments(Named.of("AbiV1.LE_INT", AbiV1.LE_INT), JAVA_INT),
                arguments(Named.of("AbiV1.LE_SHORT", AbiV1.LE_SHORT), JAVA_SHORT),
                arguments(Named.of("AbiV1.LE_LONG", AbiV1.LE_LONG), JAVA_LONG),
                arguments(Named.of("JAVA_LONG_UNALIGNED", JAVA_LONG_UNALIGNED), JAVA_LONG),
                arguments(Named.of("ADDRESS_UNALIGNED", ADDRESS_UNALIGNED), ADDRESS),
                arguments(Named.of("big-endian int", JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN)), JAVA_INT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sameCTypeSpelledDifferently")
    void aDataMemberIsPlacedByItsCTypeWhateverItsJavaAlignmentOrOrder(ValueLayout given, ValueLayout plain) {
        Schema s = Schema.builder("l", 0).data("a", JAVA_BYTE).data("v", given).data("w", JAVA_BYTE).build();
        Schema reference = Schema.builder("l", 0).data("a", JAVA_BYTE).data("v", plain).data("w", JAVA_BYTE).build();
        ValueLayout kept = ((Schema.Data) s.member("v").orElseThrow()).layout();
        assertAll(
                () -> assertEquals(plain.byteSize(), offset(s, "v"), "natural alignment of a " + plain.byteSize() + "-byte scalar"),
                () -> assertEquals(offset(reference, "w"), offset(s, "w")),
                () -> assertEquals(reference.payloadSize(0), s.payloadSize(0)),
                () -> assertEquals(reference.id(), s.id()),
                () -> assertEquals(ByteOrder.nativeOrder(), kept.order()),
                () -> assertEquals(plain.byteAlignment(), kept.byteAlignment()),
                () -> assertEquals(s.layout().byteSize(), s.payloadSize(0), "the layout() FFM builds for it is well-formed"));
    }

    @Test
    void eachMinorAppendsAndItsSizeIsItsOwnStruct() {
        Schema s = Schema.builder("l", 0)
                .slot("f", FN).data("n", JAVA_INT)     // 0..12, size 16
                .minor(1).data("m", JAVA_SHORT)        // 12, size 16
                .minor(2).data("b", JAVA_BYTE)         // 14, size 16
                .minor(3).slot("g", FN)                // 16, size 24
                .build();
        assertAll(
                () -> assertEquals(List.of(16L, 16L, 16L, 24L), Stream.of(0, 1, 2, 3).map(s::payloadSize).toList()),
                () -> assertEquals(List.of(1, 1, 1, 2), Stream.of(0, 1, 2, 3).map(s::slotCount).toList()),
                () -> assertEquals(List.of("f", "n", "m"), s.members(1).stream().map(Schema.Member::name).toList()),
                () -> assertEquals(s.members(), s.members(3)),
                () -> assertEquals(12, offset(s, "m")),
                () -> assertEquals(14, offset(s, "b")),
                () -> assertEquals(16, offset(s, "g")));
    }

    @Test
    void atMinorIsTheOlderCallersView() {
        Schema s = Schema.builder("l", 5).slot("f", FN).minor(1).slot("g", FN).minor(2).data("h", JAVA_LONG).build();
        Schema one = s.atMinor(1);
        assertAll(
                () -> assertEquals(1, one.minor()),
                () -> assertEquals(s.members(1), one.members()),
                () -> assertEquals(s.id(), one.id()),
                () -> assertEquals(s.name(), one.name()),
                () -> assertEquals(s.major(), one.major()),
                () -> assertEquals(16, one.payloadSize(1)),
                () -> assertTrue(one.member("h").isEmpty()),
                () -> assertEquals(s, s.atMinor(2)));
    }

    @Test
    void layoutHasEveryMemberAtItsOffsetAndExplicitPadding() {
        Schema s = Schema.builder("layout.test", 0)
                .data("b", JAVA_BYTE).slot("f", FN).data("i", JAVA_INT).minor(1).data("d", JAVA_DOUBLE).build();
        for (int minor = 0; minor <= 1; minor++) {
            GroupLayout layout = s.layout(minor);
            int m = minor;
            assertEquals(s.payloadSize(m), layout.byteSize(), "minor " + m);
            assertEquals("layout.test", layout.name().orElseThrow());
            for (Schema.Member member : s.members(m)) {
                assertEquals(member.offset(), layout.byteOffset(PathElement.groupElement(member.name())), member.name());
            }
            long padding = layout.memberLayouts().stream().filter(PaddingLayout.class::isInstance).mapToLong(MemoryLayout::byteSize).sum();
            long members = s.members(m).stream().mapToLong(x -> x.layout().byteSize()).sum();
            assertEquals(layout.byteSize(), padding + members, "minor " + m + ": padding is explicit");
        }
        assertEquals(s.layout(1), s.layout());
    }

    @Test
    void payloadSizeIsAMultipleOfTheStrictestAlignmentForRandomShapes() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 500; i++) {
            Schema s = RandomSchemas.next(random, "r" + i);
            long previous = 0;
            for (int m = 0; m <= s.minor(); m++) {
                long size = s.payloadSize(m);
                long alignment = s.members(m).stream().mapToLong(x -> x.layout().byteSize()).max().orElseThrow();
                long end = 0;
                for (Schema.Member x : s.members(m)) {
                    assertEquals(0, x.offset() % x.layout().byteSize(), s + " " + x);
                    assertTrue(x.offset() >= end, s + ": " + x + " overlaps");
                    end = x.offset() + x.layout().byteSize();
                }
                assertEquals(0, size % alignment, s + " minor " + m);
                assertTrue(size >= end && size < end + alignment, s + " minor " + m);
                assertTrue(size >= previous, "a later minor never shrinks");
                previous = size;
            }
        }
    }
}
