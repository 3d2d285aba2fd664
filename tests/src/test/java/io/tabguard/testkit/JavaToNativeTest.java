package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import io.tabguard.testkit.Fixtures.Audit;
import io.tabguard.testkit.Fixtures.Targets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.invoke.MethodHandle;
import java.util.List;

import static io.tabguard.testkit.Fixtures.INT_INT;
import static io.tabguard.testkit.Fixtures.REFUSED;
import static org.junit.jupiter.api.Assertions.*;

/** Java calling through a table's slot with {@link CallbackTable#slotHandle}: checked before the downcall. */
class JavaToNativeTest {
    private final Audit audit = new Audit();
    private final Targets targets = new Targets();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Fixtures.openWritable(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private static int call(MethodHandle h, int x) throws Throwable {
        return (int) h.invokeExact(x);
    }

    private static TableRejectedException refusal(MethodHandle h, int x) {
        return assertThrows(TableRejectedException.class, () -> call(h, x));
    }

    @Test
    void anHonestTableAnswersThroughItsSlotHandle() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        MethodHandle inc = table.slotHandle("inc");
        assertEquals(INT_INT.toMethodType(), inc.type());
        assertEquals(42, call(inc, 41));
        assertEquals(42, call(table.slotHandle("dbl"), 21));
        long before = Fixtures.DEFAULT_NEGATE_CALLS.get();
        assertEquals(-3, call(table.slotHandle("neg"), 3));
        assertEquals(before + 1, Fixtures.DEFAULT_NEGATE_CALLS.get());
        assertEquals(2, targets.total());
        assertThrows(IllegalArgumentException.class, () -> table.slotHandle("version"));
        assertThrows(IllegalArgumentException.class, () -> table.slotHandle("nosuch"));
    }

    @Test
    void aTamperedTableThrowsTheViolationAndTheTargetDoesNotRun() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        MethodHandle inc = table.slotHandle("inc");
        assertEquals(42, call(inc, 41));

        NativeTamper.flipByte(table, AbiV1.OFFSET_SCHEMA_ID + 3);
        TableRejectedException e = refusal(inc, 41);
        assertEquals(Violation.SCHEMA_ID, e.violation());
        assertEquals(AbiV1.OFFSET_SCHEMA_ID, e.offset());
        assertEquals(TableStatus.QUARANTINED, table.status());
        assertEquals(Violation.QUARANTINED, refusal(table.slotHandle("dbl"), 1).violation());
        assertEquals(1, targets.total());
        assertEquals(List.of("SCHEMA_ID", "QUARANTINED"), audit.violations(table, EventType.TABLE_REFUSED));
    }

    @Test
    void aSwappedSlotIsRefusedFromJavaAndTheVerifiedPointerIsNeverTheLiveOne() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        NativeTamper.swapSlots(table, "inc", "dbl");
        NativeTamper.fixChecksum(table);
        assertEquals(Violation.SIGNATURE, refusal(table.slotHandle("inc"), 41).violation());
        assertEquals(0, targets.total());
    }

    @Test
    void revokedClosedAndRegistryClosedTablesThrowTheirState() throws Throwable {
        CallbackTable revoked = Fixtures.calcTable(registry, targets);
        CallbackTable closed = Fixtures.calcTable(registry, targets);
        CallbackTable open = Fixtures.calcTable(registry, targets);
        MethodHandle openInc = open.slotHandle("inc");
        assertEquals(42, call(openInc, 41));

        registry.revoke(revoked);
        closed.close();
        assertEquals(Violation.REVOKED, refusal(revoked.slotHandle("inc"), 41).violation());
        assertEquals(Violation.CLOSED, refusal(closed.slotHandle("dbl"), 41).violation());
        assertEquals(1, targets.total());

        registry.close();
        // the memory and trampolines are gone, yet a validated downcall refuses before touching them
        TableRejectedException e = refusal(openInc, 41);
        assertEquals(Violation.REGISTRY_CLOSED, e.violation());
        assertEquals(Violation.REGISTRY_CLOSED, refusal(open.slotHandle("dbl"), 1).violation());
        assertEquals(Violation.REGISTRY_CLOSED, refusal(revoked.slotHandle("inc"), 1).violation());
        assertEquals(1, targets.total());
    }

    @Test
    void anUnboundOptionalSlotIsNotCalledThroughNull() {
        CallbackTable table = registry.builder(BuilderRefusalTest.VERSIONED).bind("inc", targets.incHandle()).build();
        assertEquals(0L, table.function("extra").address());
        MethodHandle extra = table.slotHandle("extra");
        // calling a NULL function pointer must be an exception, never a crash
        assertThrows(RuntimeException.class, () -> call(extra, 1));
        assertEquals(TableStatus.OPEN, table.status());
        assertDoesNotThrow(() -> assertEquals(42, call(table.slotHandle("inc"), 41)));
    }

    @Test
    void slotHandleChecksEveryCallNotOnlyTheFirst() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        MethodHandle dbl = table.slotHandle("dbl");
        for (int i = 0; i < 1000; i++) {
            assertEquals(2 * i, call(dbl, i));
        }
        NativeTamper.flipByte(table, NativeTamper.slotOffset(table, "dbl") + 2);   // dbl's pointer
        assertEquals(Violation.CHECKSUM, refusal(dbl, 1).violation());
        assertEquals(1000, targets.dbl.get());
        assertEquals(REFUSED, Fixtures.callNative(table, "dbl", 1), "native callers see the quarantine too");
    }
}
