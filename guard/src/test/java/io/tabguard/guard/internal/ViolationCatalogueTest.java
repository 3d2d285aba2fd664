package io.tabguard.guard.internal;

import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.guard.internal.RejectionCases.Case;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static io.tabguard.guard.internal.TestTables.SERIAL;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every violation the byte checks can raise: a table that raises exactly it, at its offset, and its nearest valid table. */
class ViolationCatalogueTest {

    static List<Case> cases() {
        return RejectionCases.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void refusedWithTheNamedViolationAtItsOffset(Case c) {
        TableRejectedException e = assertThrows(TableRejectedException.class, () -> c.refused().verify());
        assertAll(
                () -> assertEquals(c.violation(), e.violation(), e.getMessage()),
                () -> assertEquals(c.offset(), e.offset(), e.getMessage()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theNearestValidTablePasses(Case c) {
        byte[] before = c.nearestValid().table().clone();
        VerifiedTable verified = c.nearestValid().verify();
        assertAll(
                () -> assertArrayEquals(before, verified.bytes(), "the verified copy is the table"),
                () -> assertEquals(SERIAL, verified.serial()));
    }

    @Test
    void everyViolationOfTheByteChecksHasACase() {
        Set<Violation> covered = cases().stream().map(Case::violation).collect(Collectors.toCollection(() -> EnumSet.noneOf(Violation.class)));
        assertEquals(EnumSet.range(Violation.TRUNCATED, Violation.SIGNATURE), covered, "LAYOUT_MISMATCH is listed with the version checks");
    }
}
