package io.tabguard.testkit;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The fail-stop policy halts the process (exit code 134) at the first refusal, before the caller gets
 * control back; refuse-and-continue returns the refusal value and lives on. Each case runs
 * {@link FailStopMain} in a forked JVM with this JVM's module path, patch and native-access flags.
 */
class FailStopForkTest {
    record Outcome(int exitCode, String output) {
        List<String> lines() {
            return output.lines().toList();
        }
    }

    @Test
    void failStopHaltsANativeCallerBeforeItGetsAnAnswer() throws Exception {
        Outcome o = fork("FAIL_STOP", "native", "tamper");
        assertEquals(134, o.exitCode(), o.output());
        assertTrue(o.lines().contains("honest 42"), o.output());
        assertTrue(o.lines().contains("audit TABLE_REFUSED CHECKSUM"), o.output());
        assertTrue(o.lines().contains("audit closed"), "the audit trail is flushed before the halt\n" + o.output());
        assertFalse(o.output().contains("after call"), o.output());
        assertEquals(1, o.lines().stream().filter("target ran"::equals).count(), o.output());
    }

    @Test
    void failStopHaltsAJavaCallerBeforeTheException() throws Exception {
        Outcome o = fork("FAIL_STOP", "java", "tamper");
        assertEquals(134, o.exitCode(), o.output());
        assertTrue(o.lines().contains("audit TABLE_REFUSED CHECKSUM"), o.output());
        assertFalse(o.output().contains("rejected"), o.output());
        assertFalse(o.output().contains("after call"), o.output());
    }

    @Test
    void failStopLeavesAnHonestProgramAlone() throws Exception {
        Outcome o = fork("FAIL_STOP", "native", "honest");
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("after call 42"), o.output());
        assertTrue(o.lines().contains("exiting"), o.output());
    }

    @Test
    void refuseAndContinueReturnsTheRefusalValueAndExitsNormally() throws Exception {
        Outcome o = fork("REFUSE_AND_CONTINUE", "native", "tamper");
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("after call " + Fixtures.REFUSED), o.output());
        assertTrue(o.lines().contains("audit TABLE_REFUSED CHECKSUM"), o.output());
        assertTrue(o.lines().contains("exiting"), o.output());
        assertEquals(1, o.lines().stream().filter("target ran"::equals).count(), o.output());

        Outcome fromJava = fork("REFUSE_AND_CONTINUE", "java", "tamper");
        assertEquals(0, fromJava.exitCode(), fromJava.output());
        assertTrue(fromJava.lines().contains("rejected CHECKSUM"), fromJava.output());
    }

    private static Outcome fork(String... args) throws IOException, InterruptedException {
        Forks.Outcome r = Forks.run(FailStopMain.class, 60, args);
        return new Outcome(r.exitCode(), r.output());
    }
}
