package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntUnaryOperator;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static io.tabguard.testkit.Fixtures.callNative;
import static org.junit.jupiter.api.Assertions.*;

/** Native code calling slots of honest, tampered, revoked and closed tables, and callbacks that misbehave. */
class DispatchAttackTest {
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

    @Test
    void honestCallsReturnTheTargetsResult() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        for (int i = 0; i < 100; i++) {
            assertEquals(i + 1, callNative(table, "inc", i));
            assertEquals(2 * i, callNative(table, "dbl", i));
        }
        assertEquals(100, targets.inc.get());
        assertEquals(100, targets.dbl.get());
        assertEquals(TableStatus.OPEN, table.status());
        assertEquals(0, audit.of(EventType.TABLE_REFUSED).size(), audit.toString());
        assertEquals(1, audit.count(table, EventType.TABLE_BUILT));
    }

    @Test
    void aFlippedSerialByteIsRefusedAsChecksumAndQuarantines() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertEquals(42, callNative(table, "inc", 41));
        byte[] honest = NativeTamper.liveBytes(table);

        NativeTamper.flipByte(table, AbiV1.OFFSET_SERIAL);
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(1, targets.inc.get(), "the target did not run");
        assertEquals(TableStatus.QUARANTINED, table.status());
        assertEquals(List.of("CHECKSUM"), audit.violations(table, EventType.TABLE_QUARANTINED), audit.toString());
        assertEquals(List.of("CHECKSUM"), audit.violations(table, EventType.TABLE_REFUSED), audit.toString());
        SecurityEvent refused = audit.of(table, EventType.TABLE_REFUSED).getFirst();
        assertEquals(AbiV1.OFFSET_CHECKSUM, refused.offset());

        // quarantine is final: every slot refuses, even after the bytes are put back
        NativeTamper.writeBytes(table, honest);
        assertEquals(REFUSED, callNative(table, "dbl", 21));
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(0, targets.dbl.get());
        assertEquals(1, targets.inc.get());
        // the first refusal per violation is a record at once; later ones are counted, then summarised
        assertEquals(List.of("CHECKSUM", "QUARANTINED"), audit.violations(table, EventType.TABLE_REFUSED));
        registry.flushAudit();
        assertEquals(java.util.Map.of("CHECKSUM", 1L, "QUARANTINED", 2L), audit.callsByViolation(table, EventType.TABLE_REFUSED), audit.toString());
        assertEquals(1, audit.count(table, EventType.TABLE_QUARANTINED));

        // and the registry's other tables are unaffected
        Targets others = new Targets();
        assertEquals(42, callNative(Fixtures.calcTable(registry, others), "inc", 41));
    }

    @Test
    void everySingleByteFlipOfTheTableIsRefusedWithTheViolationTheCheckOrderNames() throws Throwable {
        long size = AbiV1.HEADER_SIZE + Fixtures.CALC.payloadSize(0);
        List<String> wrong = new ArrayList<>();
        for (long offset = 0; offset < size; offset++) {
            Targets t = new Targets();
            CallbackTable table = Fixtures.calcTable(registry, t);
            assertEquals(size, NativeTamper.tableSize(table));
            NativeTamper.flipByte(table, offset);
            int result = callNative(table, "inc", 41);
            Violation expected = Fixtures.expectedViolationForChangedByte(offset);
            List<String> named = audit.violations(table, EventType.TABLE_QUARANTINED);
            if (result != REFUSED || t.inc.get() != 0 || table.status() != TableStatus.QUARANTINED
                    || !named.equals(List.of(expected.name()))) {
                wrong.add("offset " + offset + ": result " + result + ", target runs " + t.inc.get() + ", status "
                        + table.status() + ", quarantined for " + named + ", expected " + expected);
            }
            table.close();
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " offsets not refused as expected:\n" + String.join("\n", wrong));
    }

    @Test
    void highBitFlipsAreRefusedToo() throws Throwable {
        long size = AbiV1.HEADER_SIZE + Fixtures.CALC.payloadSize(0);
        List<String> wrong = new ArrayList<>();
        for (long offset = 0; offset < size; offset++) {
            Targets t = new Targets();
            CallbackTable table = Fixtures.calcTable(registry, t);
            NativeTamper.flipByte(table, offset, (byte) 0x80);
            int result = callNative(table, "dbl", 21);
            if (result != REFUSED || t.dbl.get() != 0 || table.status() != TableStatus.QUARANTINED) {
                wrong.add("offset " + offset + ": result " + result + ", status " + table.status());
            }
            table.close();
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void swappedSlotPointersAreRefused() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        NativeTamper.swapSlots(table, "inc", "dbl");
        // native code calling what it now reads from the struct: dbl's trampoline for "inc"
        assertEquals(REFUSED, callNative(NativeTamper.readSlot(table, "inc"), 41));
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(0, targets.total());
        assertEquals(List.of("CHECKSUM"), audit.violations(table, EventType.TABLE_QUARANTINED));
    }

    @Test
    void swappedSlotPointersWithARewrittenChecksumFailTheSignature() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        NativeTamper.swapSlots(table, "inc", "dbl");
        NativeTamper.fixChecksum(table);
        assertEquals(REFUSED, callNative(NativeTamper.readSlot(table, "dbl"), 21));
        assertEquals(0, targets.total());
        assertEquals(List.of("SIGNATURE"), audit.violations(table, EventType.TABLE_QUARANTINED), audit.toString());
    }

    @Test
    void anotherTablesTrampolinePlantedInASlotIsRefused() throws Throwable {
        Targets otherTargets = new Targets();
        CallbackTable other = Fixtures.calcTable(registry, otherTargets);
        CallbackTable table = Fixtures.calcTable(registry, targets);

        NativeTamper.writeSlot(table, "inc", other.function("inc"));
        assertEquals(REFUSED, callNative(table, "dbl", 21));
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(0, targets.total());
        assertEquals(TableStatus.QUARANTINED, table.status());
        assertEquals(List.of("CHECKSUM"), audit.violations(table, EventType.TABLE_QUARANTINED));
        // the table whose trampoline was copied is untouched and keeps working
        assertEquals(TableStatus.OPEN, other.status());
        assertEquals(42, callNative(other, "inc", 41));
        assertEquals(1, otherTargets.inc.get());

        // the same plant with the checksum rewritten: the signature (bound to the slot's pointer) fails
        Targets third = new Targets();
        CallbackTable victim = Fixtures.calcTable(registry, third);
        NativeTamper.writeSlot(victim, "dbl", other.function("dbl"));
        NativeTamper.fixChecksum(victim);
        assertEquals(REFUSED, callNative(victim, "inc", 41));
        assertEquals(List.of("SIGNATURE"), audit.violations(victim, EventType.TABLE_QUARANTINED));
        assertEquals(0, third.total());
    }

    @Test
    void aRevokedTableRefusesEverySlot() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertEquals(42, callNative(table, "inc", 41));
        registry.revoke(table);
        assertEquals(TableStatus.REVOKED, table.status());
        for (int i = 0; i < 10; i++) {
            assertEquals(REFUSED, callNative(table, "inc", 41));
            assertEquals(REFUSED, callNative(table, "dbl", 21));
            assertEquals(REFUSED, callNative(table, "neg", 1));
        }
        assertEquals(1, targets.total());
        assertEquals(1, audit.count(table, EventType.TABLE_REVOKED));
        assertEquals(List.of("REVOKED"), audit.violations(table, EventType.TABLE_REFUSED), "one record at once, the rest counted");
        registry.flushAudit();
        assertTrue(audit.violations(table, EventType.TABLE_REFUSED).stream().allMatch("REVOKED"::equals));
        assertEquals(2, audit.count(table, EventType.TABLE_REFUSED), "the first refusal and one summary: " + audit);
        assertEquals(30, audit.calls(table, EventType.TABLE_REFUSED));
        // revoking again or closing changes nothing: the first state change wins
        registry.revoke(table);
        table.close();
        assertEquals(TableStatus.REVOKED, table.status());
        assertEquals(1, audit.count(table, EventType.TABLE_REVOKED));
        assertEquals(0, audit.count(table, EventType.TABLE_CLOSED));
    }

    @Test
    void aClosedTableRefusesEverySlot() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        table.close();
        table.close();
        assertEquals(TableStatus.CLOSED, table.status());
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(REFUSED, callNative(table, "dbl", 21));
        assertEquals(0, targets.total());
        assertEquals(List.of("CLOSED"), audit.violations(table, EventType.TABLE_REFUSED));
        registry.flushAudit();
        assertEquals(2, audit.calls(table, EventType.TABLE_REFUSED));
        assertEquals(1, audit.count(table, EventType.TABLE_CLOSED));
        assertEquals(0, registry.openTables());
    }

    @Test
    void registryLevelOperationsRefuseTablesOfOtherRegistriesAndAfterClose() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        try (Registry other = Fixtures.open(new Audit())) {
            CallbackTable foreign = Fixtures.calcTable(other, new Targets());
            assertThrows(IllegalArgumentException.class, () -> registry.revoke(foreign));
            assertEquals(TableStatus.OPEN, foreign.status());
        }
        registry.close();
        assertEquals(TableStatus.REGISTRY_CLOSED, table.status());
        assertThrows(IllegalStateException.class, () -> registry.revoke(table));
        assertThrows(IllegalStateException.class, () -> registry.builder(Fixtures.CALC));
        assertThrows(IllegalStateException.class, registry::rotateKey);
        assertDoesNotThrow(table::close);
        assertEquals(TableStatus.REGISTRY_CLOSED, table.status());
        assertDoesNotThrow(registry::close, "idempotent");
        assertEquals(1, audit.of(EventType.REGISTRY_CLOSED).size());
    }

    @Test
    void aThrowingCallbackReturnsTheRefusalValueAndTheTableStaysOpen() throws Throwable {
        AtomicLong runs = new AtomicLong();
        IntUnaryOperator sometimesThrows = x -> {
            runs.incrementAndGet();
            if (x == 13) {
                throw new IllegalStateException("secret-payload-13");
            }
            if (x == 666) {
                throw new StackOverflowError();
            }
            return x + 1;
        };
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, sometimesThrows)
                .bind("dbl", targets.dblHandle())
                .build();
        assertEquals(REFUSED, callNative(table, "inc", 13));
        assertEquals(TableStatus.OPEN, table.status());
        assertEquals(42, callNative(table, "inc", 41));
        assertEquals(REFUSED, callNative(table, "inc", 666));
        assertEquals(6, callNative(table, "inc", 5));
        assertEquals(4, runs.get());

        // the table's first throw is a record at once, naming the class; later ones are counted
        List<SecurityEvent> threw = audit.of(table, EventType.CALLBACK_THREW);
        assertEquals(1, threw.size(), audit.toString());
        assertTrue(threw.get(0).detail().contains("IllegalStateException"), threw.get(0).detail());
        assertFalse(threw.get(0).detail().contains("secret-payload"), "the exception's message is not logged");
        registry.flushAudit();
        assertEquals(2, audit.calls(table, EventType.CALLBACK_THREW), audit.toString());
        assertEquals(0, audit.count(table, EventType.TABLE_REFUSED), "a throwing callback is not a refused table");
        assertEquals(TableStatus.OPEN, table.status());
    }

    @Test
    void aFailingAuditSinkNeverTurnsIntoADispatchFailure() throws Throwable {
        AtomicLong attempts = new AtomicLong();
        io.tabguard.audit.AuditSink broken = new io.tabguard.audit.AuditSink() {
            @Override
            public void record(SecurityEvent event) {
                attempts.incrementAndGet();
                throw new IllegalStateException("disk full");
            }

            @Override
            public void close() {
                throw new IllegalStateException("disk full");
            }
        };
        Targets t = new Targets();
        try (Registry r = Registry.open(io.tabguard.registry.RegistryOptions.builder().auditSink(broken).writableTables().build())) {
            CallbackTable table = Fixtures.calcTable(r, t);
            assertEquals(42, callNative(table, "inc", 41));
            NativeTamper.flipByte(table, AbiV1.OFFSET_MAGIC);
            assertEquals(REFUSED, callNative(table, "inc", 41));
            assertEquals(TableStatus.QUARANTINED, table.status());
            CallbackTable throwing = r.builder(Fixtures.CALC)
                    .bind("inc", IntUnaryOperator.class, x -> {
                        throw new UnsupportedOperationException();
                    })
                    .bind("dbl", t.dblHandle())
                    .build();
            assertEquals(REFUSED, callNative(throwing, "inc", 1));
            assertEquals(2, callNative(throwing, "dbl", 1));
        }
        assertEquals(1, t.inc.get());
        assertTrue(attempts.get() >= 5, "every event was still offered to the sink");
    }

    @Test
    void aCallbackMayBuildAndCallANewTableFromInside() throws Throwable {
        AtomicReference<CallbackTable> inner = new AtomicReference<>();
        Targets innerTargets = new Targets();
        IntUnaryOperator reentrant = x -> {
            CallbackTable t = Fixtures.calcTable(registry, innerTargets);
            inner.set(t);
            try {
                return 1000 + callNative(t, "dbl", x);   // a nested native → Java dispatch
            } catch (Throwable e) {
                throw new AssertionError(e);
            }
        };
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, reentrant)
                .bind("dbl", targets.dblHandle())
                .build();
        int result = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> callNative(table, "inc", 21));
        assertEquals(1042, result);
        assertEquals(1, innerTargets.dbl.get());
        assertEquals(TableStatus.OPEN, inner.get().status());
        assertEquals(0, audit.of(EventType.CALLBACK_THREW).size(), audit.toString());
    }

    @Test
    void aCallbackMayRevokeOrCloseItsOwnTableWithoutDeadlock() throws Throwable {
        AtomicReference<CallbackTable> self = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        IntUnaryOperator revokesItself = x -> {
            runs.incrementAndGet();
            registry.revoke(self.get());
            return x + 1;
        };
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, revokesItself)
                .bind("dbl", targets.dblHandle())
                .build();
        self.set(table);
        int first = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> callNative(table, "inc", 41));
        assertEquals(42, first, "the call that revoked was already admitted");
        assertEquals(TableStatus.REVOKED, table.status());
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(REFUSED, callNative(table, "dbl", 1));
        assertEquals(1, runs.get());

        AtomicReference<CallbackTable> self2 = new AtomicReference<>();
        CallbackTable closing = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    self2.get().close();
                    return x + 1;
                })
                .bind("dbl", targets.dblHandle())
                .build();
        self2.set(closing);
        assertEquals(42, (int) assertTimeoutPreemptively(Duration.ofSeconds(20), () -> callNative(closing, "inc", 41)));
        assertEquals(TableStatus.CLOSED, closing.status());
        assertEquals(REFUSED, callNative(closing, "inc", 41));
    }

    @Test
    void aCallbackCannotCloseItsRegistryAndTheCallIsRefusedNotCrashed() throws Throwable {
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    registry.close();
                    return x + 1;
                })
                .bind("dbl", targets.dblHandle())
                .build();
        int result = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> callNative(table, "inc", 41));
        assertEquals(REFUSED, result);
        List<SecurityEvent> threw = audit.of(table, EventType.CALLBACK_THREW);
        assertEquals(1, threw.size());
        assertTrue(threw.getFirst().detail().contains("IllegalStateException"));
        // the registry is still open and dispatching
        assertEquals(TableStatus.OPEN, table.status());
        assertEquals(42, callNative(table, "dbl", 21));
        assertNotNull(Fixtures.calcTable(registry, new Targets()));
    }

    @Test
    void aCallbackIsReentrantThroughItsOwnTable() throws Throwable {
        AtomicReference<CallbackTable> self = new AtomicReference<>();
        IntUnaryOperator countdown = x -> {
            try {
                return x <= 0 ? 0 : 1 + callNative(self.get(), "inc", x - 1);
            } catch (Throwable e) {
                throw new AssertionError(e);
            }
        };
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, countdown)
                .bind("dbl", targets.dblHandle())
                .build();
        self.set(table);
        MethodHandle h = Fixtures.nativeCaller(table, "inc");
        assertEquals(20, (int) assertTimeoutPreemptively(Duration.ofSeconds(20), () -> (int) h.invokeExact(20)));
    }
}
