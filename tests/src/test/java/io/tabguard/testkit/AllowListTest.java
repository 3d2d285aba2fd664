package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 14: an allow-listed library contributes only the functions defined in that very file. Before, the
 * lookup searched the library's dependency tree: with only {@code libz.so.1} listed, {@code system} bound
 * (resolved in libc). Each refusal has its twin: a function of the listed file itself, bound and called.
 */
class AllowListTest {
    static final FunctionDescriptor CRC = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT);
    static final Schema ZLIB = Schema.builder("tabguard.test.zlib", 1)
            .slot("checksum", CRC, o -> o.refusal(-1L))
            .slot("other", FunctionDescriptor.of(ADDRESS), o -> o.optional().refusal(MemorySegment.NULL))
            .build();
    static final Schema ONE = Schema.builder("tabguard.test.one", 1)
            .slot("f", Fixtures.INT_INT, o -> o.refusal(Fixtures.REFUSED))
            .build();

    static Path dir;
    static Path helper;
    static Path dependency;
    static Fixtures.Audit audit = new Fixtures.Audit();

    @BeforeAll
    static void buildHelperLibraries() throws IOException {
        dir = Files.createTempDirectory("tabguard-allow-list");
        dependency = NativeBuilds.sharedLibrary(dir.resolve("libtgdep.so"), List.of(source("allowlist_dep.c")), List.of(), List.of());
        helper = NativeBuilds.sharedLibrary(dir.resolve("libtghelper.so"), List.of(source("allowlist_helper.c")),
                List.of("-fno-builtin"), List.of("-L" + dir, "-ltgdep", "-Wl,-rpath," + dir));
    }

    @AfterAll
    static void deleteHelperLibraries() throws IOException {
        NativeBuilds.deleteFlatDirectory(dir);
    }

    private static Path source(String name) throws IOException {
        Path out = dir.resolve(name);
        try (InputStream in = AllowListTest.class.getResourceAsStream("libs/" + name)) {
            Files.write(out, in.readAllBytes());
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"system", "execve", "mprotect", "dlopen", "abs"})
    void libcFunctionsAreNotContributedByLibzWhichOnlyImportsThem(String symbol) {
        try (Registry zlibOnly = Fixtures.open(audit, o -> o.allowLibrary("libz.so.1"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> zlibOnly.builder(ZLIB).bindNative("checksum", symbol));
            assertTrue(e.getMessage().contains("libc.so.6") && e.getMessage().contains("OTHER_OBJECT")
                    && e.getMessage().contains("SLOT_OUTSIDE_ALLOW_LIST"), e.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"system", "execve", "mprotect", "dlopen"})
    void listingTheLibraryThatDefinesThemLetsThemBind(String symbol) {
        try (Registry withLibc = Fixtures.open(audit, o -> o.allowLibrary("libz.so.1").allowLibrary("libc.so.6"))) {
            CallbackTable t = withLibc.builder(ZLIB).bindNative("checksum", symbol).build();   // bound, never called
            // The slot holds the entry thunk in front of the function (issue 16), never the function's own address.
            long function = Linker.nativeLinker().defaultLookup().find(symbol).orElseThrow().address();
            assertNotEquals(0, t.function("checksum").address());
            assertNotEquals(function, t.function("checksum").address());
            assertEquals(TableStatus.OPEN, t.status());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"crc32", "adler32", "deflate", "inflate", "deflateInit_", "inflateEnd", "compress", "uncompress"})
    void functionsDefinedInLibzBind(String symbol) {
        try (Registry zlibOnly = Fixtures.open(audit, o -> o.allowLibrary("libz.so.1"))) {
            assertDoesNotThrow(() -> zlibOnly.builder(ZLIB).bindNative("checksum", symbol));
        }
    }

    @Test
    void aBoundLibzFunctionIsCalledThroughTheTable() throws Throwable {
        byte[] data = "only what was named gets in".getBytes(StandardCharsets.US_ASCII);
        CRC32 expected = new CRC32();
        expected.update(data);
        try (Registry zlibOnly = Fixtures.open(audit, o -> o.allowLibrary("libz.so.1")); Arena a = Arena.ofConfined()) {
            CallbackTable t = zlibOnly.builder(ZLIB).bindNative("checksum", "crc32").bindNative("other", "zlibVersion").build();
            MemorySegment bytes = a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, data);
            assertEquals(expected.getValue(), (long) t.slotHandle("checksum").invokeExact(0L, bytes, data.length));
            MemorySegment version = (MemorySegment) t.slotHandle("other").invokeExact();
            assertTrue(version.reinterpret(16).getString(0).startsWith("1."), "zlibVersion");
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({
            "dep_twice,           OTHER_OBJECT",         // defined in libtgdep, a dependency of the listed file
            "abs,                 OTHER_OBJECT",         // defined in libc
            "helper_data,         a OBJECT symbol",
            "helper_mid_label,    a NOTYPE symbol",
            "helper_mid_function, bytes into the function helper_sized",
            "helper_plt_abs,      lies in .plt",
    })
    void aListedLibraryContributesNothingButItsOwnFunctions(String symbol, String reason) {
        try (Registry helperOnly = Fixtures.open(audit, o -> o.allowLibrary(helper.toString()))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> helperOnly.builder(ONE).bindNative("f", symbol));
            assertTrue(e.getMessage().contains(reason), e.getMessage());
        }
    }

    /**
     * The loader needs no section headers, the rule does: a library whose section header table is gone or
     * points outside the file still loads with dlopen, and is refused when the registry opens (fail closed).
     * Offsets are of the ELF64 header: e_shoff at 0x28 (8 bytes), e_shentsize 0x3A, e_shnum 0x3C (2 bytes).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "section headers past the end, 40, 8, 1073741824",
            "no section headers,           60, 2, 0",
            "wrong entry size,             58, 2, 32",
            "names index out of range,     62, 2, 65000",
    })
    void aLibraryWhoseSectionHeadersCannotBeReadIsRefusedAtOpen(String what, int offset, int width, long value) throws IOException {
        byte[] elf = Files.readAllBytes(helper);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(elf).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (width == 8) {
            b.putLong(offset, value);
        } else {
            b.putShort(offset, (short) value);
        }
        Path broken = dir.resolve("libtgbroken-" + offset + ".so");
        Files.write(broken, elf);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fixtures.open(audit, o -> o.allowLibrary(broken.toString())).close());
        assertTrue(e.getMessage().contains("cannot be read as ELF"), e.getMessage());
    }

    @Test
    void theHelpersOwnFunctionsBindAndItsDependencyOnlyOnceListed() throws Throwable {
        try (Registry helperOnly = Fixtures.open(audit, o -> o.allowLibrary(helper.toString()))) {
            CallbackTable t = helperOnly.builder(ONE).bindNative("f", "helper_inc").build();
            assertEquals(8, (int) t.slotHandle("f").invokeExact(7));
            CallbackTable sized = helperOnly.builder(ONE).bindNative("f", "helper_sized").build();   // the function around the label
            assertEquals(35, (int) sized.slotHandle("f").invokeExact(7));
        }
        try (Registry both = Fixtures.open(audit, o -> o.allowLibrary(helper.toString()).allowLibrary(dependency.toString()))) {
            CallbackTable t = both.builder(ONE).bindNative("f", "dep_twice").build();
            assertEquals(14, (int) t.slotHandle("f").invokeExact(7));
        }
    }
}
