package io.tabguard.bench;

import com.sun.jna.Callback;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

import static io.tabguard.bench.BenchNative.CALLS;

/**
 * Benchmark 2: the same C {@code call_n} loop calling into Java through JNA's {@link Callback} (a JNA
 * native trampoline into a Java object; no checks). JNA's fastest binding is used for the call into C
 * (direct mapping, {@link Native#register}); the 1000 callbacks per call dominate anyway. Compared with
 * {@link NativeToJavaBench#callN_tabguard}, in the same JMH run. Target: Tabguard faster than JNA.
 * Score: ns per single callback.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class JnaCallbackBench {

    /** {@code int (*)(int, int)} for JNA. Public: JNA calls it reflectively. */
    public interface BinOp extends Callback {
        int invoke(int a, int b);
    }

    /** libtgbench.so's call_n, directly mapped. */
    public static final class TgBench {
        static {
            Native.register(TgBench.class, NativeLibrary.getInstance(BenchNative.LIBRARY.toString()));
        }

        private TgBench() {}

        public static native int call_n(BinOp f, int n);
    }

    /** Held for the whole run: JNA frees a callback's trampoline when its Java object is collected. */
    BinOp add;

    @Setup(Level.Trial)
    public void setUp() {
        add = Fixtures::add;
        if (TgBench.call_n(add, CALLS) != NativeToJavaBench.sumOfFirst(CALLS)) {
            throw new IllegalStateException("JNA call_n returned a wrong sum");
        }
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public int callN_jnaCallback() {
        return TgBench.call_n(add, CALLS);
    }
}
