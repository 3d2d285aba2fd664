package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.Schema;
import io.tabguard.guard.Schema.ContextBinding;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.testkit.Fixtures.Audit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A slot whose context argument must be the table's own payload (or its registered context): a
 * counterfeit struct that copies our valid trampoline pointers (the COOP pattern) is refused.
 */
class ContextBindingTest {
    static final FunctionDescriptor CTX_INT = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
    static final int REFUSED = -1;

    /** {@code struct ops { int (*self)(struct ops *, int); int (*cookie)(void *cookie, int); }} */
    static final Schema OPS = Schema.builder("tabguard.test.ops", 1)
            .slot("self", CTX_INT, o -> o.contextArgument(0, ContextBinding.PAYLOAD_ADDRESS).refusal(REFUSED))
            .slot("cookie", CTX_INT, o -> o.contextArgument(0, ContextBinding.REGISTERED_CONTEXT).refusal(REFUSED))
            .build();

    private final Audit audit = new Audit();
    private final AtomicLong runs = new AtomicLong();
    private Registry registry;
    private Arena arena;

    int target(MemorySegment context, int x) {
        runs.incrementAndGet();
        return x + 1;
    }

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit);
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() {
        registry.close();
        arena.close();
    }

    private CallbackTable table(MemorySegment cookie) throws ReflectiveOperationException {
        MethodHandle target = MethodHandles.lookup().findVirtual(ContextBindingTest.class, "target",
                MethodType.methodType(int.class, MemorySegment.class, int.class)).bindTo(this);
        return registry.builder(OPS).bind("self", target).bind("cookie", target).context(cookie).build();
    }

    private static int callNative(MemorySegment function, MemorySegment context, int x) throws Throwable {
        return (int) NativeTamper.callPointer(function, CTX_INT).invokeExact(context, x);
    }

    @Test
    void theRightContextIsAccepted() throws Throwable {
        MemorySegment cookie = arena.allocate(16);
        CallbackTable table = table(cookie);
        assertEquals(42, callNative(table.function("self"), table.payload(), 41));
        assertEquals(42, callNative(table.function("cookie"), cookie, 41));
        // and from Java, through the validated downcall
        assertEquals(8, (int) table.slotHandle("self").invokeExact(table.payload(), 7));
        assertEquals(3, runs.get());
        assertEquals(0, audit.count(table, EventType.TABLE_REFUSED));
    }

    @Test
    void aCounterfeitStructReusingValidTrampolinesIsRefused() throws Throwable {
        MemorySegment cookie = arena.allocate(16);
        CallbackTable table = table(cookie);

        // native code builds its own struct holding copies of our valid pointers, and hands that around
        MemorySegment counterfeit = arena.allocate(table.payload().byteSize(), 8);
        counterfeit.set(JAVA_LONG, OPS.member("self").orElseThrow().offset(), table.function("self").address());
        counterfeit.set(JAVA_LONG, OPS.member("cookie").orElseThrow().offset(), table.function("cookie").address());
        MemorySegment fromCounterfeit = MemorySegment.ofAddress(counterfeit.get(JAVA_LONG, 0));
        assertEquals(table.function("self"), fromCounterfeit, "the counterfeit holds the genuine trampoline");

        assertEquals(REFUSED, callNative(fromCounterfeit, counterfeit, 41));
        assertEquals(REFUSED, callNative(table.function("cookie"), counterfeit, 41));
        assertEquals(REFUSED, callNative(table.function("cookie"), table.payload(), 41), "the payload is not the cookie");
        assertEquals(REFUSED, callNative(table.function("self"), MemorySegment.NULL, 41));
        assertEquals(0, runs.get(), "no target ran");
        assertEquals(List.of("CONTEXT_MISMATCH"), audit.violations(table, EventType.TABLE_REFUSED), audit.toString());
        registry.flushAudit();
        assertEquals(java.util.Map.of("CONTEXT_MISMATCH", 4L), audit.callsByViolation(table, EventType.TABLE_REFUSED), audit.toString());

        // the genuine struct still works (the counterfeit did not touch it)
        assertEquals(42, callNative(table.function("self"), table.payload(), 41));
        assertEquals(1, runs.get());
    }

    @Test
    void anotherTablesPayloadIsNotThisTablesContext() throws Throwable {
        CallbackTable a = table(arena.allocate(8));
        CallbackTable b = table(arena.allocate(8));
        assertEquals(REFUSED, callNative(a.function("self"), b.payload(), 1));
        assertEquals(REFUSED, callNative(b.function("self"), a.payload(), 1));
        assertEquals(0, runs.get());
        assertEquals(2, callNative(a.function("self"), a.payload(), 1));
        assertEquals(2, callNative(b.function("self"), b.payload(), 1));
    }
}
