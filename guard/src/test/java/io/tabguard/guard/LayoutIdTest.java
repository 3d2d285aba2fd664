package io.tabguard.guard;

import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * {@link Schema#layoutId(int)} binds every member of a minor, where {@link Schema#id()} binds minor 0.
 * (Target layouts, which need native access to make, are tested in the tests module.)
 */
class LayoutIdTest {
    @Test
    void theLayoutIdHashesEveryMemberOfItsMinorAndMinorsThatAddNothingShareIt() throws Exception {
        Schema s = Schema.builder("test.layout", 1).slot("f", FunctionDescriptor.ofVoid())
                .minor(1).data("n", JAVA_INT)
                .minor(3).slot("g", FunctionDescriptor.ofVoid())
                .build();
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(s.layoutDescription(1).getBytes(StandardCharsets.UTF_8));
        long expected = 0;
        for (int i = 7; i >= 0; i--) {
            expected = (expected << 8) | (digest[i] & 0xFF);
        }
        long first = expected;
        assertAll(
                () -> assertEquals(first, s.layoutId(1), "the first 8 bytes of SHA-256, little-endian"),
                () -> assertEquals(s.layoutId(1), s.layoutId(2), "minor 2 adds no member"),
                () -> assertNotEquals(s.layoutId(0), s.layoutId(1)),
                () -> assertNotEquals(s.layoutId(2), s.layoutId(3)),
                () -> assertEquals(s.layoutId(1), s.atMinor(1).layoutId(1), "a view at an older minor agrees"),
                () -> assertEquals("""
                        tabguard.layout.v1
                        name=test.layout
                        major=1
                        size=16
                        member=f@0:fn void() since=0
                        member=n@8:i32 since=1
                        """, s.layoutDescription(1)));
    }

    @Test
    void twoSchemasOfOneIdDifferInLayoutIdWhereTheirLaterMinorsDiffer() {
        Schema intHook = Schema.builder("test.same", 1).slot("base", FunctionDescriptor.ofVoid())
                .minor(1).slot("hook", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).build();
        Schema pointerHook = Schema.builder("test.same", 1).slot("base", FunctionDescriptor.ofVoid())
                .minor(1).slot("hook", FunctionDescriptor.of(ADDRESS, ADDRESS)).build();
        Schema byteArray = Schema.builder("test.same", 1).slot("base", FunctionDescriptor.ofVoid())
                .minor(1).data("hook", MemoryLayout.sequenceLayout(8, JAVA_BYTE)).build();
        assertAll(
                () -> assertEquals(intHook.id(), pointerHook.id()),
                () -> assertEquals(intHook.id(), byteArray.id()),
                () -> assertEquals(intHook.layoutId(0), pointerHook.layoutId(0)),
                () -> assertNotEquals(intHook.layoutId(1), pointerHook.layoutId(1)),
                () -> assertNotEquals(intHook.layoutId(1), byteArray.layoutId(1), "an 8-byte array is not a function pointer"));
    }
}
