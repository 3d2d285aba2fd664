package io.tabguard.testkit;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The fail-stop policy halts the process (exit code 134) at the first refusal, before the caller gets
 * control back; refuse-and-continue returns the refusal value and lives on. Each case runs
 * {@link FailStopMain} in a forked JVM with this JVM's module path, patch and native-access flags.
 */
class FailStopForkTest {
    private static final String MAIN = "io.tabguard.testkit/" + FailStopMain.class.getName();

    record Outcome(int exitCode, String output) {
        List<String> lines() {
            return output.lines().toList();
        }
    }

    @Test
    void failStopHaltsANativeCallerBeforeItGetsAnAnswer() throws Exception {
        Outcome o = fork("FAIL_STOP", "native", "tamper");
        assertEquals(134, o.exitCode(), o.output());
        assertTrue(o.lines().contains("honest 42"), o.output());
        assertTrue(o.lines().contains("audit TABLE_REFUSED CHECKSUM"), o.output());
        assertTrue(o.lines().contains("audit closed"), "the audit trail is flushed before the halt\n" + o.output());
        assertFalse(o.output().contains("after call"), o.output());
        assertEquals(1, o.lines().stream().filter("target ran"::equals).count(), o.output());
    }

    @Test
    void failStopHaltsAJavaCallerBeforeTheException() throws Exception {
        Outcome o = fork("FAIL_STOP", "java", "tamper");
        assertEquals(134, o.exitCode(), o.output());
        assertTrue(o.lines().contains("audit TABLE_REFUSED CHECKSUM"), o.output());
        assertFalse(o.output().contains("rejected"), o.output());
        assertFalse(o.output().contains("after call"), o.output());
    }

    @Test
    void failStopLeavesAnHonestProgramAlone() throws Exception {
        Outcome o = fork("FAIL_STOP", "native", "honest");
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("after call 42"), o.output());
        assertTrue(o.lines().contains("exiting"), o.output());
    }

    @Test
    void refuseAndContinueReturnsTheRefusalValueAndExitsNormally() throws Exception {
        Outcome o = fork("REFUSE_AND_CONTINUE", "native", "tamper");
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.lines().contains("after call " + Fixtures.REFUSED), o.output());
        assertTrue(o.lines().contains("audit TABLE_REFUSED CHECKSUM"), o.output());
        assertTrue(o.lines().contains("exiting"), o.output());
        assertEquals(1, o.lines().stream().filter("target ran"::equals).count(), o.output());

        Outcome fromJava = fork("REFUSE_AND_CONTINUE", "java", "tamper");
        assertEquals(0, fromJava.exitCode(), fromJava.output());
        assertTrue(fromJava.lines().contains("rejected CHECKSUM"), fromJava.output());
    }

    private static Outcome fork(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmArguments());
        command.add("-m");
        command.add(MAIN);
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // the process is gone
            }
        });
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("the forked JVM did not finish: " + command);
        }
        reader.join(10_000);
        String output;
        synchronized (out) {
            output = out.toString(StandardCharsets.UTF_8);
        }
        return new Outcome(p.exitValue(), "command: " + command + "\n" + output);
    }

    /**
     * This JVM's module path, patch, reads, opens and native-access flags (Surefire's, expanded by the
     * launcher), read from the runtime MXBean. java.management is reached reflectively: the test kit's
     * module does not read it, and should not for the sake of one test.
     */
    static List<String> jvmArguments() {
        List<String> input;
        try {
            Class<?> factory = Class.forName("java.lang.management.ManagementFactory");
            Object bean = factory.getMethod("getRuntimeMXBean").invoke(null);
            @SuppressWarnings("unchecked")
            List<String> args = (List<String>) Class.forName("java.lang.management.RuntimeMXBean")
                    .getMethod("getInputArguments").invoke(bean);
            input = args;
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("cannot read this JVM's arguments", e);
        }
        List<String> kept = new ArrayList<>();
        for (String a : input) {
            if (a.startsWith("--module-path") || a.startsWith("--patch-module") || a.startsWith("--add-reads")
                    || a.startsWith("--add-opens") || a.startsWith("--add-exports") || a.startsWith("--add-modules")
                    || a.startsWith("--enable-native-access") || a.startsWith("--illegal-native-access")) {
                kept.add(a);
            }
        }
        if (kept.stream().noneMatch(a -> a.startsWith("--module-path"))) {
            kept.add("--module-path=" + System.getProperty("jdk.module.path"));
        }
        if (kept.stream().noneMatch(a -> a.startsWith("--patch-module"))) {
            String testClasses = Path.of(java.net.URI.create(
                    FailStopMain.class.getProtectionDomain().getCodeSource().getLocation().toString())).toString();
            kept.add("--patch-module=io.tabguard.testkit=" + testClasses);
        }
        if (kept.stream().noneMatch(a -> a.startsWith("--enable-native-access"))) {
            kept.add("--enable-native-access=io.tabguard.ffm,io.tabguard.testkit");
        }
        String classPath = System.getProperty("java.class.path");
        if (classPath != null && !classPath.isEmpty()) {
            kept.add("-cp");
            kept.add(classPath);
        }
        kept.add("-XX:TieredStopAtLevel=1");
        return kept;
    }
}
