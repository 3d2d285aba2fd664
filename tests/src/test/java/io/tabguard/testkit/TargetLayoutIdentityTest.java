package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import org.junit.jupiter.api.Test;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pointer's target layout is part of its C signature, so of {@link Schema#id()}: two schemas that
 * differ only in a target layout no longer share an id. Here, not in guard, because
 * {@code withTargetLayout} is a restricted method and the test kit has native access.
 */
class TargetLayoutIdentityTest {
    private static final AddressLayout INT_POINTER = ADDRESS.withTargetLayout(JAVA_INT);
    private static final AddressLayout STAT_POINTER = ADDRESS.withTargetLayout(
            MemoryLayout.structLayout(JAVA_LONG.withName("st_dev"), JAVA_LONG.withName("st_ino")).withName("stat"));

    private static Schema withArgument(AddressLayout argument) {
        return Schema.builder("test.target", 1).slot("f", FunctionDescriptor.of(JAVA_INT, argument)).build();
    }

    private static Schema withDataPointer(AddressLayout pointer) {
        return Schema.builder("test.target", 1).slot("f", FunctionDescriptor.ofVoid()).data("p", pointer).build();
    }

    @Test
    void schemasDifferingOnlyInASlotArgumentsTargetLayoutHaveDifferentIds() {
        assertAll(
                () -> assertNotEquals(withArgument(INT_POINTER).id(), withArgument(STAT_POINTER).id()),
                () -> assertNotEquals(withArgument(ADDRESS).id(), withArgument(INT_POINTER).id()),
                () -> assertNotEquals(withArgument(INT_POINTER), withArgument(STAT_POINTER)));
    }

    @Test
    void validTwinTheSameTargetLayoutBuiltTwiceGivesTheSameId() {
        AddressLayout again = ADDRESS.withTargetLayout(
                MemoryLayout.structLayout(JAVA_LONG.withName("st_dev"), JAVA_LONG.withName("st_ino")).withName("stat"));
        assertEquals(withArgument(STAT_POINTER).id(), withArgument(again).id());
        assertEquals(withArgument(STAT_POINTER), withArgument(again));
    }

    @Test
    void schemasDifferingOnlyInADataPointersTargetLayoutHaveDifferentIds() {
        assertNotEquals(withDataPointer(INT_POINTER).id(), withDataPointer(STAT_POINTER).id());
        assertEquals(withDataPointer(INT_POINTER).id(), withDataPointer(ADDRESS.withTargetLayout(JAVA_INT)).id());
    }

    @Test
    void aPlainAddressIsStillPtrSoEarlierIdsAreUnchanged() {
        Schema plain = withArgument(ADDRESS);
        assertTrue(plain.canonicalDescription().contains("member=f@0:fn i32(ptr)\n"), plain.canonicalDescription());
        assertEquals("fn i32(ptr>struct 4:stat{6:st_dev:i64,6:st_ino:i64})",
                Schema.cSignature(withArgument(STAT_POINTER).member("f").orElseThrow()));
    }

    @Test
    void namesAreLengthPrefixedSoNoNameCanImitateTwoMembers() {
        // Without the prefixes both would read struct{a:i32,b:i32}.
        AddressLayout two = ADDRESS.withTargetLayout(MemoryLayout.structLayout(JAVA_INT.withName("a"), JAVA_INT.withName("b")));
        AddressLayout oneOddlyNamed = ADDRESS.withTargetLayout(MemoryLayout.structLayout(JAVA_INT.withName("a:i32,b")));
        assertNotEquals(withArgument(two).id(), withArgument(oneOddlyNamed).id());
    }
}
