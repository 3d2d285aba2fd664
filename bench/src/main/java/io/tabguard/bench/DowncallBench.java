package io.tabguard.bench;

import io.tabguard.registry.CallbackTable;
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
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark 3, Java -> native: {@code table.slotHandle("add")} of a table whose slot is bound with
 * {@code bindNative} to libtgbench.so's {@code add_ints} (an allow-listed library), against a raw
 * downcall handle to the same C function. The validated handle checks the table (state + byte compare
 * with the snapshot), reads the function pointer from the verified snapshot, then calls it.
 *
 * <p>Two forms of each: {@code static final} handles (the JIT sees a constant handle and can inline
 * the whole chain: how a careful user holds one), and handles in an instance field (not constant).
 * Score: ns per call. Target (issue 16): validated / raw <= 1.5. The Java -> native path does not go
 * through the entry thunks or the shared upcall stubs at all (those carry native -> Java calls).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DowncallBench {

    /** Constant handles: initialised on first use, in the fork, and alive for the fork's lifetime. */
    static final class Constant {
        static final Registry REGISTRY = Fixtures.registry();
        static final CallbackTable TABLE = REGISTRY.builder(Fixtures.ADDER).bindNative("add", "add_ints").build();
        static final MethodHandle RAW = Linker.nativeLinker().downcallHandle(BenchNative.ADD_INTS, BenchNative.BINOP);
        static final MethodHandle VALIDATED = TABLE.slotHandle("add");
    }

    int a = 20;
    int b = 22;
    MethodHandle rawField;
    MethodHandle validatedField;

    @Setup(Level.Trial)
    public void setUp() throws Throwable {
        rawField = Constant.RAW;
        validatedField = Constant.VALIDATED;
        if ((int) Constant.VALIDATED.invokeExact(a, b) != 42 || (int) Constant.RAW.invokeExact(a, b) != 42) {
            throw new IllegalStateException("add_ints through the handles did not return 42");
        }
    }

    @Benchmark
    public int rawDowncall() throws Throwable {
        return (int) Constant.RAW.invokeExact(a, b);
    }

    @Benchmark
    public int validatedDowncall() throws Throwable {
        return (int) Constant.VALIDATED.invokeExact(a, b);
    }

    @Benchmark
    public int rawDowncall_field() throws Throwable {
        return (int) rawField.invokeExact(a, b);
    }

    @Benchmark
    public int validatedDowncall_field() throws Throwable {
        return (int) validatedField.invokeExact(a, b);
    }
}
