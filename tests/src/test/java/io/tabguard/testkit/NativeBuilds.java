package io.tabguard.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Builds the C sources of tests (plugins, helper libraries) into shared libraries with gcc, failing the test on any warning. */
final class NativeBuilds {
    private NativeBuilds() {}

    /** {@code native/include}, where {@code tabguard.h} lives (the tests run in the tests module's folder). */
    static Path includeDir() {
        return Path.of(System.getProperty("user.dir")).resolve("../native/include").normalize();
    }

    /** Deletes a folder of build outputs (flat: the sources and libraries a test wrote into it). */
    static void deleteFlatDirectory(Path dir) throws IOException {
        try (var files = java.nio.file.Files.list(dir)) {
            for (Path p : files.toList()) {
                java.nio.file.Files.deleteIfExists(p);
            }
        }
        java.nio.file.Files.deleteIfExists(dir);
    }

    /** {@code gcc -std=c11 -Wall -Wextra -Werror -fPIC -shared <flags> -o out sources... <libraries>}. */
    static Path sharedLibrary(Path out, List<Path> sources, List<String> flags, List<String> libraries) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"));
        cmd.addAll(flags);
        cmd.addAll(List.of("-I", includeDir().toString(), "-o", out.toString()));
        sources.forEach(s -> cmd.add(s.toString()));
        cmd.addAll(libraries);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "gcc timed out");   // large generated sources (ThunkAbiTest)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        assertEquals(0, p.exitValue(), "gcc " + String.join(" ", cmd) + "\n" + output);
        return out;
    }

    /**
     * Writes a test's generated C {@code source} to {@code dir/name.c} and builds {@code dir/libname.so} from it.
     *
     * @param optimisation e.g. "-O0" for large generated sources (gcc time), "-O2" for a realistic consumer
     */
    static Path sharedLibrary(Path dir, String name, String source, String optimisation) throws IOException {
        Path c = dir.resolve(name + ".c");
        java.nio.file.Files.writeString(c, source);
        return sharedLibrary(dir.resolve("lib" + name + ".so"), List.of(c), List.of(optimisation), List.of());
    }
}
