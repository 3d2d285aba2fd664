package io.tabguard.registry;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 17's schema confusion: two schemas with equal name, major and minor-0 members share a schema id,
 * yet a table of one must not be adopted (or proxied) as the other where their members differ. Each
 * attack has its valid twin: the same schema at an older or newer minor is still accepted, as a table
 * whose {@code schema()} is the caller's.
 */
class SameIdSchemasTest extends WithRegistry {
    static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    static final FunctionDescriptor PTR_PTR = FunctionDescriptor.of(ADDRESS, ADDRESS);

    /** Minor 0 {@code base@0 version@8}; minor 1 {@code hook@16: int (*)(int)}; minor 2 {@code extra@24}. */
    static final Schema A = Schema.builder("issue17.confusion", 1)
            .slot("base", INT_INT, o -> o.refusal(-1)).data("version", JAVA_INT)
            .minor(1).slot("hook", INT_INT, o -> o.refusal(-1))
            .minor(2).slot("extra", INT_INT, o -> o.optional().refusal(-1))
            .build();
    /** The same minor 0; minor 1 {@code hook@16: void *(*)(void *)}. */
    static final Schema B = Schema.builder("issue17.confusion", 1)
            .slot("base", INT_INT, o -> o.refusal(-1)).data("version", JAVA_INT)
            .minor(1).slot("hook", PTR_PTR, o -> o.refusal(MemorySegment.NULL))
            .build();



    static int plusOne(int x) {
        return x + 1;
    }

    static int timesTwo(int x) {
        return 2 * x;
    }

    static MemorySegment same(MemorySegment p) {
        return p;
    }

    private static MethodHandle handle(String name, MethodType type) {
        try {
            return MethodHandles.lookup().findStatic(SameIdSchemasTest.class, name, type);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private static final MethodHandle PLUS_ONE = handle("plusOne", INT_INT.toMethodType());
    private static final MethodHandle TIMES_TWO = handle("timesTwo", INT_INT.toMethodType());
    private static final MethodHandle SAME = handle("same", PTR_PTR.toMethodType());

    private CallbackTable tableOfA(int minor) {
        TableBuilder b = registry.builder(A).minor(minor).bind("base", PLUS_ONE).data("version", 7);
        return minor >= 1 ? b.bind("hook", TIMES_TWO).build() : b.build();
    }

    private static Violation refused(Executable adoption) {
        return assertThrows(TableRejectedException.class, adoption).violation();
    }

    @Test
    void theTwoSchemasShareAnIdAndDifferAtMinor1() {
        assertAll(
                () -> assertEquals(A.id(), B.id(), "the premise of the attack: equal name, major and minor-0 members"),
                () -> assertEquals(A.member("hook").orElseThrow().offset(), B.member("hook").orElseThrow().offset()),
                () -> assertEquals(A.layoutId(0), B.layoutId(0), "minor 0 is the same members"),
                () -> assertNotEquals(A.layoutId(1), B.layoutId(1), "minor 1 is not"));
    }

    @Test
    void aMinor1TableOfAIsNotAdoptedAsB() {
        CallbackTable a = tableOfA(1);
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(a.verifiedBytes(), B)));
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(
                MemorySegment.ofAddress(a.payload().address()), a.payload().byteSize(), B)));
        assertTrue(audit.events.stream().anyMatch(e -> "LAYOUT_MISMATCH".equals(e.violation()) && e.tableSerial() == a.serial()),
                "the refusal is audited");
        assertEquals(TableStatus.OPEN, a.status(), "a refused import does not harm the table");
    }

    @Test
    void validTwinAMinor1TableIsAdoptedAsAAndABTableAsB() {
        CallbackTable a = tableOfA(1);
        assertSame(a, registry.adopt(a.verifiedBytes(), A));
        CallbackTable b = registry.builder(B).bind("base", PLUS_ONE).bind("hook", SAME).data("version", 7).build();
        CallbackTable adopted = registry.adopt(b.verifiedBytes(), B);
        assertSame(b, adopted);
        assertEquals(B, adopted.schema());
    }

    @Test
    void aMinor2TableOfANewerThanTheCallerIsNotAdoptedAsBAtMinor1() {
        // The header's layout id hashes a minor B has never seen, so the verifier cannot compare it: the
        // registry's record of the schema it built the table with must.
        CallbackTable a = tableOfA(2);
        assertEquals(2, a.minor());
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(a.verifiedBytes(), B)));
    }

    @Test
    void validTwinAMinor2TableIsAdoptedByAMinor1CallerOfAAsAView() throws Throwable {
        CallbackTable a = tableOfA(2);
        Schema caller = A.atMinor(1);
        CallbackTable adopted = registry.adopt(a.verifiedBytes(), caller);
        assertAll(
                () -> assertEquals(caller, adopted.schema(), "schema() is the caller's"),
                () -> assertEquals(1, adopted.minor(), "the members the caller sees"),
                () -> assertEquals(a.serial(), adopted.serial()),
                () -> assertEquals(a.payload().address(), adopted.payload().address()),
                () -> assertArrayEquals(a.verifiedBytes(), adopted.verifiedBytes()),
                () -> assertEquals(a.function("hook"), adopted.function("hook")),
                () -> assertEquals(42, (int) adopted.slotHandle("hook").invokeExact(21)),
                () -> assertThrows(IllegalArgumentException.class, () -> adopted.function("extra"), "minor 2 is not the caller's"));
        registry.revoke(adopted);
        assertEquals(TableStatus.REVOKED, a.status(), "a view is the same table: revoking it revokes the table");
    }

    @Test
    void validTwinAMinor0TableOfAIsAdoptedAsBForBKnowsOnlyTheSharedMembersAtMinor0() {
        CallbackTable a = tableOfA(0);
        CallbackTable adopted = registry.adopt(a.verifiedBytes(), B);
        assertAll(
                () -> assertEquals(B, adopted.schema()),
                () -> assertEquals(0, adopted.minor()),
                () -> assertEquals(a.serial(), adopted.serial()));
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(tableOfA(1).verifiedBytes(), B)),
                "and once minor 1 is in the table, it is refused");
    }

    @Test
    void aTableWhoseSlotIsOptionalIsNotAdoptedByACallerThatRequiresIt() {
        Schema optionalHook = Schema.builder("issue17.confusion", 1)
                .slot("base", INT_INT, o -> o.refusal(-1)).data("version", JAVA_INT)
                .minor(1).slot("hook", INT_INT, o -> o.optional().refusal(-1))
                .build();
        assertEquals(optionalHook.layoutId(1), A.layoutId(1), "the same struct: slot options are not layout");
        CallbackTable t = registry.builder(optionalHook).bind("base", PLUS_ONE).build();
        assertEquals(0, t.function("hook").address(), "the hook is null");
        assertEquals(Violation.NULL_REQUIRED_SLOT, refused(() -> registry.adopt(t.verifiedBytes(), A.atMinor(1))));
        assertSame(t, registry.adopt(t.verifiedBytes(), optionalHook), "the valid twin: the schema it was built with");
        CallbackTable bound = registry.builder(optionalHook).bind("base", PLUS_ONE).bind("hook", TIMES_TWO).build();
        assertEquals(A.atMinor(1), registry.adopt(bound.verifiedBytes(), A.atMinor(1)).schema(),
                "the other valid twin: the optional slot is bound, so the caller's promise holds");
    }

    @Test
    void aTableWhoseTrampolinesDoNotCheckTheContextTheCallerBindsIsNotAdopted() {
        Schema bindsContext = Schema.builder("issue17.context", 1)
                .slot("same", PTR_PTR, o -> o.refusal(MemorySegment.NULL).contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS))
                .build();
        Schema unbound = Schema.builder("issue17.context", 1).slot("same", PTR_PTR, o -> o.refusal(MemorySegment.NULL)).build();
        assertEquals(bindsContext.layoutId(0), unbound.layoutId(0));
        CallbackTable loose = registry.builder(unbound).bind("same", SAME).build();
        CallbackTable strict = registry.builder(bindsContext).bind("same", SAME).build();
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(loose.verifiedBytes(), bindsContext)));
        assertSame(strict, registry.adopt(strict.verifiedBytes(), bindsContext), "valid twin: the schema it was built with");
        assertEquals(strict.serial(), registry.adopt(strict.verifiedBytes(), unbound).serial(),
                "valid twin: a table that checks more than the caller asks");
    }

    @Test
    void aTableThatReadsThePayloadPointerAtAnotherOffsetIsNotAdopted() {
        Schema atZero = Schema.builder("issue17.pointed", 1)
                .slot("same", PTR_PTR, o -> o.refusal(MemorySegment.NULL).contextArgumentPointsTo(0, 0)).build();
        Schema atEight = Schema.builder("issue17.pointed", 1)
                .slot("same", PTR_PTR, o -> o.refusal(MemorySegment.NULL).contextArgumentPointsTo(0, 8)).build();
        assertEquals(atZero.id(), atEight.id(), "bindings are policy, not part of the schema id");
        assertEquals(atZero.layoutId(0), atEight.layoutId(0), "nor of the layout id");
        CallbackTable t = registry.builder(atEight).bind("same", SAME).build();
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(t.verifiedBytes(), atZero)));
        assertSame(t, registry.adopt(t.verifiedBytes(), atEight), "valid twin: the offset it was built with");
    }

    @CallbackSchema(name = "issue17.proxy")
    public interface IntHook {
        @CallbackSlot(order = 0, refusal = "-1")
        int base(int x);

        @CallbackSlot(order = 1, since = 1, refusal = "-1")
        int hook(int x);
    }

    @CallbackSchema(name = "issue17.proxy")
    public interface PointerHook {
        @CallbackSlot(order = 0, refusal = "-1")
        int base(int x);

        @CallbackSlot(order = 1, since = 1)
        MemorySegment hook(MemorySegment p);
    }

    @Test
    void aProxyOfASameIdSchemaWithOtherMembersIsRefusedAndItsOwnIsNot() {
        IntHook impl = new IntHook() {
            @Override
            public int base(int x) {
                return x + 1;
            }

            @Override
            public int hook(int x) {
                return 2 * x;
            }
        };
        assertEquals(InterfaceSchemas.schemaOf(IntHook.class).id(), InterfaceSchemas.schemaOf(PointerHook.class).id());
        CallbackTable table = registry.table(IntHook.class, impl);
        assertThrows(IllegalArgumentException.class, () -> registry.proxy(PointerHook.class, table));
        assertEquals(42, registry.proxy(IntHook.class, table).hook(21), "the valid twin");
    }

    @Test
    void aFlippedLayoutIdWithTheChecksumFixedUpIsRefusedBeforeTheSignature() {
        CallbackTable a = tableOfA(1);
        byte[] bytes = a.verifiedBytes();
        bytes[AbiV1.OFFSET_LAYOUT_ID + 3] ^= 0x10;
        Unkeyed.fixChecksum(bytes);
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(bytes, A)));
        assertSame(a, registry.adopt(a.verifiedBytes(), A), "the valid twin");
    }
}
