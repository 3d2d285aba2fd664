package io.tabguard.bench;

import io.tabguard.examples.GuardedJitMemoryManager;
import io.tabguard.examples.JitMemory;
import io.tabguard.examples.LlvmJit;
import io.tabguard.examples.LlvmJitSamples;
import io.tabguard.examples.SimpleMemoryManager;
import io.tabguard.guard.Schema;
import io.tabguard.registry.Registry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * LLVM's MCJIT compiling a module of {@value #FUNCTIONS} small functions (IR built through the C API,
 * code generated, finalized, one function called, engine disposed), with the same Java memory manager
 * ({@link JitMemory}) behind:
 * <ul>
 *   <li>{@code compile100_tabguard}: a verified table (4 Java slots: entry thunks into shared upcall stubs, Opaque bound to the context);</li>
 *   <li>{@code baseline_compile100_rawStubs}: 4 raw {@code Linker.upcallStub}s (each wrapped to catch
 *       {@code Throwable}, as any correct upcall must be).</li>
 * </ul>
 * Target: ratio ≤ 1.05. The table and the stubs are made once per trial around a holder that hands
 * each compilation a fresh {@link JitMemory} (LLVM's Destroy unmaps it), so the score is one
 * compilation, not table building.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class JitCompileBench {
    static final int FUNCTIONS = 100;

    /** Delegates to the JitMemory of the current compilation. */
    static final class Holder implements SimpleMemoryManager {
        volatile JitMemory current = new JitMemory();

        @Override
        public MemorySegment allocateCodeSection(MemorySegment opaque, long size, int alignment, int sectionId, MemorySegment name) {
            return current.allocateCodeSection(opaque, size, alignment, sectionId, name);
        }

        @Override
        public MemorySegment allocateDataSection(MemorySegment opaque, long size, int alignment, int sectionId, MemorySegment name,
                                                 int isReadOnly) {
            return current.allocateDataSection(opaque, size, alignment, sectionId, name, isReadOnly);
        }

        @Override
        public int finalizeMemory(MemorySegment opaque, MemorySegment errMsg) {
            return current.finalizeMemory(opaque, errMsg);
        }

        @Override
        public void destroy(MemorySegment opaque) {
            current.destroy(opaque);
        }
    }

    private LlvmJit llvm;
    private Registry registry;
    private Arena arena;
    private final Holder guardedMemory = new Holder();
    private final Holder rawMemory = new Holder();
    private GuardedJitMemoryManager guarded;
    private MemorySegment rawOpaque;
    private MemorySegment[] rawStubs;

    @Setup(Level.Trial)
    public void open() throws ReflectiveOperationException {
        llvm = LlvmJit.load();
        registry = Fixtures.registry();
        arena = Arena.ofShared();
        guarded = new GuardedJitMemoryManager(registry, guardedMemory);
        rawOpaque = arena.allocate(8);
        rawStubs = new MemorySegment[4];
        String[] methods = {"allocateCodeSection", "allocateDataSection", "finalizeMemory", "destroy"};
        for (int i = 0; i < 4; i++) {
            Schema.Slot slot = GuardedJitMemoryManager.SCHEMA.slots().get(i);
            FunctionDescriptor d = slot.descriptor();
            MethodType type = d.toMethodType();
            MethodHandle target = MethodHandles.publicLookup().findVirtual(SimpleMemoryManager.class, methods[i], type).bindTo(rawMemory);
            Object refusal = slot.refusalValue().orElse(null);
            MethodHandle fallback = type.returnType() == void.class
                    ? MethodHandles.empty(type)
                    : MethodHandles.dropArguments(MethodHandles.constant(type.returnType(), refusal), 0, type.parameterList());
            MethodHandle safe = MethodHandles.catchException(target, Throwable.class, MethodHandles.dropArguments(fallback, 0, Throwable.class));
            rawStubs[i] = Linker.nativeLinker().upcallStub(safe, d, arena);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        guarded.close();
        registry.close();
        arena.close();
    }

    @Benchmark
    public long compile100_tabguard() throws Throwable {
        guardedMemory.current = new JitMemory();
        return compile(guarded.createLlvmMemoryManager(llvm));
    }

    @Benchmark
    public long baseline_compile100_rawStubs() throws Throwable {
        rawMemory.current = new JitMemory();
        return compile(llvm.createSimpleMemoryManager(rawOpaque, rawStubs[0], rawStubs[1], rawStubs[2], rawStubs[3]));
    }

    private long compile(MemorySegment memoryManager) throws Throwable {
        LlvmJit.Module module = llvm.newModule("bench").addSmallFunctions("f", FUNCTIONS);
        try (LlvmJit.Engine engine = llvm.compile(module, memoryManager)) {
            MethodHandle last = engine.function("f" + (FUNCTIONS - 1), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            long r = (long) last.invokeExact(12345L);
            if (r != LlvmJitSamples.small(FUNCTIONS - 1, 12345L)) {
                throw new AssertionError("f" + (FUNCTIONS - 1) + "(12345) = " + r);
            }
            return r;
        } finally {
            module.close();
        }
    }
}
