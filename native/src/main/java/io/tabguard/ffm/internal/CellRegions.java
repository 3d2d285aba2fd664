package io.tabguard.ffm.internal;

import java.util.Map;
import java.util.TreeMap;

/**
 * Fixed-size cells (thunks or state cells) packed into regions of one memfd double mapping each
 * ({@code tg_dualmap}): written through the region's writable alias, handed out at its view. The
 * writable alias is {@code PROT_NONE} except while cells are being written (between {@link #allocate}
 * and {@link #doneWriting}, or inside {@link #rewrite}, counted per region), so a store that found the
 * alias in {@code /proc/self/maps} faults instead of planting code in an executable view or setting a
 * revoked table's state word back to OPEN. A cell is
 * never reused: freeing one only counts it, and a region whose every cell has been allocated and freed
 * is retired ({@code tg_dualmap_retire}): its memory goes back to the kernel and its view's addresses
 * stay reserved and inaccessible. A stale pointer into a freed cell therefore reaches what the cell
 * held when it was freed (which refuses) until its region retires, and faults after that; it never
 * reaches another table's cell.
 *
 * <p>Thread-safe (synchronized; used at build and release time, never on a call path).
 */
final class CellRegions {
    /** A cell: where to write it, and where it runs or is read. */
    record Cell(long writable, long view) {}

    private static final class Region {
        final TabguardLibrary.DualMapping mapping;
        long used;
        long live;
        int writers;
        /** Run when the region retires (see {@link #freeAll}). */
        java.util.List<Runnable> onRetire;

        Region(TabguardLibrary.DualMapping mapping) {
            this.mapping = mapping;
        }
    }

    private final long cellSize;
    private final long regionSize;
    private final boolean executable;
    private final TreeMap<Long, Region> byView = new TreeMap<>();
    private Region current;

    /**
     * @param cellSize   bytes per cell, a power of two; cells are aligned to it
     * @param regionSize bytes per region, a multiple of the page size and of {@code cellSize}
     * @param executable whether the view is read+execute (thunks) or read-only (state cells)
     */
    CellRegions(long cellSize, long regionSize, boolean executable) {
        if (Long.bitCount(cellSize) != 1 || regionSize % cellSize != 0) {
            throw new IllegalArgumentException("cells of " + cellSize + " in regions of " + regionSize);
        }
        this.cellSize = cellSize;
        this.regionSize = regionSize;
        this.executable = executable;
    }

    /** A fresh cell whose writable alias stays open until {@link #doneWriting} is called with it. */
    synchronized Cell allocate() {
        if (current == null || current.used + cellSize > regionSize) {
            Region full = current;
            current = new Region(TabguardLibrary.get().dualMapping(regionSize, executable));
            byView.put(current.mapping.view(), current);
            TabguardLibrary.get().protectWritable(current.mapping, false);
            if (full != null && full.live == 0 && full.writers == 0) {
                retire(full);
            }
        }
        long offset = current.used;
        current.used += cellSize;
        current.live++;
        if (current.writers++ == 0) {
            TabguardLibrary.get().protectWritable(current.mapping, true);
        }
        return new Cell(current.mapping.writable() + offset, current.mapping.view() + offset);
    }

    /** Runs {@code write} (a store into the live cell at {@code view} through its writable alias) inside a write window. */
    synchronized void rewrite(long view, Runnable write) {
        Region r = regionOf(view);
        if (r.writers++ == 0) {
            TabguardLibrary.get().protectWritable(r.mapping, true);
        }
        try {
            write.run();
        } finally {
            doneWriting(view);
        }
    }

    /** The cell allocated at {@code view} is written: its region's alias closes once no other cell is being written. */
    synchronized void doneWriting(long view) {
        Region r = regionOf(view);
        if (r.writers <= 0) {
            throw new IllegalStateException("cell at 0x" + Long.toHexString(view) + " was not being written");
        }
        if (--r.writers == 0) {
            TabguardLibrary.get().protectWritable(r.mapping, false);
            if (r.live == 0 && r != current) {
                retire(r);
            }
        }
    }

    private Region regionOf(long view) {
        Map.Entry<Long, Region> e = byView.floorEntry(view);
        if (e == null || view >= e.getKey() + regionSize || (view - e.getKey()) % cellSize != 0) {
            throw new IllegalArgumentException("no cell at 0x" + Long.toHexString(view));
        }
        return e.getValue();
    }

    /** Whether {@code view} is the address of a cell of a live region of these. */
    synchronized boolean owns(long view) {
        Map.Entry<Long, Region> e = byView.floorEntry(view);
        return e != null && view < e.getKey() + regionSize;
    }

    /** Frees the cell at {@code view}; its region retires once every cell of it is allocated and freed. */
    synchronized void free(long view) {
        Region r = regionOf(view);
        if (r.live <= 0) {
            throw new IllegalStateException("cell at 0x" + Long.toHexString(view) + " freed twice");
        }
        r.live--;
        if (r.live == 0 && r != current && r.writers == 0) {
            retire(r);
        }
    }

    /**
     * Frees the cells at {@code views} and runs {@code afterRetired} once every region that held one of
     * them has retired (at once if {@code views} is empty). For what the cells point into and must outlive
     * them: a native thunk reads its table's state cell, so the cell is freed only when no call can reach
     * one of the table's thunks any more. {@code afterRetired} runs under this object's lock; it must not
     * call back into this object.
     */
    synchronized void freeAll(long[] views, Runnable afterRetired) {
        java.util.Set<Region> regions = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (long view : views) {
            regions.add(regionOf(view));
        }
        if (regions.isEmpty()) {
            afterRetired.run();
            return;
        }
        int[] pending = {regions.size()};
        Runnable countDown = () -> {
            if (--pending[0] == 0) {
                afterRetired.run();
            }
        };
        for (Region r : regions) {
            if (r.onRetire == null) {
                r.onRetire = new java.util.ArrayList<>();
            }
            r.onRetire.add(countDown);
        }
        for (long view : views) {
            free(view);
        }
    }

    private void retire(Region r) {
        byView.remove(r.mapping.view());
        TabguardLibrary.get().retire(r.mapping);
        java.util.List<Runnable> actions = r.onRetire;
        r.onRetire = null;
        if (actions != null) {
            actions.forEach(Runnable::run);
        }
    }

}
