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

    // ---- shared-memory mappings for read-only tables (TableMemory is the one caller) ----------------

    /** {@code PROT_READ} and {@code PROT_READ | PROT_WRITE}, and the {@code mmap} flags TableMemory uses. */
    public static final int PROT_READ = 0x1;
    public static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_SHARED = 0x01;
    private static final int MFD_CLOEXEC = 0x1;
    private static final int MFD_ALLOW_SEALING = 0x2;
    private static final int F_ADD_SEALS = 1033;
    private static final int F_SEAL_SHRINK = 0x2;
    private static final int F_SEAL_GROW = 0x4;
    private static final int F_SEAL_FUTURE_WRITE = 0x10;
    private static final long MAP_FAILED = -1L;

    private static final java.lang.foreign.StructLayout ERRNO_STATE = Linker.Option.captureStateLayout();
    private static final java.lang.invoke.VarHandle ERRNO = ERRNO_STATE.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    // libc's memory-mapping functions, bound once; each captures errno
    private static final Linker.Option ERRNO_CAPTURE = Linker.Option.captureCallState("errno");
    private static final MethodHandle MEMFD_CREATE = libc("memfd_create", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
            java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = libc("ftruncate", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
            java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_LONG));
    private static final MethodHandle MMAP = libc("mmap", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_LONG,
            java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_INT,
            java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = libc("munmap", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
            java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
            java.lang.foreign.ValueLayout.JAVA_INT));
    // fcntl is variadic: its third argument is the first variadic one
    private static final MethodHandle FCNTL_INT = LINKER.downcallHandle(LINKER.defaultLookup().find("fcntl").orElseThrow(),
            FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT),
            ERRNO_CAPTURE, Linker.Option.firstVariadicArg(2));

    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(
                () -> new UnsupportedOperationException(name + " is not exported by the C library")), descriptor, ERRNO_CAPTURE);
    }

    /** A libc call given a fresh errno capture area; whatever it throws leaves as an unchecked exception. */
    @FunctionalInterface
    private interface ErrnoCall<T> {
        T call(MemorySegment errno, Arena scratch) throws Throwable;
    }

    private static <T> T withErrno(ErrnoCall<T> call) {
        try (Arena a = Arena.ofConfined()) {
            return call.call(a.allocate(ERRNO_STATE), a);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * A new anonymous shared-memory file of {@code size} bytes ({@code memfd_create} with close-on-exec,
     * then {@code ftruncate}), sealed against growing and shrinking: a mapping of it can never lose its
     * pages to a truncate. Returns the file descriptor; the caller maps it and then {@link #closeFd closes} it.
     *
     * @throws IllegalStateException with errno if the kernel refuses
     */
    public static int sharedMemory(String name, long size) {
        return withErrno((errno, a) -> {
            int fd = (int) MEMFD_CREATE.invokeExact(errno, a.allocateFrom(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
            if (fd < 0) {
                throw failure("memfd_create", errno);
            }
            String failed = (int) FTRUNCATE.invokeExact(errno, fd, size) != 0 ? "ftruncate"
                    : (int) FCNTL_INT.invokeExact(errno, fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0 ? "fcntl(F_ADD_SEALS)" : null;
            if (failed != null) {
                IllegalStateException e = failure(failed, errno);
                closeFd(fd);
                throw e;
            }
            return fd;
        });
    }

    /**
     * Seals {@code fd} against every future write: no new writable mapping, no {@code write(2)}. Mappings
     * made before keep their protection (Linux 5.1+ {@code F_SEAL_FUTURE_WRITE}). Returns false where the
     * kernel does not know the seal; the caller then relies on having closed the descriptor.
     */
    public static boolean sealFutureWrites(int fd) {
        return withErrno((errno, a) -> (int) FCNTL_INT.invokeExact(errno, fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0);
    }

    /**
     * {@code mmap(NULL, size, protection, MAP_SHARED, fd, 0)}, returned as a segment of {@code size} bytes
     * whose lifetime is {@code arena}'s: closing the arena unmaps it, and Java access after that throws
     * instead of faulting. Precondition: {@code fd} is a shared-memory file of at least {@code size} bytes
     * that the caller made and sealed against shrinking, so every byte of the mapping stays backed.
     *
     * @param protection {@link #PROT_READ} or {@link #PROT_READ_WRITE}
     */
    public static MemorySegment map(int fd, long size, int protection, Arena arena) {
        if (protection != PROT_READ && protection != PROT_READ_WRITE) {
            throw new IllegalArgumentException("protection " + protection);
        }
        long address = withErrno((errno, a) -> {
            long mapped = (long) MMAP.invokeExact(errno, 0L, size, protection, MAP_SHARED, fd, 0L);
            if (mapped == MAP_FAILED) {
                throw failure("mmap", errno);
            }
            return mapped;
        });
        return MemorySegment.ofAddress(address).reinterpret(size, arena, NativeAccess::unmapQuietly);
    }

    /** The arena's cleanup: {@code munmap}, whose only failure (EINVAL) cannot happen for a mapping {@link #map} made. */
    private static void unmapQuietly(MemorySegment mapping) {
        try {
            withErrno((errno, a) -> (int) MUNMAP.invokeExact(errno, mapping.address(), mapping.byteSize()));
        } catch (Throwable ignored) {
            // an arena's cleanup must not throw; the pages go with the process at worst
        }
    }

    /** {@code close(fd)} of a descriptor {@link #sharedMemory} returned; its mappings stay. */
    public static void closeFd(int fd) {
        withErrno((errno, a) -> (int) CLOSE.invokeExact(errno, fd));
    }

    private static IllegalStateException failure(String call, MemorySegment errnoState) {
        return new IllegalStateException(call + " failed, errno " + (int) ERRNO.get(errnoState, 0L));
    }

    /**
     * A view of {@code length} bytes at {@code address}. Precondition: the caller owns that memory (it is
     * in its index of tables) or was handed the length by the memory's owner with the pointer.
     */
    public static MemorySegment view(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
