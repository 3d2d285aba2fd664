package io.tabguard.examples;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs a main class of this module in a fresh JVM on this JVM's module path, for tests whose subject
 * may take the process down (a process-global SQLite setting, LLVM's abort on a refused allocation).
 */
final class ForkedJvm {
    private ForkedJvm() {}

    /** What the fork did: its exit code, and the command followed by everything it printed. */
    record Result(int exitCode, String output) {}

    /**
     * Runs {@code -m io.tabguard.examples/<mainClass> args} in {@code directory} (null: this one), with
     * {@code extraJvmOptions} after this JVM's module flags; fails the test if it runs past 60 s.
     */
    static Result run(Path directory, List<String> extraJvmOptions, String mainClass, String... args)
            throws IOException, InterruptedException {
        return run(60, directory, extraJvmOptions, mainClass, args);
    }

    /** {@link #run(Path, List, String, String...)} that fails the test if the fork runs past {@code timeoutSeconds}. */
    static Result run(long timeoutSeconds, Path directory, List<String> extraJvmOptions, String mainClass, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmArguments());
        command.addAll(extraJvmOptions);
        command.add("-m");
        command.add("io.tabguard.examples/" + mainClass);
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (directory != null) {
            builder.directory(directory.toFile());
        }
        Process p = builder.start();
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
            fail("the forked JVM did not finish: " + command);
        }
        reader.join(10_000);
        String output;
        synchronized (out) {
            output = out.toString(StandardCharsets.UTF_8);
        }
        return new Result(p.exitValue(), "command: " + command + "\n" + output);
    }

    /**
     * This JVM's module path, patch, reads, opens and native-access flags (Surefire's, expanded by the
     * launcher), read from the runtime MXBean; java.management is reached reflectively (this module does
     * not read it). The recipe of {@code FailStopForkTest} in the tests module.
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
        if (kept.stream().noneMatch(a -> a.startsWith("--enable-native-access"))) {
            kept.add("--enable-native-access=io.tabguard.ffm,io.tabguard.examples");
        }
        if (kept.stream().noneMatch(a -> a.startsWith("--illegal-native-access"))) {
            kept.add("--illegal-native-access=deny");
        }
        String classPath = System.getProperty("java.class.path");
        if (classPath != null && !classPath.isEmpty()) {
            kept.add("-cp");
            kept.add(classPath);
        }
        kept.add("-XX:TieredStopAtLevel=1");   // short runs: C1 is enough, and leaves the other core alone
        return kept;
    }
}
