package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.CheckMode;
import io.tabguard.registry.RefusalPolicy;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's "Using the registry" example, verbatim between the SNIPPET markers, run as written with
 * what it takes as given: a {@code schema} {@code {read, close, checksum}} (checksum has zlib's {@code crc32}
 * type), a {@code readHandle}, a {@code CloseFn}, a {@code cookie}, and a {@code consumer} that plays the C
 * side: it calls every slot of the struct it is handed through raw pointers, as C would. A second test
 * fails if the README's block and the snippet here differ.
 */
class RegistryUsageExampleTest {
    /** The functional interface the snippet's {@code close} lambda implements. */
    public interface CloseFn {
        int close(MemorySegment cookie);
    }

    static final byte[] DATA = "only what was named gets in".getBytes(StandardCharsets.US_ASCII);

    final Schema schema = Schema.builder("readme.stream", 1)
            .slot("read", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG),
                    s -> s.refusal(-1L).contextArgument(0, Schema.ContextBinding.REGISTERED_CONTEXT))
            .slot("close", FunctionDescriptor.of(JAVA_INT, ADDRESS), s -> s.refusal(-1))
            .slot("checksum", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT), s -> s.refusal(-1L))
            .build();
    final Arena arena = Arena.ofShared();
    final MemorySegment cookie = arena.allocate(16);
    final MethodHandle readHandle = readHandle();
    final Consumer consumer = new Consumer();

    /** {@code read(cookie, buffer, size)}: copies DATA into buffer. */
    long read(MemorySegment cookie, MemorySegment buffer, long size) {
        long n = Math.min(size, DATA.length);
        MemorySegment.copy(MemorySegment.ofArray(DATA), 0, buffer.reinterpret(n), 0, n);
        return n;
    }

    private MethodHandle readHandle() {
        try {
            return MethodHandles.lookup().findVirtual(RegistryUsageExampleTest.class, "read",
                    MethodType.methodType(long.class, MemorySegment.class, MemorySegment.class, long.class)).bindTo(this);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** The C side: reads the three function pointers of the struct and calls each, recording what they returned. */
    static final class Consumer {
        long read = Long.MIN_VALUE;
        long readWithAnotherCookie = Long.MIN_VALUE;
        long checksum = Long.MIN_VALUE;
        int close = Integer.MIN_VALUE;

        void install(MemorySegment payload, MemorySegment cookie) throws Throwable {
            Linker linker = Linker.nativeLinker();
            MemorySegment functions = payload.reinterpret(3 * ADDRESS.byteSize());
            MethodHandle read = linker.downcallHandle(functions.get(ADDRESS, 0), FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
            MethodHandle close = linker.downcallHandle(functions.get(ADDRESS, 8), FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MethodHandle checksum = linker.downcallHandle(functions.get(ADDRESS, 16), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT));
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buffer = a.allocate(64);
                this.read = (long) read.invokeExact(cookie, buffer, 64L);
                this.readWithAnotherCookie = (long) read.invokeExact(buffer, buffer, 64L);
                this.checksum = (long) checksum.invokeExact(0L, buffer, (int) this.read);
                this.close = (int) close.invokeExact(cookie);
            }
        }
    }

    @BeforeEach
    @AfterEach
    void deleteTheSnippetsAuditLog() throws IOException {
        for (String suffix : List.of("", ".key", ".pub")) {
            Files.deleteIfExists(Path.of("events.jsonl" + suffix));
        }
    }

    @AfterEach
    void closeArena() {
        arena.close();
    }

    @Test
    void theReadmeSnippetRunsAsWritten() throws Throwable {
        // SNIPPET-BEGIN
        try (Registry registry = Registry.open(RegistryOptions.builder()
                .refusalPolicy(RefusalPolicy.REFUSE_AND_CONTINUE)   // or FAIL_STOP: audit, then halt the process
                .checkMode(CheckMode.FAST)                          // or FULL: every check, MAC included, on every call
                .auditLog(Path.of("events.jsonl"))                  // default: ~/.tabguard/audit/registry-<time>-<pid>-<n>.jsonl
                .allowLibrary("libz.so.1")                          // tables may point to functions defined in this file
                .build())) {
            CallbackTable t = registry.builder(schema)
                    .bind("read", readHandle)                       // a MethodHandle of exactly the slot's type
                    .bind("close", CloseFn.class, c -> 0)           // or a lambda of a functional interface
                    .bindNative("checksum", "crc32")                // or a function defined in an allow-listed library
                    .context(cookie)                                // what context-bound arguments must equal
                    .build();                                       // refuses missing/mistyped/twice-bound slots
            consumer.install(t.payload(), cookie);                  // hand the struct to C
        }
        // SNIPPET-END
        CRC32 crc = new CRC32();
        crc.update(DATA);
        assertEquals(DATA.length, consumer.read);
        assertEquals(-1L, consumer.readWithAnotherCookie, "another cookie: CONTEXT_MISMATCH, the slot's refusal value");
        assertEquals(crc.getValue(), consumer.checksum, "libz's crc32 ran through the table");
        assertEquals(0, consumer.close);
        assertTrue(Files.readString(Path.of("events.jsonl")).contains("CONTEXT_MISMATCH"), "the refusal is in the snippet's audit log");
    }

    @Test
    void theSnippetIsTheReadmesExample() throws IOException {
        String source = Files.readString(Path.of("src/test/java/io/tabguard/testkit/RegistryUsageExampleTest.java"));
        String begin = "// SNIPPET-" + "BEGIN\n";   // split, so that these lines are not the markers
        String snippet = source.substring(source.indexOf(begin) + begin.length(), source.indexOf("        // SNIPPET-" + "END"));
        String unindented = snippet.lines().map(l -> l.startsWith("        ") ? l.substring(8) : l)
                .reduce("", (a, b) -> a + b + "\n");
        String readme = Files.readString(Path.of("../README.md"));
        int section = readme.indexOf("## Using the registry");
        int start = readme.indexOf("```java\n", section) + "```java\n".length();
        String block = readme.substring(start, readme.indexOf("```", start));
        assertEquals(block, unindented);
    }
}
