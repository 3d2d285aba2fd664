package io.tabguard.testkit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 14: pointers a plugin hands the host's entry points that would crash a host that dereferenced them
 * (before: SIGSEGV in {@code Unsafe_PutLong}, {@code jlong_disjoint_arraycopy}, exit 134). They run in a
 * forked JVM ({@link PluginBadPointerMain}), which must exit normally having refused each with its
 * violation, audited, and sealed the valid twin whose memory ends flush against a protected page.
 */
class PluginBadPointerForkTest {
    /** Each attack and the violation table_init/table_seal return for it. */
    static final Map<String, String> REFUSED = new LinkedHashMap<>();

    static {
        REFUSED.put("BAD_OUT_WILD", "BAD_POINTER");         // table_seal(..., out_table = 0x10)
        REFUSED.put("BAD_OUT_NULL", "BAD_POINTER");
        REFUSED.put("BAD_INIT_NULL", "BAD_POINTER");
        REFUSED.put("BAD_INIT_TAIL", "BAD_POINTER");        // the buffer's last 8 bytes are on a PROT_NONE page
        REFUSED.put("BAD_INIT_READ_ONLY", "BAD_POINTER");   // a PROT_READ buffer
        REFUSED.put("BAD_SEAL_TAIL", "BAD_POINTER");        // protected between table_init and table_seal
        REFUSED.put("BAD_INIT_HUGE", "PAYLOAD_SIZE");       // size SIZE_MAX
        REFUSED.put("BAD_SEAL_HUGE", "TABLE_SIZE");
    }

    static Path dir;

    @BeforeAll
    static void createDirectory() throws IOException {
        dir = Files.createTempDirectory("tabguard-bad-pointers");
    }

    @AfterAll
    static void deleteDirectory() throws IOException {
        NativeBuilds.deleteFlatDirectory(dir);
    }

    @Test
    void badPointersFromAPluginAreRefusedAndAuditedAndTheForkSurvives() throws Exception {
        List<String> args = new ArrayList<>();
        for (String variant : REFUSED.keySet()) {
            args.add(variant + "=" + PluginTest.compile(dir, variant));
        }
        args.add("FLUSH=" + PluginTest.compile(dir, "FLUSH"));
        Forks.Outcome o = Forks.run(PluginBadPointerMain.class, 120, args.toArray(String[]::new));

        assertEquals(0, o.exitCode(), "the fork did not exit normally:\n" + o.output());
        assertEquals("survived", o.lines().getLast(), o.output());
        for (Map.Entry<String, String> e : REFUSED.entrySet()) {
            String expected = e.getKey() + " refused " + e.getValue() + " audited";
            assertEquals(1, o.lines().stream().filter(l -> l.startsWith(expected + " ")).count(), expected + "\n" + o.output());
        }
        assertTrue(o.lines().contains("FLUSH sealed add=" + (5 + PluginTest.OFFSET)), o.output());
    }
}
