package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * W^X of the entry thunks' memory, seen from Java: a native write into a thunk or into its table's state
 * word faults (in a forked JVM, {@link ThunkMemoryMain}), while the same write into ordinary memory goes
 * through; and /proc/self/maps shows the thunk code mapped read+execute, its writable alias closed
 * ({@code ---s}) while no build writes thunks, the state cells read-only and their alias closed too
 * while no state changes, and none of Tabguard's mappings writable and executable.
 */
class ThunkMemoryForkTest {

    @Test
    void aNativeWriteIntoAThunkFaults() throws Exception {
        assertFaults("thunk");
    }

    @Test
    void aNativeWriteThroughTheThunksWritableAliasFaults() throws Exception {
        assertFaults("alias");
    }

    @Test
    void aNativeWriteIntoTheStateWordFaults() throws Exception {
        assertFaults("state");
    }

    @Test
    void theSameWriteIntoOrdinaryMemorySucceeds() throws Exception {
        Forks.Outcome o = Forks.run(ThunkMemoryMain.class, 60, "heap");
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("wrote heap"), o.output());
        assertTrue(o.lines().contains("abs through the slot: 3"), o.output());
    }

    @Test
    void withoutAPlaceToExtractLibtabguardANativeSlotFailsWithAClearMessage() throws Exception {
        Forks.Outcome o = Forks.run(ThunkMemoryMain.class, 60, List.of("-Djava.io.tmpdir=/nonexistent-tabguard-tmp"), "heap");
        assertNotEquals(0, o.exitCode(), o.output());
        assertFalse(o.lines().contains("writing heap"), "a table with a native slot was built:\n" + o.output());
        assertTrue(o.output().contains("cannot extract libtabguard to a private directory under java.io.tmpdir (/nonexistent-tabguard-tmp)"),
                o.output());
    }

    @TempDir
    Path crashDir;

    private void assertFaults(String target) throws Exception {
        Forks.Outcome o = Forks.run(ThunkMemoryMain.class, 60,
                List.of("-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + crashDir.resolve("hs_err_%p.log")), target);
        assertTrue(o.lines().contains("writing " + target), o.output());
        assertFalse(o.lines().contains("wrote " + target), "the write went through:\n" + o.output());
        assertNotEquals(0, o.exitCode(), o.output());
        assertTrue(o.output().contains("SIGSEGV"), "the fork did not die of SIGSEGV:\n" + o.output());
    }

    @Test
    void noTabguardMappingIsWritableAndExecutable() throws Exception {
        try (Registry registry = Fixtures.open(new Fixtures.Audit(), o -> o.allowLibrary("libc.so.6"))) {
            CallbackTable table = registry.builder(Fixtures.CALC).bindNative("inc", "abs")
                    .bind("dbl", new Fixtures.Targets().dblHandle()).build();
            long thunk = table.function("inc").address();
            List<String[]> ours = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .map(l -> l.trim().split("\\s+"))
                    .filter(f -> f.length >= 6 && f[5].startsWith("/memfd:tabguard-")).toList();
            List<String[]> code = ours.stream().filter(f -> f[5].startsWith("/memfd:tabguard-thunks")).toList();
            List<String[]> state = ours.stream().filter(f -> f[5].startsWith("/memfd:tabguard-state")).toList();
            assertTrue(code.stream().anyMatch(f -> f[1].equals("r-xs") && contains(f[0], thunk)), "the thunk's page is r-xs");
            // the writable alias exists, and with no build running it is closed: a store that found it faults
            assertTrue(code.stream().anyMatch(f -> f[1].equals("---s")), "the thunks' writable alias exists, closed (---s): " + show(code));
            assertTrue(code.stream().allMatch(f -> f[1].equals("r-xs") || f[1].equals("---s")), "thunk mappings: " + show(code));
            assertTrue(state.stream().allMatch(f -> f[1].equals("r--s") || f[1].equals("---s")), "state mappings: " + show(state));
            assertTrue(state.stream().anyMatch(f -> f[1].equals("---s")), "the state cells' writable alias, closed: " + show(state));
            assertTrue(state.stream().anyMatch(f -> f[1].equals("r--s")), "a read-only state view exists");
            assertTrue(ours.stream().noneMatch(f -> f[1].contains("w") && f[1].contains("x")), "a W+X mapping: " + show(ours));
        }
    }

    private static boolean contains(String range, long address) {
        String[] bounds = range.split("-");
        return Long.parseUnsignedLong(bounds[0], 16) <= address && address < Long.parseUnsignedLong(bounds[1], 16);
    }

    private static String show(List<String[]> lines) {
        return lines.stream().map(f -> String.join(" ", f)).toList().toString();
    }
}
