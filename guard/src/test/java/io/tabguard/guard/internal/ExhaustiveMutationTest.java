package io.tabguard.guard.internal;

import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static io.tabguard.guard.AbiV1.HEADER_SIZE;
import static io.tabguard.guard.internal.TestTables.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * Every single-byte change at every offset of a small valid table (3 slots and an int), every
 * truncation and one trailing byte: all are refused, always with {@link TableRejectedException}.
 */
class ExhaustiveMutationTest {

    private static final Schema SCHEMA = smallSchema();
    private static final byte[] VALID = valid(SCHEMA, 0);

    @Test
    void theUnchangedTableIsValid() {
        assertEquals(HEADER_SIZE + 32, VALID.length, "the small table is a 128-byte header and a 32-byte payload");
        assertEquals(0, verify(VALID.clone(), SCHEMA).minor());
    }

    /** The values each byte is changed to: two bit flips, 0x00, 0xFF, and (if those equal the original) 0x5A. */
    private static Set<Byte> changes(byte original) {
        Set<Byte> values = new LinkedHashSet<>();
        values.add((byte) (original ^ 0x01));
        values.add((byte) (original ^ 0x80));
        values.add((byte) 0x00);
        values.add((byte) 0xFF);
        values.add((byte) (original + 1));
        values.remove(original);
        return values;
    }

    @TestFactory
    Stream<DynamicTest> everySingleByteChangeIsRefused() {
        return IntStream.range(0, VALID.length).mapToObj(offset -> dynamicTest("byte " + offset + " " + region(offset), () -> {
            Set<Byte> values = changes(VALID[offset]);
            if (values.size() < 3) {
                fail("fewer than 3 distinct changes at " + offset);
            }
            List<String> accepted = new ArrayList<>();
            for (byte value : values) {
                byte[] t = VALID.clone();
                t[offset] = value;
                try {
                    verify(t, SCHEMA);
                    accepted.add(String.format("0x%02x -> 0x%02x", VALID[offset], value));
                } catch (TableRejectedException expected) {
                    // refused: the only acceptable outcome, and the only exception allowed
                }
            }
            assertEquals(List.of(), accepted, "changes at offset " + offset + " that were accepted");
        }));
    }

    @TestFactory
    Stream<DynamicTest> everyTruncationIsRefusedAsTruncated() {
        return IntStream.range(0, VALID.length).mapToObj(length -> dynamicTest(length + " bytes", () -> {
            byte[] t = resized(VALID, length);
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> verify(t, SCHEMA));
            assertEquals(io.tabguard.guard.Violation.TRUNCATED, e.violation(), e.getMessage());
            assertEquals(length, e.offset(), e.getMessage());
        }));
    }

    @Test
    void oneTrailingByteIsRefused() {
        for (int value : new int[] {0x00, 0xFF}) {
            byte[] t = resized(VALID, VALID.length + 1);
            t[VALID.length] = (byte) value;
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> verify(t, SCHEMA));
            assertEquals(io.tabguard.guard.Violation.TABLE_SIZE, e.violation(), e.getMessage());
        }
    }

    private static String region(int offset) {
        if (offset >= HEADER_SIZE) {
            return "(payload +" + (offset - HEADER_SIZE) + ")";
        }
        return "(" + io.tabguard.guard.AbiV1.HEADER.memberLayouts().stream()
                .filter(m -> {
                    long start = io.tabguard.guard.AbiV1.HEADER.byteOffset(
                            java.lang.foreign.MemoryLayout.PathElement.groupElement(m.name().orElseThrow()));
                    return offset >= start && offset < start + m.byteSize();
                })
                .map(m -> m.name().orElseThrow()).findFirst().orElse("?") + ")";
    }
}
