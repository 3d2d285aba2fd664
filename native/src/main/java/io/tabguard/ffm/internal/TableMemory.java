package io.tabguard.ffm.internal;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Native memory for tables that native code may read but never write: memfd-backed slabs, each mapped
 * twice. The read-only mapping ({@code PROT_READ}) is the only one whose addresses leave the registry
 * (payload pointers, the index, signatures bind to it); the read-write mapping of the same pages is
 * the registry's private write path (build, stamp, rotate). A store through a read-only address faults
 * (SIGSEGV): the process stops instead of calling a planted pointer.
 *
 * <p>Tables are packed: blocks are bump-allocated, 8-byte aligned, inside {@value #SLAB_SIZE}-byte slabs.
 * Nothing is freed before {@link #close()}: a revoked or closed table's bytes stay mapped and readable
 * as long as native code might still hold its pointer, and an address is never reused for another
 * table (a stale pointer never reads a newer table). The mappings belong to the registry's arena and
 * are unmapped when it closes (Java access after that throws rather than faults). The file descriptor
 * of each slab is sealed against resizing and future writable mappings and closed once both mappings exist.
 *
 * <p>Thread-safe: {@link #allocate} serialises on this object.
 */
public final class TableMemory {
    /** Bytes per slab: one memfd, mapped twice. A table (at most 64 KiB) always fits in one. */
    public static final long SLAB_SIZE = 1 << 20;
    private static final long ALIGNMENT = 8;

    /** One block: the same bytes through the read-only and through the private read-write mapping. */
    public record Block(MemorySegment readOnly, MemorySegment writable) {}

    private record Slab(MemorySegment readOnly, MemorySegment writable) {}

    private final java.lang.foreign.Arena arena;
    private final List<Slab> slabs = new ArrayList<>();
    private Slab current;
    private long used;

    /** @param arena the registry's arena, which it closes last; it owns the mappings */
    public TableMemory(java.lang.foreign.Arena arena) {
        this.arena = arena;
    }

    /**
     * A block of {@code size} bytes, zero-filled, 8-byte aligned.
     *
     * @throws IllegalStateException once the arena is closed, or if the kernel refuses the memory
     */
    public synchronized Block allocate(long size) {
        if (size <= 0 || size > SLAB_SIZE) {
            throw new IllegalArgumentException("block of " + size + " bytes");
        }
        long offset = (used + ALIGNMENT - 1) & -ALIGNMENT;
        if (current == null || offset + size > SLAB_SIZE) {
            current = newSlab();
            offset = 0;
        }
        used = offset + size;
        return new Block(current.readOnly().asSlice(offset, size).asReadOnly(), current.writable().asSlice(offset, size));
    }

    /** Bytes of shared memory this allocator holds (each byte is mapped twice, but backed once). */
    public synchronized long backingBytes() {
        return slabs.size() * SLAB_SIZE;
    }

    private Slab newSlab() {
        int fd = NativeAccess.sharedMemory("tabguard-tables", SLAB_SIZE);
        try {
            MemorySegment writable = NativeAccess.map(fd, SLAB_SIZE, NativeAccess.PROT_READ_WRITE, arena);
            // Sealed before the read-only mapping exists: no new writable mapping or write(2) from now on,
            // and the kernel maps the read-only view without VM_MAYWRITE, so mprotect cannot make it writable.
            NativeAccess.sealFutureWrites(fd);
            MemorySegment readOnly = NativeAccess.map(fd, SLAB_SIZE, NativeAccess.PROT_READ, arena);
            Slab slab = new Slab(readOnly, writable);
            slabs.add(slab);
            return slab;
        } finally {
            NativeAccess.closeFd(fd);
        }
    }
}
