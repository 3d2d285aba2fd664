package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Plugin;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.*;

/**
 * C plugins (issue 9): {@code test_plugin.c} is compiled by gcc during the run, once per variant (one honest,
 * one per attack), and loaded into this JVM through {@link Registry#loadPlugin}. No attack pointer is ever
 * called or read by the host (dladdr does not dereference; a refused table is never dispatched through), so
 * the plugins run in this JVM rather than a fork. Every refusal must name its violation, be in the audit
 * log, and leave the honest plugin working.
 */
class PluginTest {
    static final FunctionDescriptor BINARY = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
    static final FunctionDescriptor UNARY = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    static final AtomicLong DEFAULT_NEG_CALLS = new AtomicLong();
    /** Added by the honest plugin's {@code plugin_add}, so a result proves that the plugin's code ran. */
    static final int OFFSET = 1000;

    static int defaultNeg(int x) {
        DEFAULT_NEG_CALLS.incrementAndGet();
        return -x;
    }

    /** minor 0 {add, mul}; minor 1 adds {neg}, with a Java default. The host runs at minor 1. */
    static final Schema PLUGIN = Schema.builder("tabguard.test.plugin", 1)
            .slot("add", BINARY, o -> o.refusal(-1))
            .slot("mul", BINARY, o -> o.refusal(-1))
            .minor(1)
            .slot("neg", UNARY, o -> o.optional(defaultNegHandle()).refusal(-1))
            .build();

    private static MethodHandle defaultNegHandle() {
        try {
            return java.lang.invoke.MethodHandles.lookup().findStatic(PluginTest.class, "defaultNeg",
                    java.lang.invoke.MethodType.methodType(int.class, int.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static Path dir;
    static Fixtures.Audit audit;
    static Registry registry;
    static Plugin good;

    @BeforeAll
    static void loadTheHonestPlugin() throws IOException {
        dir = Files.createTempDirectory("tabguard-plugins");
        audit = new Fixtures.Audit();
        registry = Fixtures.open(audit);
        good = registry.loadPlugin(compile("GOOD"), PLUGIN);
    }

    @AfterAll
    static void close() throws IOException {
        registry.close();
        NativeBuilds.deleteFlatDirectory(dir);
    }

    @Test
    void anHonestPluginIsSealedAndJavaCallsItsFunctions() throws Throwable {
        CallbackTable t = good.table();
        assertHonestPluginWorks();
        assertEquals(TableStatus.OPEN, t.status());
        assertEquals(1, t.minor());
        assertEquals(1, audit.of(t, EventType.TABLE_BUILT).size(), audit.toString());

        // The slots hold entry thunks in front of the plugin's own functions (issue 16), and a C call through
        // them reaches those functions; the table is the registry's copy, not the plugin's buffer.
        SymbolLookup lib = SymbolLookup.libraryLookup(good.file(), Arena.global());
        assertNotEquals(lib.find("plugin_add").orElseThrow().address(), t.function("add").address());
        assertNotEquals(lib.find("plugin_neg").orElseThrow().address(), t.function("neg").address());
        assertEquals(2 + 3 + OFFSET, (int) NativeTamper.callPointer(t.function("add"), BINARY).invokeExact(2, 3));
        MemorySegment handedBack = lib.find("sealed_table").orElseThrow().reinterpret(8).get(ADDRESS, 0);
        assertEquals(t.payload().address(), handedBack.address());
    }

    @Test
    void aTypedProxyCallsThePluginAndIsRefusedOnceTheTableIsClosed() throws Throwable {
        try (Plugin p = registry.loadPlugin(compile("PROXY"), PLUGIN)) {
            PluginCalc calc = registry.proxy(PluginCalc.class, p.table());
            assertEquals(5 + OFFSET, calc.add(2, 3));
            assertEquals(42, calc.mul(6, 7));
            assertEquals(-1005, calc.neg(5));
            p.close();
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> calc.add(2, 3));
            assertEquals(Violation.CLOSED, e.violation());
        }
        assertHonestPluginWorks();
    }

    @Test
    void theHeaderHelpersAcceptASealedTableAndNameWhatIsWrongWithAnEditedCopy() throws Throwable {
        SymbolLookup lib = SymbolLookup.libraryLookup(good.file(), Arena.global());
        MethodHandle check = Linker.nativeLinker().downcallHandle(lib.find("plugin_check_table").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_SHORT, JAVA_INT));
        CallbackTable t = good.table();
        int payloadSize = (int) PLUGIN.payloadSize(1);
        assertEquals(0, (int) check.invokeExact(t.payload(), PLUGIN.id(), (short) 1, payloadSize));
        assertEquals(Violation.SCHEMA_ID.code(), (int) check.invokeExact(t.payload(), PLUGIN.id() + 1, (short) 1, payloadSize));
        assertEquals(Violation.SCHEMA_MAJOR.code(), (int) check.invokeExact(t.payload(), PLUGIN.id(), (short) 2, payloadSize));
        assertEquals(Violation.PAYLOAD_SIZE.code(), (int) check.invokeExact(t.payload(), PLUGIN.id(), (short) 1, payloadSize - 8));
        try (Arena a = Arena.ofConfined()) {
            byte[] bytes = t.verifiedBytes();
            MemorySegment copy = a.allocate(bytes.length, 16);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, copy, 0, bytes.length);
            MemorySegment payload = copy.asSlice(AbiV1.HEADER_SIZE);
            assertEquals(0, (int) check.invokeExact(payload, PLUGIN.id(), (short) 1, payloadSize), "an exact copy passes the CRC");
            copy.set(ValueLayout.JAVA_BYTE, AbiV1.HEADER_SIZE + 3, (byte) (bytes[AbiV1.HEADER_SIZE + 3] ^ 1));
            assertEquals(Violation.CHECKSUM.code(), (int) check.invokeExact(payload, PLUGIN.id(), (short) 1, payloadSize));
            copy.set(ValueLayout.JAVA_BYTE, 0, (byte) 'X');
            assertEquals(Violation.BAD_MAGIC.code(), (int) check.invokeExact(payload, PLUGIN.id(), (short) 1, payloadSize));
        }
    }

    @Test
    void aMinorZeroPluginOnAMinorOneHostGetsTheDefaultForTheNewSlot() throws Throwable {
        try (Plugin old = registry.loadPlugin(compile("MINOR0"), PLUGIN)) {
            CallbackTable t = old.table();
            assertEquals(1, t.minor(), "sealed at the host's minor");
            assertEquals(5 + OFFSET, (int) t.slotHandle("add").invokeExact(2, 3));
            long before = DEFAULT_NEG_CALLS.get();
            assertEquals(-7, (int) t.slotHandle("neg").invokeExact(7), "neg is the host's default");
            assertEquals(before + 1, DEFAULT_NEG_CALLS.get());
        }
    }

    @Test
    void aNewerMinorWhoseUnknownMembersAreZeroIsAccepted() throws Throwable {
        try (Plugin newer = registry.loadPlugin(compile("NEWER_ZERO"), PLUGIN)) {
            assertEquals(1, newer.table().minor());
            assertEquals(42, (int) newer.table().slotHandle("mul").invokeExact(6, 7));
            assertEquals(-1005, (int) newer.table().slotHandle("neg").invokeExact(5));
        }
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "LIBC,           SLOT_OUTSIDE_ALLOW_LIST",
            "OTHER_PLUGIN,   SLOT_OUTSIDE_ALLOW_LIST",
            "GADGET,         SLOT_NOT_A_SYMBOL_START",
            "HEAP,           SLOT_NOT_A_SYMBOL_START",
            "STACK,          SLOT_NOT_A_SYMBOL_START",
            "NEWER_NONZERO,  UNKNOWN_MEMBER_NONZERO",
            "WRONG_SCHEMA,   SCHEMA_ID",
            "WRONG_SIZE,     PAYLOAD_SIZE",
            "EDIT_MAJOR,     SCHEMA_MAJOR",
            "EDIT_ID,        SCHEMA_ID",
            "RAW,            UNSEALED_TABLE",
            "TWICE,          BUFFER_NOT_INITIALIZED",
    })
    void aHostilePluginIsRefusedWithItsViolationAndAudited(String variant, Violation expected) throws Throwable {
        Path library = compile(variant);
        int tablesBefore = registry.openTables();
        TableRejectedException e = assertThrows(TableRejectedException.class, () -> registry.loadPlugin(library, PLUGIN));
        assertEquals(expected, e.violation(), e.getMessage());
        assertTrue(audit.of(EventType.TABLE_REFUSED).stream().anyMatch(ev -> expected.name().equals(ev.violation())
                && ev.detail() != null && ev.detail().contains(library.getFileName().toString())), audit.toString());
        assertEquals(tablesBefore, registry.openTables(), "nothing of the refused plugin stays open (its host table is closed)");
        assertHonestPluginWorks();
    }

    /**
     * Issue 14: symbols of the plugin's own file that are not functions. Each is the exact start of an exported
     * symbol, so {@code dladdr} alone accepted them; the honest plugin (functions of that same file) is the twin.
     */
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "DATA,          SLOT_NOT_A_FUNCTION,     plugin_data is a OBJECT symbol",
            "LABEL,         SLOT_NOT_A_FUNCTION,     plugin_mid_label is a NOTYPE symbol",
            "MID_FUNCTION,  SLOT_NOT_A_FUNCTION,     bytes into the function plugin_labelled",
            "PLT_FUNCTION,  SLOT_NOT_A_FUNCTION,     plugin_plt_abs lies in .plt",
            "PLT_ALIAS,     SLOT_NOT_A_SYMBOL_START, in no symbol of",
    })
    void aSymbolThatIsNotAFunctionOfThePluginIsRefused(String variant, Violation expected, String reason) throws Throwable {
        Path library = compile(variant);
        TableRejectedException e = assertThrows(TableRejectedException.class, () -> registry.loadPlugin(library, PLUGIN));
        assertEquals(expected, e.violation(), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(audit.of(EventType.TABLE_REFUSED).stream().anyMatch(ev -> expected.name().equals(ev.violation())
                && ev.detail() != null && ev.detail().contains(library.getFileName().toString())), audit.toString());
        assertHonestPluginWorks();
    }

    @Test
    void thePltStubThePluginExportsReallyRunsLibcsAbs() throws Throwable {
        // What the PLT_FUNCTION attack slot would have run: a live stub into libc, not a harmless symbol.
        SymbolLookup lib = SymbolLookup.libraryLookup(compile("PLT_FUNCTION"), Arena.global());
        MethodHandle stub = Linker.nativeLinker().downcallHandle(lib.find("plugin_plt_abs").orElseThrow(), UNARY);
        assertEquals(5, (int) stub.invokeExact(-5));
    }

    @Test
    void aPluginCallingTheHostWithAnotherContextIsRefusedByTheHostTable() throws Throwable {
        Path library = compile("WRONG_CONTEXT");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> registry.loadPlugin(library, PLUGIN));
        assertTrue(e.getMessage().contains("returned -1 "), "TABGUARD_HOST_REFUSED: " + e.getMessage());
        assertTrue(audit.of(EventType.TABLE_REFUSED).stream().anyMatch(ev -> "tabguard.host".equals(ev.schemaName())
                && Violation.CONTEXT_MISMATCH.name().equals(ev.violation())), audit.toString());
        assertHonestPluginWorks();
    }

    @Test
    void twoThreadsSealingOneBufferYieldExactlyOneTable() throws Throwable {
        Path library = compile("THREADS");
        try (Plugin p = registry.loadPlugin(library, PLUGIN)) {
            assertEquals(42, (int) p.table().slotHandle("mul").invokeExact(6, 7));
            List<SecurityEvent> lost = audit.of(EventType.TABLE_REFUSED).stream()
                    .filter(ev -> ev.detail() != null && ev.detail().contains(library.getFileName().toString())).toList();
            assertEquals(1, lost.size(), audit.toString());
            assertEquals(Violation.BUFFER_NOT_INITIALIZED.name(), lost.getFirst().violation());
        }
        assertHonestPluginWorks();
    }

    /** With a writable sealed copy (a registry opened {@code writableTables()}), the write lands and is caught. */
    @Test
    void aPluginWritingIntoAWritableSealedCopyIsCaughtAtTheNextCallAndQuarantined() throws Throwable {
        Path library = compile("TAMPER");
        try (Registry writable = Fixtures.openWritable(audit); Plugin p = writable.loadPlugin(library, PLUGIN)) {
            CallbackTable t = p.table();
            assertEquals(5 + OFFSET, (int) t.slotHandle("add").invokeExact(2, 3));
            MethodHandle tamper = Linker.nativeLinker().downcallHandle(
                    SymbolLookup.libraryLookup(library, Arena.global()).find("plugin_tamper").orElseThrow(), FunctionDescriptor.ofVoid());
            tamper.invokeExact();   // the plugin swaps add and mul in the sealed copy
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> {
                int ignored = (int) t.slotHandle("add").invokeExact(2, 3);
            });
            assertEquals(Violation.CHECKSUM, e.violation(), "the full check names the first failed check: " + e.getMessage());
            assertEquals(TableStatus.QUARANTINED, t.status());
            assertEquals(1, audit.of(t, EventType.TABLE_QUARANTINED).size(), audit.toString());
        }
        assertHonestPluginWorks();
    }

    /** By default the sealed copy is read-only to the plugin: the same write faults and the process stops (forked). */
    @Test
    void aPluginWritingIntoItsReadOnlySealedCopyStopsTheProcess() throws Exception {
        Path library = compile("TAMPER");
        Forks.Outcome fork = Forks.run(PluginTamperMain.class, 120,
                List.of("-XX:ErrorFile=" + dir.resolve("hs_err_plugin_tamper.log"), "-XX:-CreateCoredumpOnCrash"), library.toString());
        String out = fork.output();
        assertTrue(out.contains("SEALED 1005"), "the sealed table worked before the write:\n" + out);
        assertEquals(1, fork.exitCode(), "the fork must die at the plugin's write (HotSpot: fatal error, _exit(1)):\n" + out);
        assertTrue(out.contains("SIGSEGV") && out.contains("plugin_tamper"), out);
        assertFalse(out.contains("TAMPER-RETURNED"), out);
    }

    @Test
    void tableReleaseClosesTheSealedTableAndRefusesAPointerTheHostDidNotSeal() throws Throwable {
        Path library = compile("RELEASE");
        try (Plugin p = registry.loadPlugin(library, PLUGIN)) {
            CallbackTable t = p.table();
            assertEquals(42, (int) t.slotHandle("mul").invokeExact(6, 7));
            SymbolLookup plugin = SymbolLookup.libraryLookup(library, Arena.global());
            MethodHandle releaseForeign = Linker.nativeLinker().downcallHandle(
                    plugin.find("plugin_release_foreign").orElseThrow(), FunctionDescriptor.ofVoid());
            MethodHandle releaseSealed = Linker.nativeLinker().downcallHandle(
                    plugin.find("plugin_release_sealed").orElseThrow(), FunctionDescriptor.ofVoid());

            releaseForeign.invokeExact();   // the plugin's own buffer: never sealed by the host
            assertTrue(audit.of(EventType.TABLE_REFUSED).stream().anyMatch(ev -> Violation.UNSEALED_TABLE.name().equals(ev.violation())
                    && ev.detail() != null && ev.detail().contains("table_release")), audit.toString());
            assertEquals(TableStatus.OPEN, t.status(), "a refused release leaves the sealed table alone");

            releaseSealed.invokeExact();
            assertEquals(TableStatus.CLOSED, t.status());
            TableRejectedException e = assertThrows(TableRejectedException.class, () -> {
                int ignored = (int) t.slotHandle("mul").invokeExact(6, 7);
            });
            assertEquals(Violation.CLOSED, e.violation());
        }
        assertHonestPluginWorks();
    }

    private static void assertHonestPluginWorks() throws Throwable {
        CallbackTable t = good.table();
        assertEquals(5 + OFFSET, (int) t.slotHandle("add").invokeExact(2, 3));
        assertEquals(42, (int) t.slotHandle("mul").invokeExact(6, 7));
        assertEquals(-1005, (int) t.slotHandle("neg").invokeExact(5));
        assertEquals(TableStatus.OPEN, t.status());
    }

    /** Compiles test_plugin.c with -DVARIANT_{variant} into its own shared library (one file per variant). */
    static Path compile(String variant) throws IOException {
        return compile(dir, variant);
    }

    /** As {@link #compile(String)}, into {@code into} (for tests that load plugins in a forked JVM). */
    static Path compile(Path into, String variant) throws IOException {
        Path source = into.resolve("test_plugin.c");
        if (!Files.exists(source)) {
            try (InputStream in = PluginTest.class.getResourceAsStream("plugins/test_plugin.c")) {
                Files.write(source, in.readAllBytes());
            }
        }
        Path out = into.resolve("libplugin_" + variant.toLowerCase() + ".so");
        if (Files.exists(out)) {
            return out;
        }
        List<String> flags = new ArrayList<>(List.of(
                "-DVARIANT_" + (variant.equals("TAMPER") || variant.equals("PROXY") || variant.equals("RELEASE") ? "GOOD" : variant),
                "-DSCHEMA_ID=0x" + Long.toHexString(PLUGIN.id()) + "ULL", "-DOFFSET=" + OFFSET,
                "-DOTHER_PLUGIN=\"" + into.resolve("libplugin_good.so") + "\""));
        if (variant.equals("PLT_ALIAS")) {
            // An exported alias on the plugin's own PLT entry for abs (entry 0 of .plt is the resolver stub).
            flags.addAll(List.of("-fno-builtin", "-Wl,--defsym=plugin_abs_alias=ADDR(.plt)+16"));
        } else if (variant.equals("PLT_FUNCTION")) {
            flags.add("-fno-builtin");
        }
        return NativeBuilds.sharedLibrary(out, List.of(source), flags, List.of("-lpthread"));
    }
}
