package io.tabguard.registry.internal;

import java.lang.System.Logger.Level;

/**
 * Whether Tabguard runs as named modules (module path) or in the unnamed module (class path), and what
 * that means for {@code Registry.open}. On the class path JPMS encapsulation is gone: the internal
 * packages (the table stamper, the key ring, the trampolines) are ordinary public classes any code can
 * call, and {@code setAccessible} reads the key ring's private fields. So the class path is refused
 * unless the application opts in, and an opted-in registry says so in the operator log and the audit log.
 * Stateless and thread-safe.
 */
public enum LaunchMode {
    /** Tabguard's modules are named modules on the module path: internals are encapsulated. */
    MODULE_PATH("module path"),
    /** Tabguard's classes are in the unnamed module (the class path): internals are reachable by any code. */
    CLASS_PATH("class path (JPMS encapsulation off)");

    /** The logger the class-path warning goes to. */
    public static final String LOGGER_NAME = "io.tabguard.registry";

    /** What {@code Registry.open} throws on the class path without the opt-in. */
    public static final String CLASS_PATH_REFUSED = "Tabguard is on the class path, where its internals (the table stamper, "
            + "the key ring) are not encapsulated and the key is readable through setAccessible. Put the Tabguard jars "
            + "on the module path and run with --enable-native-access=io.tabguard.ffm (with --illegal-native-access=deny), "
            + "or, accepting that loss, opt in with RegistryOptions.builder().allowClassPath() "
            + "(and --enable-native-access=ALL-UNNAMED).";

    private final String description;

    LaunchMode(String description) {
        this.description = description;
    }

    /** The mode of the code in {@code module}: named modules are on the module path. */
    public static LaunchMode of(Module module) {
        return module.isNamed() ? MODULE_PATH : CLASS_PATH;
    }

    /**
     * Checks that a registry may open in this mode.
     *
     * @throws IllegalStateException ({@link #CLASS_PATH_REFUSED}) on the class path without the opt-in
     */
    public void requireAllowed(boolean classPathAllowed) {
        if (this == CLASS_PATH && !classPathAllowed) {
            throw new IllegalStateException(CLASS_PATH_REFUSED);
        }
    }

    /** Logs the one WARNING of an opted-in registry on the class path; nothing on the module path. */
    public void warnIfClassPath() {
        if (this == CLASS_PATH) {
            System.getLogger(LOGGER_NAME).log(Level.WARNING, "Tabguard registry opened on the class path (allowClassPath): "
                    + "its internals are not encapsulated, so code in this JVM can reach the stamper and the key ring. "
                    + "Use the module path with --enable-native-access=io.tabguard.ffm for the full guarantees.");
        }
    }

    /** How the mode reads in the {@code REGISTRY_OPENED} audit record. */
    public String auditDetail() {
        return description;
    }
}
