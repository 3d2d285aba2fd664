package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Run in a forked JVM by {@link StructReturnForkTest}: a struct-returning slot whose Java target returns
 * a segment of the wrong kind (given as the argument: {@code null-segment}, {@code short}, {@code closed}
 * or the valid twin {@code honest}), called from native code; prints {@code returned <x> <y>} if the JVM
 * is still alive. FFM reads the returned segment after the Java side returns, where a bad one would be an
 * uncaught exception that ends the VM; the trampoline copies it first, so it is a refusal instead.
 */
public final class StructReturnMain {
    private StructReturnMain() {}

    static MemorySegment badPoint(String kind, int x, double y) {
        return switch (kind) {
            case "null-segment" -> MemorySegment.NULL;
            case "short" -> Arena.ofAuto().allocate(8);
            case "closed" -> {
                Arena arena = Arena.ofShared();
                MemorySegment p = arena.allocate(StructSlotTest.POINT);
                arena.close();
                yield p;
            }
            default -> {
                MemorySegment p = Arena.ofAuto().allocate(StructSlotTest.POINT);
                p.set(JAVA_INT, 0, x);
                p.set(JAVA_DOUBLE, 8, y);
                yield p;
            }
        };
    }

    public static void main(String[] args) throws Throwable {
        MethodHandle target = MethodHandles.insertArguments(MethodHandles.lookup().findStatic(StructReturnMain.class, "badPoint",
                MethodType.methodType(MemorySegment.class, String.class, int.class, double.class)), 0, args[0]);
        try (Registry registry = Registry.open(RegistryOptions.builder().build());
             Arena arena = Arena.ofConfined()) {
            CallbackTable table = registry.builder(StructSlotTest.STRUCTS)
                    .bind("take", MethodHandles.dropArguments(MethodHandles.constant(double.class, 0.0), 0, MemorySegment.class, int.class))
                    .bind("make", target)
                    .bind("grow", MethodHandles.dropArguments(MethodHandles.identity(MemorySegment.class), 1, long.class))
                    .build();
            MethodHandle make = NativeTamper.callSlot(table, "make");
            MemorySegment p = (MemorySegment) make.invokeExact((SegmentAllocator) arena, 7, 1.5);
            System.out.println("returned " + p.get(JAVA_INT, 0) + " " + p.get(JAVA_DOUBLE, 8));
        }
    }
}
