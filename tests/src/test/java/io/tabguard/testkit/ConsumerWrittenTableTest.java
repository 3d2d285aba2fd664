package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A table whose consumer writes one member (as {@code sqlite3_vfs_register} writes {@code pNext}): it is
 * built in writable memory, and the per-call compare, the full checks on the slow path, key rotation and
 * import all leave exactly that member's 8 bytes out, and nothing else.
 */
class ConsumerWrittenTableTest {
    static final Schema LINKED = Schema.builder("tabguard.test.linked", 1)
            .data("iVersion", ValueLayout.JAVA_INT)
            .consumerWritten("pNext")
            .slot("f", Fixtures.INT_INT, o -> o.refusal(Fixtures.REFUSED))
            .build();
    static final long P_NEXT = AbiV1.HEADER_SIZE + LINKED.member("pNext").orElseThrow().offset();
    static final long LINKED_ADDRESS = 0x7f12_3456_7890L;

    private final Fixtures.Audit audit = new Fixtures.Audit();
    private final AtomicInteger calls = new AtomicInteger();
    private Registry registry;

    int f(int x) {
        calls.incrementAndGet();
        return x + 1;
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
        MethodHandle f = MethodHandles.lookup().findVirtual(ConsumerWrittenTableTest.class, "f",
                MethodType.methodType(int.class, int.class)).bindTo(this);
        return registry.builder(LINKED).data("iVersion", 3).bind("f", f).build();
    }

    private static void consumerWrites(CallbackTable t, long value) {
        NativeTamper.liveTable(t).set(ValueLayout.JAVA_LONG_UNALIGNED, P_NEXT, value);
    }

    @Test
    void theTableIsWritableAndTheBuilderCannotSetTheMember() throws Exception {
        CallbackTable t = table();
        String permissions = ReadOnlyTableMemoryTest.mappingOf(t.payload().address()).orElseThrow().permissions();
        assertEquals('w', permissions.charAt(1), "a consumer-written table lives in writable memory: " + permissions);
        assertThrows(IllegalArgumentException.class, () -> registry.builder(LINKED).data("pNext", MemorySegment.ofAddress(8)));
    }

    @Test
    void theConsumersWriteIsIgnoredByEveryCheckAndSurvivesRotation() throws Throwable {
        CallbackTable t = table();
        consumerWrites(t, LINKED_ADDRESS);

        assertEquals(42, Fixtures.callNative(t, "f", 41));
        assertEquals(TableStatus.OPEN, t.status());
        registry.rotateKey();
        assertEquals(LINKED_ADDRESS, NativeTamper.liveTable(t).get(ValueLayout.JAVA_LONG_UNALIGNED, P_NEXT),
                "rotation must not overwrite what the consumer wrote");
        assertEquals(42, Fixtures.callNative(t, "f", 41));
        // the slow path's full checks, and the import of the native pointer, accept it too
        assertSame(t, registry.adopt(t.payload(), t.payload().byteSize(), LINKED));
        consumerWrites(t, 0);   // the consumer unlinks it again (sqlite3_vfs_unregister)
        assertEquals(42, Fixtures.callNative(t, "f", 41));
        assertEquals(3, calls.get());
        assertEquals(TableStatus.OPEN, t.status());
        assertEquals(0, audit.count(t, EventType.TABLE_QUARANTINED));
        assertEquals(0, audit.count(t, EventType.TABLE_REFUSED));
    }

    @Test
    void aWriteOneByteBesideTheMemberIsCaught() throws Throwable {
        for (long offset : new long[]{P_NEXT - 1, P_NEXT + 8}) {
            CallbackTable t = table();
            NativeTamper.flipByte(t, offset);
            assertEquals(Fixtures.REFUSED, Fixtures.callNative(t, "f", 41), "byte " + offset);
            assertEquals(TableStatus.QUARANTINED, t.status(), "byte " + offset);
            assertEquals(1, audit.count(t, EventType.TABLE_QUARANTINED));
        }
        assertEquals(0, calls.get());
    }
}
