package io.tabguard.examples;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * glibc's {@code qsort} sorting ints through a comparator that lives in a verified one-slot table.
 * Not thread-safe per instance; holds no native memory of its own beyond a call.
 */
@SuppressWarnings("restricted")   // the application calls qsort itself: this module is granted native access
public final class SortWithGuardedComparator {
    /** {@code int (*compar)(const void *, const void *)}; a refused call answers 0 ("equal"). */
    public static final Schema COMPARATOR = Schema.builder("tabguard.example.qsort_comparator", 1)
            .slot("compare", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), s -> s.refusal(0))
            .build();

    private static final MethodHandle QSORT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("qsort").orElseThrow(),
            FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));

    private static final MethodHandle COMPARE_INTS;

    static {
        try {
            COMPARE_INTS = MethodHandles.lookup().findStatic(SortWithGuardedComparator.class, "compareInts",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private SortWithGuardedComparator() {}

    /** A comparator table for ints, built in {@code registry}. */
    public static CallbackTable comparatorTable(Registry registry) {
        return registry.builder(COMPARATOR).bind("compare", COMPARE_INTS).build();
    }

    /** Sorts {@code values} in place with qsort, calling the table's comparator. */
    public static void sort(int[] values, CallbackTable comparator) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = arena.allocateFrom(JAVA_INT, values);
            QSORT.invokeExact(array, (long) values.length, JAVA_INT.byteSize(), comparator.function("compare"));
            MemorySegment.copy(array, JAVA_INT, 0, values, 0, values.length);
        } catch (Throwable t) {
            throw new IllegalStateException("qsort failed", t);
        }
    }

    private static int compareInts(MemorySegment a, MemorySegment b) {
        return Integer.compare(a.reinterpret(4).get(ValueLayout.JAVA_INT, 0), b.reinterpret(4).get(ValueLayout.JAVA_INT, 0));
    }
}
