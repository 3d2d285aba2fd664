package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.Schema.ContextBinding;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import io.tabguard.testkit.Fixtures.Audit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/** Trampolines of every shape a slot can have: void, pointer, double and long slots, a context argument in the middle. */
class SlotTypesTest {
    static final FunctionDescriptor VOID_INT = FunctionDescriptor.ofVoid(JAVA_INT);
    static final FunctionDescriptor PTR_PTR = FunctionDescriptor.of(ADDRESS, ADDRESS);
    static final FunctionDescriptor DBL_DBL = FunctionDescriptor.of(JAVA_DOUBLE, JAVA_DOUBLE);
    static final FunctionDescriptor LONG_LONG_LONG = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG);
    static final FunctionDescriptor INT_INT_PTR_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);

    static final Schema MIXED = Schema.builder("tabguard.test.mixed", 3)
            .slot("notify", VOID_INT)
            .slot("lookup", PTR_PTR, o -> o.refusal(MemorySegment.NULL))
            .slot("scale", DBL_DBL, o -> o.refusal(-1.0))
            .slot("sum", LONG_LONG_LONG, o -> o.refusal(Long.MIN_VALUE))
            .slot("mid", INT_INT_PTR_INT, o -> o.contextArgument(1, ContextBinding.PAYLOAD_ADDRESS).refusal(-1))
            .data("flags", JAVA_BYTE)
            .data("tag", JAVA_LONG)
            .build();

    private final Audit audit = new Audit();
    private final AtomicLong runs = new AtomicLong();
    private final AtomicLong notified = new AtomicLong();
    private Registry registry;

    void notify(int x) {
        runs.incrementAndGet();
        if (x < 0) {
            throw new IllegalArgumentException("negative");
        }
        notified.addAndGet(x);
    }

    MemorySegment lookup(MemorySegment p) {
        runs.incrementAndGet();
        return MemorySegment.ofAddress(p.address() + 16);
    }

    double scale(double d) {
        runs.incrementAndGet();
        return d * 2.5;
    }

    long sum(long a, long b) {
        runs.incrementAndGet();
        return a + b;
    }

    int mid(int a, MemorySegment context, int b) {
        runs.incrementAndGet();
        return a * 100 + b;
    }

    private MethodHandle handle(String name, FunctionDescriptor d) throws ReflectiveOperationException {
        return MethodHandles.lookup().findVirtual(SlotTypesTest.class, name, d.toMethodType()).bindTo(this);
    }

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private CallbackTable table() throws ReflectiveOperationException {
        return table(false);
    }

    /** @param writable for the test that plays a native writer on every byte */
    private CallbackTable table(boolean writable) throws ReflectiveOperationException {
        io.tabguard.registry.TableBuilder b = registry.builder(MIXED);
        if (writable) {
            b.writable();
        }
        return b
                .bind("notify", handle("notify", VOID_INT))
                .bind("lookup", handle("lookup", PTR_PTR))
                .bind("scale", handle("scale", DBL_DBL))
                .bind("sum", handle("sum", LONG_LONG_LONG))
                .bind("mid", handle("mid", INT_INT_PTR_INT))
                .data("flags", (byte) 0x5A)
                .data("tag", 0x1122_3344_5566_7788L)
                .build();
    }

    private static MethodHandle nativeCaller(CallbackTable t, String slot, FunctionDescriptor d) {
        return NativeTamper.callPointer(t.function(slot), d);
    }

    @Test
    void everyShapeDispatchesHonestly() throws Throwable {
        CallbackTable t = table();
        nativeCaller(t, "notify", VOID_INT).invokeExact(5);
        assertEquals(5, notified.get());
        MemorySegment p = (MemorySegment) nativeCaller(t, "lookup", PTR_PTR).invokeExact(MemorySegment.ofAddress(0x1000));
        assertEquals(0x1010, p.address());
        assertEquals(5.0, (double) nativeCaller(t, "scale", DBL_DBL).invokeExact(2.0));
        assertEquals(Long.MAX_VALUE, (long) nativeCaller(t, "sum", LONG_LONG_LONG).invokeExact(Long.MAX_VALUE - 1, 1L));
        assertEquals(307, (int) nativeCaller(t, "mid", INT_INT_PTR_INT).invokeExact(3, t.payload(), 7));
        assertEquals(307, (int) t.slotHandle("mid").invokeExact(3, t.payload(), 7));
        assertEquals(6, runs.get());

        assertEquals((byte) 0x5A, t.payload().get(JAVA_BYTE, MIXED.member("flags").orElseThrow().offset()));
        assertEquals(0x1122_3344_5566_7788L, t.payload().get(JAVA_LONG, MIXED.member("tag").orElseThrow().offset()));
    }

    @Test
    void everyShapeReturnsItsRefusalValue() throws Throwable {
        CallbackTable t = table();
        registry.revoke(t);
        nativeCaller(t, "notify", VOID_INT).invokeExact(5);
        assertEquals(MemorySegment.NULL, (MemorySegment) nativeCaller(t, "lookup", PTR_PTR).invokeExact(MemorySegment.ofAddress(0x1000)));
        assertEquals(-1.0, (double) nativeCaller(t, "scale", DBL_DBL).invokeExact(2.0));
        assertEquals(Long.MIN_VALUE, (long) nativeCaller(t, "sum", LONG_LONG_LONG).invokeExact(1L, 1L));
        assertEquals(-1, (int) nativeCaller(t, "mid", INT_INT_PTR_INT).invokeExact(3, t.payload(), 7));
        assertEquals(0, runs.get());
        registry.flushAudit();
        assertEquals(5, audit.calls(t, EventType.TABLE_REFUSED), audit.toString());
        TableRejectedException e = assertThrows(TableRejectedException.class,
                () -> {
                    t.slotHandle("notify").invokeExact(1);
                });
        assertEquals(Violation.REVOKED, e.violation());
    }

    @Test
    void aContextArgumentInTheMiddleIsChecked() throws Throwable {
        CallbackTable t = table();
        CallbackTable other = table();
        assertEquals(-1, (int) nativeCaller(t, "mid", INT_INT_PTR_INT).invokeExact(3, other.payload(), 7));
        assertEquals(-1, (int) nativeCaller(t, "mid", INT_INT_PTR_INT).invokeExact(3, MemorySegment.NULL, 7));
        assertEquals(0, runs.get());
        registry.flushAudit();
        assertEquals(java.util.Map.of("CONTEXT_MISMATCH", 2L), audit.callsByViolation(t, EventType.TABLE_REFUSED));
        assertEquals(307, (int) nativeCaller(t, "mid", INT_INT_PTR_INT).invokeExact(3, t.payload(), 7));
    }

    @Test
    void aThrowingVoidCallbackIsContained() throws Throwable {
        CallbackTable t = table();
        nativeCaller(t, "notify", VOID_INT).invokeExact(-1);
        assertEquals(1, audit.count(t, EventType.CALLBACK_THREW));
        nativeCaller(t, "notify", VOID_INT).invokeExact(4);
        assertEquals(4, notified.get());
        assertEquals(TableStatus.OPEN, t.status());
    }

    @Test
    void everyByteOfTheWiderTableIsGuarded() throws Throwable {
        long size = AbiV1.HEADER_SIZE + MIXED.payloadSize(0);
        List<String> wrong = new ArrayList<>();
        for (long offset = 0; offset < size; offset++) {
            CallbackTable t = table(true);
            NativeTamper.flipByte(t, offset);
            double r = (double) nativeCaller(t, "scale", DBL_DBL).invokeExact(2.0);
            if (r != -1.0 || t.status() != TableStatus.QUARANTINED) {
                wrong.add("offset " + offset + ": " + r + " " + t.status());
            }
            t.close();
        }
        assertEquals(0, runs.get());
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }
}
