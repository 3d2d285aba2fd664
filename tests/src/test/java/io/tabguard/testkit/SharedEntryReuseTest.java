package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The records behind Java slots' entry thunks are one per table and are reused once a registry closes:
 * a slot pointer a C consumer kept past its registry's close must refuse (the shared stub's zero value,
 * no target run) and must never reach the table that now holds its record, while that table's own
 * pointers dispatch to its targets.
 */
class SharedEntryReuseTest {

    @Test
    void aSlotPointerKeptPastItsRegistrysCloseRefusesAndNeverReachesTheTableReusingItsRecord() throws Throwable {
        Fixtures.Targets old = new Fixtures.Targets();
        Registry first = Fixtures.open(new Fixtures.Audit());
        CallbackTable closedTable = Fixtures.calcTable(first, old);
        MemorySegment keptInc = closedTable.function("inc");
        MemorySegment keptDbl = closedTable.function("dbl");
        assertEquals(6, Fixtures.callNative(keptInc, 5), "the valid twin: the pointer works while its registry is open");
        assertEquals(1, old.inc.get());
        first.close();

        Fixtures.Targets fresh = new Fixtures.Targets();
        try (Registry second = Fixtures.open(new Fixtures.Audit())) {
            List<CallbackTable> tables = new ArrayList<>();
            for (int i = 0; i < 16; i++) {   // the freed record is handed out again (last freed, first reused)
                tables.add(Fixtures.calcTable(second, fresh));
            }
            assertTrue(mappedThunk(keptInc.address()) && mappedThunk(keptDbl.address()),
                    "thunk cells stay mapped for the life of the process");
            assertEquals(0, Fixtures.callNative(keptInc, 5), "a stale entry returns its shape's zero value");
            assertEquals(0, Fixtures.callNative(keptDbl, 5));
            assertEquals(1, old.inc.get(), "the closed table's target did not run");
            assertEquals(0, old.dbl.get());
            assertEquals(0, fresh.total(), "no target of the tables built since ran");
            for (CallbackTable t : tables) {
                assertEquals(6, Fixtures.callNative(t, "inc", 5));
                assertEquals(10, Fixtures.callNative(t, "dbl", 5));
            }
            assertEquals(16, fresh.inc.get());
            assertEquals(16, fresh.dbl.get());
        }
    }

    /** Whether {@code address} lies in a mapping of Tabguard's thunk memory, so calling it cannot fault. */
    private static boolean mappedThunk(long address) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 6 && f[5].startsWith("/memfd:tabguard-thunks") && f[1].equals("r-xs")) {
                String[] bounds = f[0].split("-");
                if (Long.parseUnsignedLong(bounds[0], 16) <= address && address < Long.parseUnsignedLong(bounds[1], 16)) {
                    return true;
                }
            }
        }
        return false;
    }
}
