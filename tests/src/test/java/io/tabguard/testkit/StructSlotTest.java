package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Slots that pass and return structs by value, called from C (gcc-compiled here) through the table:
 * {@code struct point {int x; double y;}} (in registers: rdi and xmm0) and a 32-byte {@code struct big}
 * (passed on the stack and returned through the caller's hidden pointer). Results are checked against C's
 * own arithmetic; after revoke the documented refusal structs come back and no target runs.
 */
class StructSlotTest {
    static final StructLayout POINT = MemoryLayout.structLayout(JAVA_INT.withName("x"), MemoryLayout.paddingLayout(4),
            JAVA_DOUBLE.withName("y")).withName("point");
    static final StructLayout BIG = MemoryLayout.structLayout(JAVA_LONG.withName("a"), JAVA_LONG.withName("b"),
            JAVA_LONG.withName("c"), JAVA_DOUBLE.withName("d")).withName("big");
    static final FunctionDescriptor TAKE = FunctionDescriptor.of(JAVA_DOUBLE, POINT, JAVA_INT);
    static final FunctionDescriptor MAKE = FunctionDescriptor.of(POINT, JAVA_INT, JAVA_DOUBLE);
    static final FunctionDescriptor GROW = FunctionDescriptor.of(BIG, BIG, JAVA_LONG);

    /** The refusal of {@code grow}: {-1, -2, -3, -4.5}. */
    static final byte[] GROW_REFUSAL = bigBytes(-1, -2, -3, -4.5);

    static final Schema STRUCTS = Schema.builder("tabguard.test.structs", 1)
            .slot("take", TAKE, o -> o.refusal(-1.0))
            .slot("make", MAKE)                                 // refusal: the all-zero point
            .slot("grow", GROW, o -> o.refusal(GROW_REFUSAL))
            .build();

    private static final String C_SOURCE = """
            struct point { int x; double y; };
            struct big { long a, b, c; double d; };
            struct table {
                double (*take)(struct point, int);
                struct point (*make)(int, double);
                struct big (*grow)(struct big, long);
            };
            long runs;
            double call_take(const struct table *t, int x, double y, int k) {
                struct point p = { x, y };
                return t->take(p, k);
            }
            void call_make(const struct table *t, int x, double y, struct point *out) {
                *out = t->make(x, y);
            }
            void call_grow(const struct table *t, long a, double d, long n, struct big *out) {
                struct big in = { a, a + 1, a + 2, d };
                *out = t->grow(in, n);
            }
            /* bound natively to take: a struct argument passes through the entry thunk's tail jump */
            double native_take(struct point p, int k) {
                runs++;
                return p.x * 10 + p.y + k;
            }
            struct point native_make(int x, double y) {
                struct point p = { x, y };
                return p;
            }
            """;

    @TempDir
    Path dir;

    private final AtomicLong runs = new AtomicLong();

    double take(MemorySegment p, int k) {
        runs.incrementAndGet();
        return p.get(JAVA_INT, 0) * 10 + p.get(JAVA_DOUBLE, 8) + k;
    }

    MemorySegment make(int x, double y) {
        runs.incrementAndGet();
        MemorySegment p = Arena.ofAuto().allocate(POINT);
        p.set(JAVA_INT, 0, x);
        p.set(JAVA_DOUBLE, 8, y);
        return p;
    }

    MemorySegment grow(MemorySegment big, long n) {
        runs.incrementAndGet();
        MemorySegment out = Arena.ofAuto().allocate(BIG);
        for (int i = 0; i < 3; i++) {
            out.setAtIndex(JAVA_LONG, i, big.getAtIndex(JAVA_LONG, i) + n);
        }
        out.set(JAVA_DOUBLE, 24, big.get(JAVA_DOUBLE, 24) * n);
        return out;
    }

    private MethodHandle handle(String name, FunctionDescriptor d) throws ReflectiveOperationException {
        return MethodHandles.lookup().findVirtual(StructSlotTest.class, name, d.toMethodType()).bindTo(this);
    }

    private static byte[] bigBytes(long a, long b, long c, double d) {
        MemorySegment s = MemorySegment.ofArray(new byte[(int) BIG.byteSize()]);
        s.set(JAVA_LONG.withByteAlignment(1), 0, a);
        s.set(JAVA_LONG.withByteAlignment(1), 8, b);
        s.set(JAVA_LONG.withByteAlignment(1), 16, c);
        s.set(JAVA_DOUBLE.withByteAlignment(1), 24, d);
        return s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    private record C(SymbolLookup lib, MethodHandle take, MethodHandle make, MethodHandle grow, Path path) {}

    private C compile() throws Exception {
        Path library = NativeBuilds.sharedLibrary(dir, "struct_slots", C_SOURCE, "-O2");
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        return new C(lib,
                NativeTamper.callPointer(lib.find("call_take").orElseThrow(), FunctionDescriptor.of(JAVA_DOUBLE, ADDRESS, JAVA_INT, JAVA_DOUBLE, JAVA_INT)),
                NativeTamper.callPointer(lib.find("call_make").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_DOUBLE, ADDRESS)),
                NativeTamper.callPointer(lib.find("call_grow").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_DOUBLE, JAVA_LONG, ADDRESS)),
                library);
    }

    @Test
    void cCallsStructSlotsAndGetsTheRefusalStructsAfterRevoke() throws Throwable {
        C c = compile();
        try (Registry registry = Fixtures.open(new Fixtures.Audit()); Arena arena = Arena.ofConfined()) {
            byte[] refusal = GROW_REFUSAL.clone();
            CallbackTable t = registry.builder(STRUCTS)
                    .bind("take", handle("take", TAKE))
                    .bind("make", handle("make", MAKE))
                    .bind("grow", handle("grow", GROW))
                    .refusal("grow", refusal)
                    .build();
            refusal[0] = 99;                                   // copied at build: this write changes nothing
            MemorySegment point = arena.allocate(POINT);
            MemorySegment big = arena.allocate(BIG);

            assertEquals(3 * 10 + 0.25 + 4, (double) c.take().invokeExact(t.payload(), 3, 0.25, 4));
            c.make().invokeExact(t.payload(), 7, 1.5, point);
            assertEquals(7, point.get(JAVA_INT, 0));
            assertEquals(1.5, point.get(JAVA_DOUBLE, 8));
            c.grow().invokeExact(t.payload(), 100L, 2.5, 5L, big);
            assertArrayEquals(new long[] {105, 106, 107}, big.asSlice(0, 24).toArray(JAVA_LONG));
            assertEquals(12.5, big.get(JAVA_DOUBLE, 24));
            assertEquals(3, runs.get());

            registry.revoke(t);
            point.set(JAVA_INT, 0, 0x5555);
            point.set(JAVA_DOUBLE, 8, 55.5);
            assertEquals(-1.0, (double) c.take().invokeExact(t.payload(), 3, 0.25, 4));
            c.make().invokeExact(t.payload(), 7, 1.5, point);
            assertEquals(0, point.get(JAVA_INT, 0), "the default refusal of a struct return is the all-zero struct");
            assertEquals(0.0, point.get(JAVA_DOUBLE, 8));
            c.grow().invokeExact(t.payload(), 100L, 2.5, 5L, big);
            assertArrayEquals(new long[] {-1, -2, -3}, big.asSlice(0, 24).toArray(JAVA_LONG));
            assertEquals(-4.5, big.get(JAVA_DOUBLE, 24));
            assertEquals(3, runs.get(), "no target ran after revoke");
        }
    }

    @Test
    void aNativeSlotPassesAStructThroughItsThunkButCannotReturnOne() throws Throwable {
        C c = compile();
        MemorySegment nativeRuns = c.lib().find("runs").orElseThrow().reinterpret(8);
        try (Registry registry = Fixtures.open(new Fixtures.Audit(), o -> o.allowLibrary(c.path().toString()))) {
            var builder = registry.builder(STRUCTS);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> builder.bindNative("make", "native_make"));
            assertTrue(e.getMessage().contains("returns a struct by value"), e.getMessage());
            CallbackTable t = builder
                    .bindNative("take", "native_take")
                    .bind("make", handle("make", MAKE))
                    .bind("grow", handle("grow", GROW))
                    .build();
            assertEquals(-2 * 10 + 0.5 + 9, (double) c.take().invokeExact(t.payload(), -2, 0.5, 9));
            assertEquals(1, nativeRuns.get(JAVA_LONG, 0));
            registry.revoke(t);
            assertEquals(-1.0, (double) c.take().invokeExact(t.payload(), -2, 0.5, 9));
            assertEquals(1, nativeRuns.get(JAVA_LONG, 0), "the native target never ran after revoke");
        }
    }

    @Test
    void structsAreSpelledInTheSignatureSoDifferentStructsDifferInId() {
        StructLayout other = MemoryLayout.structLayout(JAVA_INT.withName("x"), JAVA_FLOAT.withName("y")).withName("point");
        Schema a = Schema.builder("tabguard.test.s", 1).slot("make", MAKE).build();
        Schema b = Schema.builder("tabguard.test.s", 1).slot("make", FunctionDescriptor.of(other, JAVA_INT, JAVA_DOUBLE)).build();
        assertEquals("fn struct 5:point{1:x:i32,pad4,1:y:f64}(i32,f64)", Schema.cSignature(a.slots().getFirst()));
        assertEquals("fn struct 5:point{1:x:i32,1:y:f32}(i32,f64)", Schema.cSignature(b.slots().getFirst()));
        assertNotEquals(a.id(), b.id());
        assertNotEquals(a.layoutId(0), b.layoutId(0));
        Schema again = Schema.builder("tabguard.test.s", 1).slot("make", MAKE).build();
        assertEquals(a.id(), again.id());
    }

    @Test
    void refusesAUnionByValueAndARefusalOfTheWrongSize() {
        var union = MemoryLayout.unionLayout(JAVA_INT.withName("i"), JAVA_DOUBLE.withName("d"));
        assertThrows(IllegalArgumentException.class,
                () -> Schema.builder("tabguard.test.u", 1).slot("f", FunctionDescriptor.of(JAVA_INT, union)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Schema.builder("tabguard.test.r", 1).slot("make", MAKE, o -> o.refusal(new byte[8])));
        assertTrue(e.getMessage().contains("16"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Schema.builder("tabguard.test.r", 1).slot("make", MAKE, o -> o.refusal(0)));
        // the valid twin: exactly the struct's size
        Schema ok = Schema.builder("tabguard.test.r", 1).slot("make", MAKE, o -> o.refusal(new byte[16])).build();
        assertEquals(16, ((MemorySegment) ok.slots().getFirst().refusalValue().orElseThrow()).byteSize());
    }
}
