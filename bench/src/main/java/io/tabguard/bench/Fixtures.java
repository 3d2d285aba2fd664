package io.tabguard.bench;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Schemas, Java targets and registries shared by the benchmarks. Every registry here writes its audit
 * events to {@link NoOpAuditSink} and allow-lists libtgbench.so.
 */
public final class Fixtures {
    /** One slot {@code int op(int, int)}; a refused call returns 0. */
    public static final Schema BINOP = Schema.builder("tabguard.bench.binop", 1)
            .slot("op", BenchNative.BINOP, s -> s.refusal(0))
            .build();

    /** One slot {@code int add(int, int)}, bound to the C function add_ints for the Java -> native benchmark. */
    public static final Schema ADDER = Schema.builder("tabguard.bench.adder", 1)
            .slot("add", BenchNative.BINOP, s -> s.refusal(0))
            .build();

    /** Eight slots {@code int s0..s7(int, int)}: the "8-slot table" of the build, import and scale benchmarks. */
    public static final Schema EIGHT = eightSlots();
    public static final int EIGHT_SLOTS = 8;

    /** {@code const int *}: the comparator sees 4-byte segments and needs no reinterpret. */
    private static final AddressLayout INT_POINTER = ADDRESS.withTargetLayout(JAVA_INT);
    /** {@code int (*compar)(const void *, const void *)}. */
    public static final FunctionDescriptor COMPARATOR_DESCRIPTOR = FunctionDescriptor.of(JAVA_INT, INT_POINTER, INT_POINTER);
    public static final Schema COMPARATOR = Schema.builder("tabguard.bench.qsort_comparator", 1)
            .slot("compare", COMPARATOR_DESCRIPTOR, s -> s.refusal(0))
            .build();

    /** {@code (int, int) int}: a + b. */
    public static final MethodHandle ADD;
    /** {@code (MemorySegment, MemorySegment) int}: compares the ints pointed to. */
    public static final MethodHandle COMPARE_INTS;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            ADD = l.findStatic(Fixtures.class, "add", MethodType.methodType(int.class, int.class, int.class));
            COMPARE_INTS = l.findStatic(Fixtures.class, "compareInts",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Fixtures() {}

    public static int add(int a, int b) {
        return a + b;
    }

    public static int compareInts(MemorySegment a, MemorySegment b) {
        return Integer.compare(a.get(JAVA_INT, 0), b.get(JAVA_INT, 0));
    }

    /**
     * A registry whose audit events go nowhere, allow-listing libtgbench.so. The benchmarks run on the
     * class path (JMH's uber-jar), so the registry must be allowed to open there.
     */
    public static Registry registry() {
        return Registry.open(RegistryOptions.builder()
                .allowClassPath()
                .auditSink(NoOpAuditSink.INSTANCE)
                .allowLibrary(BenchNative.LIBRARY.toString())
                .build());
    }

    /** A one-slot table whose slot "op" is {@link #ADD}: an entry thunk into the shape's shared, verifying stub. */
    public static CallbackTable binopTable(Registry registry) {
        return registry.builder(BINOP).bind("op", ADD).build();
    }

    /** An 8-slot table, every slot {@link #ADD}: 8 entry thunks into the one shared stub of {@code int (int, int)}. */
    public static CallbackTable eightSlotTable(Registry registry) {
        var b = registry.builder(EIGHT);
        for (int i = 0; i < EIGHT_SLOTS; i++) {
            b.bind("s" + i, ADD);
        }
        return b.build();
    }

    /** An 8-slot table, every slot bound to the allow-listed C function add_ints (native entry thunks, no upcall). */
    public static CallbackTable eightNativeSlotTable(Registry registry) {
        var b = registry.builder(EIGHT);
        for (int i = 0; i < EIGHT_SLOTS; i++) {
            b.bindNative("s" + i, "add_ints");
        }
        return b.build();
    }

    /** Builds {@code n} live 8-slot tables in {@code registry}. */
    public static List<CallbackTable> fill(Registry registry, int n) {
        List<CallbackTable> tables = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            tables.add(eightSlotTable(registry));
        }
        return tables;
    }

    private static Schema eightSlots() {
        Schema.Builder b = Schema.builder("tabguard.bench.eight", 1);
        for (int i = 0; i < EIGHT_SLOTS; i++) {
            b.slot("s" + i, BenchNative.BINOP, s -> s.refusal(0));
        }
        return b.build();
    }
}
