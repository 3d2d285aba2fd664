package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableBuilder;
import io.tabguard.testkit.Fixtures.Audit;
import io.tabguard.testkit.Fixtures.Targets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.function.Function;
import java.util.function.IntBinaryOperator;
import java.util.function.IntUnaryOperator;

import static io.tabguard.testkit.Fixtures.CALC;
import static io.tabguard.testkit.Fixtures.INT_INT;
import static io.tabguard.testkit.Fixtures.REFUSED;
import static io.tabguard.testkit.Fixtures.callNative;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The sealed builder refuses every incomplete or ill-typed table at the call that introduces the
 * problem, and each refusal has a valid twin that builds and dispatches.
 */
class BuilderRefusalTest {

    /** {@code struct v { int (*inc)(int); int version; int (*extra)(int); }}, {@code extra} added by minor 1. */
    static final Schema VERSIONED = Schema.builder("tabguard.test.versioned", 1)
            .slot("inc", INT_INT, o -> o.refusal(REFUSED))
            .data("version", JAVA_INT)
            .minor(1)
            .slot("extra", INT_INT, o -> o.optional().refusal(REFUSED))
            .build();

    /** A slot that returns a value but whose schema gives no refusal value. */
    static final Schema BARE = Schema.builder("tabguard.test.bare", 1).slot("f", INT_INT).build();

    private final Audit audit = new Audit();
    private final Targets targets = new Targets();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Fixtures.open(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void aCompleteTableBuildsAndDispatches() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertEquals(42, callNative(table, "inc", 41));
        assertEquals(42, callNative(table, "dbl", 21));
        assertEquals(2, targets.total());
    }

    @Test
    void aMissingRequiredSlotIsRefusedAtBuild() {
        TableBuilder b = registry.builder(CALC).bind("inc", targets.incHandle());
        IllegalStateException e = assertThrows(IllegalStateException.class, b::build);
        assertTrue(e.getMessage().contains("dbl"), e.getMessage());
        assertEquals(0, registry.openTables());
    }

    @Test
    void aMethodHandleOfAnotherTypeIsRefused() throws Exception {
        MethodHandle longToLong = MethodHandles.lookup().findStatic(Long.class, "reverse", MethodType.methodType(long.class, long.class));
        MethodHandle intsToInt = MethodHandles.lookup().findStatic(Integer.class, "sum", MethodType.methodType(int.class, int.class, int.class));
        MethodHandle boxed = MethodHandles.lookup().findStatic(Integer.class, "valueOf", MethodType.methodType(Integer.class, int.class));
        TableBuilder b = registry.builder(CALC);
        assertThrows(IllegalArgumentException.class, () -> b.bind("inc", longToLong));
        assertThrows(IllegalArgumentException.class, () -> b.bind("inc", intsToInt));
        assertThrows(IllegalArgumentException.class, () -> b.bind("inc", boxed));
        // twin: the exact type binds (the refused attempts did not occupy the slot)
        b.bind("inc", targets.incHandle()).bind("dbl", targets.dblHandle());
        assertNotNull(b.build());
    }

    @Test
    void aLambdaOfAnotherTypeIsRefused() throws Throwable {
        TableBuilder b = registry.builder(CALC);
        assertThrows(IllegalArgumentException.class, () -> b.bind("inc", IntBinaryOperator.class, Integer::sum));
        assertThrows(IllegalArgumentException.class, () -> b.bind("inc", Function.class, (Function<Integer, Integer>) x -> x + 1));
        assertThrows(IllegalArgumentException.class, () -> b.bind("inc", String.class, "not an interface"));
        // twin: a lambda of a public functional interface with exactly int(int)
        CallbackTable table = b.bind("inc", IntUnaryOperator.class, x -> x + 100)
                .bind("dbl", IntUnaryOperator.class, x -> x * 3)
                .build();
        assertEquals(105, callNative(table, "inc", 5));
        assertEquals(15, callNative(table, "dbl", 5));
    }

    @Test
    void aSlotBoundTwiceIsRefused() {
        TableBuilder b = registry.builder(CALC).bind("inc", targets.incHandle());
        assertThrows(IllegalStateException.class, () -> b.bind("inc", targets.incHandle()));
        assertThrows(IllegalStateException.class, () -> b.bind("inc", IntUnaryOperator.class, x -> x));
        // twin: the first binding stands
        CallbackTable table = b.bind("dbl", targets.dblHandle()).build();
        assertDoesNotThrow(() -> assertEquals(42, callNative(table, "inc", 41)));
    }

    @Test
    void anUnknownSlotIsRefused() {
        TableBuilder b = registry.builder(CALC);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.bind("nosuch", targets.incHandle()));
        assertTrue(e.getMessage().contains("nosuch"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> b.refusal("nosuch", 0));
        assertThrows(IllegalArgumentException.class, () -> b.data("nosuch", 1));
    }

    @Test
    void aDataMemberCannotBeBoundAndASlotCannotBeWrittenAsData() {
        TableBuilder b = registry.builder(CALC);
        assertThrows(IllegalArgumentException.class, () -> b.bind("version", targets.incHandle()));
        assertThrows(IllegalArgumentException.class, () -> b.bind("version", IntUnaryOperator.class, x -> x));
        assertThrows(IllegalArgumentException.class, () -> b.data("inc", 1));
        assertThrows(IllegalArgumentException.class, () -> b.data("version", 7L), "a Long for an int member");
    }

    @Test
    void aValueSlotWithoutAnyRefusalValueIsRefusedAtBuild() throws Throwable {
        IntUnaryOperator f = x -> x ^ 0x55;
        TableBuilder refused = registry.builder(BARE).bind("f", IntUnaryOperator.class, f);
        IllegalStateException e = assertThrows(IllegalStateException.class, refused::build);
        assertTrue(e.getMessage().contains("refusal"), e.getMessage());

        assertThrows(IllegalArgumentException.class, () -> registry.builder(BARE).refusal("f", 7L), "a Long refusal for an int slot");

        // twin: the builder supplies the refusal value, and a refused call returns exactly it
        CallbackTable table = registry.builder(BARE).bind("f", IntUnaryOperator.class, f).refusal("f", -7).build();
        assertEquals(1 ^ 0x55, callNative(table, "f", 1));
        registry.revoke(table);
        assertEquals(-7, callNative(table, "f", 1));
    }

    @Test
    void anOptionalSlotTakesItsDefaultImplementation() throws Throwable {
        CallbackTable table = Fixtures.calcTable(registry, targets);
        assertNotEquals(0, table.function("neg").address(), "the default is minted as a trampoline");
        long before = Fixtures.DEFAULT_NEGATE_CALLS.get();
        assertEquals(-9, callNative(table, "neg", 9));
        assertEquals(before + 1, Fixtures.DEFAULT_NEGATE_CALLS.get());
        // the default is guarded like any slot
        registry.revoke(table);
        assertEquals(REFUSED, callNative(table, "neg", 9));
        assertEquals(before + 1, Fixtures.DEFAULT_NEGATE_CALLS.get());
    }

    @Test
    void anOptionalSlotWithoutDefaultIsNull() {
        CallbackTable table = registry.builder(VERSIONED).bind("inc", targets.incHandle()).build();
        assertEquals(MemorySegment.NULL, table.function("extra"));
        assertEquals(0L, NativeTamper.readSlot(table, "extra").address(), "the live struct holds NULL too");
    }

    @Test
    void aDataMemberIsWrittenAtItsOffset() {
        CallbackTable table = registry.builder(VERSIONED).bind("inc", targets.incHandle()).data("version", 0x1234_5678).build();
        long offset = VERSIONED.member("version").orElseThrow().offset();
        assertEquals(0x1234_5678, table.payload().get(JAVA_INT, offset));
        // and it is covered by the stamp: the verified bytes hold it too
        assertEquals(0x1234_5678, MemorySegment.ofArray(table.verifiedBytes()).get(io.tabguard.guard.AbiV1.LE_INT, 128 + offset));
    }

    @Test
    void aBuilderBuildsOnce() {
        TableBuilder b = registry.builder(CALC).bind("inc", targets.incHandle()).bind("dbl", targets.dblHandle());
        CallbackTable first = b.build();
        assertThrows(IllegalStateException.class, b::build);
        assertEquals(1, registry.openTables());
        assertNotNull(first);
    }

    @Test
    void anOlderMinorBuildsTheSmallerStruct() throws Throwable {
        assertTrue(VERSIONED.payloadSize(0) < VERSIONED.payloadSize(1));

        CallbackTable old = registry.builder(VERSIONED).minor(0).bind("inc", targets.incHandle()).data("version", 3).build();
        assertEquals(0, old.minor());
        assertEquals(VERSIONED.payloadSize(0), old.payload().byteSize());
        assertEquals(128 + VERSIONED.payloadSize(0), old.verifiedBytes().length);
        assertThrows(IllegalArgumentException.class, () -> old.function("extra"), "minor 0 has no extra slot");
        assertEquals(42, callNative(old, "inc", 41));

        CallbackTable current = registry.builder(VERSIONED).bind("inc", targets.incHandle()).build();
        assertEquals(VERSIONED.payloadSize(1), current.payload().byteSize());

        // a member of a later minor cannot be bound or written at minor 0
        TableBuilder tooNew = registry.builder(VERSIONED).minor(0).bind("inc", targets.incHandle()).bind("extra", targets.dblHandle());
        assertThrows(IllegalStateException.class, tooNew::build);
        assertThrows(IllegalArgumentException.class, () -> registry.builder(VERSIONED).minor(2));
        assertThrows(IllegalArgumentException.class, () -> registry.builder(VERSIONED).minor(-1));
    }

    @Test
    void anAllowListedSymbolIsCalledThroughAValidatedDowncall() throws Throwable {
        try (Registry withLibc = Fixtures.open(audit, o -> o.allowLibrary("libc.so.6"))) {
            CallbackTable table = withLibc.builder(CALC).writable().bindNative("inc", "abs").bind("dbl", targets.dblHandle()).build();
            assertEquals(5, (int) table.slotHandle("inc").invokeExact(-5));
            assertEquals(-10, (int) table.slotHandle("dbl").invokeExact(-5));
            // a tampered table: the validated downcall refuses before reaching abs
            NativeTamper.flipByte(table, 128 + 24);   // the data member
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> {
                int ignored = (int) table.slotHandle("inc").invokeExact(-5);
            });
            assertEquals(Violation.CHECKSUM, e.violation());

            // a symbol the allow-listed libraries do not export
            assertThrows(IllegalArgumentException.class,
                    () -> withLibc.builder(CALC).bindNative("inc", "tabguard_test_no_such_symbol"));
            assertThrows(IllegalArgumentException.class, () -> withLibc.builder(CALC).bindNative("version", "abs"));
        }
    }

    @Test
    void aSymbolOfNoAllowListedLibraryIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> registry.builder(CALC).bindNative("inc", "abs"));
        assertTrue(e.getMessage().contains("abs"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Fixtures.open(audit, o -> o.allowLibrary("libtabguard-test-does-not-exist.so.9")).close());
    }
}
