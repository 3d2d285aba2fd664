package io.tabguard.testkit.archfixture.registry;

import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;

/** Breaks "only native calls Linker / restricted methods": the registry reinterprets and links by itself. */
@SuppressWarnings("restricted")
public final class RegistryTouchesNative {
    private RegistryTouchesNative() {}

    public static MemorySegment widen(MemorySegment s) {
        return s.reinterpret(4096);
    }

    public static Linker linker() {
        return Linker.nativeLinker();
    }
}
