package io.tabguard.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * C threads hammering one {@code int (*)(int)} pointer: {@code native/hammer.c}, compiled with gcc on
 * first use. One set of threads at a time (the C side keeps them in statics). Not thread-safe.
 */
@SuppressWarnings("restricted")
final class NativeHammer {
    private static MethodHandle start;
    private static MethodHandle retarget;
    private static MethodHandle stop;

    /** What the threads did between start and stop. */
    record Totals(long calls, long refused) {}

    private NativeHammer() {}

    private static synchronized void load() throws IOException, InterruptedException {
        if (start != null) {
            return;
        }
        Path dir = Files.createTempDirectory("tabguard-hammer");
        Path source = dir.resolve("hammer.c");
        try (InputStream in = NativeHammer.class.getResourceAsStream("native/hammer.c")) {
            Files.write(source, in.readAllBytes());
        }
        Path library = dir.resolve("libhammer.so");
        List<String> cmd = List.of("gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                "-o", library.toString(), source.toString(), "-lpthread");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("gcc failed: " + String.join(" ", cmd) + "\n" + output);
        }
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        Linker linker = Linker.nativeLinker();
        start = linker.downcallHandle(lib.find("hammer_start").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        retarget = linker.downcallHandle(lib.find("hammer_retarget").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS));
        stop = linker.downcallHandle(lib.find("hammer_stop").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
    }

    /** Starts {@code threads} C threads calling {@code function(1)}; a result equal to {@code refusal} counts as refused. */
    static void start(MemorySegment function, int threads, int refusal) throws Throwable {
        load();
        if ((int) start.invokeExact(function, threads, refusal) != 0) {
            throw new IllegalStateException("pthread_create failed");
        }
    }

    /** Points the running threads at another function. */
    static void retarget(MemorySegment function) throws Throwable {
        retarget.invokeExact(function);
    }

    static Totals stop() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment calls = arena.allocate(JAVA_LONG);
            MemorySegment refused = arena.allocate(JAVA_LONG);
            stop.invokeExact(calls, refused);
            return new Totals(calls.get(JAVA_LONG, 0), refused.get(JAVA_LONG, 0));
        }
    }
}
