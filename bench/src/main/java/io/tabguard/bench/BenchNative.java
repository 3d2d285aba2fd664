package io.tabguard.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The benchmarks' own native side: {@code libtgbench.so} (bench/src/main/c/tgbench.c, compiled by the
 * bench build into bench/target/native/) and glibc's qsort, as constant downcall handles.
 *
 * <p>The library is found, in order, at the system property {@code tgbench.lib}, the environment
 * variable {@code TGBENCH_LIB}, or {@code native/libtgbench.so} beside the jar (or classes folder)
 * this class was loaded from.
 */
public final class BenchNative {
    /** {@code int (*)(int, int)}: the type of every slot the dispatch benchmarks call through. */
    public static final FunctionDescriptor BINOP = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);

    public static final Path LIBRARY = locate();
    public static final SymbolLookup LOOKUP = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
    private static final Linker LINKER = Linker.nativeLinker();

    /** {@code int call_n(int (*f)(int,int), int n)}: n dependent calls through f. */
    public static final MethodHandle CALL_N = LINKER.downcallHandle(LOOKUP.findOrThrow("call_n"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    /** {@code int call_ii(int (*f)(int,int), int a, int b)}: one call through f. */
    public static final MethodHandle CALL_II = LINKER.downcallHandle(LOOKUP.findOrThrow("call_ii"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** The address of {@code int add_ints(int, int)}. */
    public static final MemorySegment ADD_INTS = LOOKUP.findOrThrow("add_ints");
    /** glibc {@code void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))}. */
    public static final MethodHandle QSORT = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("qsort"),
            FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));

    /** {@code int hammer_start(int (*f)(int,int), int n, int refusal)}: n pthreads calling f(1, 2) until stopped. */
    public static final MethodHandle HAMMER_START = LINKER.downcallHandle(LOOKUP.findOrThrow("hammer_start"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** {@code void hammer_stop(long *calls, long *refused)}: stops and joins them. */
    public static final MethodHandle HAMMER_STOP = LINKER.downcallHandle(LOOKUP.findOrThrow("hammer_stop"),
            FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));

    /** Calls per invocation of the {@code call_n} benchmarks (they report time per single call). */
    public static final int CALLS = 1000;

    private BenchNative() {}

    private static Path locate() {
        String configured = System.getProperty("tgbench.lib", System.getenv("TGBENCH_LIB"));
        if (configured != null && !configured.isBlank()) {
            return existing(Path.of(configured).toAbsolutePath());
        }
        try {
            Path codeSource = Path.of(BenchNative.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            // bench/target/benchmarks.jar or bench/target/classes -> bench/target/native/libtgbench.so
            return existing(codeSource.toAbsolutePath().getParent().resolve("native").resolve("libtgbench.so"));
        } catch (Exception e) {
            throw new IllegalStateException("cannot find libtgbench.so: set -Dtgbench.lib or TGBENCH_LIB", e);
        }
    }

    private static Path existing(Path p) {
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException(p + " does not exist: build it with ./mvnw -f bench/pom.xml package"
                    + " (or set -Dtgbench.lib / TGBENCH_LIB)");
        }
        return p;
    }
}
