package io.tabguard.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Compiles C source a test generated into a shared library with the system gcc (warnings are errors). */
final class CCompiler {
    private CCompiler() {}

    /** @param optimisation e.g. "-O0" for large generated sources (gcc time), "-O2" for a realistic consumer */
    static Path sharedLibrary(Path dir, String name, String source, String optimisation) throws IOException, InterruptedException {
        Path c = dir.resolve(name + ".c");
        Path so = dir.resolve("lib" + name + ".so");
        Files.writeString(c, source);
        List<String> cmd = new ArrayList<>(List.of("gcc", "-std=c11", optimisation, "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                "-o", so.toString(), c.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "gcc timed out");
        assertEquals(0, p.exitValue(), "gcc " + String.join(" ", cmd) + "\n" + output);
        return so;
    }
}
