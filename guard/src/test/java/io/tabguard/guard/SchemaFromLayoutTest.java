package io.tabguard.guard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.ADDRESS_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Schemas from jextract-style struct layouts ({@link Schema#fromLayout}, {@link Schema.Builder#members}),
 * and aggregate (array, struct, union) data members: each refusal with its valid twin, and the offsets
 * checked against gcc.
 */
class SchemaFromLayoutTest {
    private static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final Map<String, FunctionDescriptor> F = Map.of("f", INT_INT);

    private static IllegalArgumentException refused(GroupLayout layout, Map<String, FunctionDescriptor> slots) {
        return refused(layout, slots, o -> {});
    }

    private static IllegalArgumentException refused(GroupLayout layout, Map<String, FunctionDescriptor> slots,
                                                    Consumer<Schema.LayoutImport> configure) {
        return assertThrows(IllegalArgumentException.class,
                () -> Schema.builder("test.layout", 1).members(layout, slots, configure).build());
    }

    private static void assertMentions(IllegalArgumentException e, String... words) {
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' not in: " + e.getMessage());
        }
    }

    @Test
    void eachAddressNamedAmongTheSlotsIsASlotAndEveryOtherMemberIsData() {
        Schema s = Schema.fromLayout("test.layout", 1,
                structLayout(JAVA_INT.withName("n"), paddingLayout(4), ADDRESS.withName("f"), ADDRESS.withName("p")), F);
        assertAll(
                () -> assertInstanceOf(Schema.Data.class, s.member("n").orElseThrow()),
                () -> assertEquals(INT_INT, assertInstanceOf(Schema.Slot.class, s.member("f").orElseThrow()).descriptor()),
                () -> assertTrue(((Schema.Slot) s.member("f").orElseThrow()).required()),
                () -> assertInstanceOf(Schema.Data.class, s.member("p").orElseThrow(), "a pointer not among the slots is data"),
                () -> assertEquals(List.of(0L, 8L, 16L), s.members().stream().map(Schema.Member::offset).toList()),
                () -> assertEquals(24, s.payloadSize(0)),
                () -> assertEquals(Schema.builder("test.layout", 1).data("n", JAVA_INT).slot("f", INT_INT).data("p", ADDRESS).build(), s,
                        "the same schema as written by hand"));
    }

    @Test
    void aPackedMemberIsRefusedByNameAndItsAlignedTwinAccepted() {
        IllegalArgumentException e = refused(structLayout(JAVA_INT.withName("n"), ADDRESS_UNALIGNED.withName("f")), F);
        assertMentions(e, "member f", "offset 4", "place it at 8");
        assertEquals(8, Schema.fromLayout("t", 1, structLayout(JAVA_INT.withName("n"), paddingLayout(4), ADDRESS.withName("f")), F)
                .member("f").orElseThrow().offset());
    }

    @Test
    void extraPaddingBeforeAMemberIsRefusedByName() {
        IllegalArgumentException e = refused(structLayout(JAVA_INT.withName("n"), paddingLayout(12), ADDRESS.withName("f")), F);
        assertMentions(e, "member f", "offset 16");
    }

    @Test
    void tailPaddingOtherThanCsIsRefusedAndCsAccepted() {
        IllegalArgumentException e = refused(structLayout(ADDRESS.withName("f"), JAVA_INT.withName("n"), paddingLayout(12)), F);
        assertMentions(e, "24 bytes", "16");
        assertEquals(16, Schema.fromLayout("t", 1, structLayout(ADDRESS.withName("f"), JAVA_INT.withName("n"), paddingLayout(4)), F)
                .payloadSize(0));
    }

    @Test
    void anUnnamedMemberIsRefusedByItsOffsetAndNamedAccepted() {
        assertMentions(refused(structLayout(ADDRESS.withName("f"), JAVA_INT, paddingLayout(4)), F), "offset 8", "no name");
        Schema.fromLayout("t", 1, structLayout(ADDRESS.withName("f"), JAVA_INT.withName("n"), paddingLayout(4)), F);
    }

    @Test
    void aSlotThatIsNotAPointerMemberIsRefusedAndAPointerAccepted() {
        assertMentions(refused(structLayout(JAVA_LONG.withName("f")), F), "slot f", "not a pointer");
        Schema.fromLayout("t", 1, structLayout(ADDRESS.withName("f")), F);
    }

    @Test
    void namesOfNoMemberAreRefused() {
        StructLayout layout = structLayout(ADDRESS.withName("f"), ADDRESS.withName("g"));
        assertAll(
                () -> assertMentions(refused(layout, Map.of("f", INT_INT, "typo", INT_INT)), "slot typo"),
                () -> assertMentions(refused(layout, F, o -> o.minor(1, "nothing")), "minor boundary nothing"),
                () -> assertMentions(refused(layout, F, o -> o.slot("nothing", x -> x.optional())), "slot option nothing"),
                () -> assertMentions(refused(layout, F, o -> o.slot("g", x -> x.optional())), "slot options for g"),
                () -> Schema.builder("t", 1).members(layout, F, o -> o.minor(1, "g").slot("f", x -> x.optional())).build());
    }

    @Test
    void aUnionIsRefusedAsAPayload() {
        assertMentions(refused(MemoryLayout.unionLayout(ADDRESS.withName("f"), JAVA_LONG.withName("n")), F), "union");
    }

    @Test
    void membersMustBeTheFirstDeclaredAndMinorsMayNotGoBack() {
        StructLayout layout = structLayout(ADDRESS.withName("f"), ADDRESS.withName("g"), ADDRESS.withName("h"));
        assertThrows(IllegalStateException.class,
                () -> Schema.builder("t", 1).data("x", JAVA_INT).members(layout, F));
        assertThrows(IllegalArgumentException.class,
                () -> Schema.builder("t", 1).members(layout, F, o -> o.minor(2, "g").minor(1, "h")).build());
        Schema s = Schema.builder("t", 1).members(layout, F, o -> o.minor(1, "g").minor(2, "h")).build();
        assertEquals(List.of(0, 1, 2), s.members().stream().map(Schema.Member::sinceMinor).toList());
        assertEquals(List.of(8L, 16L, 24L), List.of(s.payloadSize(0), s.payloadSize(1), s.payloadSize(2)));
    }

    @Test
    void slotOptionsReachTheSlot() {
        Schema s = Schema.builder("t", 1).members(structLayout(ADDRESS.withName("f"), ADDRESS.withName("g")),
                Map.of("f", FunctionDescriptor.of(JAVA_INT, ADDRESS), "g", INT_INT),
                o -> o.slot("f", x -> x.refusal(-1).contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS)).slot("g", x -> x.optional()))
                .build();
        Schema.Slot f = (Schema.Slot) s.member("f").orElseThrow();
        assertAll(
                () -> assertEquals(-1, f.refusalValue().orElseThrow()),
                () -> assertEquals(Schema.ContextBinding.PAYLOAD_ADDRESS, f.contextBinding()),
                () -> assertEquals(false, ((Schema.Slot) s.member("g").orElseThrow()).required()));
    }

    // ---- aggregates ----

    private static final StructLayout INNER = structLayout(JAVA_INT.withName("a"), paddingLayout(4), JAVA_DOUBLE.withName("b")).withName("inner");
    private static final GroupLayout EITHER = MemoryLayout.unionLayout(JAVA_INT.withName("i"), sequenceLayout(8, JAVA_BYTE).withName("c")).withName("either");

    private static final String C_STRUCTS = """
            #include <stddef.h>
            #include <stdio.h>
            struct inner { int a; double b; };
            union either { int i; char c[8]; };
            struct outer {
                char tag;
                char name[16];
                struct inner in;
                int (*f)(int);
                short shorts[3];
                union either u;
                struct inner pair[2];
                char last;
            };
            """;

    /** {@code struct outer} written member by member with the builder. */
    private static Schema byHand() {
        return Schema.builder("test.aggregate", 1)
                .data("tag", JAVA_BYTE)
                .data("name", sequenceLayout(16, JAVA_BYTE))
                .data("in", INNER)
                .slot("f", INT_INT)
                .data("shorts", sequenceLayout(3, JAVA_SHORT))
                .data("u", EITHER)
                .data("pair", sequenceLayout(2, INNER))
                .data("last", JAVA_BYTE)
                .build();
    }

    /** {@code struct outer} as jextract lays it out: explicit padding. */
    private static final StructLayout OUTER = structLayout(
            JAVA_BYTE.withName("tag"),
            sequenceLayout(16, JAVA_BYTE).withName("name"),
            paddingLayout(7),
            INNER.withName("in"),
            ADDRESS.withName("f"),
            sequenceLayout(3, JAVA_SHORT).withName("shorts"),
            paddingLayout(2),
            EITHER.withName("u"),
            sequenceLayout(2, INNER).withName("pair"),
            JAVA_BYTE.withName("last"),
            paddingLayout(7)).withName("outer");

    @Test
    void arraysStructsAndUnionsArePlacedAsGccPlacesThem(@TempDir Path dir) {
        Schema s = byHand();
        StringBuilder c = new StringBuilder(C_STRUCTS).append("int main(void) {\n    printf(\"sizeof %zu\\n\", sizeof(struct outer));\n");
        for (Schema.Member m : s.members()) {
            c.append("    printf(\"").append(m.name()).append(" %zu %zu\\n\", offsetof(struct outer, ").append(m.name())
                    .append("), sizeof(((struct outer *) 0)->").append(m.name()).append("));\n");
        }
        c.append("    return 0;\n}\n");
        Map<String, String[]> gcc = new HashMap<>();
        for (String line : CCompiler.compileAndRun(dir, "aggregates.c", c.toString()).split("\n")) {
            String[] w = line.trim().split(" ");
            gcc.put(w[0], w);
        }
        assertEquals(Long.parseLong(gcc.get("sizeof")[1]), s.payloadSize(0), "sizeof(struct outer)");
        for (Schema.Member m : s.members()) {
            assertEquals(Long.parseLong(gcc.get(m.name())[1]), m.offset(), "offsetof " + m.name());
            assertEquals(Long.parseLong(gcc.get(m.name())[2]), m.layout().byteSize(), "sizeof " + m.name());
        }
        assertEquals(gcc.size(), s.members().size() + 1, "gcc printed no member the schema lacks");
    }

    @Test
    void theJextractStyleLayoutGivesTheSameSchemaAsTheBuilder() {
        Schema fromLayout = Schema.fromLayout("test.aggregate", 1, OUTER, F);
        Schema byHand = byHand();
        assertAll(
                () -> assertEquals(byHand, fromLayout),
                () -> assertEquals(byHand.id(), fromLayout.id()),
                () -> assertEquals(byHand.layoutId(0), fromLayout.layoutId(0)),
                () -> assertEquals(OUTER.byteSize(), fromLayout.payloadSize(0)),
                () -> assertInstanceOf(Schema.Aggregate.class, fromLayout.member("pair").orElseThrow()),
                () -> assertEquals(OUTER.byteSize(), fromLayout.layout().byteSize(), "layout() rebuilds the struct"));
    }

    @Test
    void anAggregatesCSignatureIsItsShape() {
        Schema s = byHand();
        assertAll(
                () -> assertEquals("[16]i8", Schema.cSignature(s.member("name").orElseThrow())),
                // A member's own layout name is dropped (jextract names it after the member); inner names stay.
                () -> assertEquals("struct{1:a:i32,pad4,1:b:f64}", Schema.cSignature(s.member("in").orElseThrow())),
                () -> assertEquals("union{1:i:i32,1:c:[8]i8}", Schema.cSignature(s.member("u").orElseThrow())),
                () -> assertEquals("[2]struct 5:inner{1:a:i32,pad4,1:b:f64}", Schema.cSignature(s.member("pair").orElseThrow())));
    }

    @Test
    void anEmptyOrPaddingAggregateIsRefusedAndAOneByteArrayAccepted() {
        assertThrows(IllegalArgumentException.class, () -> Schema.builder("t", 1).data("x", sequenceLayout(0, JAVA_BYTE)));
        assertThrows(IllegalArgumentException.class, () -> Schema.builder("t", 1).data("x", paddingLayout(8)));
        assertEquals(1, Schema.builder("t", 1).data("x", sequenceLayout(1, JAVA_BYTE)).build().payloadSize(0));
    }

    @Test
    void aStructPassedByValueInASlotIsSpelledAsAnAggregateAndAUnionRefused() {
        Schema s = Schema.builder("t", 1).slot("f", FunctionDescriptor.ofVoid(INNER)).build();
        assertEquals("fn void(struct 5:inner{1:a:i32,pad4,1:b:f64})", Schema.cSignature(s.member("f").orElseThrow()));
        assertThrows(IllegalArgumentException.class, () -> Schema.builder("t", 1)
                .slot("f", FunctionDescriptor.ofVoid(MemoryLayout.unionLayout(JAVA_INT.withName("a")))));
        Schema.builder("t", 1).slot("f", FunctionDescriptor.ofVoid(ADDRESS)).build();
    }
}
