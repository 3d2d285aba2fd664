package io.tabguard.testkit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Attacks that would crash the JVM if the guard failed run in a forked JVM ({@link CrashSurvivalMain});
 * the fork must exit normally, every attack refused with the violation the check order names.
 */
class CrashSurvivalForkTest {
    @Test
    void attacksThatWouldCrashTheProcessAreRefusedAndTheForkExitsNormally() throws Exception {
        Forks.Outcome o = Forks.run(CrashSurvivalMain.class, 60);
        assertEquals(0, o.exitCode(), "the fork did not exit normally:\n" + o.output());
        assertTrue(o.lines().contains("survived"), o.output());
        for (String name : new String[]{"abort", "wild", "kernel"}) {
            assertEquals(1, o.lines().stream().filter(("refused " + name + " CHECKSUM")::equals).count(), o.output());
            assertEquals(1, o.lines().stream().filter(("refused " + name + " SIGNATURE")::equals).count(), o.output());
        }
        assertTrue(o.lines().contains("refused mid-trampoline SIGNATURE"), o.output());
        assertEquals(4, o.lines().stream().filter("refused pointer UNKNOWN_TABLE"::equals).count(), o.output());
        assertFalse(o.output().contains("ANSWERED") || o.output().contains("ADOPTED"), o.output());
    }
}
