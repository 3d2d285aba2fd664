package io.tabguard.guard;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Compiles and runs small C programs for the tests that hold Java layouts against a C compiler. */
public final class CCompiler {
    private CCompiler() {}

    /** Strict C11: any warning fails the build of the probe. */
    public static final List<String> C11_FLAGS = List.of("-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic");

    /** {@code native/include}, found from surefire's working directory (the guard module's folder). */
    public static Path includeDir() {
        Path dir = Path.of(System.getProperty("user.dir")).resolve("../native/include").normalize();
        assertTrue(Files.isRegularFile(dir.resolve("tabguard.h")),
                "tabguard.h not found at " + dir + " (user.dir=" + System.getProperty("user.dir")
                        + "; the guard's tests expect to run from the guard module's folder)");
        return dir;
    }

    public static Path header() {
        return includeDir().resolve("tabguard.h");
    }

    /** True if {@code compiler --version} runs. */
    public static boolean available(String compiler) {
        try {
            Process p = new ProcessBuilder(compiler, "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Fails the test, with a message saying what to install, unless gcc runs. */
    public static void requireGcc() {
        if (!available("gcc")) {
            fail("gcc is required by this test (it checks Java layouts against a real C compiler) and was not found on PATH. "
                    + "Install it (Debian/Ubuntu: apt-get install gcc); CI installs it.");
        }
    }

    /** Writes {@code source} to {@code dir}, compiles it with {@code compiler} and the given flags, and returns the binary. */
    public static Path compile(Path dir, String compiler, String fileName, String source, List<String> flags) {
        try {
            Path src = dir.resolve(fileName);
            Files.writeString(src, source, StandardCharsets.UTF_8);
            Path exe = dir.resolve(fileName.replaceAll("\\.[^.]+$", "") + ".bin");
            List<String> cmd = new ArrayList<>();
            cmd.add(compiler);
            cmd.addAll(flags);
            cmd.addAll(List.of("-I", includeDir().toString(), "-o", exe.toString(), src.toString()));
            run(cmd, dir, "compiling " + fileName + "\n--- source ---\n" + numbered(source));
            return exe;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Compiles {@code source} as strict C11 with gcc, runs it in {@code dir}, and returns its standard output. */
    public static String compileAndRun(Path dir, String fileName, String source, String... args) {
        requireGcc();
        Path exe = compile(dir, "gcc", fileName, source, C11_FLAGS);
        List<String> command = new ArrayList<>();
        command.add(exe.toString());
        command.addAll(List.of(args));
        return run(command, dir, "running " + fileName);
    }

    /** Runs {@code command}, failing the test with its output if it does not exit 0 within a minute. */
    public static String run(List<String> command, Path dir, String what) {
        try {
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(what + ": timed out");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                fail(what + ": exit " + p.exitValue() + "\n" + text);
            }
            return text;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(what, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + ": interrupted", e);
        }
    }

    private static String numbered(String source) {
        StringBuilder sb = new StringBuilder();
        String[] lines = source.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            sb.append(String.format("%4d  %s%n", i + 1, lines[i]));
        }
        return sb.toString();
    }
}
