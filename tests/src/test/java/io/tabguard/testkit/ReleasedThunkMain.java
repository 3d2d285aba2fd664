package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Forked by {@link ReleasedThunkForkTest}: the danger {@code Registry.release} documents. Table A's Java
 * slot is called, A is closed and released; in mode {@code retired} enough other one-slot tables are
 * built and released for A's thunk region to retire, then a live table B with a different target is
 * built; then A's old pointer is called as a C caller that kept it would. Prints "stale pointer 0x...",
 * "B at 0x...", the permissions of A's page in /proc/self/maps, "calling stale pointer", and, only if
 * the call returned, "stale call returned N". A's target prints "target A ran", B's "target B ran".
 * Mode {@code before}: the same call right after A's release, before any churn (its region still serves).
 * Mode {@code native}: see {@link #nativeSlot}.
 */
public final class ReleasedThunkMain {
    private ReleasedThunkMain() {}

    static int targetA(int x) {
        System.out.println("target A ran");
        return x + 1;
    }

    static int targetB(int x) {
        System.out.println("target B ran");
        return x + 100;
    }

    public static void main(String[] args) throws Throwable {
        String mode = args[0];
        if (mode.equals("native")) {
            nativeSlot();
            return;
        }
        try (Registry registry = Fixtures.open(new Fixtures.Audit())) {
            CallbackTable a = registry.builder(ReleaseTest.ONE).bind("f", target("targetA")).build();
            MemorySegment stale = a.function("f");
            System.out.println("A returned " + Fixtures.callNative(stale, 1));
            a.close();
            registry.release(a);
            System.out.println("stale pointer 0x" + Long.toHexString(stale.address()));
            CallbackTable b = null;
            if (mode.equals("retired")) {
                // A's region holds CELLS_PER_REGION cells; building that many more leaves it full and,
                // with every cell released, retired once a cell of the next region is handed out.
                for (int i = 0; i < ReleaseTest.CELLS_PER_REGION + 1; i++) {
                    CallbackTable t = registry.builder(ReleaseTest.ONE).bind("f", target("targetA")).build();
                    t.close();
                    registry.release(t);
                }
                b = registry.builder(ReleaseTest.ONE).bind("f", target("targetB")).build();
                System.out.println("B at 0x" + Long.toHexString(b.function("f").address()));
                System.out.println("B returned " + Fixtures.callNative(b.function("f"), 1));
            } else if (!mode.equals("before")) {
                throw new IllegalArgumentException(mode);
            }
            System.out.println("A's page " + permissions(stale.address()));
            System.out.println("calling stale pointer");
            System.out.flush();
            int r = Fixtures.callNative(stale, 1);
            System.out.println("stale call returned " + r);
            if (b != null) {
                System.out.println("B still returns " + Fixtures.callNative(b.function("f"), 2));
            }
        }
        System.out.println("survived");
    }

    /** State cells per 64 KiB region (32 B each) and native thunks per 512 KiB region (128 B each), see EntryThunks. */
    static final int STATE_CELLS_PER_REGION = 64 * 1024 / 32;

    /**
     * Mode {@code native}: native slot A (libc's abs) revoked and released, then more released native
     * tables than a state-cell region holds but fewer than a thunk region does, then a live one, B: A's
     * thunk page still serves B, so by release's contract a call through A's old pointer is refused
     * (the slot's refusal value), never a fault.
     */
    private static void nativeSlot() throws Throwable {
        try (Registry registry = Fixtures.open(new Fixtures.Audit(), o -> o.allowLibrary("libc.so.6"))) {
            CallbackTable a = registry.builder(ReleaseTest.ONE).bindNative("f", "abs").build();
            MemorySegment stale = a.function("f");
            System.out.println("A returned " + Fixtures.callNative(stale, -5));
            registry.revoke(a);
            registry.release(a);
            for (int i = 0; i < STATE_CELLS_PER_REGION + 1; i++) {
                CallbackTable t = registry.builder(ReleaseTest.ONE).bindNative("f", "abs").build();
                registry.revoke(t);
                registry.release(t);
            }
            CallbackTable b = registry.builder(ReleaseTest.ONE).bindNative("f", "abs").build();
            System.out.println("B returned " + Fixtures.callNative(b.function("f"), -7));
            System.out.println("A's page " + permissions(stale.address()));
            System.out.println("B's page " + permissions(b.function("f").address()));
            System.out.println("calling stale pointer");
            System.out.flush();
            System.out.println("stale call returned " + Fixtures.callNative(stale, -5));
            System.out.println("B still returns " + Fixtures.callNative(b.function("f"), -8));
        }
        System.out.println("survived");
    }

    private static java.lang.invoke.MethodHandle target(String name) throws ReflectiveOperationException {
        return java.lang.invoke.MethodHandles.lookup().findStatic(ReleasedThunkMain.class, name,
                java.lang.invoke.MethodType.methodType(int.class, int.class));
    }

    /** The permissions and name of the mapping holding {@code address}, as /proc/self/maps shows them. */
    static String permissions(long address) throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+");
            String[] bounds = f[0].split("-");
            if (Long.parseUnsignedLong(bounds[0], 16) <= address && address < Long.parseUnsignedLong(bounds[1], 16)) {
                return f[1] + " " + (f.length >= 6 ? f[5] : "(anonymous)");
            }
        }
        return "unmapped";
    }
}
