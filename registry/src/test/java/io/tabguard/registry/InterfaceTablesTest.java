package io.tabguard.registry;

import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class InterfaceTablesTest {
    private final RecordingAuditSink audit = new RecordingAuditSink();
    private final List<SecurityEvent> events = audit.events;

    private Registry open() {
        return audit.open();
    }

    static final class Impl implements Calculator {
        final AtomicInteger touches = new AtomicInteger();

        @Override
        public int add(int a, int b) {
            return a + b;
        }

        @Override
        public long twice(long x) {
            return 2 * x;
        }

        @Override
        public MemorySegment identity(MemorySegment p) {
            return p;
        }

        @Override
        public void touch() {
            touches.incrementAndGet();
        }
    }

    @Test
    void theDerivedSchemaHasTheInterfacesShape() {
        Schema s = InterfaceSchemas.schemaOf(Calculator.class);
        assertEquals("tabguard.test.calculator", s.name());
        assertEquals(2, s.major());
        assertEquals(1, s.minor());
        assertEquals(List.of("add", "twice", "identity", "touch"), s.members().stream().map(Schema.Member::name).toList());
        Schema.Slot add = s.slots().get(0);
        assertEquals(FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), add.descriptor());
        assertEquals(-1, add.refusalValue().orElseThrow());
        assertEquals(Long.MAX_VALUE, s.slots().get(1).refusalValue().orElseThrow());
        assertEquals(MemorySegment.NULL, s.slots().get(2).refusalValue().orElseThrow());
        assertTrue(s.slots().get(3).refusalValue().isEmpty());
        assertEquals(2, s.slotCount(0));
        assertEquals(4, s.slotCount(1));
    }

    @Test
    void aProxyCallsThroughTheTableIntoTheImplementation() {
        try (Registry registry = open()) {
            Impl impl = new Impl();
            CallbackTable table = registry.table(Calculator.class, impl);
            Calculator calc = registry.proxy(Calculator.class, table);
            assertEquals(42, calc.add(40, 2));
            assertEquals(-14L, calc.twice(-7));
            assertEquals(0x1234L, calc.identity(MemorySegment.ofAddress(0x1234)).address());
            calc.touch();
            assertEquals(1, impl.touches.get());
        }
    }

    @Test
    void aProxyOfARevokedTableThrowsAndTheTargetDoesNotRun() {
        try (Registry registry = open()) {
            Impl impl = new Impl();
            CallbackTable table = registry.table(Calculator.class, impl);
            Calculator calc = registry.proxy(Calculator.class, table);
            calc.touch();
            registry.revoke(table);
            TableRejectedException e = assertThrows(TableRejectedException.class, calc::touch);
            assertEquals(Violation.REVOKED, e.violation());
            assertEquals(1, impl.touches.get());
        }
    }

    /**
     * The payload view handed to Java is read-only, so code holding it cannot swap two slots (it used to,
     * and the proxy refused afterwards; a native writer's tamper is the tests module's JavaToNativeTest).
     */
    @Test
    void thePayloadViewCannotBeWrittenAndTheProxyKeepsWorking() {
        try (Registry registry = open()) {
            Impl impl = new Impl();
            CallbackTable table = registry.table(Calculator.class, impl);
            Calculator calc = registry.proxy(Calculator.class, table);
            MemorySegment p = table.payload();
            long a = p.get(ValueLayout.JAVA_LONG, 0), b = p.get(ValueLayout.JAVA_LONG, 8);
            assertThrows(IllegalArgumentException.class, () -> p.set(ValueLayout.JAVA_LONG, 0, b));
            assertThrows(IllegalArgumentException.class, () -> p.set(ValueLayout.JAVA_LONG, 8, a));
            assertEquals(a, p.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(3, calc.add(1, 2));
            assertEquals(TableStatus.OPEN, table.status());
            assertTrue(events.stream().noneMatch(ev -> ev.type() == io.tabguard.audit.EventType.TABLE_QUARANTINED));
        }
    }

    @Test
    void aProxyOfAnotherSchemasTableIsRefused() {
        try (Registry registry = open()) {
            Schema other = Schema.builder("other", 1).slot("f", FunctionDescriptor.ofVoid()).build();
            CallbackTable table = registry.builder(other).bind("f", java.lang.invoke.MethodHandles.empty(
                    java.lang.invoke.MethodType.methodType(void.class))).build();
            assertThrows(IllegalArgumentException.class, () -> registry.proxy(Calculator.class, table));
        }
    }

    @CallbackSchema(name = "bad")
    public interface UnmappedType {
        @CallbackSlot(order = 0)
        int f(String s);
    }

    @CallbackSchema(name = "bad")
    public interface GapInOrder {
        @CallbackSlot(order = 1)
        int f();
    }

    @CallbackSchema(name = "bad")
    public interface MinorGoesBack {
        @CallbackSlot(order = 0, since = 1)
        int f();

        @CallbackSlot(order = 1, since = 0)
        int g();
    }

    @CallbackSchema(name = "bad")
    public interface BadRefusal {
        @CallbackSlot(order = 0, refusal = "minus one")
        int f();
    }

    public interface NotAnnotated {
        @CallbackSlot(order = 0)
        int f();
    }

    @CallbackSchema(name = "bad")
    public interface UnannotatedAbstract {
        @CallbackSlot(order = 0)
        int f();

        int g();
    }

    @Test
    void malformedInterfacesAreRefused() {
        for (Class<?> bad : List.of(UnmappedType.class, GapInOrder.class, MinorGoesBack.class, BadRefusal.class,
                NotAnnotated.class, UnannotatedAbstract.class)) {
            assertThrows(IllegalArgumentException.class, () -> InterfaceSchemas.schemaOf(bad), bad.getSimpleName());
        }
    }
}
