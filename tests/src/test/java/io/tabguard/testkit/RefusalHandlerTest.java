package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntUnaryOperator;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static io.tabguard.testkit.Fixtures.callNative;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Refusal handlers ({@link TableBuilder#refuseWith}): the embedder's handler answers a refused call
 * instead of the constant, is told the violation, never runs on an accepted call, never sees the target
 * run, and is contained like a target (a throwing handler is audited and the constant is returned).
 */
class RefusalHandlerTest {
    /** What the handler answers: a value no target returns, naming the violation. */
    static int answerFor(Violation v) {
        return 1_000 + v.code();
    }

    final Queue<Violation> seen = new ConcurrentLinkedQueue<>();
    final AtomicLong targetRuns = new AtomicLong();
    private Fixtures.Audit audit;
    private Registry registry;

    int handle(Violation v, int x) {
        seen.add(v);
        return answerFor(v);
    }

    int handleWithContext(Violation v, int a, MemorySegment context, int b) {
        seen.add(v);
        return answerFor(v);
    }

    @BeforeEach
    void open() {
        audit = new Fixtures.Audit();
        registry = Fixtures.open(audit, o -> o.writableTables());   // the tamper case plays a native writer
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private MethodHandle handler(String name, MethodType type) throws ReflectiveOperationException {
        return MethodHandles.lookup().findVirtual(RefusalHandlerTest.class, name, type).bindTo(this);
    }

    private CallbackTable table(MethodHandle incHandler) {
        return registry.builder(Fixtures.CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    targetRuns.incrementAndGet();
                    return x + 1;
                })
                .bind("dbl", IntUnaryOperator.class, x -> 2 * x)
                .refuseWith("inc", incHandler)
                .build();
    }

    private CallbackTable table() throws ReflectiveOperationException {
        return table(handler("handle", MethodType.methodType(int.class, Violation.class, int.class)));
    }

    @Test
    void anOpenTableNeverCallsTheHandler() throws Throwable {
        CallbackTable t = table();
        assertEquals(42, callNative(t, "inc", 41));
        assertEquals(1, targetRuns.get());
        assertEquals(List.of(), List.copyOf(seen));
    }

    @Test
    void aTamperedTableAnswersThroughTheHandlerNamingTheViolation() throws Throwable {
        CallbackTable t = table();
        NativeTamper.flipByte(t, AbiV1.OFFSET_SERIAL);
        assertEquals(answerFor(Violation.CHECKSUM), callNative(t, "inc", 41));
        assertEquals(answerFor(Violation.QUARANTINED), callNative(t, "inc", 41), "quarantined from then on");
        assertEquals(REFUSED, callNative(t, "dbl", 21), "a slot without a handler returns its constant");
        assertEquals(List.of(Violation.CHECKSUM, Violation.QUARANTINED), List.copyOf(seen));
        assertEquals(0, targetRuns.get(), "the handler never saw the target run");
    }

    @Test
    void aRevokedTableAnswersThroughTheHandler() throws Throwable {
        CallbackTable t = table();
        assertEquals(42, callNative(t, "inc", 41));
        registry.revoke(t);
        assertEquals(answerFor(Violation.REVOKED), callNative(t, "inc", 41));
        assertEquals(List.of(Violation.REVOKED), List.copyOf(seen));
        assertEquals(1, targetRuns.get(), "only the call before the revoke ran the target");
        registry.flushAudit();
        assertEquals(1, audit.calls(t, EventType.TABLE_REFUSED), "the handled refusal is still audited");
    }

    @Test
    void aContextMismatchAnswersThroughTheHandler() throws Throwable {
        FunctionDescriptor mid = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        Schema schema = Schema.builder("tabguard.test.handled_context", 1)
                .slot("mid", mid, o -> o.contextArgument(1, Schema.ContextBinding.PAYLOAD_ADDRESS).refusal(-1))
                .build();
        AtomicLong runs = new AtomicLong();
        CallbackTable t = registry.builder(schema)
                .bind("mid", countingIdentity(runs))
                .refuseWith("mid", handler("handleWithContext",
                        MethodType.methodType(int.class, Violation.class, int.class, MemorySegment.class, int.class)))
                .build();
        MethodHandle caller = NativeTamper.callPointer(t.function("mid"), mid);
        assertEquals(7, (int) caller.invokeExact(7, t.payload(), 0), "the bound context: the target answers");
        assertEquals(answerFor(Violation.CONTEXT_MISMATCH), (int) caller.invokeExact(7, MemorySegment.NULL, 0));
        assertEquals(List.of(Violation.CONTEXT_MISMATCH), List.copyOf(seen));
        assertEquals(1, runs.get());
    }

    static final class Counting {
        final AtomicLong runs;

        Counting(AtomicLong runs) {
            this.runs = runs;
        }

        int mid(int a, MemorySegment context, int b) {
            runs.incrementAndGet();
            return a;
        }
    }

    private static MethodHandle countingIdentity(AtomicLong runs) throws ReflectiveOperationException {
        return MethodHandles.lookup().findVirtual(Counting.class, "mid",
                MethodType.methodType(int.class, int.class, MemorySegment.class, int.class)).bindTo(new Counting(runs));
    }

    static int throwingHandler(Violation v, int x) {
        throw new IllegalStateException("handler failed for " + v);
    }

    @Test
    void aThrowingHandlerFallsBackToTheConstantAndIsAudited() throws Throwable {
        CallbackTable t = table(MethodHandles.lookup().findStatic(RefusalHandlerTest.class, "throwingHandler",
                MethodType.methodType(int.class, Violation.class, int.class)));
        registry.revoke(t);
        assertEquals(REFUSED, callNative(t, "inc", 41));
        assertEquals(REFUSED, callNative(t, "inc", 41));
        assertEquals(0, targetRuns.get());
        List<SecurityEvent> threw = audit.of(t, EventType.CALLBACK_THREW);
        assertEquals(1, threw.size(), audit.toString());
        assertTrue(threw.getFirst().detail().contains("refusal handler") && threw.getFirst().detail().contains("IllegalStateException"),
                threw.getFirst().detail());
        registry.flushAudit();
        assertEquals(2, audit.calls(t, EventType.CALLBACK_THREW), audit.toString());
        assertEquals(2, audit.calls(t, EventType.TABLE_REFUSED), "both calls were refusals too");
    }

    @Test
    void theBuilderRefusesAHandlerOfTheWrongTypeOrTwice() throws Throwable {
        TableBuilder b = registry.builder(Fixtures.CALC);
        MethodHandle withoutViolation = MethodHandles.identity(int.class);
        assertThrows(IllegalArgumentException.class, () -> b.refuseWith("inc", withoutViolation));
        MethodHandle ok = handler("handle", MethodType.methodType(int.class, Violation.class, int.class));
        b.refuseWith("inc", ok);
        assertThrows(IllegalStateException.class, () -> b.refuseWith("inc", ok));
        assertThrows(IllegalArgumentException.class, () -> b.refuseWith("nope", ok));
    }
}
