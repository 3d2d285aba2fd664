package io.tabguard.bench;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
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
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;
import static io.tabguard.bench.BenchNative.CALL_N;

/**
 * Diagnosis, not a target: where the shared-stub native -> Java path spends its time against a raw
 * upcall stub. Every variant is a raw {@code Linker.upcallStub} called by C's {@code call_n} (1000
 * dependent calls), whose Java side adds one ingredient of the shared stub's dispatch, rebuilt from JDK
 * API only:
 * <ul>
 *   <li>{@code raw}: the stub of {@link Fixtures#ADD}, constant: the JIT inlines the target;</li>
 *   <li>{@code raw_extraLongArgument}: the stub's descriptor has the trailing {@code long} the shared
 *       stub receives its record id in (the value here is whatever the third register holds; dropped);</li>
 *   <li>{@code raw_nonConstantTarget}: the target handle read from a mutable field, as the shared stub
 *       must read it from the slot's record: {@code invokeExact} of a handle the JIT cannot see, so it
 *       cannot be inlined;</li>
 *   <li>{@code raw_recordLookup}: a lookup like {@code SlotRecords.resolve} (volatile read of the chunk
 *       array, acquire read of the element, shape and generation compare) before a constant target;</li>
 *   <li>{@code raw_lookupThenRecordTarget}: the lookup, then the target read from the record found;</li>
 *   <li>{@code tabguard}: the real slot (entry thunk, shared stub, record, gate checks).</li>
 * </ul>
 * Not run by run.sh by default ({@code bench/run.sh --diag} runs it). Thread-safety: JMH state of the one
 * benchmark thread; the holders below are written once before any call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SharedStubCostBench {
    /** A record like SlotRecords.SlotRecord: what a lookup finds. */
    record Rec(Object shape, MethodHandle target, int generation) {}

    private static final Object SHAPE = new Object();
    private static final VarHandle ELEMENT = MethodHandles.arrayElementVarHandle(Rec[].class);
    /** Not final: the JIT must read it on every call, as the shared stub reads a record's target. */
    private static MethodHandle mutableTarget = Fixtures.ADD;
    private static volatile Rec[][] chunks;
    private static long id = 5;

    /** An upcall target must not declare checked exceptions: a barrier, as every real trampoline has. */
    static int viaMutableField(int a, int b) {
        try {
            return (int) mutableTarget.invokeExact(a, b);
        } catch (Throwable t) {
            return 0;
        }
    }

    static Rec lookup() {
        long i = id;
        int index = (int) i;
        Rec[][] c = chunks;
        Rec[] records = c[index >>> 12];
        Rec r = (Rec) ELEMENT.getAcquire(records, index & 4095);
        if (r != null && r.shape() == SHAPE && r.generation() == (int) (i >>> 32)) {
            return r;
        }
        throw new IllegalStateException("stale");
    }

    static int lookupThenConstant(int a, int b) {
        lookup();
        return Fixtures.add(a, b);
    }

    static int lookupThenRecordTarget(int a, int b) {
        try {
            return (int) lookup().target().invokeExact(a, b);
        } catch (Throwable t) {
            return 0;
        }
    }

    private Arena arena;
    private Registry registry;
    MemorySegment raw;
    MemorySegment extraLong;
    MemorySegment nonConstant;
    MemorySegment recordLookup;
    MemorySegment lookupThenTarget;
    MemorySegment tabguard;

    @Setup(Level.Trial)
    public void setUp() throws ReflectiveOperationException {
        Rec[][] c = new Rec[16][];
        c[0] = new Rec[4096];
        c[0][5] = new Rec(SHAPE, Fixtures.ADD, 0);
        chunks = c;
        arena = Arena.ofShared();
        Linker linker = Linker.nativeLinker();
        MethodHandles.Lookup l = MethodHandles.lookup();
        MethodType binop = MethodType.methodType(int.class, int.class, int.class);
        raw = linker.upcallStub(Fixtures.ADD, BenchNative.BINOP, arena);
        FunctionDescriptor withLong = BenchNative.BINOP.appendArgumentLayouts(ValueLayout.JAVA_LONG);
        extraLong = linker.upcallStub(MethodHandles.dropArguments(Fixtures.ADD, 2, long.class), withLong, arena);
        nonConstant = linker.upcallStub(l.findStatic(SharedStubCostBench.class, "viaMutableField", binop), BenchNative.BINOP, arena);
        recordLookup = linker.upcallStub(l.findStatic(SharedStubCostBench.class, "lookupThenConstant", binop), BenchNative.BINOP, arena);
        lookupThenTarget = linker.upcallStub(l.findStatic(SharedStubCostBench.class, "lookupThenRecordTarget", binop), BenchNative.BINOP, arena);
        registry = Fixtures.registry();
        CallbackTable table = Fixtures.binopTable(registry);
        tabguard = table.function("op");
        int expected = NativeToJavaBench.sumOfFirst(CALLS);
        for (MemorySegment f : new MemorySegment[] {raw, extraLong, nonConstant, recordLookup, lookupThenTarget, tabguard}) {
            if (NativeToJavaBench.callN(f) != expected) {
                throw new IllegalStateException("a variant returned a wrong sum");
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        registry.close();
        arena.close();
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int raw() throws Throwable {
        return (int) CALL_N.invokeExact(raw, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int raw_extraLongArgument() throws Throwable {
        return (int) CALL_N.invokeExact(extraLong, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int raw_nonConstantTarget() throws Throwable {
        return (int) CALL_N.invokeExact(nonConstant, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int raw_recordLookup() throws Throwable {
        return (int) CALL_N.invokeExact(recordLookup, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int raw_lookupThenRecordTarget() throws Throwable {
        return (int) CALL_N.invokeExact(lookupThenTarget, CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int tabguard() throws Throwable {
        return (int) CALL_N.invokeExact(tabguard, CALLS);
    }
}
