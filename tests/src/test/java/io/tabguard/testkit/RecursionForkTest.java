package io.tabguard.testkit;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A callback that recurses through native code (a qsort comparator calling qsort) must be stopped
 * before the stack runs out, and a stack overflow inside a deeply nested target must not leave its
 * thread marked as inside the table: {@link RecursionMain} in a forked JVM, which must exit normally,
 * with revoke and close returning (from another thread, and close from the recursing thread itself),
 * the refusal and the throw audited exactly once each.
 */
class RecursionForkTest {

    @ParameterizedTest
    @ValueSource(strings = {"other", "self"})
    void stackExhaustionThroughNativeCodeLeavesNoDispatchRecord(String closer) throws Exception {
        Forks.Outcome o = Forks.run(RecursionMain.class, 120, closer);
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("deepest " + io.tabguard.registry.RegistryOptions.DEFAULT_MAX_NESTED_DISPATCHES), o.output());
        assertTrue(o.lines().contains("outer depth back to 0"), o.output());
        if (closer.equals("other")) {
            assertTrue(o.lines().contains("revoke returned"), o.output());
        }
        assertTrue(o.lines().contains("close returned"), o.output());
        assertTrue(o.lines().contains("callback throws audited 1"), "the stack overflow, once: " + o.output());
        assertTrue(o.lines().contains("too deep refusals audited 1"), "the one call past the limit: " + o.output());
    }
}
