package io.tabguard.examples;

import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.Plugin;
import io.tabguard.registry.Registry;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The demo's C plugin part (docs/internals.md, "Writing a C plugin"): the minimal plugin {@link #MINIMAL_PLUGIN} is
 * compiled with gcc, loaded, sealed through the host interface and called from Java; then a hostile
 * twin that puts libc's {@code system} into a slot is refused. Lines start with {@code "plugin    "}.
 * Confined to the calling thread.
 */
public final class PluginDemo {
    private PluginDemo() {}

    /** {@code struct calc { int (*add)(int, int); int (*twice)(int); }}, the schema of the plugin in docs/internals.md. */
    public static final Schema CALC = Schema.builder("example.calc", 1)
            .slot("add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), o -> o.refusal(-1))
            .slot("twice", FunctionDescriptor.of(JAVA_INT, JAVA_INT), o -> o.refusal(-1))
            .build();

    /** The complete minimal plugin of docs/internals.md, verbatim. */
    public static final String MINIMAL_PLUGIN = """
            #include "tabguard.h"

            #define CALC_SCHEMA_ID 0x4a525c6d97569f59ULL   /* PluginDemo.CALC.id(): "example.calc" 1.0 */

            struct calc { int (*add)(int, int); int (*twice)(int); };

            /* Table functions must be exported (not static): the host accepts only the exact start of a symbol. */
            int calc_add(int a, int b) { return a + b; }
            int calc_twice(int x) { return 2 * x; }

            static struct { struct tabguard_header_v1 header; struct calc ops; } buffer;

            int tabguard_plugin_init_v1(const struct tabguard_host_v1 *host, void *host_ctx, const void **out_table) {
                int rc = tabguard_host_check_v1(host);          /* magic, ABI, sizes, schema id, CRC32C */
                if (rc != 0) return rc;
                rc = host->table_init(host_ctx, CALC_SCHEMA_ID, 0, &buffer, sizeof buffer);
                if (rc != 0) return rc;
                buffer.ops.add = calc_add;
                buffer.ops.twice = calc_twice;
                return host->table_seal(host_ctx, &buffer, sizeof buffer, out_table);   /* the host's copy */
            }
            """;

    /** Runs the plugin part with the demo's registry; returns what failed (empty: all as expected). */
    public static List<String> run(PrintStream out, Registry registry, List<SecurityEvent> events) {
        List<String> failures = new ArrayList<>();
        out.println();
        try {
            Path dir = Files.createTempDirectory("tabguard-demo-plugin");
            try {
                Path good = compile(dir, "libcalc.so", MINIMAL_PLUGIN);
                Plugin plugin = registry.loadPlugin(good, CALC);
                int sum = (int) plugin.table().slotHandle("add").invokeExact(40, 2);
                int twice = (int) plugin.table().slotHandle("twice").invokeExact(21);
                boolean ok = sum == 42 && twice == 42;
                out.println("plugin    " + good.getFileName() + " sealed (serial " + plugin.table().serial() + "); add(40,2) = " + sum
                        + ", twice(21) = " + twice + "  ->  " + (ok ? "ok" : "WRONG"));
                if (!ok) {
                    failures.add("the C plugin's functions returned " + sum + " and " + twice);
                }
                String hostile = MINIMAL_PLUGIN.replace("#include \"tabguard.h\"", "#define _GNU_SOURCE\n#include <dlfcn.h>\n#include \"tabguard.h\"")
                        .replace("buffer.ops.twice = calc_twice;",
                                "buffer.ops.twice = (int (*)(int)) (void (*)(void)) dlsym(RTLD_DEFAULT, \"system\");");
                Path bad = compile(dir, "libcalc_hostile.so", hostile);
                try {
                    registry.loadPlugin(bad, CALC);
                    out.println("plugin    " + bad.getFileName() + " with libc's system() in a slot  ->  ACCEPTED");
                    failures.add("a plugin with system() in a slot was accepted");
                } catch (TableRejectedException e) {
                    out.println("plugin    " + bad.getFileName() + " with libc's system() in a slot  ->  " + e.violation()
                            + " (refused at table_seal, audited), process alive");
                }
                plugin.close();
            } finally {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                }
                Files.deleteIfExists(dir);
            }
        } catch (Throwable e) {
            out.println("plugin    skipped: " + e.getMessage());
            failures.add("the C plugin demo failed: " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        return failures;
    }

    /** {@code gcc -std=c11 -Wall -Wextra -Werror -fPIC -shared -I native/include -o <name> <name>.c}. */
    static Path compile(Path dir, String name, String source) throws IOException, InterruptedException {
        Path c = dir.resolve(name.replace(".so", ".c"));
        Files.writeString(c, source, StandardCharsets.UTF_8);
        Path out = dir.resolve(name);
        Process p = new ProcessBuilder("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                "-I", includeDir().toString(), "-o", out.toString(), c.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("gcc failed for " + name + ": " + log);
        }
        return out;
    }

    /** {@code native/include}: under {@code -Dtabguard.root} (set by ./tabguard demo), else above the working directory. */
    private static Path includeDir() throws IOException {
        Path here = Path.of(System.getProperty("tabguard.root", System.getProperty("user.dir"))).toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("native/include/tabguard.h"))) {
                return p.resolve("native/include");
            }
        }
        throw new IOException("native/include/tabguard.h not found above " + here);
    }
}
