package io.tabguard.testkit.archfixture.ffm.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Allowed: the one class calling restricted methods. */
@SuppressWarnings("restricted")
public final class NativeAccess {
    private NativeAccess() {}

    public static MethodHandle downcall(FunctionDescriptor descriptor) {
        return Linker.nativeLinker().downcallHandle(descriptor);
    }

    public static MemorySegment view(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
