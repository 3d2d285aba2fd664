package io.tabguard.examples;

import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class DemoTest {

    @Test
    void everyAttackIsRefusedWithANamedViolationAndTheDemoExitsZero(@org.junit.jupiter.api.io.TempDir java.nio.file.Path auditDir) throws Exception {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        int exit = Demo.run(new PrintStream(buffer, true, StandardCharsets.UTF_8), auditDir);
        String output = buffer.toString(StandardCharsets.UTF_8);

        assertEquals(0, exit, output);
        List<String> attacks = output.lines().filter(l -> l.startsWith("attack ")).toList();
        assertEquals(7, attacks.size(), output);
        assertEquals(Set.of("a", "b", "c", "d", "e", "f"),
                attacks.stream().map(l -> l.substring(7, 8)).collect(Collectors.toSet()), output);
        Set<String> violations = Arrays.stream(Violation.values()).map(Violation::name).collect(Collectors.toSet());
        for (String line : attacks) {
            String named = line.substring(line.indexOf("->") + 2).trim().split("\\s+")[0];
            assertTrue(violations.contains(named), "no violation named in: " + line);
            assertTrue(line.endsWith("process alive"), line);
        }
        assertTrue(attacks.stream().anyMatch(l -> l.contains("CONTEXT_MISMATCH")), output);
        assertTrue(attacks.stream().anyMatch(l -> l.contains("REVOKED")), output);
        assertEquals(2, output.lines().filter(l -> l.startsWith("honest") && l.endsWith("-> ok")).count(), output);
        assertTrue(output.contains("all 7 attacks refused"), output);
        // The LLVM part: MCJIT's memory manager behind a verified table, then four attacks on it.
        assertTrue(output.lines().anyMatch(l -> l.startsWith("llvm      arith(7,3) = 82") && l.endsWith("->  ok")), output);
        assertTrue(output.contains("llvm      code pages r-xp; no page ever writable and executable: yes"), output);
        assertEquals(4, output.lines().filter(l -> l.startsWith("llvm      attack: ") && l.endsWith("process alive")).count(), output);
        // The C plugin part: the minimal plugin of docs/internals.md sealed and called, a hostile twin refused.
        assertTrue(output.lines().anyMatch(l -> l.startsWith("plugin    libcalc.so sealed") && l.endsWith("twice(21) = 42  ->  ok")), output);
        assertTrue(output.lines().anyMatch(l -> l.startsWith("plugin    libcalc_hostile.so") && l.contains("->  SLOT_OUTSIDE_ALLOW_LIST")), output);
        assertFalse(output.contains("Exception"), "no stack traces or exception names: " + output);
        try (var logs = java.nio.file.Files.list(auditDir)) {
            java.nio.file.Path log = logs.filter(p -> p.toString().endsWith(".jsonl")).findFirst().orElseThrow();
            assertTrue(output.contains("./tabguard audit verify " + log + "  ->  intact"), output);
            String text = java.nio.file.Files.readString(log);
            for (String violation : List.of("CHECKSUM", "SIGNATURE", "REVOKED", "CONTEXT_MISMATCH")) {
                assertTrue(text.contains("\"" + violation + "\""), violation + " not in the audit log");
            }
        }
    }
}
