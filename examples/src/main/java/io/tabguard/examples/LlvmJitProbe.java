package io.tabguard.examples;

import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One JIT compilation with the verified memory manager, honest or attacked, for a forked JVM: when the
 * memory manager's table refuses an allocation, MCJIT stops the process with its own fatal error
 * ("LLVM ERROR: ..."), so the attacks cannot run inside a test's JVM.
 *
 * <pre>java -m io.tabguard.examples/io.tabguard.examples.LlvmJitProbe MODE AUDIT_LOG</pre>
 * MODE: {@code honest}; {@code revoke} (the table revoked before compiling); {@code tamper} (the code and
 * data slots of the live table swapped, CRC32C recomputed, before LLVM reads them); {@code throw} (the
 * Java allocator throws). Prints {@code llvm <library>}, {@code compiling}, then {@code result ...} lines
 * and {@code done} only if the JIT-compiled code ran. Exit 0 on success, 2 on bad usage.
 */
public final class LlvmJitProbe {
    private LlvmJitProbe() {}

    public static void main(String[] args) throws Throwable {
        System.exit(run(args, System.out));
    }

    /** The probe, printing to {@code out}; returns the exit code. */
    static int run(String[] args, java.io.PrintStream out) throws Throwable {
        if (args.length != 2) {
            out.println("usage: LlvmJitProbe honest|revoke|tamper|throw AUDIT_LOG");
            return 2;
        }
        String mode = args[0];
        LlvmJit llvm = LlvmJit.load();
        out.println("llvm " + llvm.library());
        try (Registry registry = Registry.open(RegistryOptions.builder().auditLog(Path.of(args[1])).writableTables().build())) {
            SimpleMemoryManager memory = mode.equals("throw") ? new ThrowingMemory() : new JitMemory();
            GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry, memory);
            switch (mode) {
                case "honest", "throw" -> { }
                case "revoke" -> registry.revoke(mm.table());
                case "tamper" -> {
                    TableTampering.swapSlots(mm.table(), "AllocateCodeSection", "AllocateDataSection");
                    TableTampering.recomputeChecksum(mm.table());
                }
                default -> {
                    out.println("unknown mode " + mode);
                    return 2;
                }
            }
            out.println("table " + mm.table().status());
            LlvmJit.Module module = llvm.newModule("probe").addArithmetic("arith").addTableLookup("lookup", LlvmJitSamples.PRIMES).verify();
            try (LlvmJit.Engine engine = llvm.compile(module, mm.createLlvmMemoryManager(llvm))) {
                out.println("compiling");
                out.flush();
                MethodHandle arith = engine.function("arith", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
                MethodHandle lookup = engine.function("lookup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
                out.println("result arith(7,3)=" + (int) arith.invokeExact(7, 3));
                out.println("result lookup(5)=" + (int) lookup.invokeExact(5));
            } finally {
                module.close();
            }
            mm.close();
        }
        out.println("done");
        out.flush();
        return 0;
    }

    /** A memory manager whose allocations throw: the trampoline contains it, audits it, returns NULL. */
    static final class ThrowingMemory implements SimpleMemoryManager {
        private final JitMemory delegate = new JitMemory();

        @Override
        public MemorySegment allocateCodeSection(MemorySegment opaque, long size, int alignment, int sectionId, MemorySegment name) {
            throw new IllegalStateException("allocator bug: code section of " + size + " bytes");
        }

        @Override
        public MemorySegment allocateDataSection(MemorySegment opaque, long size, int alignment, int sectionId, MemorySegment name,
                                                 int isReadOnly) {
            throw new IllegalStateException("allocator bug: data section of " + size + " bytes");
        }

        @Override
        public int finalizeMemory(MemorySegment opaque, MemorySegment errMsg) {
            throw new IllegalStateException("allocator bug: finalize");
        }

        @Override
        public void destroy(MemorySegment opaque) {
            delegate.destroy(opaque);
        }
    }
}
