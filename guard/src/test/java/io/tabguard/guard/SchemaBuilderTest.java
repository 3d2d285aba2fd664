package io.tabguard.guard;

import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** What {@link Schema.Builder} refuses, and that what it accepts is kept as given. */
class SchemaBuilderTest {

    private static final FunctionDescriptor INT_OF_PTR = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor PTR_OF_PTR_INT = FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT);
    private static final FunctionDescriptor VOID_OF_PTR = FunctionDescriptor.ofVoid(ADDRESS);
    private static final MemoryLayout PAIR = MemoryLayout.structLayout(JAVA_INT.withName("a"), JAVA_INT.withName("b"));
    private static final MemoryLayout PAIR_UNION = MemoryLayout.unionLayout(JAVA_INT.withName("a"), JAVA_INT.withName("b"));

    private static Schema.Builder builder() {
        return Schema.builder("test.builder", 1);
    }

    private static Arguments refused(String why, Executable declaration) {
        return arguments(Named.of(why, declaration));
    }

    static Stream<Arguments> illegalArguments() {
        MethodHandle wrongReturn = MethodHandles.empty(MethodType.methodType(long.class, MemorySegment.class));
        MethodHandle wrongArgument = MethodHandles.empty(MethodType.methodType(int.class, long.class));
        MethodHandle extraArgument = MethodHandles.empty(MethodType.methodType(int.class, MemorySegment.class, int.class));
        return Stream.of(
                refused("empty schema name", () -> Schema.builder("", 1)),
                refused("schema name starting with a digit", () -> Schema.builder("1zlib", 1)),
                refused("schema name starting with a dot", () -> Schema.builder(".zlib", 1)),
                refused("schema name with a space", () -> Schema.builder("z lib", 1)),
                refused("schema name with a slash", () -> Schema.builder("z/lib", 1)),
                refused("schema name with a newline (would forge a line of the canonical description)",
                        () -> Schema.builder("zlib\nmember=x@0:i32", 1)),
                refused("schema name of 129 characters", () -> Schema.builder("s".repeat(129), 1)),
                refused("schema name not ASCII", () -> Schema.builder("zlïb", 1)),
                refused("negative major", () -> Schema.builder("zlib", -1)),
                refused("major above 0xFFFF", () -> Schema.builder("zlib", 0x10000)),
                refused("empty member name", () -> builder().slot("", INT_OF_PTR)),
                refused("member name starting with a digit", () -> builder().data("1x", JAVA_INT)),
                refused("member name with a dash", () -> builder().slot("x-y", INT_OF_PTR)),
                refused("member name with a dot", () -> builder().data("x.y", JAVA_INT)),
                refused("member name with a colon", () -> builder().data("x:y", JAVA_INT)),
                refused("member name with '@' (would forge the description)", () -> builder().data("x@8", JAVA_INT)),
                refused("member name of 129 characters", () -> builder().data("m".repeat(129), JAVA_INT)),
                refused("duplicate slot", () -> builder().slot("f", INT_OF_PTR).slot("f", INT_OF_PTR)),
                refused("slot then data of the same name", () -> builder().slot("f", INT_OF_PTR).data("f", JAVA_INT)),
                refused("duplicate data", () -> builder().data("v", JAVA_INT).data("v", JAVA_LONG)),
                refused("duplicate across minors", () -> builder().slot("f", INT_OF_PTR).minor(1).slot("f", INT_OF_PTR)),
                refused("minor going backwards", () -> builder().minor(2).minor(1)),
                refused("negative minor", () -> builder().minor(-1)),
                refused("minor above 0xFFFF", () -> builder().minor(0x10000)),
                refused("union passed by value", () -> builder().slot("f", FunctionDescriptor.of(JAVA_INT, ADDRESS, PAIR_UNION))),
                refused("union returned by value", () -> builder().slot("f", FunctionDescriptor.of(PAIR_UNION, ADDRESS))),
                refused("struct refusal of the wrong size", () -> builder().slot("f", FunctionDescriptor.of(PAIR, ADDRESS), o -> o.refusal(new byte[4]))),
                refused("array passed by value", () -> builder().slot("f", FunctionDescriptor.ofVoid(MemoryLayout.sequenceLayout(4, JAVA_INT)))),
                refused("default returning the wrong type", () -> builder().slot("f", INT_OF_PTR, o -> o.optional(wrongReturn))),
                refused("default taking the wrong argument type", () -> builder().slot("f", INT_OF_PTR, o -> o.optional(wrongArgument))),
                refused("default taking an extra argument", () -> builder().slot("f", INT_OF_PTR, o -> o.optional(extraArgument))),
                refused("refusal value Long for an i32 slot", () -> builder().slot("f", INT_OF_PTR, o -> o.refusal(-1L))),
                refused("refusal value Integer for an i64 slot",
                        () -> builder().slot("f", FunctionDescriptor.of(JAVA_LONG, ADDRESS), o -> o.refusal(-1))),
                refused("refusal value String for a pointer slot", () -> builder().slot("f", PTR_OF_PTR_INT, o -> o.refusal("NULL"))),
                refused("refusal value for a void slot", () -> builder().slot("f", VOID_OF_PTR, o -> o.refusal(0))),
                refused("non-NULL pointer as refusal value", () -> builder().slot("f", PTR_OF_PTR_INT, o -> o.refusal(MemorySegment.ofAddress(0x1000)))),
                refused("context argument that is an int", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgument(1, Schema.ContextBinding.PAYLOAD_ADDRESS))),
                refused("context argument past the last", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgument(2, Schema.ContextBinding.REGISTERED_CONTEXT))),
                refused("negative context argument", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgument(-1, Schema.ContextBinding.PAYLOAD_ADDRESS))),
                refused("context argument of a slot with no arguments", () -> builder().slot("f", FunctionDescriptor.ofVoid(),
                        o -> o.contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS))),
                refused("pointed-to context at a misaligned offset", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgumentPointsTo(0, 4))),
                refused("pointed-to context at a negative offset", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgumentPointsTo(0, -8))),
                refused("pointed-to context past the bound", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgumentPointsTo(0, Schema.MAX_CONTEXT_OFFSET + 8))),
                refused("pointed-to context in an int argument", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgumentPointsTo(1, 0))),
                refused("POINTS_TO_PAYLOAD without an offset", () -> builder().slot("f", PTR_OF_PTR_INT,
                        o -> o.contextArgument(0, Schema.ContextBinding.POINTS_TO_PAYLOAD))),
                refused("a slot record with POINTS_TO_PAYLOAD and no offset", () -> new Schema.Slot("f", 0, 0, PTR_OF_PTR_INT,
                        true, java.util.Optional.empty(), java.util.Optional.empty(), 0, Schema.ContextBinding.POINTS_TO_PAYLOAD)),
                refused("atMinor past the newest", () -> builder().slot("f", INT_OF_PTR).build().atMinor(1)),
                refused("payloadSize of a negative minor", () -> builder().slot("f", INT_OF_PTR).build().payloadSize(-1)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("illegalArguments")
    void refusedWithIllegalArgumentException(Executable declaration) {
        assertThrows(IllegalArgumentException.class, declaration);
    }

    static Stream<Arguments> illegalStates() {
        return Stream.of(
                refused("no member at all", () -> builder().build()),
                refused("members only in minor 1", () -> builder().minor(1).slot("f", INT_OF_PTR).build()),
                refused("a table larger than the maximum", () -> {
                    Schema.Builder b = builder();
                    for (int i = 0; i <= (AbiV1.MAX_TABLE_SIZE - AbiV1.HEADER_SIZE) / 8; i++) {
                        b.slot("f" + i, VOID_OF_PTR);
                    }
                    b.build();
                }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("illegalStates")
    void buildRefusedWithIllegalStateException(Executable build) {
        assertThrows(IllegalStateException.class, build);
    }

    @Test
    void nullsAreRefused() {
        assertAll(
                () -> assertThrows(NullPointerException.class, () -> Schema.builder(null, 1)),
                () -> assertThrows(NullPointerException.class, () -> builder().slot(null, INT_OF_PTR)),
                () -> assertThrows(NullPointerException.class, () -> builder().slot("f", null)),
                () -> assertThrows(NullPointerException.class, () -> builder().data(null, JAVA_INT)),
                () -> assertThrows(NullPointerException.class, () -> builder().data("v", null)),
                () -> assertThrows(NullPointerException.class, () -> builder().slot("f", INT_OF_PTR, o -> o.refusal(null))));
    }

    @Test
    void theLargestTableThatFitsIsBuilt() {
        Schema.Builder b = builder();
        long slots = (AbiV1.MAX_TABLE_SIZE - AbiV1.HEADER_SIZE) / 8;
        for (int i = 0; i < slots; i++) {
            b.slot("f" + i, VOID_OF_PTR);
        }
        assertEquals(AbiV1.MAX_TABLE_SIZE, AbiV1.HEADER_SIZE + b.build().payloadSize(0));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "_", "Z9", "zlib:z_stream.v1-x", "_a.b:c-d"})
    void acceptedSchemaNames(String name) {
        assertEquals(name, Schema.builder(name, 0).data("v", JAVA_INT).build().name());
    }

    @Test
    void longestNamesAndVersionsAreAccepted() {
        String name = "s".repeat(128);
        String member = "m".repeat(128);
        Schema s = Schema.builder(name, 0xFFFF).data(member, JAVA_INT).minor(0xFFFF).data("_", JAVA_BYTE).build();
        assertAll(
                () -> assertEquals(name, s.name()),
                () -> assertEquals(0xFFFF, s.major()),
                () -> assertEquals(0xFFFF, s.minor()),
                () -> assertTrue(s.member(member).isPresent()));
    }

    @Test
    void aRefusedDeclarationLeavesTheBuilderAsItWas() {
        Schema.Builder b = builder().slot("open", INT_OF_PTR);
        assertThrows(IllegalArgumentException.class, () -> b.slot("read", INT_OF_PTR, o -> o.refusal("wrong")));
        assertThrows(IllegalArgumentException.class, () -> b.slot("read", FunctionDescriptor.of(JAVA_INT, PAIR_UNION)));
        assertThrows(IllegalArgumentException.class, () -> b.minor(-1));
        Schema s = b.slot("read", INT_OF_PTR).build();
        assertAll(
                () -> assertEquals(8, s.member("read").orElseThrow().offset(), "the refused slot took no space"),
                () -> assertEquals(0, s.minor()),
                () -> assertEquals(16, s.payloadSize(0)));
    }

    @Test
    void slotOptionsAreKept() {
        MethodHandle fallback = MethodHandles.empty(PTR_OF_PTR_INT.toMethodType());
        Schema s = builder()
                .slot("required", INT_OF_PTR)
                .slot("nullable", INT_OF_PTR, Schema.SlotOptions::optional)
                .slot("defaulted", PTR_OF_PTR_INT, o -> o.optional(fallback).refusal(MemorySegment.NULL)
                        .contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
                .slot("refusing", FunctionDescriptor.of(JAVA_DOUBLE), o -> o.refusal(-1.0))
                .slot("unbound", PTR_OF_PTR_INT, o -> o.contextArgument(0, Schema.ContextBinding.NONE))
                .minor(2).slot("late", VOID_OF_PTR, o -> o.contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS))
                .build();
        Schema.Slot required = (Schema.Slot) s.member("required").orElseThrow();
        Schema.Slot nullable = (Schema.Slot) s.member("nullable").orElseThrow();
        Schema.Slot defaulted = (Schema.Slot) s.member("defaulted").orElseThrow();
        Schema.Slot refusing = (Schema.Slot) s.member("refusing").orElseThrow();
        Schema.Slot unbound = (Schema.Slot) s.member("unbound").orElseThrow();
        Schema.Slot late = (Schema.Slot) s.member("late").orElseThrow();
        assertAll(
                () -> assertTrue(required.required()),
                () -> assertTrue(required.defaultImplementation().isEmpty()),
                () -> assertTrue(required.refusalValue().isEmpty()),
                () -> assertEquals(-1, required.contextArgument()),
                () -> assertEquals(Schema.ContextBinding.NONE, required.contextBinding()),
                () -> assertFalse(nullable.required()),
                () -> assertTrue(nullable.defaultImplementation().isEmpty()),
                () -> assertFalse(defaulted.required()),
                () -> assertEquals(fallback, defaulted.defaultImplementation().orElseThrow()),
                () -> assertEquals(MemorySegment.NULL, defaulted.refusalValue().orElseThrow()),
                () -> assertEquals(0, defaulted.contextArgument()),
                () -> assertEquals(Schema.ContextBinding.REGISTERED_CONTEXT, defaulted.contextBinding()),
                () -> assertEquals(-1.0, refusing.refusalValue().orElseThrow()),
                () -> assertEquals(-1, unbound.contextArgument(), "an index without a binding is not kept"),
                () -> assertEquals(Schema.ContextBinding.NONE, unbound.contextBinding()),
                () -> assertEquals(2, late.sinceMinor()),
                () -> assertEquals(0, required.sinceMinor()),
                () -> assertEquals(PTR_OF_PTR_INT, defaulted.descriptor()),
                () -> assertEquals(6, s.slots().size()),
                () -> assertEquals(2, s.minor()));
    }

    @Test
    void aPointedToContextKeepsItsOffsetAndLeavesTheIdsAlone() {
        Schema pointed = builder().slot("f", PTR_OF_PTR_INT, o -> o.contextArgumentPointsTo(0, 16)).build();
        Schema plain = builder().slot("f", PTR_OF_PTR_INT).build();
        Schema.Slot f = (Schema.Slot) pointed.member("f").orElseThrow();
        assertAll(
                () -> assertEquals(Schema.ContextBinding.POINTS_TO_PAYLOAD, f.contextBinding()),
                () -> assertEquals(0, f.contextArgument()),
                () -> assertEquals(16, f.contextOffset()),
                () -> assertEquals(-1, ((Schema.Slot) plain.member("f").orElseThrow()).contextOffset()),
                () -> assertEquals(plain.id(), pointed.id(), "a binding is policy: the schema id is the struct's"),
                () -> assertEquals(plain.layoutId(0), pointed.layoutId(0)),
                () -> assertEquals(-1, ((Schema.Slot) builder().slot("f", PTR_OF_PTR_INT, o -> o.contextArgumentPointsTo(0, 8)
                        .contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS)).build().member("f").orElseThrow()).contextOffset(),
                        "a later binding replaces the offset"));
    }

    @Test
    void aMinorWithNoMembersIsAllowedAndAddsNothing() {
        Schema s = builder().slot("f", INT_OF_PTR).minor(1).minor(3).build();
        assertAll(
                () -> assertEquals(3, s.minor()),
                () -> assertEquals(s.payloadSize(0), s.payloadSize(3)),
                () -> assertEquals(s.members(0), s.members(2)));
    }
}
