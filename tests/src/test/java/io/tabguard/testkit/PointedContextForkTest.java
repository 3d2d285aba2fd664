package io.tabguard.testkit;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 17: a dereferencing context binding ({@code contextArgumentPointsTo(i, k)}: argument i points to a
 * struct whose word at k is the table's payload, like {@code pFile->pMethods}). Every counterfeit, garbage,
 * NULL, unmapped or misaligned argument is refused CONTEXT_MISMATCH without running the target, audited and
 * counted; the valid twins run; and the fork ({@link PointedContextMain}) survives the bad pointers.
 */
class PointedContextForkTest {
    static final List<String> REFUSED = List.of("OTHER_TABLE", "OTHER_TABLE_AT_16", "GARBAGE", "WRONG_OFFSET",
            "PAYLOAD_ITSELF", "NULL", "WILD", "KERNEL_HALF", "MISALIGNED", "UNMAPPED", "WORD_ON_UNMAPPED_PAGE");

    @Test
    void counterfeitAndBadFilePointersAreRefusedAndTheValidTwinsRun() throws Exception {
        Forks.Outcome o = Forks.run(PointedContextMain.class, 120);
        assertEquals(0, o.exitCode(), "the fork did not exit normally:\n" + o.output());
        List<String> lines = o.lines();
        assertEquals("survived", lines.getLast(), o.output());

        assertTrue(lines.contains("VALID result=42 runs=1"), o.output());
        assertTrue(lines.contains("VALID_AT_16 result=42 runs=2"), o.output());
        for (String attack : REFUSED) {
            assertTrue(lines.contains(attack + " result=" + PointedContextMain.REFUSED + " runs=2"),
                    attack + " was not refused before its target ran:\n" + o.output());
        }
        assertTrue(lines.contains("VALID_AGAIN result=42 runs=3"), "the genuine file still works after the attacks:\n" + o.output());
        assertTrue(lines.contains("audited CONTEXT_MISMATCH=" + REFUSED.size()), "each refusal is counted once:\n" + o.output());
        assertEquals(1, lines.stream().filter(l -> l.startsWith("audited ")).count(), "no other violation:\n" + o.output());
        assertTrue(lines.contains("b-refusals=0"), "another table's payload is only data here:\n" + o.output());
    }
}
