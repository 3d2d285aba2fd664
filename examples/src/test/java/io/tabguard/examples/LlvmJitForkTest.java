package io.tabguard.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The attacks on LLVM's memory manager that make MCJIT stop the process: a refused section allocation
 * returns {@code NULL}, and MCJIT answers with its own fatal error ("LLVM ERROR: Unable to allocate
 * section memory!", then {@code abort()}). Each runs {@link LlvmJitProbe} in a forked JVM with this JVM's
 * module path and native-access flags, and is checked three ways: the fork died of LLVM's fatal error
 * (exit 134, SIGABRT), the refusal is in the audit log the fork wrote before it died, and no
 * JIT-compiled code ran (no {@code result} line). The honest twin runs to completion.
 */
class LlvmJitForkTest {
    private static final int SIGABRT_EXIT = 128 + 6;

    record Outcome(int exitCode, String output, String audit) {
        List<String> lines() {
            return output.lines().toList();
        }
    }

    @Test
    void theHonestTwinCompilesAndRuns(@TempDir Path dir) throws Exception {
        Outcome o = fork("honest", dir);
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("result arith(7,3)=" + LlvmJitSamples.arith(7, 3)), o.output());
        assertTrue(o.lines().contains("result lookup(5)=" + LlvmJitSamples.lookup(5)), o.output());
        assertTrue(o.lines().contains("done"), o.output());
        assertFalse(o.audit().contains("\"TABLE_REFUSED\""), o.audit());
    }

    @Test
    void aTableRevokedBeforeCompilingStopsLlvmBeforeAnyJitCodeRuns(@TempDir Path dir) throws Exception {
        Outcome o = fork("revoke", dir);
        assertStoppedByLlvm(o, "REVOKED");
        assertTrue(o.lines().contains("table REVOKED"), o.output());
    }

    @Test
    void swappedCodeAndDataSlotsStopLlvmBeforeAnyJitCodeRuns(@TempDir Path dir) throws Exception {
        Outcome o = fork("tamper", dir);
        assertStoppedByLlvm(o, "SIGNATURE");   // CRC32C recomputed: only the signature tells
        assertTrue(o.audit().contains("\"type\":\"TABLE_QUARANTINED\""), o.audit());
    }

    @Test
    void anAllocatorThatThrowsIsContainedAndLlvmStopsOnTheRefusalValue(@TempDir Path dir) throws Exception {
        Outcome o = fork("throw", dir);
        assertEquals(SIGABRT_EXIT, o.exitCode(), o.output());
        assertTrue(o.output().contains("LLVM ERROR: Unable to allocate section memory"), o.output());
        assertTrue(o.audit().contains("\"type\":\"CALLBACK_THREW\""), o.audit());
        assertFalse(o.output().contains("result "), o.output());
        assertFalse(o.output().contains("hs_err"), "the JVM did not crash: LLVM stopped it\n" + o.output());
    }

    private static void assertStoppedByLlvm(Outcome o, String violation) {
        assertEquals(SIGABRT_EXIT, o.exitCode(), o.output());
        assertTrue(o.output().contains("LLVM ERROR: Unable to allocate section memory"), o.output());
        assertTrue(o.lines().contains("compiling"), o.output());
        assertFalse(o.output().contains("result "), "JIT-compiled code ran\n" + o.output());
        assertFalse(o.lines().contains("done"), o.output());
        assertFalse(o.output().contains("hs_err"), o.output());
        List<String> refusals = o.audit().lines().filter(l -> l.contains("\"type\":\"TABLE_REFUSED\"")).toList();
        assertFalse(refusals.isEmpty(), "the refusal reached the audit log before LLVM stopped the process\n" + o.audit());
        assertTrue(refusals.getFirst().contains("\"violation\":\"" + violation + "\""), refusals.getFirst());
        assertTrue(refusals.getFirst().contains("llvm.mcjit_simple_memory_manager"), refusals.getFirst());
    }

    private static Outcome fork(String mode, Path dir) throws IOException, InterruptedException {
        Path log = dir.resolve(mode + ".jsonl");
        ForkedJvm.Result r = ForkedJvm.run(dir, List.of("-XX:-CreateCoredumpOnCrash"), LlvmJitProbe.class.getName(),
                mode, log.toString());
        String audit = Files.exists(log) ? Files.readString(log) : "";
        return new Outcome(r.exitCode(), r.output(), audit);
    }
}
