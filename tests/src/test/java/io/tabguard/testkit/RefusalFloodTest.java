package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntUnaryOperator;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sixteen C threads (pthreads, {@link NativeHammer}) call one slot as fast as they can while the table
 * is revoked or closed under them. Correctness, not speed (bench/ measures the latency): no target
 * starts after revoke or close returns, a second revoke returns although the flood goes on, the flood
 * is refused, and the audit trail counts the refused calls exactly — the C side's count of refusal
 * values equals the sum of the counts of the table's refusal records.
 */
class RefusalFloodTest {
    private static final int THREADS = 16;
    private static final int ROUNDS = 10;

    private Fixtures.Audit audit;
    private Registry registry;

    @BeforeEach
    void open() {
        audit = new Fixtures.Audit();
        registry = Fixtures.open(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void revokeUnderAFloodWaitsOnlyForRunningTargetsAndCountsEveryRefusal() throws Throwable {
        for (int round = 0; round < ROUNDS; round++) {
            flood(true);
        }
    }

    @Test
    void closeUnderAFloodWaitsOnlyForRunningTargetsAndCountsEveryRefusal() throws Throwable {
        for (int round = 0; round < ROUNDS; round++) {
            flood(false);
        }
    }

    private void flood(boolean revoke) throws Throwable {
        AtomicLong starts = new AtomicLong();
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    starts.incrementAndGet();
                    return x + 1;
                })
                .bind("dbl", IntUnaryOperator.class, x -> 2 * x)
                .build();
        long started = System.nanoTime();
        NativeHammer.start(table.function("inc"), THREADS, REFUSED);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (starts.get() < 2_000 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        if (revoke) {
            registry.revoke(table);
        } else {
            table.close();
        }
        long startedBeforeReturn = starts.get();
        if (revoke) {
            registry.revoke(table);   // a second revoke, while refused callers keep coming, returns too
        }
        Thread.sleep(20);             // the flood goes on against the retired table
        NativeHammer.Totals totals = NativeHammer.stop();
        long periods = (System.nanoTime() - started) / 1_000_000_000L + 1;   // flusher periods the round spanned

        assertEquals(revoke ? TableStatus.REVOKED : TableStatus.CLOSED, table.status());
        assertTrue(startedBeforeReturn >= 2_000, "the threads called the open table: " + startedBeforeReturn);
        assertEquals(startedBeforeReturn, starts.get(), "a target started after the retire returned");
        assertEquals(totals.calls() - totals.refused(), starts.get(), "every call not refused ran its target once");
        assertTrue(totals.refused() > 0, "the flood went on and was refused: " + totals);
        registry.flushAudit();
        String violation = revoke ? "REVOKED" : "CLOSED";
        assertEquals(java.util.Map.of(violation, totals.refused()), audit.callsByViolation(table, EventType.TABLE_REFUSED),
                "the refusal records count every refused call, exactly");
        long records = audit.count(table, EventType.TABLE_REFUSED);
        // the first refusal, the summary written when the table retired, one a second, and the explicit flush
        // (a flush used to drain a table that kept re-queueing itself: dozens of records a second under load)
        assertTrue(records <= 3 + periods, "one record at once, then at most a summary a second and one at each flush, "
                + "not one record per call: " + records + " records in " + periods + " s for " + totals.refused()
                + " refusals: " + audit.of(table, EventType.TABLE_REFUSED));
    }
}
