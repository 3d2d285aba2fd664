package io.tabguard.testkit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The danger {@code Registry.release} documents, in a forked JVM ({@link ReleasedThunkMain}): once the
 * thunk region of a released table has retired, a call through its old pointer faults (SIGSEGV at that
 * very address), even with another live table built since — its target never runs in place of the
 * released one. The valid twin: the same call before the region retires returns zero and the fork lives.
 */
class ReleasedThunkForkTest {
    /**
     * HotSpot catches the SIGSEGV itself, writes its report (hs_err) and ends the process: with
     * {@code -XX:-CreateCoredumpOnCrash} through {@code os::abort(false)}, i.e. {@code _exit(1)} (with core
     * dumps on it would be {@code abort()}, 128 + SIGABRT). The signal is named in the report.
     */
    private static final int HOTSPOT_FATAL_ERROR_EXIT = 1;

    @TempDir
    Path crashDir;

    @Test
    void aStalePointerIntoARetiredRegionFaultsAndNeverReachesAnotherTable() throws Exception {
        Forks.Outcome o = Forks.run(ReleasedThunkMain.class, 120,
                List.of("-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + crashDir.resolve("hs_err_%p.log")), "retired");
        List<String> lines = o.lines();
        assertTrue(lines.contains("A returned 2"), o.output());
        assertTrue(lines.contains("B returned 101"), "the live table works:\n" + o.output());
        String stale = value(lines, "stale pointer ");
        String b = value(lines, "B at ");
        assertNotEquals(stale, b, "B's thunk reuses A's address");
        assertEquals("---p (anonymous)", value(lines, "A's page "), "A's region is an inaccessible reservation:\n" + o.output());
        int calling = lines.indexOf("calling stale pointer");
        assertTrue(calling >= 0, o.output());
        assertFalse(lines.subList(calling, lines.size()).contains("target B ran"), "the stale call reached B's target:\n" + o.output());
        assertFalse(lines.subList(calling, lines.size()).contains("target A ran"), "the stale call reached A's target:\n" + o.output());
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("stale call returned")), "the stale call returned:\n" + o.output());
        assertFalse(lines.contains("survived"), o.output());
        assertEquals(HOTSPOT_FATAL_ERROR_EXIT, o.exitCode(), o.output());
        assertTrue(o.output().contains("SIGSEGV"), "the fork did not die of SIGSEGV:\n" + o.output());
        String pc = String.format(Locale.ROOT, "pc=0x%016x", Long.parseUnsignedLong(stale.substring(2), 16));
        assertTrue(o.output().contains(pc), "the fault is at the stale pointer itself (" + pc + "):\n" + o.output());
    }

    @Test
    void theSameCallBeforeTheRegionRetiresReturnsZeroAndTheForkLives() throws Exception {
        Forks.Outcome o = Forks.run(ReleasedThunkMain.class, 60, "before");
        List<String> lines = o.lines();
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(value(lines, "A's page ").startsWith("r-xs /memfd:tabguard-thunks"), o.output());
        int calling = lines.indexOf("calling stale pointer");
        assertTrue(calling >= 0, o.output());
        assertTrue(lines.contains("stale call returned 0"), o.output());
        assertFalse(lines.subList(calling, lines.size()).contains("target A ran"), "the released target ran:\n" + o.output());
        assertTrue(lines.contains("survived"), o.output());
    }

    @Test
    void aReleasedNativeSlotWhoseThunkPageStillServesRefusesEvenAfterItsStateCellRegionWasDone() throws Exception {
        Forks.Outcome o = Forks.run(ReleasedThunkMain.class, 120,
                List.of("-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + crashDir.resolve("hs_err_%p.log")), "native");
        List<String> lines = o.lines();
        assertTrue(lines.contains("A returned 5"), o.output());
        assertTrue(lines.contains("B returned 7"), o.output());
        assertTrue(value(lines, "A's page ").startsWith("r-xs /memfd:tabguard-thunks"), "A's thunk page still serves:\n" + o.output());
        assertTrue(lines.contains("stale call returned " + Fixtures.REFUSED), "refused, not a fault:\n" + o.output());
        assertTrue(lines.contains("B still returns 8"), o.output());
        assertTrue(lines.contains("survived"), o.output());
        assertEquals(0, o.exitCode(), o.output());
    }

    private static String value(List<String> lines, String prefix) {
        return lines.stream().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length())).findFirst()
                .orElseThrow(() -> new AssertionError("no line " + prefix + "...: " + lines));
    }
}
