package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 15's second symptom: a tamper that lands while {@code rotateKey()} re-signs a (writable) table
 * was erased — the re-sign rewrote the table from its snapshot after the gate's compare — in 20 of 1,000
 * rounds, leaving the table OPEN with no audit event. Here an attacker thread writes one word at a random
 * moment around each rotation, half the rounds into the signature (a word the rotation rewrites), half
 * into a data member (one it does not). In every round the tamper must survive in the live table and the
 * table must end QUARANTINED, audited once, with no target run.
 */
class RotationRaceStressTest {
    static final int ROUNDS = 1_000;
    static final int TABLES_PER_REGISTRY = 100;   // a rotation re-signs every table of the registry
    static final long TAMPER = 0x4141_4141_4141_4141L;

    @Test
    void aTamperRacingARotationIsNeverErased() throws Throwable {
        int quarantinedByRotation = 0, erased = 0, leftOpen = 0, targetRan = 0;
        CyclicBarrier start = new CyclicBarrier(2);
        for (int batch = 0; batch < ROUNDS / TABLES_PER_REGISTRY; batch++) {
            Fixtures.Audit audit = new Fixtures.Audit();
            try (Registry registry = Fixtures.openWritable(audit)) {
                for (int i = 0; i < TABLES_PER_REGISTRY; i++) {
                    int round = batch * TABLES_PER_REGISTRY + i;
                    Fixtures.Targets targets = new Fixtures.Targets();
                    CallbackTable table = Fixtures.calcTable(registry, targets);
                    long offset = round % 2 == 0 ? AbiV1.OFFSET_SIGNATURE + 8 : AbiV1.HEADER_SIZE + 24;
                    int spin = ThreadLocalRandom.current().nextInt(4_000);
                    Thread attacker = Thread.ofPlatform().start(() -> {
                        try {
                            start.await();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        for (int s = 0; s < spin; s++) {
                            Thread.onSpinWait();
                        }
                        NativeTamper.liveTable(table).set(ValueLayout.JAVA_LONG_UNALIGNED, offset, TAMPER);
                    });
                    start.await();
                    registry.rotateKey();
                    attacker.join();
                    if (table.status() == TableStatus.QUARANTINED) {
                        quarantinedByRotation++;
                    }
                    if (NativeTamper.liveTable(table).get(ValueLayout.JAVA_LONG_UNALIGNED, offset) != TAMPER) {
                        erased++;
                    }
                    int answer = Fixtures.callNative(table, "inc", 1);
                    if (table.status() != TableStatus.QUARANTINED || answer != Fixtures.REFUSED
                            || audit.count(table, EventType.TABLE_QUARANTINED) != 1) {
                        leftOpen++;
                    }
                    if (targets.total() != 0) {
                        targetRan++;
                    }
                }
            }
        }
        int caughtAtNextDispatch = ROUNDS - quarantinedByRotation - leftOpen;
        String counts = ROUNDS + " rounds: quarantined by the rotation itself " + quarantinedByRotation
                + ", caught at the next dispatch " + caughtAtNextDispatch + ", erased " + erased + ", left open " + leftOpen
                + ", target ran " + targetRan;
        System.out.println("RotationRaceStressTest: " + counts);
        assertEquals(0, erased, counts);
        assertEquals(0, leftOpen, counts);
        assertEquals(0, targetRan, counts);
    }
}
