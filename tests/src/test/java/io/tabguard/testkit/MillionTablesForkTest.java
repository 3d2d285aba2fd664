package io.tabguard.testkit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 16's scale target in a forked JVM with the default JVM flags (no heap, code cache or compiler
 * option; {@link Forks#runWithDefaultJvmFlags}): one registry holds {@value #TABLES} live 8-slot tables
 * of one schema, every slot a Java target ({@link MillionTablesMain}). C calls every slot of the first,
 * middle and last table and of a thousand random ones, each must return its own target's result; the
 * fork must survive and close the registry; and a table must cost at most 1 KB of heap and 1 KB of
 * native memory. Before the shared upcall stubs the same JVM ran out of code cache near 40,500 tables.
 */
class MillionTablesForkTest {
    static final int TABLES = 1_000_000;
    static final double MAX_HEAP_PER_TABLE = 1024;
    static final double MAX_NATIVE_PER_TABLE = 1024;

    /** The C consumer: reads each slot pointer from the payload it is handed and calls it. */
    static final String SOURCE = """
            typedef int (*binop)(int, int);
            /* every slot of an n-slot payload called with (a, b); returns how many were called */
            int call_slots(binop const *payload, int n, int a, int b, int *results) {
                for (int i = 0; i < n; i++) {
                    results[i] = payload[i](a, b);
                }
                return n;
            }
            """;

    static Path dir;
    static Path helper;

    @BeforeAll
    static void compile() throws IOException {
        dir = Files.createTempDirectory("tabguard-million");
        helper = NativeBuilds.sharedLibrary(dir, "million_caller", SOURCE, "-O2");
    }

    @AfterAll
    static void deleteDirectory() throws IOException {
        NativeBuilds.deleteFlatDirectory(dir);
    }

    @Test
    void aMillionLiveEightSlotTablesFitADefaultJvmAtUnderOneKilobyteEach() throws Exception {
        Forks.Outcome o = Forks.runWithDefaultJvmFlags(MillionTablesMain.class, 400, List.of(),
                Integer.toString(TABLES), helper.toString());
        String output = o.output();
        assertEquals(0, o.exitCode(), "the fork did not exit normally:\n" + output);
        assertEquals("closed", o.lines().getLast(), output);
        assertTrue(o.lines().contains("vm options: []"), "the fork must run with the JVM's defaults:\n" + output);
        Matcher m = Pattern.compile("result (.*)").matcher(output);
        assertTrue(m.find(), output);
        System.out.println(m.group(0));
        Map<String, Double> r = new HashMap<>();
        for (String kv : m.group(1).trim().split(" ")) {
            String[] parts = kv.split("=");
            r.put(parts[0], Double.parseDouble(parts[1]));
        }
        assertEquals(TABLES, r.get("tables"), output);
        assertEquals(TABLES, r.get("live"), "every table still open when C called them:\n" + output);
        assertEquals((3 + MillionTablesMain.RANDOM_SAMPLE) * MillionTablesMain.SLOTS, r.get("calls"), output);
        assertEquals(0, r.get("failed"), output);
        // one REGISTRY_OPENED and one TABLE_BUILT per table: a refusal, a throw or a quarantine would add records
        assertEquals(TABLES + 1, r.get("auditEvents"), output);
        assertTrue(r.get("heapPerTable") <= MAX_HEAP_PER_TABLE, "heap per table: " + m.group(0));
        assertTrue(r.get("nativePerTable") <= MAX_NATIVE_PER_TABLE, "native per table: " + m.group(0));
        assertTrue(r.get("heapPerTable") > 0 && r.get("nativePerTable") > 0, "the measurement saw the tables: " + m.group(0));
    }
}
