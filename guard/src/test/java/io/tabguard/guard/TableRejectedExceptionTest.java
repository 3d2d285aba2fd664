package io.tabguard.guard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TableRejectedExceptionTest {

    @ParameterizedTest
    @EnumSource(Violation.class)
    void messageNamesTheViolationItsMeaningAndTheOffset(Violation v) {
        TableRejectedException e = new TableRejectedException(v, 96);
        assertAll(
                () -> assertEquals(v, e.violation()),
                () -> assertEquals(96, e.offset()),
                () -> assertTrue(e.getMessage().contains(v.name()), e.getMessage()),
                () -> assertTrue(e.getMessage().contains("offset 96"), e.getMessage()),
                () -> assertTrue(e.getMessage().contains(v.meaning()), e.getMessage()));
    }

    @Test
    void noOffsetIsPrintedWhenThereIsNone() {
        TableRejectedException e = new TableRejectedException(Violation.REVOKED, -1);
        assertAll(
                () -> assertEquals(-1, e.offset()),
                () -> assertFalse(e.getMessage().contains("offset"), e.getMessage()),
                () -> assertTrue(e.getMessage().contains("REVOKED"), e.getMessage()));
    }

    @Test
    void detailIsAppendedWhenGiven() {
        assertTrue(new TableRejectedException(Violation.TABLE_SIZE, 16, "161 bytes given").getMessage().endsWith(": 161 bytes given"));
        assertFalse(new TableRejectedException(Violation.TABLE_SIZE, 16, "").getMessage().endsWith(": "));
    }

    @Test
    void isASecurityExceptionAndNeedsAViolation() {
        assertInstanceOf(SecurityException.class, new TableRejectedException(Violation.CHECKSUM, 56));
        assertThrows(NullPointerException.class, () -> new TableRejectedException(null, 0));
    }

    @Test
    void violationCodesArePositiveAndUniqueAndMeaningsNonEmpty() {
        Set<Integer> codes = new HashSet<>();
        for (Violation v : Violation.values()) {
            assertTrue(v.code() > 0, v.name());
            assertTrue(codes.add(v.code()), v.name() + " reuses code " + v.code());
            assertFalse(v.meaning().isBlank(), v.name());
        }
        assertEquals(Violation.values().length, codes.size());
        assertTrue(Arrays.stream(Violation.values()).allMatch(v -> v.name().matches("[A-Z][A-Z0-9_]*")),
                "every name is a valid C enumerator suffix");
    }
}
