package io.tabguard.examples;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * LLVM's MCJIT, for real, with its memory manager behind a verified Tabguard table: IR built through the
 * LLVM C API, JIT-compiled into pages handed out by Java upcalls, and called. Nothing is mocked. A
 * machine without LLVM fails here (CI installs libllvm15); the attacks that make LLVM stop the process
 * are in {@link LlvmJitForkTest}.
 */
class LlvmJitTest {
    private static final FunctionDescriptor ALLOC_CODE = GuardedJitMemoryManager.SCHEMA.slots().get(0).descriptor();
    private static final FunctionDescriptor FINALIZE = GuardedJitMemoryManager.SCHEMA.slots().get(2).descriptor();

    private final List<SecurityEvent> events = new CopyOnWriteArrayList<>();
    private Registry registry;
    private LlvmJit llvm;

    @BeforeEach
    void open() {
        llvm = LlvmJit.load();   // no LLVM: the test fails, it does not skip
        registry = Registry.open(RegistryOptions.builder().auditSink(new AuditSink() {
            @Override
            public void record(SecurityEvent event) {
                events.add(event);
            }

            @Override
            public void close() {
            }
        }).build());
    }

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void findsTheNewestLlvmAndMakesTheOptionsStructTheSizeLlvmHas() {
        assertTrue(llvm.majorVersion() >= 14, llvm.library());
        assertTrue(LlvmJit.candidates().contains(llvm.library()), llvm.library());
        int newestInstalled = 0;
        for (int n = 30; n >= 10 && newestInstalled == 0; n--) {
            if (Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libLLVM-" + n + ".so.1"))
                    || Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libLLVM.so." + n + ".1"))) {
                newestInstalled = n;
            }
        }
        if (newestInstalled != 0) {
            assertEquals(newestInstalled, llvm.majorVersion(), "newest first: " + llvm.library());
        }
        assertEquals(24, LlvmJit.OPTIONS.byteSize(), "struct LLVMMCJITCompilerOptions on x86-64 (LLVM 14, 15)");
    }

    @Test
    void jitCompilesArithmeticALoopAndAConstantTableIntoVerifiedMemoryAndRunsThem() throws Throwable {
        JitMemory memory = new JitMemory();
        GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory);
        LlvmJit.Module module = llvm.newModule("samples").addArithmetic("arith").addLoop("sum")
                .addTableLookup("lookup", LlvmJitSamples.PRIMES).verify();
        try (LlvmJit.Engine engine = llvm.compile(module, mm.createLlvmMemoryManager(llvm))) {
            assertEquals(0, memory.calls(), "MCJIT generates code lazily, on the first address asked");
            MethodHandle arith = engine.function("arith", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
            MethodHandle sum = engine.function("sum", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            MethodHandle lookup = engine.function("lookup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            for (int[] ab : new int[][] {{7, 3}, {0, 0}, {-5, 12}, {1000, -1}, {46341, 2}}) {
                assertEquals(LlvmJitSamples.arith(ab[0], ab[1]), (int) arith.invokeExact(ab[0], ab[1]));
            }
            for (long n : new long[] {1, 2, 10, 100_000, 3_000_000}) {
                assertEquals(LlvmJitSamples.sum(n), (long) sum.invokeExact(n));
            }
            for (int i = -3; i < 40; i++) {
                assertEquals(LlvmJitSamples.lookup(i), (int) lookup.invokeExact(i), "lookup(" + i + ")");
            }
            assertEquals(0, engine.address("no_such_function"));

            List<JitMemory.Section> sections = memory.sections();
            assertTrue(sections.stream().anyMatch(s -> s.kind() == JitMemory.Kind.CODE), sections.toString());
            assertTrue(sections.stream().anyMatch(s -> s.kind() == JitMemory.Kind.READ_ONLY_DATA && s.size() >= 64),
                    "the constant table went to a read-only data section: " + sections);
            assertEquals(sections.stream().mapToLong(JitMemory.Section::size).sum(), memory.bytesHandedOut());
            assertTrue(memory.bytesHandedOut() > 0 && memory.bytesMapped() >= memory.bytesHandedOut());
            for (JitMemory.Section s : sections) {
                assertEquals(0, s.address() % s.alignment(), "alignment honoured: " + s);
            }
            assertTrue(memory.finalizations() >= 1);
            assertEquals(Set.of(mm.opaque().address()), memory.opaquesSeen(), "LLVM passed back the registered Opaque only");
        } finally {
            module.close();
        }
        assertTrue(memory.destroyed(), "LLVMDisposeExecutionEngine called Destroy through the table");
        assertTrue(memory.protections().stream().filter(p -> p.call().equals("munmap")).count() >= 2);
        assertTrue(memory.protections().stream().filter(p -> p.call().equals("mmap"))
                .allMatch(m -> memory.protections().stream().anyMatch(u -> u.call().equals("munmap") && u.address() == m.address())),
                "Destroy unmapped every page");
        assertTrue(events.stream().noneMatch(e -> e.type() == EventType.TABLE_REFUSED || e.type() == EventType.CALLBACK_THREW), events.toString());
        mm.close();
    }

    @Test
    void codePagesEndReadExecuteAndNoPageIsEverWritableAndExecutable() throws Throwable {
        JitMemory memory = new JitMemory();
        GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory);
        LlvmJit.Module module = llvm.newModule("wx").addArithmetic("arith").addTableLookup("lookup", LlvmJitSamples.PRIMES).verify();
        try (LlvmJit.Engine engine = llvm.compile(module, mm.createLlvmMemoryManager(llvm))) {
            MethodHandle lookup = engine.function("lookup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertEquals(LlvmJitSamples.lookup(9), (int) lookup.invokeExact(9));
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            for (JitMemory.Section s : memory.sections()) {
                String perms = permissionsAt(maps, s.address());
                switch (s.kind()) {
                    case CODE -> assertEquals("r-xp", perms, "code section " + s);
                    case READ_ONLY_DATA -> assertEquals("r--p", perms, "read-only data section " + s);
                    case READ_WRITE_DATA -> assertEquals("rw-p", perms, "read-write data section " + s);
                }
            }
            assertTrue(memory.sections().stream().anyMatch(s -> s.kind() == JitMemory.Kind.CODE));
            for (JitMemory.Protection p : memory.protections()) {
                assertFalse(p.writableAndExecutable(), "a page was asked to be writable and executable: " + p);
            }
            assertTrue(memory.protections().stream().anyMatch(p -> p.call().equals("mprotect")
                    && p.prot() == (JitMemory.PROT_READ | JitMemory.PROT_EXEC)), memory.protections().toString());
            for (JitMemory.Protection p : memory.protections()) {
                if (p.call().equals("mmap")) {
                    for (long page = p.address(); page < p.address() + p.length(); page += JitMemory.PAGE) {
                        assertNotEquals("rwxp", permissionsAt(maps, page), "rwx page at 0x" + Long.toHexString(page));
                    }
                }
            }
        } finally {
            module.close();
        }
        mm.close();
    }

    @Test
    void llvmItselfRefusesAnOptionsStructLargerThanItsOwn() throws Throwable {
        JitMemory memory = new JitMemory();
        GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory);
        LlvmJit.Module module = llvm.newModule("options").addArithmetic("arith").verify();
        MemorySegment llvmMm = mm.createLlvmMemoryManager(llvm);
        try {
            LlvmJit.CreateResult tooLarge = llvm.createEngine(module, llvmMm, LlvmJit.OPTIONS.byteSize() + 8);
            assertNull(tooLarge.engine());
            assertEquals(1, tooLarge.returnCode());
            assertTrue(tooLarge.error().contains("larger than my own"), tooLarge.error());

            // The valid twin: the real size, the same module and memory manager (LLVM took neither when it refused).
            LlvmJit.CreateResult exact = llvm.createEngine(module, llvmMm, LlvmJit.OPTIONS.byteSize());
            assertNotNull(exact.engine(), exact.error());
            try (LlvmJit.Engine engine = exact.engine()) {
                MethodHandle arith = engine.function("arith", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
                assertEquals(LlvmJitSamples.arith(20, 22), (int) arith.invokeExact(20, 22));
            }
            assertTrue(memory.destroyed());
        } finally {
            module.close();
        }
        mm.close();
    }

    @Test
    void aTrampolineCalledWithAForeignOpaqueIsRefusedAndTheRealOneIsServed() throws Throwable {
        JitMemory memory = new JitMemory();
        try (GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory); Arena a = Arena.ofConfined()) {
            MethodHandle allocate = Libc.LINKER.downcallHandle(mm.table().function("AllocateCodeSection"), ALLOC_CODE);
            MethodHandle finalize = Libc.LINKER.downcallHandle(mm.table().function("FinalizeMemory"), FINALIZE);
            MemorySegment foreign = a.allocate(8);
            MemorySegment name = a.allocateFrom(".text");
            MemorySegment errMsg = a.allocate(ADDRESS);

            MemorySegment refused = (MemorySegment) allocate.invokeExact(foreign, 4096L, 16, 1, name);
            assertEquals(MemorySegment.NULL, refused);
            assertEquals(1, (int) finalize.invokeExact(foreign, errMsg));
            assertEquals(MemorySegment.NULL, errMsg.get(ADDRESS, 0), "a refused FinalizeMemory leaves ErrMsg alone");
            assertEquals(0, memory.calls(), "no refused call reached the memory manager");
            assertEquals(0, memory.bytesMapped());
            registry.flushAudit();   // the first refusal is a record at once, the second counted
            assertEquals(2, events.stream().filter(e -> e.type() == EventType.TABLE_REFUSED
                    && "CONTEXT_MISMATCH".equals(e.violation()) && e.tableSerial() == mm.table().serial())
                    .mapToLong(SecurityEvent::count).sum(), events.toString());
            assertEquals(TableStatus.OPEN, mm.table().status(), "a foreign Opaque is refused; the table stays open");

            MemorySegment served = (MemorySegment) allocate.invokeExact(mm.opaque(), 4096L, 64, 1, name);
            assertNotEquals(MemorySegment.NULL, served);
            assertEquals(0, served.address() % 64);
            assertEquals(4096, memory.bytesHandedOut());
            assertEquals(0, (int) finalize.invokeExact(mm.opaque(), errMsg));
            assertEquals(Set.of(mm.opaque().address()), memory.opaquesSeen());
        }
        assertTrue(memory.destroyed(), "close() unmapped what no engine destroyed");
    }

    @Test
    void anAbsurdSizeOrAlignmentIsRefusedNotAttempted() throws Throwable {
        JitMemory memory = new JitMemory();
        try (GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory); Arena a = Arena.ofConfined()) {
            MethodHandle allocate = Libc.LINKER.downcallHandle(mm.table().function("AllocateCodeSection"), ALLOC_CODE);
            MemorySegment name = a.allocateFrom(".text");
            assertEquals(MemorySegment.NULL, (MemorySegment) allocate.invokeExact(mm.opaque(), -1L, 16, 1, name), "SIZE_MAX");
            assertEquals(MemorySegment.NULL, (MemorySegment) allocate.invokeExact(mm.opaque(), 1L << 40, 16, 1, name), "1 TiB");
            assertEquals(MemorySegment.NULL, (MemorySegment) allocate.invokeExact(mm.opaque(), JitMemory.DEFAULT_MAX_SECTION + 1, 16, 1, name));
            assertEquals(MemorySegment.NULL, (MemorySegment) allocate.invokeExact(mm.opaque(), 64L, 24, 1, name), "alignment 24");
            assertEquals(MemorySegment.NULL, (MemorySegment) allocate.invokeExact(mm.opaque(), 64L, 1 << 30, 1, name), "alignment 1 GiB");
            assertEquals(5, memory.refusedRequests());
            assertEquals(0, memory.bytesMapped(), "nothing was attempted");
            assertEquals(0, memory.bytesHandedOut());

            MemorySegment big = (MemorySegment) allocate.invokeExact(mm.opaque(), 3L * 4096 + 5, 4096, 1, name);
            MemorySegment small = (MemorySegment) allocate.invokeExact(mm.opaque(), 24L, 32, 2, name);
            assertEquals(0, big.address() % 4096);
            assertEquals(0, small.address() % 32);
            assertTrue(small.address() >= big.address() + 3L * 4096 + 5 || small.address() + 24 <= big.address(), "no overlap");
            assertEquals(3L * 4096 + 5 + 24, memory.bytesHandedOut());
        }
    }

    @Test
    void aCallbackThatThrowsIsContainedAuditedAndAnswersTheRefusalValue() throws Throwable {
        try (GuardedJitMemoryManager throwing = new GuardedJitMemoryManager(registry, new LlvmJitProbe.ThrowingMemory());
             GuardedJitMemoryManager honest = new GuardedJitMemoryManager(registry, new JitMemory());
             Arena a = Arena.ofConfined()) {
            MemorySegment errMsg = a.allocate(ADDRESS);
            MethodHandle finalize = Libc.LINKER.downcallHandle(throwing.table().function("FinalizeMemory"), FINALIZE);
            assertEquals(1, (int) finalize.invokeExact(throwing.opaque(), errMsg), "the refusal value: failure");
            MethodHandle allocate = Libc.LINKER.downcallHandle(throwing.table().function("AllocateCodeSection"), ALLOC_CODE);
            assertEquals(MemorySegment.NULL, (MemorySegment) allocate.invokeExact(throwing.opaque(), 64L, 16, 1, a.allocateFrom(".text")));
            registry.flushAudit();   // the first throw is a record at once, the second counted
            assertEquals(2, events.stream().filter(e -> e.type() == EventType.CALLBACK_THREW
                    && e.tableSerial() == throwing.table().serial()).mapToLong(SecurityEvent::count).sum(), events.toString());

            MethodHandle honestFinalize = Libc.LINKER.downcallHandle(honest.table().function("FinalizeMemory"), FINALIZE);
            assertEquals(0, (int) honestFinalize.invokeExact(honest.opaque(), errMsg));
            assertTrue(events.stream().noneMatch(e -> e.tableSerial() == honest.table().serial()
                    && (e.type() == EventType.CALLBACK_THREW || e.type() == EventType.TABLE_REFUSED)));
        }
    }

    @Test
    void twoEnginesOnOneRegistryNeverSeeEachOthersOpaqueOrMemory() throws Throwable {
        JitMemory memA = new JitMemory(), memB = new JitMemory();
        GuardedJitMemoryManager a = new GuardedJitMemoryManager(registry, memA);
        GuardedJitMemoryManager b = new GuardedJitMemoryManager(registry, memB);
        LlvmJit.Module modA = llvm.newModule("a").addArithmetic("arith").addTableLookup("lookup", LlvmJitSamples.PRIMES).verify();
        LlvmJit.Module modB = llvm.newModule("b").addLoop("sum").addTableLookup("lookup", LlvmJitSamples.PRIMES).verify();
        try (LlvmJit.Engine engA = llvm.compile(modA, a.createLlvmMemoryManager(llvm));
             LlvmJit.Engine engB = llvm.compile(modB, b.createLlvmMemoryManager(llvm))) {
            MethodHandle lookupA = engA.function("lookup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle sumB = engB.function("sum", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            MethodHandle lookupB = engB.function("lookup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle arithA = engA.function("arith", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
            assertEquals(LlvmJitSamples.lookup(3), (int) lookupA.invokeExact(3));
            assertEquals(LlvmJitSamples.lookup(14), (int) lookupB.invokeExact(14));
            assertEquals(LlvmJitSamples.sum(1000), (long) sumB.invokeExact(1000L));
            assertEquals(LlvmJitSamples.arith(9, 4), (int) arithA.invokeExact(9, 4));

            assertEquals(Set.of(a.opaque().address()), memA.opaquesSeen());
            assertEquals(Set.of(b.opaque().address()), memB.opaquesSeen());
            for (JitMemory.Section sa : memA.sections()) {
                for (JitMemory.Protection mb : memB.protections()) {
                    if (mb.call().equals("mmap")) {
                        assertTrue(sa.address() + sa.size() <= mb.address() || sa.address() >= mb.address() + mb.length(),
                                "engine A's section " + sa + " lies in engine B's pages " + mb);
                    }
                }
            }
            // Each table accepts only its own Opaque: B's Opaque through A's trampoline is refused.
            try (Arena arena = Arena.ofConfined()) {
                MethodHandle allocA = Libc.LINKER.downcallHandle(a.table().function("AllocateCodeSection"), ALLOC_CODE);
                int callsA = memA.calls();
                assertEquals(MemorySegment.NULL, (MemorySegment) allocA.invokeExact(b.opaque(), 64L, 16, 9, arena.allocateFrom(".text")));
                assertEquals(callsA, memA.calls());
                assertTrue(events.stream().anyMatch(e -> e.type() == EventType.TABLE_REFUSED && "CONTEXT_MISMATCH".equals(e.violation())
                        && e.tableSerial() == a.table().serial()));
            }
        } finally {
            modA.close();
            modB.close();
        }
        assertTrue(memA.destroyed() && memB.destroyed());
        a.close();
        b.close();
    }

    /** The snippet of docs/internals.md (LLVM section), as a user writes it (with this test's registry): a module of 100 functions. */
    @Test
    void theReadmeSnippetCompilesAModuleOf100FunctionsThroughTheVerifiedManager() throws Throwable {
        LlvmJit llvm = LlvmJit.load();                                          // newest libLLVM on the machine
        try (GuardedJitMemoryManager memory = new GuardedJitMemoryManager(registry)) {   // 4 verified trampolines, Opaque bound
            LlvmJit.Module module = llvm.newModule("m").addSmallFunctions("f", 100).addLoop("sum").verify();
            try (LlvmJit.Engine engine = llvm.compile(module, memory.createLlvmMemoryManager(llvm))) {
                MethodHandle sum = engine.function("sum", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
                assertEquals(5050L, (long) sum.invokeExact(100L));              // JIT-compiled code, in Java-managed pages
                for (int k : new int[] {0, 1, 57, 99}) {
                    MethodHandle f = engine.function("f" + k, FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
                    assertEquals(LlvmJitSamples.small(k, -77L), (long) f.invokeExact(-77L), "f" + k);
                }
            } finally {
                module.close();
            }
            JitMemory jm = (JitMemory) memory.memory();
            assertTrue(jm.destroyed());
            assertTrue(jm.calls() >= 3, "every one of them checked: " + jm.calls());
        }
    }

    /** The permissions of the mapping holding {@code address} in /proc/self/maps, or "" if none does. */
    static String permissionsAt(List<String> maps, long address) {
        for (String line : maps) {
            String[] f = line.split("\\s+");
            String[] range = f[0].split("-");
            long start = Long.parseUnsignedLong(range[0], 16), end = Long.parseUnsignedLong(range[1], 16);
            if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) {
                return f[1];
            }
        }
        return "";
    }
}
