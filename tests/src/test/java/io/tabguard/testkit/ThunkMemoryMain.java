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
 * anyone can read out of the thunk, at offset 64), into the thunk's page through the registry's writable
 * alias of it (found in /proc/self/maps by inode, closed while no build writes thunks), or, the valid
 * twin, into ordinary memory. Prints
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
                case "alias" -> aliasOf(thunk.address(), "/memfd:tabguard-thunks");   // found as an attacker would
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

    /** The same byte through the other mapping of the memfd {@code address} is mapped from (same inode). */
    static MemorySegment aliasOf(long address, String memfd) throws java.io.IOException {
        java.util.List<String[]> maps = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/maps")).stream()
                .map(l -> l.trim().split("\\s+")).filter(f -> f.length >= 6 && f[5].startsWith(memfd)).toList();
        for (String[] view : maps) {
            String[] range = view[0].split("-");
            long start = Long.parseUnsignedLong(range[0], 16);
            if (address < start || address >= Long.parseUnsignedLong(range[1], 16)) {
                continue;
            }
            long fileOffset = Long.parseUnsignedLong(view[2], 16) + (address - start);
            for (String[] alias : maps) {
                if (alias != view && alias[4].equals(view[4])) {
                    System.out.println("alias " + alias[0] + " " + alias[1]);
                    return MemorySegment.ofAddress(Long.parseUnsignedLong(alias[0].split("-")[0], 16)
                            + fileOffset - Long.parseUnsignedLong(alias[2], 16));
                }
            }
        }
        throw new IllegalStateException("no second mapping of " + memfd);
    }
}
