package io.tabguard.testkit;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Java target of a struct-returning slot that returns NULL, a segment shorter than the struct, or a
 * freed one must not take the JVM down: {@link StructReturnMain} in a forked JVM must exit normally
 * with the slot's refusal (the all-zero point); the valid twin returns the target's point.
 */
class StructReturnForkTest {

    @ParameterizedTest
    @ValueSource(strings = {"null-segment", "short", "closed"})
    void aBadReturnedStructIsRefusedNotACrash(String kind) throws Exception {
        Forks.Outcome o = Forks.run(StructReturnMain.class, 120, kind);
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("returned 0 0.0"), o.output());
    }

    @ParameterizedTest
    @ValueSource(strings = {"honest"})
    void theValidTwinReturnsTheTargetsStruct(String kind) throws Exception {
        Forks.Outcome o = Forks.run(StructReturnMain.class, 120, kind);
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("returned 7 1.5"), o.output());
    }
}
