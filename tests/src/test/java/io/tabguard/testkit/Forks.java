package io.tabguard.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** Runs a main class of this module in a forked JVM with this JVM's module path and native-access flags. */
final class Forks {
    private Forks() {}

    record Outcome(int exitCode, String output) {
        List<String> lines() {
            return output.lines().toList();
        }
    }

    static Outcome run(Class<?> main, long timeoutSeconds, String... args) throws IOException, InterruptedException {
        return run(main, timeoutSeconds, List.of(), args);
    }

    /** {@link #run(Class, long, String...)} with extra JVM options (e.g. where a crash writes its hs_err file). */
    static Outcome run(Class<?> main, long timeoutSeconds, List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        return run(main, timeoutSeconds, jvmArguments(), jvmOptions, args);
    }

    /**
     * {@link #run(Class, long, List, String...)} with the JVM's default compilers: without the
     * {@code -XX:TieredStopAtLevel=1} the other forks start with, which also shrinks the code cache from
     * the default 240 MB (segmented) to 48 MB. For forks that measure what a default JVM can hold.
     */
    static Outcome runWithDefaultJvmFlags(Class<?> main, long timeoutSeconds, List<String> jvmOptions, String... args)
            throws IOException, InterruptedException {
        List<String> launch = new ArrayList<>(jvmArguments());
        launch.remove(QUICK_JIT);
        return run(main, timeoutSeconds, launch, jvmOptions, args);
    }

    /** What every other fork starts with: the C1 compiler only. */
    private static final String QUICK_JIT = "-XX:TieredStopAtLevel=1";

    private static Outcome run(Class<?> main, long timeoutSeconds, List<String> launch, List<String> jvmOptions, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(launch);
        command.addAll(jvmOptions);
        command.add("-m");
        command.add("io.tabguard.testkit/" + main.getName());
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
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(main.getSimpleName() + " did not finish in " + timeoutSeconds + " s: " + command);
        }
        reader.join(10_000);
        synchronized (out) {
            return new Outcome(p.exitValue(), out.toString(StandardCharsets.UTF_8));
        }
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
        kept.add(QUICK_JIT);
        return kept;
    }
}
