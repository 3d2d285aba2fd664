package com.example.sorter;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Launches the application as its users would, in a fresh JVM each time, with the jars Maven resolved
 * from the repository (Tabguard through its BOM): on the module path; on the class path without opting
 * in (refused); on the class path with the opt-in (works, with one WARNING). Each JVM's user.home is a
 * temporary directory, so the registry's default audit log lands there and can be read back.
 */
class LaunchTest {
    private static final String CLASS_PATH_WARNING = "Tabguard registry opened on the class path";
    private static final String EXPECTED = expectedSort();

    private static String expectedSort() {
        int[] values = {5, 3, 9, 1, 7};   // what the program sorts
        Arrays.sort(values);
        return Arrays.toString(values);
    }

    record Run(int exit, String out, String err, Path home) {
        String auditLog() throws IOException {
            Path dir = home.resolve(".tabguard/audit");
            if (!Files.isDirectory(dir)) {
                return "";
            }
            try (Stream<Path> files = Files.list(dir)) {
                List<Path> logs = files.filter(p -> p.toString().endsWith(".jsonl")).toList();
                assertEquals(1, logs.size(), "one registry, one audit log: " + logs);
                return Files.readString(logs.getFirst());
            }
        }
    }

    @Test
    void onTheModulePathItSortsThroughTheVerifiedTable(@TempDir Path home) throws Exception {
        Run run = launch(home, List.of("--illegal-native-access=deny",
                "--enable-native-access=io.tabguard.ffm,com.example.sorter",
                "--module-path", applicationPath(), "-m", "com.example.sorter/com.example.sorter.SortWithQsort"));
        assertEquals(0, run.exit(), run.err());
        assertEquals(EXPECTED, run.out().strip());
        assertFalse(run.err().contains(CLASS_PATH_WARNING), run.err());
        assertFalse(run.err().contains("WARNING: A restricted method"), "native access was granted, not defaulted: " + run.err());
        String log = run.auditLog();
        assertTrue(log.contains("\"REGISTRY_OPENED\"") && log.contains("module path"), log);
        assertTrue(log.contains("\"TABLE_BUILT\""), log);
    }

    @Test
    void onTheClassPathWithoutOptingInRegistryOpenRefusesAndNamesTheFix(@TempDir Path home) throws Exception {
        Run run = launch(home, List.of("--illegal-native-access=deny", "--enable-native-access=ALL-UNNAMED",
                "-cp", applicationPath(), "com.example.sorter.SortWithQsort"));
        assertNotEquals(0, run.exit());
        assertEquals("", run.out().strip(), "nothing sorted");
        assertTrue(run.err().contains("java.lang.IllegalStateException: Tabguard is on the class path"), run.err());
        assertTrue(run.err().contains("module path"), run.err());
        assertTrue(run.err().contains("--enable-native-access=io.tabguard.ffm"), run.err());
        assertTrue(run.err().contains("allowClassPath()"), run.err());
        assertEquals("", run.auditLog(), "refused before any audit log was opened");
    }

    @Test
    void onTheClassPathWithTheOptInItSortsWithOneWarningAndTheModeIsAudited(@TempDir Path home) throws Exception {
        Run run = launch(home, List.of("--illegal-native-access=deny", "--enable-native-access=ALL-UNNAMED",
                "-cp", applicationPath(), "com.example.sorter.SortOnTheClassPath"));
        assertEquals(0, run.exit(), run.err());
        assertEquals(EXPECTED, run.out().strip());
        assertEquals(1, occurrences(run.err(), CLASS_PATH_WARNING), run.err());
        String log = run.auditLog();
        assertTrue(log.contains("\"REGISTRY_OPENED\"") && log.contains("class path (JPMS encapsulation off)"), log);
        assertTrue(log.contains("\"TABLE_BUILT\""), log);
    }

    @Test
    void theOptInChangesNothingOnTheModulePath(@TempDir Path home) throws Exception {
        Run run = launch(home, List.of("--illegal-native-access=deny",
                "--enable-native-access=io.tabguard.ffm,com.example.sorter",
                "--module-path", applicationPath(), "-m", "com.example.sorter/com.example.sorter.SortOnTheClassPath"));
        assertEquals(0, run.exit(), run.err());
        assertEquals(EXPECTED, run.out().strip());
        assertFalse(run.err().contains(CLASS_PATH_WARNING), run.err());
        assertTrue(run.auditLog().contains("module path"));
    }

    @Test
    void theReadmeShowsThisProgramAsItCompiles() throws IOException {
        Path readme = Path.of(System.getProperty("consumer.readme"));
        String source = Files.readString(Path.of("src/main/java/com/example/sorter/SortWithQsort.java"));
        assertTrue(Files.readString(readme).contains(source), "README.md must contain SortWithQsort.java verbatim");
    }

    private static int occurrences(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }

    private static String dependencies() throws IOException {
        return Files.readString(Path.of(System.getProperty("consumer.runtimeClasspathFile"))).strip();
    }

    /** The application's classes and its runtime dependencies: the module path or the class path, as launched. */
    private static String applicationPath() throws IOException {
        return System.getProperty("consumer.classes") + java.io.File.pathSeparator + dependencies();
    }

    private static Run launch(Path home, List<String> arguments) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Duser.home=" + home);
        command.addAll(arguments);
        Path out = home.resolve("stdout.txt");
        Path err = home.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("the application did not finish in 120 s: " + command);
        }
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8), home);
    }
}
