package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Schema;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A native slot's context binding, checked by its entry thunk: C calls an allow-listed function through
 * the slot with the bound context (the target runs) and with any other pointer (the refusal value, the
 * target never runs, the refusal counted and audited as {@code CONTEXT_MISMATCH}); the argument is found
 * in whichever integer register the ABI puts it (rdi, rsi past a double, r9). Bindings a thunk cannot
 * check are refused when the slot is bound.
 */
class NativeContextThunkTest {
    static final String SOURCE = """
            long target_runs;
            long first(void *ctx, long b) { target_runs++; return (long) ctx + 3 * b; }
            long after_double(double x, long a, void *ctx) { target_runs++; return (long) ctx + a + (long) (x * 4); }
            long sixth(long a, long b, long c, long d, long e, void *ctx) { target_runs++; return (long) ctx + a + b + c + d + e; }
            long seventh(long a, long b, long c, long d, long e, long f, void *ctx) { target_runs++; return (long) ctx + a + b + c + d + e + f; }
            """;

    @TempDir
    static Path dir;
    static Path library;
    static MemorySegment targetRuns;

    final Fixtures.Audit audit = new Fixtures.Audit();
    Registry registry;
    Arena arena;

    @BeforeAll
    static void compile() throws Exception {
        library = NativeBuilds.sharedLibrary(dir, "context_consumer", SOURCE, "-O1");
        targetRuns = SymbolLookup.libraryLookup(library, Arena.global()).find("target_runs").orElseThrow().reinterpret(8);
    }

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit, o -> o.allowLibrary(library.toString()));
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() {
        registry.close();
        arena.close();
    }

    static final FunctionDescriptor FIRST = FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG);
    static final FunctionDescriptor AFTER_DOUBLE = FunctionDescriptor.of(JAVA_LONG, JAVA_DOUBLE, JAVA_LONG, ADDRESS);
    static final FunctionDescriptor SIXTH = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
    static final FunctionDescriptor SEVENTH = FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);

    static final Schema BOUND = Schema.builder("tabguard.test.native_context", 1)
            .slot("first", FIRST, o -> o.refusal(-7L).contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
            .slot("after_double", AFTER_DOUBLE, o -> o.refusal(-8L).contextArgument(2, Schema.ContextBinding.REGISTERED_CONTEXT))
            .slot("sixth", SIXTH, o -> o.refusal(-9L).contextArgument(5, Schema.ContextBinding.PAYLOAD_ADDRESS))
            .build();

    private static long runs() {
        return targetRuns.get(JAVA_LONG, 0);
    }

    private static MethodHandle caller(CallbackTable table, String slot, FunctionDescriptor d) {
        return NativeTamper.callPointer(table.function(slot), d);
    }

    @Test
    void theBoundContextPassesAndAnyOtherIsRefusedCountedAndAudited() throws Throwable {
        MemorySegment context = arena.allocate(64);
        CallbackTable table = registry.builder(BOUND).context(context)
                .bindNative("first", "first").bindNative("after_double", "after_double").bindNative("sixth", "sixth")
                .build();
        MemorySegment payload = table.payload();
        MemorySegment other = arena.allocate(64);
        MethodHandle first = caller(table, "first", FIRST);
        MethodHandle afterDouble = caller(table, "after_double", AFTER_DOUBLE);
        MethodHandle sixth = caller(table, "sixth", SIXTH);

        long before = runs();
        assertEquals(context.address() + 3 * 5, (long) first.invokeExact(context, 5L));
        assertEquals(context.address() + 2 + 6, (long) afterDouble.invokeExact(1.5, 2L, context));
        assertEquals(payload.address() + 15, (long) sixth.invokeExact(1L, 2L, 3L, 4L, 5L, payload));
        assertEquals(before + 3, runs(), "the valid calls reached their targets");

        assertEquals(-7L, (long) first.invokeExact(other, 5L));
        assertEquals(-7L, (long) first.invokeExact(MemorySegment.NULL, 5L));
        assertEquals(-8L, (long) afterDouble.invokeExact(1.5, 2L, other));
        assertEquals(-8L, (long) afterDouble.invokeExact(1.5, 2L, payload), "the payload is not the registered context");
        assertEquals(-9L, (long) sixth.invokeExact(1L, 2L, 3L, 4L, 5L, context), "the context is not the payload");
        assertEquals(before + 3, runs(), "no refused call reached its target");

        assertEquals(5, registry.auditNativeRefusals());
        long audited = audit.of(table, EventType.TABLE_REFUSED).stream()
                .filter(e -> Violation.CONTEXT_MISMATCH.name().equals(e.violation())).mapToLong(SecurityEvent::count).sum();
        assertEquals(5, audited, "one summary of the five context refusals");
        assertEquals(context.address() + 3, (long) first.invokeExact(context, 1L), "refusals leave the table open");
    }

    @Test
    void theStateIsCheckedBeforeTheContext() throws Throwable {
        MemorySegment context = arena.allocate(64);
        CallbackTable table = registry.builder(BOUND).context(context)
                .bindNative("first", "first").bindNative("after_double", "after_double").bindNative("sixth", "sixth")
                .build();
        MethodHandle first = caller(table, "first", FIRST);
        registry.revoke(table);
        long before = runs();
        assertEquals(-7L, (long) first.invokeExact(context, 5L), "the bound context on a revoked table");
        assertEquals(before, runs());
        registry.auditNativeRefusals();
        assertEquals(java.util.List.of(Violation.REVOKED.name()), audit.of(table, EventType.TABLE_REFUSED).stream()
                .map(SecurityEvent::violation).toList(), "counted as the state's refusal, not the context's");
    }

    @Test
    void bindingsAThunkCannotCheckAreRefusedWhenBound() {
        Schema pointsTo = Schema.builder("tabguard.test.native_points_to", 1)
                .slot("first", FIRST, o -> o.refusal(-7L).contextArgumentPointsTo(0, 8))
                .build();
        var e = assertThrows(IllegalArgumentException.class, () -> registry.builder(pointsTo).bindNative("first", "first"));
        assertTrue(e.getMessage().contains("never dereferences"), e.getMessage());

        Schema seventh = Schema.builder("tabguard.test.native_seventh", 1)
                .slot("seventh", SEVENTH, o -> o.refusal(-7L).contextArgument(6, Schema.ContextBinding.REGISTERED_CONTEXT))
                .build();
        e = assertThrows(IllegalArgumentException.class, () -> registry.builder(seventh).bindNative("seventh", "seventh"));
        assertTrue(e.getMessage().contains("six integer argument registers"), e.getMessage());

        Schema unbound = Schema.builder("tabguard.test.native_unbound", 1)
                .slot("seventh", SEVENTH, o -> o.refusal(-7L))
                .build();
        assertNotNull(registry.builder(unbound).bindNative("seventh", "seventh").build(), "the same function without a binding");
    }
}
