package com.example.sorter;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** glibc's qsort sorts ints through a comparator in a verified callback table. */
@SuppressWarnings("restricted")   // this application makes its own downcall (qsort): it needs native access too
public class SortWithQsort {
    static final Schema COMPARATOR = Schema.builder("qsort_comparator", 1)   // int (*)(const void *, const void *)
            .slot("compare", FunctionDescriptor.of(JAVA_INT, ADDRESS.withTargetLayout(JAVA_INT),
                    ADDRESS.withTargetLayout(JAVA_INT)), s -> s.refusal(0))  // a refused call answers 0
            .build();

    static int compareInts(MemorySegment a, MemorySegment b) {
        return Integer.compare(a.get(JAVA_INT, 0), b.get(JAVA_INT, 0));
    }

    static int[] sort(Registry registry, int... values) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle qsort = linker.downcallHandle(linker.defaultLookup().findOrThrow("qsort"),
                FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        MethodHandle compare = MethodHandles.lookup().findStatic(SortWithQsort.class, "compareInts",
                MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
        try (CallbackTable table = registry.builder(COMPARATOR).bind("compare", compare).build();
             Arena arena = Arena.ofConfined()) {
            MemorySegment array = arena.allocateFrom(JAVA_INT, values);
            qsort.invokeExact(array, (long) values.length, JAVA_INT.byteSize(), table.function("compare"));
            return array.toArray(JAVA_INT);                                  // each comparison was checked first
        }
    }

    public static void main(String[] args) throws Throwable {
        try (Registry registry = Registry.open()) {                            // refuses the class path: see below
            System.out.println(Arrays.toString(sort(registry, 5, 3, 9, 1, 7)));
        }
    }
}
