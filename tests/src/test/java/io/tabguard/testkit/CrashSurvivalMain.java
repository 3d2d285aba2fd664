package io.tabguard.testkit;

import io.tabguard.guard.AbiV1;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Run in a forked JVM by {@link CrashSurvivalForkTest}: the attacks that would crash the process if the
 * guard let them through. Java callers of slots planted with {@code abort()}, a wild address and a
 * mid-trampoline address (validated downcalls that would jump there), and imports of pointers that
 * would fault if read. Prints one line per attack and {@code survived} at the end.
 */
public final class CrashSurvivalMain {
    private CrashSurvivalMain() {}

    public static void main(String[] args) throws Throwable {
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(new FuzzWorld.CountingSink()).writableTables().build())) {
            long[] planted = {MalformedTables.abortAddress(), 0x10, -8};
            String[] names = {"abort", "wild", "kernel"};
            for (int i = 0; i < planted.length; i++) {
                for (boolean fixChecksum : new boolean[]{false, true}) {
                    CallbackTable t = Fixtures.calcTable(registry, new Fixtures.Targets());
                    NativeTamper.writeSlot(t, "neg", MemorySegment.ofAddress(planted[i]));
                    if (fixChecksum) {
                        NativeTamper.fixChecksum(t);
                    }
                    MethodHandle neg = t.slotHandle("neg");
                    try {
                        int r = (int) neg.invokeExact(1);
                        print("ANSWERED " + names[i] + " " + r);
                    } catch (TableRejectedException e) {
                        print("refused " + names[i] + " " + e.violation());
                    }
                }
            }
            CallbackTable t = Fixtures.calcTable(registry, new Fixtures.Targets());
            MethodHandle dbl = t.slotHandle("dbl");
            NativeTamper.writeSlot(t, "dbl", MemorySegment.ofAddress(t.function("dbl").address() + 3));
            NativeTamper.fixChecksum(t);
            try {
                int r = (int) dbl.invokeExact(1);
                print("ANSWERED mid-trampoline " + r);
            } catch (TableRejectedException e) {
                print("refused mid-trampoline " + e.violation());
            }
            for (long address : new long[]{0x10, -AbiV1.HEADER_SIZE, 1L << 47, 0x7fff_ffff_f000L}) {
                try {
                    registry.adopt(MemorySegment.ofAddress(address), 32, Fixtures.CALC);
                    print("ADOPTED 0x" + Long.toHexString(address));
                } catch (TableRejectedException e) {
                    print("refused pointer " + e.violation());
                }
            }
        }
        print("survived");
        System.exit(0);
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
