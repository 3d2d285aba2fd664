package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.CheckMode;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import io.tabguard.testkit.Fixtures.Audit;
import io.tabguard.testkit.Fixtures.Targets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static io.tabguard.testkit.Fixtures.callNative;
import static org.junit.jupiter.api.Assertions.*;

/** {@link CheckMode#FULL}: every check on every call, with the same answers as the fast path. */
class FullCheckModeTest {
    private final Audit audit = new Audit();
    private final Targets targets = new Targets();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit, o -> o.checkMode(CheckMode.FULL).writableTables());
    }

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void honestCallsWorkBothWays() throws Throwable {
        assertEquals(CheckMode.FULL, registry.options().checkMode());
        CallbackTable table = Fixtures.calcTable(registry, targets);
        for (int i = 0; i < 200; i++) {
            assertEquals(i + 1, callNative(table, "inc", i));
            assertEquals(2 * i, (int) table.slotHandle("dbl").invokeExact(i));
        }
        assertEquals(400, targets.total());
        assertEquals(0, audit.of(EventType.TABLE_REFUSED).size(), audit.toString());
        registry.rotateKey();
        assertEquals(42, callNative(table, "inc", 41), "and after a key rotation");
    }

    @Test
    void aTamperIsRefusedAndNamed() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertEquals(42, callNative(table, "inc", 41));
        NativeTamper.flipByte(table, AbiV1.OFFSET_KEY_EPOCH);
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(1, targets.inc.get());
        assertEquals(TableStatus.QUARANTINED, table.status());
        assertEquals(List.of("CHECKSUM"), audit.violations(table, EventType.TABLE_QUARANTINED));
    }

    @Test
    void aTamperWithARewrittenChecksumFailsTheSignature() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        NativeTamper.writeSlot(table, "inc", table.function("dbl"));
        NativeTamper.fixChecksum(table);
        TableRejectedException e = assertThrows(TableRejectedException.class, () -> {
            int ignored = (int) table.slotHandle("dbl").invokeExact(1);
        });
        assertEquals(Violation.SIGNATURE, e.violation());
        assertEquals(REFUSED, callNative(table, "inc", 1));
        assertEquals(0, targets.total());
    }

    @Test
    void everySingleByteFlipIsRefused() throws Throwable {
        long size = AbiV1.HEADER_SIZE + Fixtures.CALC.payloadSize(0);
        for (long offset = 0; offset < size; offset += 7) {
            Targets t = new Targets();
            CallbackTable table = Fixtures.calcTable(registry, t);
            NativeTamper.flipByte(table, offset);
            assertEquals(REFUSED, callNative(table, "inc", 41), "offset " + offset);
            assertEquals(0, t.inc.get());
            assertEquals(List.of(Fixtures.expectedViolationForChangedByte(offset).name()),
                    audit.violations(table, EventType.TABLE_QUARANTINED), "offset " + offset);
            table.close();
        }
    }
}
