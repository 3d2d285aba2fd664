package io.tabguard.guard;

import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandles;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_CHAR;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** What {@link Schema#id()} and {@link Schema#equals} depend on, and what they deliberately do not. */
class SchemaIdentityTest {

    private static final FunctionDescriptor OPEN = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG);
    private static final FunctionDescriptor CLOSE = FunctionDescriptor.ofVoid(ADDRESS);

    /** {@code open@0 version@8 close@16}, 24 bytes. */
    private static Schema base() {
        return Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE).build();
    }

    @Test
    void separatelyBuiltIdenticalSchemasAreEqualAndHashEqual() {
        Schema a = base();
        Schema b = base();
        assertAll(
                () -> assertEquals(a.id(), b.id()),
                () -> assertEquals(a, b),
                () -> assertEquals(a.hashCode(), b.hashCode()),
                () -> assertEquals(a.canonicalDescription(), b.canonicalDescription()));
    }

    @Test
    void theIdIsTheFirstEightBytesLittleEndianOfTheSha256OfTheCanonicalDescription() throws Exception {
        Schema s = base();
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(s.canonicalDescription().getBytes(StandardCharsets.UTF_8));
        long expected = 0;
        for (int i = 7; i >= 0; i--) {
            expected = (expected << 8) | (digest[i] & 0xFF);
        }
        assertEquals(expected, s.id());
    }

    @Test
    void theCanonicalDescriptionIsTheDocumentedText() {
        assertEquals("""
                tabguard.schema.v1
                name=test.id
                major=3
                member=open@0:fn i32(ptr,i64)
                member=version@8:i32
                member=close@16:fn void(ptr)
                """, base().canonicalDescription());
    }

    /** One input of {@link #base()} changed at a time. */
    static Stream<Arguments> oneInputChanged() {
        return Stream.of(
                variant("name", () -> Schema.builder("test.id2", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("name, case only", () -> Schema.builder("Test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("major", () -> Schema.builder("test.id", 4).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("a slot's name", () -> Schema.builder("test.id", 3).slot("opem", OPEN).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("a data member's name", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("Version", JAVA_INT).slot("close", CLOSE).build()),
                variant("the last member's name", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close_", CLOSE).build()),
                variant("offsets: data member moved first", () -> Schema.builder("test.id", 3).data("version", JAVA_INT).slot("open", OPEN).slot("close", CLOSE).build()),
                variant("offsets: an earlier data member inserted", () -> Schema.builder("test.id", 3).data("flags", JAVA_BYTE).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("offsets: a data member widened so the next slot moves", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).data("extra", JAVA_LONG).slot("close", CLOSE).build()),
                variant("data type i32 -> f32 (same size and offsets)", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_FLOAT).slot("close", CLOSE).build()),
                variant("data type i32 -> i64 (same offsets)", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_LONG).slot("close", CLOSE).build()),
                variant("data type i32 -> i16", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_SHORT).slot("close", CLOSE).build()),
                variant("data type i32 -> u16", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_CHAR).slot("close", CLOSE).build()),
                variant("data type i32 -> bool", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_BOOLEAN).slot("close", CLOSE).build()),
                variant("data type i32 -> ptr", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", ADDRESS).slot("close", CLOSE).build()),
                variant("slot return type i32 -> i64", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot return type i32 -> void", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot return type void -> i32", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", FunctionDescriptor.of(JAVA_INT, ADDRESS)).build()),
                variant("slot argument type ptr -> i64", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot argument type i64 -> i32", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot arguments swapped", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot argument count + 1", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot argument count - 1", () -> Schema.builder("test.id", 3).slot("open", FunctionDescriptor.of(JAVA_INT, ADDRESS)).data("version", JAVA_INT).slot("close", CLOSE).build()),
                variant("slot argument count 0", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", FunctionDescriptor.ofVoid()).build()),
                variant("a slot made a pointer data member", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).data("close", ADDRESS).build()),
                variant("a minor-0 member appended", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE).data("more", JAVA_BYTE).build()),
                variant("the last member removed", () -> Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).build()));
    }

    private static Arguments variant(String change, Supplier<Schema> schema) {
        return arguments(Named.of(change, schema));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("oneInputChanged")
    void changingOneInputChangesTheIdAndEquality(Supplier<Schema> changed) {
        Schema base = base();
        Schema other = changed.get();
        assertAll(
                () -> assertNotEquals(base.id(), other.id(), "id"),
                () -> assertNotEquals(base, other, "equals"),
                () -> assertNotEquals(base.canonicalDescription(), other.canonicalDescription()));
    }

    @Test
    void everyVariantHasAnIdOfItsOwn() {
        Map<Long, String> seen = new HashMap<>();
        seen.put(base().id(), "base");
        oneInputChanged().forEach(a -> {
            @SuppressWarnings("unchecked")
            Named<Supplier<Schema>> named = (Named<Supplier<Schema>>) a.get()[0];
            String previous = seen.put(named.getPayload().get().id(), named.getName());
            assertEquals(null, previous, named.getName() + " has the id of " + previous);
        });
    }

    @Test
    void aMinorOneMemberLeavesTheIdButNotTheSizeOrEquality() {
        Schema base = base();
        Schema grown = Schema.builder("test.id", 3).slot("open", OPEN).data("version", JAVA_INT).slot("close", CLOSE)
                .minor(1).slot("flush", CLOSE)
                .build();
        assertAll(
                () -> assertEquals(base.id(), grown.id(), "by design: a caller must recognise a newer minor of its schema"),
                () -> assertEquals(base.canonicalDescription(), grown.canonicalDescription()),
                () -> assertEquals(base.payloadSize(0), grown.payloadSize(0)),
                () -> assertEquals(base.payloadSize(0) + 8, grown.payloadSize(1)),
                () -> assertNotEquals(base, grown, "a schema with another minor is another schema"),
                () -> assertEquals(base, grown.atMinor(0), "the grown schema seen at minor 0 is the base"),
                () -> assertEquals(base.hashCode(), grown.atMinor(0).hashCode()));
    }

    @Test
    void twoDifferentMinorOneMembersShareTheIdButAreNotEqual() {
        Schema a = Schema.builder("test.id", 3).slot("open", OPEN).minor(1).slot("flush", CLOSE).build();
        Schema b = Schema.builder("test.id", 3).slot("open", OPEN).minor(1).data("flush", JAVA_LONG).build();
        Schema c = Schema.builder("test.id", 3).slot("open", OPEN).minor(2).slot("flush", CLOSE).build();
        assertAll(
                () -> assertEquals(a.id(), b.id()),
                () -> assertNotEquals(a, b),
                () -> assertNotEquals(a, c, "the same member introduced by another minor"));
    }

    @Test
    void slotOptionsByteOrderAndLayoutNamesAreNotPartOfTheId() {
        Schema options = Schema.builder("test.id", 3)
                .slot("open", OPEN, o -> o.optional(MethodHandles.empty(OPEN.toMethodType())).refusal(-1)
                        .contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS))
                .data("version", JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN).withName("ignored"))
                .slot("close", CLOSE, Schema.SlotOptions::optional)
                .build();
        assertEquals(base().id(), options.id());
        assertEquals(base().canonicalDescription(), options.canonicalDescription());
    }

    @Test
    void cSignatureSpellsEveryScalarType() {
        Schema s = Schema.builder("test.sig", 0)
                .slot("f", FunctionDescriptor.of(ADDRESS, JAVA_BYTE, JAVA_SHORT, JAVA_CHAR, JAVA_INT, JAVA_LONG, JAVA_FLOAT,
                        java.lang.foreign.ValueLayout.JAVA_DOUBLE, ADDRESS))
                .data("b", JAVA_BOOLEAN)
                .build();
        assertEquals("fn ptr(i8,i16,u16,i32,i64,f32,f64,ptr)", Schema.cSignature(s.member("f").orElseThrow()));
        assertEquals("bool", Schema.cSignature(s.member("b").orElseThrow()));
    }

    @Test
    void idsOfManyRandomSchemasDoNotCollideAndAreStable() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(42);
        Map<Long, String> ids = new HashMap<>();
        for (int i = 0; i < 2_000; i++) {
            long seed = random.nextLong();
            Schema s = RandomSchemas.next(new java.util.SplittableRandom(seed), "rand" + i);
            assertEquals(s.id(), RandomSchemas.next(new java.util.SplittableRandom(seed), "rand" + i).id(), "seed " + seed);
            assertTrue(ids.put(s.id(), s.canonicalDescription()) == null, "collision at seed " + seed);
        }
        assertEquals(2_000, ids.size());
    }
}
