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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.invoke.MethodHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntUnaryOperator;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Revoke, close, key rotation and registry close racing with dispatch on other threads. Every loop is
 * bounded by a deadline as well as by its stop flag, and every dispatcher is joined before the
 * registry closes (after which native code may no longer call its slot pointers).
 */
class LifecycleConcurrencyTest {
    private static final Duration BOUND = Duration.ofSeconds(20);
    private final Audit audit = new Audit();
    private final List<Dispatcher> dispatchers = new ArrayList<>();
    private Registry registry;

    @AfterEach
    void close() throws InterruptedException {
        stopAll();
        if (registry != null) {
            registry.close();
        }
    }

    /** One call through a table: returns the result, or {@link Fixtures#REFUSED} for a refusal. */
    @FunctionalInterface
    interface Call {
        int call(int x) throws Throwable;
    }

    /** Native code (or Java) calling a slot in a loop until told to stop, or until its deadline. */
    static final class Dispatcher extends Thread {
        final Call call;
        final int argument;
        final int honestResult;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicBoolean late;             // set once the lifecycle change under test has returned
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        final AtomicLong calls = new AtomicLong();
        final AtomicLong lateCalls = new AtomicLong();
        final Set<Violation> violations = ConcurrentHashMap.newKeySet();
        // written by this thread only; volatile so the test thread may watch them
        volatile long honest;
        volatile long refused;
        volatile long lateHonest;
        volatile long unexpected;
        volatile Throwable failure;

        Dispatcher(String name, Call call, int argument, int honestResult, AtomicBoolean late) {
            super(name);
            this.call = call;
            this.argument = argument;
            this.honestResult = honestResult;
            this.late = late;
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                while (!stop.get() && System.nanoTime() < deadline) {
                    boolean isLate = late.get();
                    int r;
                    try {
                        r = call.call(argument);
                    } catch (TableRejectedException e) {
                        violations.add(e.violation());
                        r = REFUSED;
                    }
                    if (r == honestResult) {
                        honest++;
                        if (isLate) {
                            lateHonest++;
                        }
                    } else if (r == REFUSED) {
                        refused++;
                    } else {
                        unexpected++;
                    }
                    calls.incrementAndGet();
                    if (isLate) {
                        lateCalls.incrementAndGet();
                    }
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        void assertHealthy() {
            assertNull(failure, () -> getName() + " failed: " + failure);
            assertEquals(0, unexpected, getName() + " saw results that are neither honest nor the refusal value");
        }
    }

    private Dispatcher start(String name, Call call, int argument, int honestResult, AtomicBoolean late) {
        Dispatcher d = new Dispatcher(name, call, argument, honestResult, late);
        dispatchers.add(d);
        d.start();
        return d;
    }

    private void stopAll() throws InterruptedException {
        for (Dispatcher d : dispatchers) {
            d.stop.set(true);
        }
        for (Dispatcher d : dispatchers) {
            d.join(TimeUnit.SECONDS.toMillis(40));
            assertFalse(d.isAlive(), d.getName() + " did not stop");
        }
    }

    private static void awaitCondition(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(1);
        }
    }

    private static Call nativeCall(CallbackTable table, String slot) {
        MethodHandle h = Fixtures.nativeCaller(table, slot);
        return x -> (int) h.invokeExact(x);
    }

    private static Call javaCall(CallbackTable table, String slot) {
        MethodHandle h = table.slotHandle(slot);
        return x -> (int) h.invokeExact(x);
    }

    enum Retire { REVOKE, CLOSE_TABLE }

    enum Path { NATIVE_TO_JAVA, JAVA_TO_NATIVE }

    @ParameterizedTest
    @EnumSource(Retire.class)
    void afterRevokeOrCloseReturnsNoTargetRunsAgain_nativeCallers(Retire how) throws Throwable {
        retireUnderLoad(how, Path.NATIVE_TO_JAVA);
    }

    @ParameterizedTest
    @EnumSource(Retire.class)
    void afterRevokeOrCloseReturnsNoTargetRunsAgain_javaCallers(Retire how) throws Throwable {
        retireUnderLoad(how, Path.JAVA_TO_NATIVE);
    }

    private void retireUnderLoad(Retire how, Path path) throws Throwable {
        registry = Fixtures.open(audit);
        Targets targets = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, targets);
        AtomicBoolean late = new AtomicBoolean();
        Call call = path == Path.NATIVE_TO_JAVA ? nativeCall(table, "inc") : javaCall(table, "inc");
        Dispatcher a = start("dispatcher-a", call, 1, 2, late);
        Dispatcher b = start("dispatcher-b", call, 1, 2, late);
        awaitCondition("both dispatchers under way", () -> a.calls.get() >= 500 && b.calls.get() >= 500);

        assertTimeoutPreemptively(BOUND, () -> {
            if (how == Retire.REVOKE) {
                registry.revoke(table);
            } else {
                table.close();
            }
        });
        long runsAtReturn = targets.inc.get();
        late.set(true);
        awaitCondition("calls after the change", () -> a.lateCalls.get() >= 2_000 && b.lateCalls.get() >= 2_000);
        stopAll();

        a.assertHealthy();
        b.assertHealthy();
        assertEquals(runsAtReturn, targets.inc.get(), "a target ran after " + how + " returned");
        assertEquals(0, a.lateHonest + b.lateHonest, "a call that started after " + how + " returned was answered");
        assertTrue(a.refused > 0 && b.refused > 0);
        Violation expected = how == Retire.REVOKE ? Violation.REVOKED : Violation.CLOSED;
        assertEquals(how == Retire.REVOKE ? TableStatus.REVOKED : TableStatus.CLOSED, table.status());
        assertTrue(audit.violations(table, EventType.TABLE_REFUSED).stream().allMatch(expected.name()::equals));
        if (path == Path.JAVA_TO_NATIVE) {
            assertEquals(Set.of(expected), a.violations);
        }
    }

    @ParameterizedTest
    @EnumSource(Retire.class)
    void revokeAndCloseWaitForATargetRunningOnAnotherThread(Retire how) throws Throwable {
        registry = Fixtures.open(audit);
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        IntUnaryOperator blocking = x -> {
            entered.countDown();
            try {
                release.await(BOUND.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return x + 1;
        };
        Targets targets = new Targets();
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, blocking).bind("dbl", targets.dblHandle()).build();

        AtomicLong inFlightResult = new AtomicLong(Long.MIN_VALUE);
        Thread inFlight = new Thread(() -> {
            try {
                inFlightResult.set(Fixtures.callNative(table, "inc", 41));
            } catch (Throwable e) {
                inFlightResult.set(Long.MAX_VALUE);
            }
        }, "in-flight");
        inFlight.setDaemon(true);
        inFlight.start();
        assertTrue(entered.await(BOUND.toSeconds(), TimeUnit.SECONDS));

        AtomicBoolean returned = new AtomicBoolean();
        Thread retirer = new Thread(() -> {
            if (how == Retire.REVOKE) {
                registry.revoke(table);
            } else {
                table.close();
            }
            returned.set(true);
        }, "retirer");
        retirer.setDaemon(true);
        retirer.start();
        try {
            awaitCondition("the state change", () -> table.status() != TableStatus.OPEN);
            // the table already refuses new calls, while the admitted one is still running
            assertEquals(REFUSED, Fixtures.callNative(table, "dbl", 21));
            assertEquals(0, targets.dbl.get());
            retirer.join(200);
            assertFalse(returned.get(), how + " returned while a target of the table was still running");
        } finally {
            release.countDown();
        }
        retirer.join(BOUND.toMillis());
        inFlight.join(BOUND.toMillis());
        assertTrue(returned.get());
        assertEquals(42, inFlightResult.get(), "the call admitted before the change completes normally");
    }

    @ParameterizedTest
    @EnumSource(CheckMode.class)
    void rotatingTheKeyUnderDispatchRefusesNothingHonestAndAcceptsNothingTampered(CheckMode mode) throws Throwable {
        registry = Fixtures.open(audit, o -> o.checkMode(mode));
        Targets targets = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, targets);
        // a tampered table, quarantined before the rotations start
        Targets tamperedTargets = new Targets();
        CallbackTable tampered = Fixtures.writableCalcTable(registry, tamperedTargets);
        NativeTamper.flipByte(tampered, AbiV1.HEADER_SIZE + 24);
        byte[] tamperedBytes = NativeTamper.liveBytes(tampered);
        assertEquals(REFUSED, Fixtures.callNative(tampered, "inc", 1));
        for (int i = 0; i < 20; i++) {
            Fixtures.calcTable(registry, new Targets());   // more tables to re-sign per rotation
        }

        AtomicBoolean never = new AtomicBoolean();
        Dispatcher nativeSide = start("native-to-java", nativeCall(table, "inc"), 1, 2, never);
        Dispatcher javaSide = start("java-to-native", javaCall(table, "dbl"), 21, 42, never);
        MethodHandle tamperedInc = Fixtures.nativeCaller(tampered, "inc");
        Dispatcher attacker = start("attacker", x -> {
            NativeTamper.writeBytes(tampered, tamperedBytes);   // re-tamper: whatever a rotation wrote, the attacker writes again
            return (int) tamperedInc.invokeExact(x);
        }, 1, 2, never);
        awaitCondition("dispatchers under way",
                () -> nativeSide.calls.get() >= 100 && javaSide.calls.get() >= 100 && attacker.calls.get() >= 100);

        long epoch = registry.keyEpoch();
        long nativeBefore = nativeSide.calls.get();
        long javaBefore = javaSide.calls.get();
        long deadline = System.nanoTime() + BOUND.toNanos();
        int rotations = 0;
        while (rotations < 200 || ((nativeSide.calls.get() - nativeBefore < 1_000 || javaSide.calls.get() - javaBefore < 1_000)
                && System.nanoTime() < deadline)) {
            registry.rotateKey();
            rotations++;
        }
        long nativeDuring = nativeSide.calls.get() - nativeBefore;
        long javaDuring = javaSide.calls.get() - javaBefore;
        stopAll();

        assertTrue(nativeDuring >= 1_000 && javaDuring >= 1_000,
                "dispatch went on during the rotations: " + nativeDuring + " native, " + javaDuring + " Java calls");
        nativeSide.assertHealthy();
        javaSide.assertHealthy();
        attacker.assertHealthy();
        assertEquals(epoch + rotations, registry.keyEpoch());
        assertEquals(0, nativeSide.refused, "false refusals (native → Java)");
        assertEquals(0, javaSide.refused, "false refusals (Java → native): " + javaSide.violations);
        assertEquals(nativeSide.calls.get(), nativeSide.honest);
        assertEquals(javaSide.calls.get(), javaSide.honest);
        assertEquals(nativeSide.honest, targets.inc.get());
        assertEquals(javaSide.honest, targets.dbl.get());
        assertEquals(0, audit.count(table, EventType.TABLE_REFUSED), audit.toString());
        assertEquals(0, audit.count(table, EventType.TABLE_QUARANTINED));
        assertEquals(TableStatus.OPEN, table.status());

        assertEquals(0, attacker.honest, "the tampered table answered");
        assertEquals(0, tamperedTargets.total());
        assertEquals(TableStatus.QUARANTINED, tampered.status());
        registry.flushAudit();
        assertEquals(attacker.calls.get() + 1, audit.calls(tampered, EventType.TABLE_REFUSED), "every refusal is counted exactly");

        // after all that, the honest table still verifies under the newest key
        assertSame(table, registry.adopt(table.verifiedBytes(), Fixtures.CALC));
    }

    @Test
    void registryCloseUnderJavaDispatchEitherRunsOrRefusesEachCall() throws Throwable {
        registry = Fixtures.open(audit);
        Targets targets = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, targets);
        AtomicBoolean late = new AtomicBoolean();
        // Java → native calls hold their admission across the whole downcall, so they may race close()
        Dispatcher a = start("java-a", javaCall(table, "inc"), 1, 2, late);
        Dispatcher b = start("java-b", javaCall(table, "dbl"), 21, 42, late);
        awaitCondition("dispatchers under way", () -> a.calls.get() >= 500 && b.calls.get() >= 500);

        assertTimeoutPreemptively(BOUND, registry::close);
        long runsAtReturn = targets.total();
        late.set(true);
        awaitCondition("calls after close", () -> a.lateCalls.get() >= 1_000 && b.lateCalls.get() >= 1_000);
        stopAll();

        a.assertHealthy();
        b.assertHealthy();
        assertEquals(runsAtReturn, targets.total(), "a target ran after close returned");
        assertEquals(0, a.lateHonest + b.lateHonest);
        assertEquals(Set.of(Violation.REGISTRY_CLOSED), a.violations);
        assertEquals(Set.of(Violation.REGISTRY_CLOSED), b.violations);
        assertEquals(TableStatus.REGISTRY_CLOSED, table.status());
    }

    @Test
    void registryCloseWaitsForAnAdmittedCallThenRefuses() throws Throwable {
        registry = Fixtures.open(audit);
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    entered.countDown();
                    try {
                        release.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return x + 1;
                })
                .bind("dbl", IntUnaryOperator.class, x -> 2 * x)
                .build();
        MethodHandle inc = table.slotHandle("inc");
        AtomicLong inFlightResult = new AtomicLong(Long.MIN_VALUE);
        Thread inFlight = new Thread(() -> {
            try {
                inFlightResult.set((int) inc.invokeExact(41));
            } catch (Throwable e) {
                inFlightResult.set(Long.MAX_VALUE);
            }
        }, "in-flight");
        inFlight.setDaemon(true);
        inFlight.start();
        assertTrue(entered.await(BOUND.toSeconds(), TimeUnit.SECONDS));

        AtomicBoolean returned = new AtomicBoolean();
        Thread closer = new Thread(() -> {
            registry.close();
            returned.set(true);
        }, "closer");
        closer.setDaemon(true);
        closer.start();
        try {
            awaitCondition("the tables to be retired", () -> table.status() == TableStatus.REGISTRY_CLOSED);
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> {
                int ignored = (int) table.slotHandle("dbl").invokeExact(21);
            });
            assertEquals(Violation.REGISTRY_CLOSED, e.violation());
            closer.join(200);
            assertFalse(returned.get(), "close returned while a target was still running");
        } finally {
            release.countDown();
        }
        closer.join(BOUND.toMillis());
        inFlight.join(BOUND.toMillis());
        assertTrue(returned.get());
        assertEquals(42, inFlightResult.get());
    }

    /** 256 slots: minting their trampolines takes long enough for a close to arrive meanwhile. */
    static final io.tabguard.guard.Schema WIDE = wideSchema(256);

    static io.tabguard.guard.Schema wideSchema(int slots) {
        io.tabguard.guard.Schema.Builder b = io.tabguard.guard.Schema.builder("tabguard.test.wide", 1);
        for (int i = 0; i < slots; i++) {
            b.slot("f" + i, Fixtures.INT_INT, o -> o.refusal(REFUSED));
        }
        return b.build();
    }

    @Test
    void closingTheRegistryWhileACallbackBuildsATableDoesNotDeadlock() throws Throwable {
        registry = Fixtures.open(audit);
        CountDownLatch building = new CountDownLatch(1);
        AtomicLong builtOrRefused = new AtomicLong();   // 1 built, 2 refused because the registry closed
        IntUnaryOperator buildsATable = x -> {
            io.tabguard.registry.TableBuilder b = registry.builder(WIDE);
            for (int i = 0; i < 256; i++) {
                b.bind("f" + i, IntUnaryOperator.class, y -> y);
            }
            building.countDown();
            try {
                b.build();
                builtOrRefused.set(1);
            } catch (IllegalStateException closing) {
                builtOrRefused.set(2);
            }
            return x + 1;
        };
        CallbackTable table = registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, buildsATable)
                .bind("dbl", IntUnaryOperator.class, x -> 2 * x)
                .build();
        MethodHandle inc = table.slotHandle("inc");   // Java → native: admitted across the whole downcall
        AtomicLong result = new AtomicLong(Long.MIN_VALUE);
        Thread caller = new Thread(() -> {
            try {
                result.set((int) inc.invokeExact(41));
            } catch (Throwable e) {
                result.set(Long.MAX_VALUE);
            }
        }, "building-caller");
        caller.setDaemon(true);
        caller.start();
        assertTrue(building.await(BOUND.toSeconds(), TimeUnit.SECONDS));
        assertTimeoutPreemptively(BOUND, registry::close,
                "close() waits for the callback, which waits for close() to release the stamping lock");
        caller.join(BOUND.toMillis());
        assertEquals(42, result.get());
        assertNotEquals(0, builtOrRefused.get());
    }

    @Test
    void nativeCallersThatStopBeforeCloseNeverCrash() throws Throwable {
        registry = Fixtures.open(audit);
        Targets targets = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, targets);
        CallbackTable revoked = Fixtures.calcTable(registry, new Targets());
        AtomicBoolean never = new AtomicBoolean();
        Dispatcher a = start("native-a", nativeCall(table, "inc"), 1, 2, never);
        Dispatcher b = start("native-b", nativeCall(revoked, "inc"), 1, 2, never);
        awaitCondition("dispatchers under way", () -> a.calls.get() >= 500 && b.calls.get() >= 500);
        registry.revoke(revoked);
        awaitCondition("refusals", () -> b.refused > 0 || b.calls.get() > 100_000);
        // the contract: native code stops calling slot pointers before the registry closes
        stopAll();
        assertTimeoutPreemptively(BOUND, registry::close);
        a.assertHealthy();
        b.assertHealthy();
        assertEquals(0, a.refused);
        assertEquals(a.honest, targets.inc.get());
        assertTrue(b.refused > 0);
        assertEquals(TableStatus.REGISTRY_CLOSED, table.status());
        assertEquals(TableStatus.REGISTRY_CLOSED, revoked.status());
    }
}
