package io.tabguard.ffm.internal;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/** libtabguard's loader and the Java side of the entry thunks' state words and refusal values. */
class TabguardLibraryTest {

    @Test
    void anyPlatformButLinuxX8664IsRefusedByName() {
        for (String[] platform : new String[][]{{"Windows 11", "amd64"}, {"Linux", "aarch64"}, {"Mac OS X", "x86_64"}}) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> TabguardLibrary.requireLinuxX8664(platform[0], platform[1]));
            assertTrue(e.getMessage().contains(platform[0] + " on " + platform[1]) && e.getMessage().contains("Linux on x86-64"),
                    e.getMessage());
        }
        assertDoesNotThrow(() -> TabguardLibrary.requireLinuxX8664("Linux", "amd64"));
        assertDoesNotThrow(() -> TabguardLibrary.requireLinuxX8664("Linux", "x86_64"));
    }

    @Test
    void theLibraryLoadsFromTheJarAndRegistersAMembarrier() {
        TabguardLibrary lib = TabguardLibrary.get();
        assertNotEquals(0, lib.refusalEntry());
        assertNotEquals(TabguardLibrary.BarrierMode.FENCE_ONLY, lib.barrierMode(),
                "this kernel offers membarrier (docs/performance.md's figures assume it)");
    }

    @Test
    void aStateWordRefusesUntilOpenedAndAfterEveryOtherState() {
        NativeEntry entry = EntryThunks.newEntry();
        assertNotEquals(NativeEntry.STATE_OPEN, entry.stateWord(), "a fresh cell must refuse (fail closed)");
        entry.publish(TableState.OPEN);
        assertEquals(NativeEntry.STATE_OPEN, entry.stateWord());
        for (TableState s : TableState.values()) {
            if (s != TableState.OPEN) {
                entry.publish(s);
                assertNotEquals(NativeEntry.STATE_OPEN, entry.stateWord(), s + " must refuse");
            }
        }
        assertEquals(0, entry.drainRefusals());
    }

    @Test
    void refusalValuesAreTheBitsTheSysVAbiReturns() {
        assertEquals(-7L, EntryThunks.refusalBits(-7));
        assertEquals(-7L, EntryThunks.refusalBits((byte) -7));
        assertEquals(0xC000_0000L, EntryThunks.refusalBits(-2.0f), "a float sits in the low 32 bits of xmm0");
        assertEquals(Double.doubleToRawLongBits(-0.5), EntryThunks.refusalBits(-0.5));
        assertEquals(0L, EntryThunks.refusalBits(MemorySegment.NULL));
        assertEquals(1L, EntryThunks.refusalBits(true));
        assertThrows(IllegalArgumentException.class, () -> EntryThunks.refusalBits("no"));
    }
}
