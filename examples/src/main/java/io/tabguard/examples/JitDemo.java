package io.tabguard.examples;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.registry.Registry;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The LLVM part of the demo: MCJIT compiles three functions into memory handed out by a Java memory
 * manager behind a verified table, the results are checked, then the table is attacked four ways. The
 * attacks call the trampolines exactly as MCJIT would (with MCJIT itself, a refused allocation makes it
 * stop the process with its own fatal error, which {@code LlvmJitForkTest} shows in a forked JVM).
 * Every line starts with {@code llvm}.
 */
public final class JitDemo {
    private JitDemo() {}

    /**
     * Runs the LLVM section of the demo on {@code registry}, whose security events arrive in
     * {@code events}; returns what went wrong (empty: everything worked, every attack was refused).
     * Without LLVM on the machine it says so and returns no failure.
     */
    public static List<String> run(PrintStream out, Registry registry, List<SecurityEvent> events) {
        List<String> failures = new ArrayList<>();
        out.println();
        Optional<LlvmJit> found;
        try {
            found = LlvmJit.find();
        } catch (RuntimeException | LinkageError e) {
            failures.add("llvm: loading LLVM failed: " + e.getMessage());
            out.println("llvm      loading LLVM failed: " + e.getMessage());
            return failures;
        }
        if (found.isEmpty()) {
            out.println("llvm      no libLLVM found (install libllvm15): the MCJIT part is skipped");
            return failures;
        }
        LlvmJit llvm = found.get();
        out.println("llvm      " + llvm.library() + " (LLVM " + llvm.majorVersion() + "): MCJIT with a verified memory manager (4 callbacks, Opaque bound)");
        try {
            compileAndRun(out, llvm, registry, events, failures);
            attacks(out, registry, events, failures);
        } catch (Throwable t) {
            failures.add("llvm: " + t.getClass().getSimpleName() + ": " + t.getMessage());
            out.println("llvm      FAILED: " + t.getMessage());
        }
        return failures;
    }

    private static void compileAndRun(PrintStream out, LlvmJit llvm, Registry registry, List<SecurityEvent> events,
                                      List<String> failures) throws Throwable {
        JitMemory memory = new JitMemory();
        int mark = events.size();
        GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory);
        LlvmJit.Module module = llvm.newModule("demo").addArithmetic("arith").addLoop("sum")
                .addTableLookup("lookup", LlvmJitSamples.PRIMES).verify();
        boolean wx;
        String codePerms;
        try (LlvmJit.Engine engine = llvm.compile(module, mm.createLlvmMemoryManager(llvm))) {
            MethodHandle arith = engine.function("arith", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
            MethodHandle sum = engine.function("sum", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            MethodHandle lookup = engine.function("lookup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            int a = (int) arith.invokeExact(7, 3);
            long s = (long) sum.invokeExact(100_000L);
            int l = (int) lookup.invokeExact(5);
            boolean ok = a == LlvmJitSamples.arith(7, 3) && s == LlvmJitSamples.sum(100_000) && l == LlvmJitSamples.lookup(5);
            List<JitMemory.Section> sections = memory.sections();
            long code = sections.stream().filter(x -> x.kind() == JitMemory.Kind.CODE).mapToLong(JitMemory.Section::size).sum();
            long ro = sections.stream().filter(x -> x.kind() == JitMemory.Kind.READ_ONLY_DATA).mapToLong(JitMemory.Section::size).sum();
            out.printf("llvm      JIT-compiled arith, sum (a loop), lookup (a constant table): %d sections, %d bytes (code %d, read-only data %d)%n",
                    sections.size(), memory.bytesHandedOut(), code, ro);
            out.printf("llvm      arith(7,3) = %d, sum(100000) = %d, lookup(5) = %d  ->  %s%n", a, s, l, ok ? "ok" : "WRONG");
            if (!ok) {
                failures.add("llvm: the JIT-compiled functions returned wrong results");
            }
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            codePerms = sections.stream().filter(x -> x.kind() == JitMemory.Kind.CODE)
                    .map(x -> permissionsAt(maps, x.address())).distinct().reduce((p, q) -> p + "," + q).orElse("none");
            wx = memory.protections().stream().noneMatch(JitMemory.Protection::writableAndExecutable);
        } finally {
            module.close();
        }
        out.printf("llvm      code pages %s; no page ever writable and executable: %s; Destroy unmapped all: %s%n",
                codePerms, wx ? "yes" : "NO", memory.destroyed() ? "yes" : "NO");
        if (!codePerms.equals("r-xp") || !wx || !memory.destroyed()) {
            failures.add("llvm: W^X or Destroy failed (" + codePerms + ")");
        }
        long refused = events.subList(mark, events.size()).stream()
                .filter(e -> e.tableSerial() == mm.table().serial() && e.type() == EventType.TABLE_REFUSED).mapToLong(SecurityEvent::count).sum();
        out.printf("llvm      %d callbacks from LLVM checked against the table before dispatch, %d refused%n", memory.calls(), refused);
        mm.close();
    }

    private static void attacks(PrintStream out, Registry registry, List<SecurityEvent> events, List<String> failures) throws Throwable {
        FunctionDescriptor allocDesc = GuardedJitMemoryManager.SCHEMA.member("AllocateCodeSection").map(m -> ((io.tabguard.guard.Schema.Slot) m).descriptor()).orElseThrow();
        FunctionDescriptor finalizeDesc = GuardedJitMemoryManager.SCHEMA.member("FinalizeMemory").map(m -> ((io.tabguard.guard.Schema.Slot) m).descriptor()).orElseThrow();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocateFrom(".text");
            try (GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry)) {
                MemorySegment foreign = a.allocate(8);
                attack(out, events, failures, mm, "AllocateCodeSection with a foreign Opaque", "NULL", () -> {
                    MemorySegment p = (MemorySegment) Libc.LINKER.downcallHandle(mm.table().function("AllocateCodeSection"), allocDesc)
                            .invokeExact(foreign, 4096L, 16, 1, name);
                    return p.equals(MemorySegment.NULL);
                }, EventType.TABLE_REFUSED);
            }
            try (GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry)) {
                registry.revoke(mm.table());
                attack(out, events, failures, mm, "allocate through a revoked table", "NULL", () -> {
                    MemorySegment p = (MemorySegment) Libc.LINKER.downcallHandle(mm.table().function("AllocateCodeSection"), allocDesc)
                            .invokeExact(mm.opaque(), 4096L, 16, 1, name);
                    return p.equals(MemorySegment.NULL);
                }, EventType.TABLE_REFUSED);
            }
            try (GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry)) {
                TableTampering.swapSlots(mm.table(), "AllocateCodeSection", "AllocateDataSection");
                TableTampering.recomputeChecksum(mm.table());
                MemorySegment codeSlot = mm.table().payload().get(ADDRESS,
                        GuardedJitMemoryManager.SCHEMA.member("AllocateCodeSection").orElseThrow().offset());
                attack(out, events, failures, mm, "code and data slots swapped, CRC32C recomputed", "NULL", () -> {
                    MemorySegment p = (MemorySegment) Libc.LINKER.downcallHandle(codeSlot, allocDesc)
                            .invokeExact(mm.opaque(), 4096L, 16, 1, name);
                    return p.equals(MemorySegment.NULL);
                }, EventType.TABLE_REFUSED);
            }
            try (GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, new LlvmJitProbe.ThrowingMemory())) {
                MemorySegment errMsg = a.allocate(ADDRESS);
                attack(out, events, failures, mm, "FinalizeMemory callback throws", "1 (failure)", () -> {
                    int r = (int) Libc.LINKER.downcallHandle(mm.table().function("FinalizeMemory"), finalizeDesc)
                            .invokeExact(mm.opaque(), errMsg);
                    return r == 1;
                }, EventType.CALLBACK_THREW);
            }
        }
        out.println("llvm      (with MCJIT itself, a refused allocation stops LLVM with its own fatal error before any JIT code runs)");
    }

    private interface Call {
        boolean refusalValueReturned() throws Throwable;
    }

    private static void attack(PrintStream out, List<SecurityEvent> events, List<String> failures, GuardedJitMemoryManager mm,
                               String what, String refusal, Call call, EventType expected) throws Throwable {
        int mark = events.size();
        int callsBefore = mm.memory() instanceof JitMemory jm ? jm.calls() : 0;
        boolean returned = call.refusalValueReturned();
        Optional<SecurityEvent> event = events.subList(mark, events.size()).stream()
                .filter(e -> e.tableSerial() == mm.table().serial() && e.type() == expected).findFirst();
        boolean untouched = !(mm.memory() instanceof JitMemory jm) || jm.calls() == callsBefore;
        String named = event.map(e -> e.violation() != null ? e.violation() : e.type().name()).orElse(null);
        if (returned && named != null && untouched) {
            out.printf("llvm      attack: %-48s -> %-16s %s returned, process alive%n", what, named, refusal);
        } else {
            out.printf("llvm      attack: %-48s -> NOT REFUSED%n", what);
            failures.add("llvm attack not refused: " + what);
        }
    }

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
