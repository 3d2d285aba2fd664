package io.tabguard.registry.internal;

import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The launch-mode rule in-process. These tests run on the module path; the class path itself (refused
 * without the opt-in, working with it) is exercised by a real application in examples/consumer.
 */
class LaunchModeTest {

    @Test
    void theseTestsRunTabguardAsANamedModule() {
        assertEquals(LaunchMode.MODULE_PATH, LaunchMode.of(Registry.class.getModule()));
    }

    @Test
    void theUnnamedModuleIsTheClassPath() {
        assertEquals(LaunchMode.CLASS_PATH, LaunchMode.of(ClassLoader.getSystemClassLoader().getUnnamedModule()));
    }

    @Test
    void theClassPathIsRefusedWithoutTheOptInAndTheMessageNamesTheFix() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> LaunchMode.CLASS_PATH.requireAllowed(false));
        assertTrue(e.getMessage().contains("module path"), e.getMessage());
        assertTrue(e.getMessage().contains("--enable-native-access=io.tabguard.ffm"), e.getMessage());
        assertTrue(e.getMessage().contains("allowClassPath()"), e.getMessage());
    }

    @Test
    void theClassPathIsAllowedWithTheOptIn() {
        assertDoesNotThrow(() -> LaunchMode.CLASS_PATH.requireAllowed(true));
    }

    @Test
    void theModulePathNeedsNoOptIn() {
        assertDoesNotThrow(() -> LaunchMode.MODULE_PATH.requireAllowed(false));
    }

    @Test
    void aRegistryRecordsItsLaunchModeInTheOpenedEvent(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("events.jsonl");
        Registry.open(RegistryOptions.builder().auditLog(log).build()).close();
        String opened = Files.readAllLines(log).stream().filter(l -> l.contains("\"REGISTRY_OPENED\"")).findFirst().orElseThrow();
        assertTrue(opened.contains("module path"), opened);
        assertFalse(opened.contains("class path"), opened);
    }
}
