package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The one class of Tabguard that calls restricted FFM methods. Every caller has already established
 * what makes the call safe (a verified extent, an allow-listed library, a type-checked target); the
 * preconditions are stated per method. {@code Linker.Option.critical} is never used: any downcall may
 * reach a trampoline that calls back into Java.
 */
public final class NativeAccess {
    private static final Linker LINKER = Linker.nativeLinker();

    private NativeAccess() {}

    /** An upcall stub whose lifetime is {@code arena}'s; the registry owns that arena and closes it last. */
    public static MemorySegment upcallStub(MethodHandle target, FunctionDescriptor descriptor, Arena arena) {
        return LINKER.upcallStub(target, descriptor, arena);
    }

    /** A downcall handle taking the function's address as its first parameter. */
    public static MethodHandle downcall(FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(descriptor);
    }

    /** A downcall handle bound to {@code function}, which the caller resolved from an allow-listed library. */
    public static MethodHandle downcall(MemorySegment function, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(function, descriptor);
    }

    /** Loads a library the registry's allow-list names, for {@code arena}'s lifetime. */
    public static SymbolLookup library(String nameOrPath, Arena arena) {
        return SymbolLookup.libraryLookup(nameOrPath, arena);
    }

    /** The C library the linker itself uses (libc and friends). */
    public static SymbolLookup linkerLibraries() {
        return LINKER.defaultLookup();
    }

    /**
     * A view of {@code length} bytes at {@code address}. Precondition: the caller owns that memory (it is
     * in its index of tables) or was handed the length by the memory's owner with the pointer.
     */
    public static MemorySegment view(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
