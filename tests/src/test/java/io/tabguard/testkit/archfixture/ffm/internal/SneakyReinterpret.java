package io.tabguard.testkit.archfixture.ffm.internal;

import java.lang.foreign.MemorySegment;

/** Breaks "within native, only NativeAccess calls restricted methods". */
@SuppressWarnings("restricted")
public final class SneakyReinterpret {
    private SneakyReinterpret() {}

    public static MemorySegment widen(MemorySegment s) {
        return s.reinterpret(Long.MAX_VALUE);
    }
}
