package io.tabguard.examples;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A JIT memory manager in Java, for LLVM's MCJIT: sections are carved from pages this manager maps
 * with {@code mmap}, one kind of section per mapping (code, read-only data, read-write data), so that
 * permissions never have to be shared.
 *
 * <ul>
 *   <li>Pages are mapped read-write; LLVM writes the sections and applies relocations.</li>
 *   <li>{@link #finalizeMemory} turns code pages read+execute and read-only data pages read-only. A
 *       mapping is never writable and executable at once (W^X): {@link #protections()} records every
 *       permission this manager ever asked for, so a test can prove it.</li>
 *   <li>Sections allocated after a finalization go to fresh pages (finalized pages are sealed).</li>
 *   <li>Alignment is honoured (a power of two up to 1 MiB; 0 means 1); a size above
 *       {@link #maxSectionSize()} (or above 2^63, a negative {@code uintptr_t}) is refused with
 *       {@code NULL} without touching memory, as is a non-power-of-two alignment.</li>
 *   <li>{@link #destroy} unmaps everything; {@link #release()} does the same from Java if LLVM never did.</li>
 * </ul>
 *
 * <p>Thread-safe (every method is synchronized: MCJIT calls its memory manager from the thread that
 * compiles, but two threads may share an engine under LLVM's own lock).
 */
@SuppressWarnings("restricted")   // the application maps pages and reads LLVM's section names
public final class JitMemory implements SimpleMemoryManager {
    /** {@code PROT_*} and {@code MAP_*} of Linux. */
    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;
    private static final long MAX_ALIGNMENT = 1L << 20;
    private static final long CHUNK = 64 * 1024;
    /** Default largest section: 256 MiB. */
    public static final long DEFAULT_MAX_SECTION = 256L << 20;

    private static final MethodHandle MMAP = Libc.downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MPROTECT = Libc.downcall("mprotect", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MUNMAP = Libc.downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle GETPAGESIZE = Libc.downcall("getpagesize", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle STRDUP = Libc.downcall("strdup", FunctionDescriptor.of(ADDRESS, ADDRESS));
    /** The page size of this machine. */
    public static final long PAGE = pageSize();

    /** What a section holds, and so the permission its pages end with. */
    public enum Kind { CODE, READ_ONLY_DATA, READ_WRITE_DATA }

    /** A section handed to LLVM. */
    public record Section(Kind kind, long address, long size, long alignment, int sectionId, String name) {}

    /** One permission asked of the kernel: {@code mmap} (its initial protection), {@code mprotect} or {@code munmap}. */
    public record Protection(String call, long address, long length, int prot) {
        public boolean writableAndExecutable() {
            return (prot & PROT_WRITE) != 0 && (prot & PROT_EXEC) != 0;
        }
    }

    /** A mapping of pages holding sections of one kind. */
    private static final class Block {
        final Kind kind;
        final long address;
        final long size;
        long used;
        boolean sealed;

        Block(Kind kind, long address, long size) {
            this.kind = kind;
            this.address = address;
            this.size = size;
        }
    }

    private final long maxSectionSize;
    private final List<Block> blocks = new ArrayList<>();
    private final List<Section> sections = new ArrayList<>();
    private final List<Protection> protections = new ArrayList<>();
    private final Set<Long> opaquesSeen = new LinkedHashSet<>();
    private long bytesHandedOut;
    private long bytesMapped;
    private int calls;
    private int refusedRequests;
    private int finalizations;
    private boolean destroyed;

    public JitMemory() {
        this(DEFAULT_MAX_SECTION);
    }

    /** A manager that refuses any section larger than {@code maxSectionSize} bytes. */
    public JitMemory(long maxSectionSize) {
        if (maxSectionSize <= 0) {
            throw new IllegalArgumentException("maxSectionSize " + maxSectionSize);
        }
        this.maxSectionSize = maxSectionSize;
    }

    @Override
    public synchronized MemorySegment allocateCodeSection(MemorySegment opaque, long size, int alignment, int sectionId,
                                                          MemorySegment sectionName) {
        return allocate(opaque, Kind.CODE, size, alignment, sectionId, sectionName);
    }

    @Override
    public synchronized MemorySegment allocateDataSection(MemorySegment opaque, long size, int alignment, int sectionId,
                                                          MemorySegment sectionName, int isReadOnly) {
        return allocate(opaque, isReadOnly != 0 ? Kind.READ_ONLY_DATA : Kind.READ_WRITE_DATA, size, alignment, sectionId, sectionName);
    }

    @Override
    public synchronized int finalizeMemory(MemorySegment opaque, MemorySegment errMsg) {
        calls++;
        opaquesSeen.add(opaque.address());
        if (destroyed) {
            return fail(errMsg, "JitMemory: finalize after destroy");
        }
        for (Block b : blocks) {
            if (b.sealed) {
                continue;
            }
            int prot = switch (b.kind) {
                case CODE -> PROT_READ | PROT_EXEC;
                case READ_ONLY_DATA -> PROT_READ;
                case READ_WRITE_DATA -> PROT_READ | PROT_WRITE;
            };
            if (b.kind != Kind.READ_WRITE_DATA) {
                int rc = mprotect(b.address, b.size, prot);
                if (rc != 0) {
                    return fail(errMsg, "JitMemory: mprotect failed");
                }
            }
            b.sealed = true;
        }
        finalizations++;
        return 0;
    }

    @Override
    public synchronized void destroy(MemorySegment opaque) {
        calls++;
        opaquesSeen.add(opaque.address());
        release();
    }

    /** Unmaps every page (idempotent); later allocations are refused. Only once LLVM no longer uses the code. */
    public synchronized void release() {
        destroyed = true;
        for (Block b : blocks) {
            try {
                int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(b.address), b.size);
            } catch (Throwable t) {
                throw new IllegalStateException("munmap", t);
            }
            protections.add(new Protection("munmap", b.address, b.size, PROT_NONE));
        }
        blocks.clear();
    }

    private MemorySegment allocate(MemorySegment opaque, Kind kind, long size, int alignment, int sectionId, MemorySegment sectionName) {
        calls++;
        opaquesSeen.add(opaque.address());
        long align = alignment == 0 ? 1 : Integer.toUnsignedLong(alignment);
        if (destroyed || size < 0 || size > maxSectionSize || Long.bitCount(align) != 1 || align > MAX_ALIGNMENT) {
            refusedRequests++;
            return MemorySegment.NULL;   // an absurd request is refused, never attempted
        }
        long bytes = Math.max(1, size);
        Block block = null;
        long at = 0;
        for (Block b : blocks) {
            if (b.kind == kind && !b.sealed) {
                long candidate = alignUp(b.address + b.used, align);
                if (candidate + bytes <= b.address + b.size) {
                    block = b;
                    at = candidate;
                    break;
                }
            }
        }
        if (block == null) {
            long length = alignUp(Math.max(CHUNK, bytes + align - 1), PAGE);
            long address = mmap(length);
            if (address == 0) {
                refusedRequests++;
                return MemorySegment.NULL;
            }
            block = new Block(kind, address, length);
            blocks.add(block);
            at = alignUp(address, align);
        }
        block.used = at + bytes - block.address;
        bytesHandedOut += size;
        sections.add(new Section(kind, at, size, align, sectionId, name(sectionName)));
        return MemorySegment.ofAddress(at);
    }

    private long mmap(long length) {
        try {
            MemorySegment p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
            if (p.address() == -1L || p.address() == 0) {
                return 0;   // MAP_FAILED
            }
            protections.add(new Protection("mmap", p.address(), length, PROT_READ | PROT_WRITE));
            bytesMapped += length;
            return p.address();
        } catch (Throwable t) {
            throw new IllegalStateException("mmap", t);
        }
    }

    private int mprotect(long address, long length, int prot) {
        try {
            protections.add(new Protection("mprotect", address, length, prot));
            return (int) MPROTECT.invokeExact(MemorySegment.ofAddress(address), length, prot);
        } catch (Throwable t) {
            throw new IllegalStateException("mprotect", t);
        }
    }

    private static int fail(MemorySegment errMsg, String message) {
        if (!errMsg.equals(MemorySegment.NULL)) {
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment copy = (MemorySegment) STRDUP.invokeExact(a.allocateFrom(message));   // LLVM free()s it
                errMsg.reinterpret(ADDRESS.byteSize()).set(ADDRESS, 0, copy);
            } catch (Throwable t) {
                // no message then; the failure still stands
            }
        }
        return 1;
    }

    private static String name(MemorySegment sectionName) {
        if (sectionName.equals(MemorySegment.NULL)) {
            return "";
        }
        byte[] bytes = sectionName.reinterpret(256).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) {
            n++;
        }
        return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
    }

    private static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    private static long pageSize() {
        try {
            return (int) GETPAGESIZE.invokeExact();
        } catch (Throwable t) {
            throw new ExceptionInInitializerError(t);
        }
    }

    /** Every section handed out, in order. */
    public synchronized List<Section> sections() {
        return List.copyOf(sections);
    }

    /** Every mmap, mprotect and munmap this manager made, in order. */
    public synchronized List<Protection> protections() {
        return List.copyOf(protections);
    }

    /** Every Opaque value a callback received. */
    public synchronized Set<Long> opaquesSeen() {
        return Set.copyOf(opaquesSeen);
    }

    /** Bytes handed out in sections (their requested sizes). */
    public synchronized long bytesHandedOut() {
        return bytesHandedOut;
    }

    /** Bytes mapped from the kernel. */
    public synchronized long bytesMapped() {
        return bytesMapped;
    }

    /** Callbacks that reached this manager. */
    public synchronized int calls() {
        return calls;
    }

    /** Allocations refused as absurd (size, alignment) or after destroy. */
    public synchronized int refusedRequests() {
        return refusedRequests;
    }

    public synchronized int finalizations() {
        return finalizations;
    }

    public synchronized boolean destroyed() {
        return destroyed;
    }

    public long maxSectionSize() {
        return maxSectionSize;
    }
}
