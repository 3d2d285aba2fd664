package io.tabguard.examples;

import io.tabguard.guard.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The C compiler, reading glibc's, zlib's and SQLite's own headers, agrees with the layouts the examples hand to C. */
class NativeLayoutTest {
    private static final String[] Z_FIELDS = {"next_in", "avail_in", "total_in", "next_out", "avail_out", "total_out",
            "msg", "state", "zalloc", "zfree", "opaque", "data_type", "adler", "reserved"};
    private static final String[] COOKIE_FIELDS = {"read", "write", "seek", "close"};

    @Test
    void cookieIoFunctionsAndZStreamMatchWhatGccComputesFromTheSystemHeaders(@TempDir Path dir) throws Exception {
        StringBuilder c = new StringBuilder("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n#include <zlib.h>\n"
                + "int main(void) {\n");
        c.append("  printf(\"%zu\\n\", sizeof(cookie_io_functions_t));\n");
        for (String f : COOKIE_FIELDS) {
            c.append("  printf(\"%zu\\n\", offsetof(cookie_io_functions_t, ").append(f).append("));\n");
        }
        c.append("  printf(\"%zu\\n\", sizeof(z_stream));\n");
        for (String f : Z_FIELDS) {
            c.append("  printf(\"%zu\\n\", offsetof(z_stream, ").append(f).append("));\n");
        }
        c.append("  return 0;\n}\n");
        Path source = dir.resolve("layouts.c");
        Files.writeString(source, c);
        Path exe = dir.resolve("layouts");
        assertNotNull(run(dir, "gcc", "-o", exe.toString(), source.toString()), "gcc with zlib.h is needed (.ci/run installs gcc and zlib1g-dev)");
        List<Long> values = run(dir, exe.toString()).lines().map(String::trim).map(Long::parseLong).toList();

        List<Long> expected = new ArrayList<>();
        expected.add(GuardedCookieStream.COOKIE_IO_LAYOUT.byteSize());
        for (String f : COOKIE_FIELDS) {
            expected.add(GuardedCookieStream.COOKIE_IO.member(f).orElseThrow().offset());
        }
        expected.add(GuardedZlib.Z_STREAM.byteSize());
        for (String f : Z_FIELDS) {
            expected.add(GuardedZlib.Z_STREAM.byteOffset(MemoryLayout.PathElement.groupElement(f)));
        }
        assertEquals(expected, values);
        assertEquals(112, GuardedZlib.Z_STREAM.byteSize());
    }

    @Test
    void sqlite3MemMethodsMatchesWhatGccComputesFromSqlite3H(@TempDir Path dir) throws Exception {
        List<String> members = GuardedSqliteAllocator.MEM_METHODS.members().stream().map(m -> m.name()).toList();
        StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <sqlite3.h>\nint main(void) {\n");
        c.append("  printf(\"%zu\\n\", sizeof(sqlite3_mem_methods));\n");
        for (String f : members) {
            c.append("  printf(\"%zu\\n\", offsetof(sqlite3_mem_methods, ").append(f).append("));\n");
        }
        List<Long> values = sqliteProbe(dir, "sqlite_layout", c).stream().map(Long::parseLong).toList();

        List<Long> expected = new ArrayList<>();
        expected.add(GuardedSqliteAllocator.MEM_METHODS.payloadSize(GuardedSqliteAllocator.MEM_METHODS.minor()));
        for (String f : members) {
            expected.add(GuardedSqliteAllocator.MEM_METHODS.member(f).orElseThrow().offset());
        }
        assertEquals(expected, values);
        assertEquals(List.of("xMalloc", "xFree", "xRealloc", "xSize", "xRoundup", "xInit", "xShutdown", "pAppData"), members);
    }

    @Test
    void sqlite3VfsMadeFromItsJextractLayoutMatchesWhatGccComputesFromSqlite3H(@TempDir Path dir) throws Exception {
        List<String> members = Sqlite3Vfs.SCHEMA.members().stream().map(m -> m.name()).toList();
        StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <sqlite3.h>\nint main(void) {\n");
        c.append("  printf(\"%zu\\n\", sizeof(sqlite3_vfs));\n");
        for (String f : members) {
            c.append("  printf(\"%zu %zu\\n\", offsetof(sqlite3_vfs, ").append(f).append("), sizeof(((sqlite3_vfs *) 0)->").append(f).append("));\n");
        }
        List<String> lines = sqliteProbe(dir, "vfs_layout", c);

        Schema s = Sqlite3Vfs.SCHEMA;
        assertEquals(Long.parseLong(lines.getFirst()), s.payloadSize(s.minor()), "sizeof(sqlite3_vfs)");
        for (int i = 0; i < members.size(); i++) {
            Schema.Member m = s.members().get(i);
            String[] gcc = lines.get(i + 1).split(" ");
            assertEquals(Long.parseLong(gcc[0]), m.offset(), "offsetof(sqlite3_vfs, " + m.name() + ")");
            assertEquals(Long.parseLong(gcc[1]), m.layout().byteSize(), "sizeof of sqlite3_vfs." + m.name());
        }
        assertEquals(lines.size(), members.size() + 1, "every member gcc printed is a member of the schema");
    }

    /** Ends {@code main} of a probe that includes sqlite3.h, compiles and runs it, and returns its output lines. */
    private static List<String> sqliteProbe(Path dir, String name, StringBuilder c) throws IOException, InterruptedException {
        c.append("  return 0;\n}\n");
        Path source = dir.resolve(name + ".c");
        Files.writeString(source, c);
        Path exe = dir.resolve(name);
        assertNotNull(run(dir, "gcc", "-o", exe.toString(), source.toString()), "gcc with sqlite3.h is needed (.ci/run installs gcc and libsqlite3-dev)");
        return run(dir, exe.toString()).lines().map(String::trim).toList();
    }

    /** The VFS example's two tables (issue 15): every member's offset and the size, as gcc computes them from sqlite3.h. */
    @Test
    void sqlite3VfsAndIoMethodsMatchWhatGccComputesFromSqlite3H(@TempDir Path dir) throws Exception {
        for (var entry : java.util.Map.of("sqlite3_vfs", GuardedSqliteVfs.VFS, "sqlite3_io_methods", GuardedSqliteVfs.IO_METHODS).entrySet()) {
            String struct = entry.getKey();
            io.tabguard.guard.Schema schema = entry.getValue();
            List<String> members = schema.members().stream().map(m -> m.name()).toList();
            StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <sqlite3.h>\nint main(void) {\n");
            c.append("  printf(\"%zu\\n\", sizeof(").append(struct).append("));\n");
            for (String f : members) {
                c.append("  printf(\"%zu\\n\", offsetof(").append(struct).append(", ").append(f).append("));\n");
            }
            c.append("  return 0;\n}\n");
            Path source = dir.resolve(struct + "_layout.c");
            Files.writeString(source, c);
            Path exe = dir.resolve(struct + "_layout");
            assertNotNull(run(dir, "gcc", "-o", exe.toString(), source.toString()), "gcc with sqlite3.h is needed");
            List<Long> values = run(dir, exe.toString()).lines().map(String::trim).map(Long::parseLong).toList();
            List<Long> expected = new ArrayList<>();
            expected.add(schema.payloadSize(schema.minor()));
            for (String f : members) {
                expected.add(schema.member(f).orElseThrow().offset());
            }
            assertEquals(expected, values, struct);
        }
        assertEquals(168, GuardedSqliteVfs.VFS.payloadSize(0));
        assertEquals(152, GuardedSqliteVfs.IO_METHODS.payloadSize(0));
    }

    /** stdout of the command, or null if it could not run or failed. */
    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException notInstalled) {
            return null;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            return null;
        }
        return out;
    }
}
