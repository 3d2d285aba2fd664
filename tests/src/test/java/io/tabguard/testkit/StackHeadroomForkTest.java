package io.tabguard.testkit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Java slot called from native code that is nearly out of stack is refused at its entry instead of
 * entering the JVM (where the overflow would abort the process): {@link StackHeadroomMain} in a forked
 * JVM, which must survive. With 512 KiB left the target runs; with 64 KiB left (below the 160 KiB
 * headroom) the call returns 0 without running the target, on a JVM thread and on a C thread the JVM has
 * never seen (whose floor the guard learns on its first call); both refusals are audited.
 */
class StackHeadroomForkTest {
    @TempDir
    Path dir;

    @Test
    void aCallWithTooLittleStackIsRefusedAndTheJvmSurvives() throws Exception {
        Forks.Outcome o = Forks.run(StackHeadroomMain.class, 120, dir.toString());
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("plenty here -5 runs 1"), o.output());
        assertTrue(o.lines().contains("plenty new thread -6 runs 2"), o.output());
        assertTrue(o.lines().contains("low here 0 runs 2"), "refused, target not run: " + o.output());
        assertTrue(o.lines().contains("low new thread 0 runs 2"), "refused on a fresh C thread: " + o.output());
        assertTrue(o.lines().contains("again plenty here -9 runs 3"), "the thread is not stuck refusing: " + o.output());
        assertTrue(o.lines().contains("low stack refusals audited 2"), o.output());
        assertTrue(o.lines().contains("survived"), o.output());
    }
}
