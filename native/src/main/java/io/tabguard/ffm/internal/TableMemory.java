package io.tabguard.ffm.internal;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Native memory for tables that native code may read but never write: memfd-backed slabs, each mapped
 * twice. The read-only mapping ({@code PROT_READ}) is the only one whose addresses leave the registry
 * (payload pointers, the index, signatures bind to it); the second mapping of the same pages is the
 * registry's private write path (build, stamp, rotate). A store through a read-only address faults
 * (SIGSEGV): the process stops instead of calling a planted pointer.
 *
 * <p><b>Write windows.</b> The private mapping is {@code PROT_NONE} except while the registry writes
 * (a build of a table in the slab, a key rotation): {@link #allocate} opens the slab's window and
 * {@link #doneWriting} closes it once its last writer is done, and only then, after every table of
 * the slab has been compared with its verified snapshot once more (a write that got in while the
 * window was open quarantines its table), is the slab {@link Slab#sealed sealed}. So while a slab is
 * sealed no store can reach its tables without a system call (mprotect, mmap): its tables' gates skip
 * the per-call compare, which costs more than the rest of the accept path; while it is open they compare
 * on every call, as they do for writable tables.
 *
 * <p>Tables are packed: blocks are bump-allocated, 8-byte aligned, inside {@value #SLAB_SIZE}-byte slabs
 * (small, so that the compare after a window stays short). Nothing is freed before the registry closes: a
 * revoked or closed table's bytes stay mapped and readable as long as native code might still hold its
 * pointer, and an address is never reused for another table (a stale pointer never reads a newer
 * table). The mappings belong to the registry's arena and are unmapped when it closes (Java access after
 * that throws rather than faults). The file descriptor of each slab is sealed against resizing and
 * future writable mappings and closed once both mappings exist.
 *
 * <p>Thread-safe: every method serialises on this object.
 */
public final class TableMemory {
    /** Bytes per slab: one memfd, mapped twice. A table (at most 64 KiB) always fits in one. */
    public static final long SLAB_SIZE = 1 << 16;
    private static final long ALIGNMENT = 8;

    /**
     * One block: the same bytes through the read-only and through the private mapping, and the slab they
     * are in. The private mapping is writable only until {@link #doneWriting} is called for the block.
     */
    public record Block(MemorySegment readOnly, MemorySegment writable, Slab slab) {}

    /** One slab of tables; whether its private mapping is closed and every table in it verified since. */
    public static final class Slab {
        private final MemorySegment readOnly;
        private final MemorySegment writable;
        private final Set<DispatchGate> gates = Collections.newSetFromMap(new IdentityHashMap<>());
        private int writers;
        private volatile boolean sealed;

        private Slab(MemorySegment readOnly, MemorySegment writable) {
            this.readOnly = readOnly;
            this.writable = writable;
        }

        /**
         * True while no store can reach the slab without a system call: its private mapping is
         * {@code PROT_NONE} and every table in it matched its snapshot after the last write window.
         */
        public boolean sealed() {
            return sealed;
        }
    }

    private final java.lang.foreign.Arena arena;
    private final List<Slab> slabs = new ArrayList<>();
    private Slab current;
    private long used;

    /** @param arena the registry's arena, which it closes last; it owns the mappings */
    public TableMemory(java.lang.foreign.Arena arena) {
        this.arena = arena;
    }

    /**
     * A block of {@code size} bytes, zero-filled, 8-byte aligned, its slab open for writing until
     * {@link #doneWriting} is called for it (exactly once, also when the build fails).
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
        openWindow(current);
        return new Block(current.readOnly.asSlice(offset, size).asReadOnly(), current.writable.asSlice(offset, size), current);
    }

    /**
     * The build that allocated {@code block} has written it. {@code gate} is the table's gate, kept with
     * the slab so that its table is verified whenever the slab's window closes; null if the build failed.
     */
    public synchronized void doneWriting(Block block, DispatchGate gate) {
        if (gate != null) {
            block.slab().gates.add(gate);
        }
        closeWindow(block.slab());
    }

    /** A released table: its gate is no longer verified with its slab. */
    public synchronized void forget(Slab slab, DispatchGate gate) {
        slab.gates.remove(gate);
    }

    /** Opens every slab for writing (key rotation); {@link #closeAll} closes them again. */
    public synchronized void openAll() {
        for (Slab s : slabs) {
            openWindow(s);
        }
    }

    /** Closes what {@link #openAll} opened: each slab is verified and sealed once its last writer is done. */
    public synchronized void closeAll() {
        for (Slab s : slabs) {
            closeWindow(s);
        }
    }

    private void openWindow(Slab s) {
        if (s.writers++ == 0) {
            s.sealed = false;   // before the window opens: from here on every call through its tables compares
            NativeAccess.protect(s.writable, NativeAccess.PROT_READ_WRITE);
        }
    }

    private void closeWindow(Slab s) {
        if (s.writers <= 0) {
            throw new IllegalStateException("slab closed more often than opened");
        }
        if (--s.writers == 0) {
            NativeAccess.protect(s.writable, NativeAccess.PROT_NONE);
            for (DispatchGate g : s.gates) {
                g.verifyNow();   // a write that got in while the window was open: its table is quarantined
            }
            s.sealed = true;
        }
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
            NativeAccess.protect(writable, NativeAccess.PROT_NONE);   // opened by allocate, like every later write
            Slab slab = new Slab(readOnly, writable);
            slabs.add(slab);
            return slab;
        } finally {
            NativeAccess.closeFd(fd);
        }
    }
}
