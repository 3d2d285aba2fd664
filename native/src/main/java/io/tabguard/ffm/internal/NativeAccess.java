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

    private static final java.lang.foreign.StructLayout DL_INFO = java.lang.foreign.MemoryLayout.structLayout(
            java.lang.foreign.ValueLayout.ADDRESS.withName("dli_fname"), java.lang.foreign.ValueLayout.ADDRESS.withName("dli_fbase"),
            java.lang.foreign.ValueLayout.ADDRESS.withName("dli_sname"), java.lang.foreign.ValueLayout.ADDRESS.withName("dli_saddr"));

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

    private static final MethodHandle MPROTECT = libc("mprotect", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
            java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_INT));

    /** {@code PROT_NONE}: a mapping nobody can read or write. */
    public static final int PROT_NONE = 0;

    /**
     * {@code mprotect} of a whole mapping {@link #map} made writable ({@link #PROT_READ_WRITE} or
     * {@link #PROT_NONE}): the registry's writable aliases are inaccessible except while it writes.
     *
     * @throws IllegalStateException with errno if the kernel refuses
     */
    public static void protect(MemorySegment mapping, int protection) {
        if (protection != PROT_NONE && protection != PROT_READ_WRITE) {
            throw new IllegalArgumentException("protection " + protection);
        }
        withErrno((errno, a) -> {
            if ((int) MPROTECT.invokeExact(errno, mapping.address(), mapping.byteSize(), protection) != 0) {
                throw failure("mprotect", errno);
            }
            return null;
        });
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

    // =============================================================================================
    // Issue 14: where a symbol comes from (dladdr1, dlinfo) and fault-safe access to memory native
    // code handed us (process_vm_readv/process_vm_writev). Everything of issue 14 is in this block.
    // =============================================================================================

    /**
     * What {@code dladdr1} says of an address: the object it lies in ({@code struct link_map *}), and the
     * dynamic symbol table entry ({@code ElfW(Sym)}) that contains it, copied out. An address in the object
     * but in none of its symbols has {@code symbolName} null, {@code symbolAddress} 0 and {@code type} -1.
     *
     * @param linkMap       the {@code struct link_map *} of the object the address lies in
     * @param fileName      that object's {@code dli_fname}
     * @param symbolName    the containing symbol's name ({@code dli_sname})
     * @param symbolAddress the containing symbol's run-time address ({@code dli_saddr})
     * @param type          {@code ELF64_ST_TYPE(st_info)} (2 is {@code STT_FUNC})
     * @param info          {@code st_info} as stored
     * @param sectionIndex  {@code st_shndx} (0 is {@code SHN_UNDEF})
     * @param value         {@code st_value} (link-time address)
     * @param size          {@code st_size}
     */
    public record DynamicSymbol(long linkMap, String fileName, String symbolName, long symbolAddress,
                                int type, int info, int sectionIndex, long value, long size) {}

    /**
     * A loaded object as the dynamic linker keeps it: its {@code struct link_map *}, {@code l_addr} (the load
     * bias: run-time address minus link-time address) and {@code l_name} (the path it was loaded from).
     */
    public record LoadedObject(long linkMap, long loadBias, String path) {}

    private static final int RTLD_LAZY = 0x1;
    private static final int RTLD_NOLOAD = 0x4;
    private static final int RTLD_DI_LINKMAP = 2;
    private static final int RTLD_DL_SYMENT = 1;
    private static final int RTLD_DL_LINKMAP = 2;
    private static final long ELF64_SYM_SIZE = 24;
    private static final long LINK_MAP_PUBLIC_SIZE = 16;   // l_addr, l_name: the documented head of struct link_map
    private static final int EFAULT = 14;

    private static final java.lang.foreign.StructLayout IOVEC = java.lang.foreign.MemoryLayout.structLayout(
            java.lang.foreign.ValueLayout.ADDRESS.withName("iov_base"), java.lang.foreign.ValueLayout.JAVA_LONG.withName("iov_len"));

    /** Lazily bound libc functions of this block; a missing one is an {@link UnsupportedOperationException} at first use. */
    private static final class Libc {
        static final MethodHandle DLADDR1 = bind("dladdr1", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.ADDRESS,
                java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_INT));
        static final MethodHandle DLOPEN = bind("dlopen", FunctionDescriptor.of(java.lang.foreign.ValueLayout.ADDRESS,
                java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_INT));
        static final MethodHandle DLINFO = bind("dlinfo", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.ADDRESS));
        static final MethodHandle DLCLOSE = bind("dlclose", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                java.lang.foreign.ValueLayout.ADDRESS));
        private static final FunctionDescriptor VM_RW = FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_LONG,
                java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG,
                java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_LONG);
        static final MethodHandle PROCESS_VM_READV = bind("process_vm_readv", VM_RW, Linker.Option.captureCallState("errno"));
        static final MethodHandle PROCESS_VM_WRITEV = bind("process_vm_writev", VM_RW, Linker.Option.captureCallState("errno"));

        private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
            return bindLibc(name, descriptor, options);
        }
    }

    /** A downcall handle for a function of the C library the linker uses; the restricted call stays in this class. */
    private static MethodHandle bindLibc(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment f = LINKER.defaultLookup().find(name).orElseThrow(
                () -> new UnsupportedOperationException(name + " is not exported by the C library (glibc 2.34+ needed)"));
        return LINKER.downcallHandle(f, descriptor, options);
    }

    /**
     * {@code dladdr1(address, RTLD_DL_LINKMAP)} and {@code dladdr1(address, RTLD_DL_SYMENT)}: empty if the address
     * lies in no loaded object. Neither call dereferences {@code address}, so any value
     * is safe to ask about; the symbol entry and link map read here are the dynamic linker's own (mapped,
     * valid while the object stays loaded, and the caller holds it loaded).
     */
    public static java.util.Optional<DynamicSymbol> dynamicSymbol(long address) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(DL_INFO);
            MemorySegment extra = a.allocate(java.lang.foreign.ValueLayout.ADDRESS);
            if ((int) Libc.DLADDR1.invokeExact(MemorySegment.ofAddress(address), info, extra, RTLD_DL_LINKMAP) == 0) {
                return java.util.Optional.empty();
            }
            long linkMap = extra.get(java.lang.foreign.ValueLayout.ADDRESS, 0).address();
            extra.set(java.lang.foreign.ValueLayout.ADDRESS, 0, MemorySegment.NULL);
            if ((int) Libc.DLADDR1.invokeExact(MemorySegment.ofAddress(address), info, extra, RTLD_DL_SYMENT) == 0) {
                return java.util.Optional.empty();
            }
            long symbol = extra.get(java.lang.foreign.ValueLayout.ADDRESS, 0).address();
            long symbolAddress = info.get(java.lang.foreign.ValueLayout.ADDRESS, 24).address();
            if (linkMap == 0) {
                return java.util.Optional.empty();
            }
            if (symbol == 0 || symbolAddress == 0) {   // in the object, in none of its symbols
                return java.util.Optional.of(new DynamicSymbol(linkMap, cString(info.get(java.lang.foreign.ValueLayout.ADDRESS, 0)),
                        null, 0, -1, 0, 0, 0, 0));
            }
            MemorySegment sym = MemorySegment.ofAddress(symbol).reinterpret(ELF64_SYM_SIZE);   // one Elf64_Sym
            int stInfo = Byte.toUnsignedInt(sym.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4));
            return java.util.Optional.of(new DynamicSymbol(linkMap,
                    cString(info.get(java.lang.foreign.ValueLayout.ADDRESS, 0)),
                    cString(info.get(java.lang.foreign.ValueLayout.ADDRESS, 16)), symbolAddress,
                    stInfo & 0xf, stInfo, Short.toUnsignedInt(sym.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 6)),
                    sym.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8), sym.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 16)));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * The link map of a library that is already loaded under exactly this {@code dlopen} name or path
     * (precondition: the caller loaded it and keeps it loaded, e.g. with {@link #library}); empty if it is
     * not loaded. {@code dlopen(RTLD_NOLOAD)} never loads anything; its reference is dropped again
     * with {@code dlclose} before returning, so the caller's own reference is what keeps the object mapped.
     */
    public static java.util.Optional<LoadedObject> loadedObject(String nameOrPath) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment handle = (MemorySegment) Libc.DLOPEN.invokeExact(a.allocateFrom(nameOrPath), RTLD_LAZY | RTLD_NOLOAD);
            if (handle.address() == 0) {
                return java.util.Optional.empty();
            }
            try {
                MemorySegment out = a.allocate(java.lang.foreign.ValueLayout.ADDRESS);
                if ((int) Libc.DLINFO.invokeExact(handle, RTLD_DI_LINKMAP, out) != 0) {
                    return java.util.Optional.empty();
                }
                long linkMap = out.get(java.lang.foreign.ValueLayout.ADDRESS, 0).address();
                MemorySegment head = MemorySegment.ofAddress(linkMap).reinterpret(LINK_MAP_PUBLIC_SIZE);
                return java.util.Optional.of(new LoadedObject(linkMap, head.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0),
                        cString(head.get(java.lang.foreign.ValueLayout.ADDRESS, 8))));
            } finally {
                int ignored = (int) Libc.DLCLOSE.invokeExact(handle);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** How a fault-safe copy ended. */
    public enum Transfer {
        /** Every byte was copied. */
        DONE,
        /** Some byte of the range is not mapped, or not readable (writable) by this process: nothing faulted. */
        FAULT,
        /** The kernel refused the system call itself (no such call, or a seccomp filter): nothing was copied. */
        UNAVAILABLE
    }

    /**
     * Copies {@code into.length} bytes from {@code address} with {@code process_vm_readv} on this process:
     * the kernel does the reads and reports an unmapped or unreadable byte as {@code EFAULT} instead of a
     * SIGSEGV, so any address is safe to pass (NULL and wild pointers included). A partial transfer is
     * retried from where it stopped until it completes or faults. For the own process no ptrace permission
     * is needed. The length is the caller's to bound.
     */
    public static Transfer readFaultSafe(long address, byte[] into) {
        return transfer(Libc.PROCESS_VM_READV, address, into, false);
    }

    /** As {@link #readFaultSafe}, writing {@code from} to {@code address} with {@code process_vm_writev}; a faulting write may leave a prefix written. */
    public static Transfer writeFaultSafe(long address, byte[] from) {
        return transfer(Libc.PROCESS_VM_WRITEV, address, from, true);
    }

    private static Transfer transfer(MethodHandle call, long address, byte[] bytes, boolean write) {
        if (bytes.length == 0) {
            return Transfer.DONE;
        }
        if (address == 0) {
            return Transfer.FAULT;
        }
        int pid = (int) ProcessHandle.current().pid();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment local = a.allocate(bytes.length, 16);
            if (write) {
                MemorySegment.copy(MemorySegment.ofArray(bytes), 0, local, 0, bytes.length);
            }
            MemorySegment localIov = a.allocate(IOVEC);
            MemorySegment remoteIov = a.allocate(IOVEC);
            MemorySegment state = a.allocate(ERRNO_STATE);
            long done = 0;
            while (done < bytes.length) {
                long remaining = bytes.length - done;
                localIov.set(java.lang.foreign.ValueLayout.ADDRESS, 0, local.asSlice(done));
                localIov.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8, remaining);
                remoteIov.set(java.lang.foreign.ValueLayout.ADDRESS, 0, MemorySegment.ofAddress(address + done));
                remoteIov.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8, remaining);
                long n = (long) call.invokeExact(state, pid, localIov, 1L, remoteIov, 1L, 0L);
                if (n <= 0) {
                    int errno = (int) ERRNO.get(state, 0L);
                    return n == 0 || errno == EFAULT ? Transfer.FAULT : Transfer.UNAVAILABLE;
                }
                done += Math.min(n, remaining);
            }
            if (!write) {
                MemorySegment.copy(local, 0, MemorySegment.ofArray(bytes), 0, bytes.length);
            }
            return Transfer.DONE;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
