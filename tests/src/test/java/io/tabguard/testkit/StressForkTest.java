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

    @Test
    void dispatchSurvivesRevokeCloseRotationAndTamperingOnOtherThreads() throws Exception {
        Forks.Outcome o = Forks.run(StressMain.class, SECONDS + 60, Integer.toString(SECONDS));
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
        assertTrue(counts.get("untouched") >= 10_000, output);
        assertTrue(counts.get("victimCalls") >= 5_000, output);
        assertTrue(counts.get("victimRefusals") >= 1_000, output);
        assertTrue(counts.get("decisiveTamperChecks") >= 100, "calls that could have been a false accept: " + output);
        assertTrue(counts.get("tampers") >= 100 && counts.get("retirements") >= 100 && counts.get("rotations") >= 100, output);
        assertFalse(output.contains("VIOLATION"), output);
    }
}
