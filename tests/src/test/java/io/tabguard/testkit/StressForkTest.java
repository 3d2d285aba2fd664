package io.tabguard.testkit;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The race stress ({@link StressMain}) in a forked JVM, bounded in time: dispatch from native code and
 * from Java while other threads build, tamper, revoke, close and rotate keys. The fork must exit
 * normally (0) — a crash, a hang, a false accept, a false refusal of an untouched table, or a target
 * run after its table was retired all fail — and must have done enough of each to mean something.
 */
class StressForkTest {
    private static final int SECONDS = 8;
    /** A loaded machine (CI beside other builds) gets this long to reach every minimum count. */
    private static final int MAX_SECONDS = 60;

    @Test
    void dispatchSurvivesRevokeCloseRotationAndTamperingOnOtherThreads() throws Exception {
        Forks.Outcome o = Forks.run(StressMain.class, MAX_SECONDS + 60, Integer.toString(SECONDS), Integer.toString(MAX_SECONDS));
        String output = o.output();
        assertEquals(0, o.exitCode(), "the fork did not exit normally:\n" + output);
        Matcher m = Pattern.compile("stress: (.*)").matcher(output);
        assertTrue(m.find(), output);
        System.out.println(m.group(0));
        Map<String, Long> counts = new HashMap<>();
        for (String kv : m.group(1).trim().split(" ")) {
            String[] parts = kv.split("=");
            counts.put(parts[0], Long.parseLong(parts[1]));
        }
        assertEquals(0, counts.get("violations"), output);
        assertTrue(counts.get("untouched") >= StressMain.MIN_UNTOUCHED_CALLS, output);
        assertTrue(counts.get("victimCalls") >= StressMain.MIN_VICTIM_CALLS, output);
        assertTrue(counts.get("victimRefusals") >= StressMain.MIN_VICTIM_REFUSALS, output);
        assertTrue(counts.get("decisiveTamperChecks") >= StressMain.MIN_DECISIVE_TAMPER_CHECKS, "calls that could have been a false accept: " + output);
        assertTrue(counts.get("tampers") >= StressMain.MIN_TAMPERS && counts.get("retirements") >= StressMain.MIN_RETIREMENTS && counts.get("rotations") >= StressMain.MIN_ROTATIONS, output);
        assertFalse(output.contains("VIOLATION"), output);
    }
}
