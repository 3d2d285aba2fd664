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
 *
 * Stateless and thread-safe.
 */
public final class NativeAccess {
    private static final Linker LINKER = Linker.nativeLinker();

    private NativeAccess() {}

    /** What {@code dladdr} says of an address: the object file it lies in and the nearest symbol at or below it. */
    public record SymbolInfo(String fileName, long fileBase, String symbolName, long symbolAddress) {}

    private static final java.lang.foreign.StructLayout DL_INFO = java.lang.foreign.MemoryLayout.structLayout(
            java.lang.foreign.ValueLayout.ADDRESS.withName("dli_fname"), java.lang.foreign.ValueLayout.ADDRESS.withName("dli_fbase"),
            java.lang.foreign.ValueLayout.ADDRESS.withName("dli_sname"), java.lang.foreign.ValueLayout.ADDRESS.withName("dli_saddr"));
    private static volatile MethodHandle dladdr;

    /**
     * {@code dladdr(address)}: empty if the address lies in no loaded object (the heap, the stack, an
     * anonymous mapping). {@code dladdr} never dereferences {@code address}, so any value is safe to ask about.
     */
    public static java.util.Optional<SymbolInfo> dladdr(long address) {
        MethodHandle h = dladdr;
        if (h == null) {
            MemorySegment f = LINKER.defaultLookup().find("dladdr").orElseThrow(
                    () -> new UnsupportedOperationException("dladdr is not exported by the C library (glibc 2.34+ needed)"));
            h = dladdr = LINKER.downcallHandle(f, FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.ADDRESS));
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(DL_INFO);
            int found = (int) h.invokeExact(MemorySegment.ofAddress(address), info);
            if (found == 0) {
                return java.util.Optional.empty();
            }
            MemorySegment fname = info.get(java.lang.foreign.ValueLayout.ADDRESS, 0);
            MemorySegment sname = info.get(java.lang.foreign.ValueLayout.ADDRESS, 16);
            return java.util.Optional.of(new SymbolInfo(cString(fname), info.get(java.lang.foreign.ValueLayout.ADDRESS, 8).address(),
                    cString(sname), info.get(java.lang.foreign.ValueLayout.ADDRESS, 24).address()));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A NUL-terminated string the C library handed out (at most 4096 bytes read); null for NULL. */
    private static String cString(MemorySegment pointer) {
        return pointer.address() == 0 ? null : pointer.reinterpret(4096).getString(0);
    }

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

    /**
     * Loads a C plugin (a path the host chose) for {@code arena}'s lifetime and returns the address of
     * its entry point {@code symbol}, or empty if it exports none.
     *
     * @throws IllegalArgumentException if the library cannot be loaded
     */
    public static java.util.Optional<MemorySegment> loadPlugin(String path, String symbol, Arena arena) {
        return SymbolLookup.libraryLookup(path, arena).find(symbol);
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
