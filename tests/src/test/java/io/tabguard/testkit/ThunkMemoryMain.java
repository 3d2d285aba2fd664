package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Forked by {@link ThunkMemoryForkTest}: native code (libc's {@code memset}) writes one byte where the
 * argument says — into a native slot's thunk, into the state word its table's thunks read (whose address
 * anyone can read out of the thunk, at offset 64), or, the valid twin, into ordinary memory. Prints
 * "writing TARGET" before and "wrote TARGET" after; a write into a read-only view must kill the process
 * with SIGSEGV between the two.
 */
public final class ThunkMemoryMain {
    private ThunkMemoryMain() {}

    public static void main(String[] args) throws Throwable {
        String target = args[0];
        MethodHandle memset = NativeTamper.callPointer(Linker.nativeLinker().defaultLookup().find("memset").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG));
        try (Registry registry = Fixtures.open(new Fixtures.Audit(), o -> o.allowLibrary("libc.so.6"));
             Arena arena = Arena.ofConfined()) {
            CallbackTable table = registry.builder(Fixtures.CALC).bindNative("inc", "abs")
                    .bind("dbl", new Fixtures.Targets().dblHandle()).build();
            MemorySegment thunk = table.function("inc").reinterpret(128);
            MemorySegment address = switch (target) {
                case "thunk" -> thunk;
                case "state" -> MemorySegment.ofAddress(thunk.get(JAVA_LONG, 64));
                case "heap" -> arena.allocate(64);
                default -> throw new IllegalArgumentException(target);
            };
            System.out.println("writing " + target);
            System.out.flush();
            MemorySegment ignored = (MemorySegment) memset.invokeExact(address, 0xC3, 1L);   // 0xC3: ret
            System.out.println("wrote " + target);
            System.out.println("abs through the slot: " + (int) Fixtures.nativeCaller(table, "inc").invokeExact(-3));
        }
    }
}
