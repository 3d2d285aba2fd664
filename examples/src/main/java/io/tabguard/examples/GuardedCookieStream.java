package io.tabguard.examples;

import io.tabguard.guard.Schema;
import io.tabguard.guard.Schema.ContextBinding;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A glibc {@code FILE *} whose bytes live in a Java in-memory store, made with
 * {@code fopencookie(cookie, "w+", io_funcs)} where {@code io_funcs} is a verified Tabguard table in
 * glibc's {@code cookie_io_functions_t} layout. Every read, write, seek and close glibc makes goes
 * through a trampoline that checks the table (and that glibc passed <em>this</em> stream's cookie)
 * before the Java store runs.
 *
 * <h2>How glibc holds the table</h2>
 * {@code fopencookie} takes the struct <em>by value</em> and copies the four pointers into the
 * {@code FILE} (pointer-mangled). Tampering with the table afterwards therefore changes nothing in
 * glibc's copy: glibc keeps calling the original trampolines. But each trampoline checks the live table
 * against its verified snapshot on every call, so any change to the table — a flipped header byte,
 * swapped or replaced slot pointers — makes the very next callback refused, the table quarantined and
 * the event audited. The tests prove this on a live stream.
 *
 * <h2>Refusal values (what glibc sees when a call is refused)</h2>
 * <ul>
 *   <li>{@code read}: {@code -1}, an error (0 would mean end of file); {@code fread} returns short and
 *       {@code ferror} is set.</li>
 *   <li>{@code write}: {@code 0}, glibc's documented error convention for cookie writes
 *       ({@code bits/types/cookie_io_functions_t.h}: "If there is an error, return 0 and do not write
 *       anything"). {@code fflush} then returns {@code EOF} and {@code ferror} is set. Returning
 *       {@code -1} instead is unsafe on glibc 2.36: in {@code _IO_new_file_xsputn} the count is a
 *       {@code size_t}, so {@code -1} makes a large {@code fwrite} report a wrong count and read past the
 *       caller's buffer (seen with valgrind). 0 is never mistaken for progress.</li>
 *   <li>{@code seek}: {@code -1}; {@code fseek} returns -1.</li>
 *   <li>{@code close}: {@code EOF} (-1); {@code fclose} returns {@code EOF} (and still frees the FILE).</li>
 * </ul>
 *
 * <p><b>Lifetime.</b> Close the stream before its registry: {@link Registry#close()} frees the
 * trampolines, and glibc calls them again on {@code fclose} (and flushes pending output at exit). Once
 * the registry is closed, every method here throws {@link IllegalStateException} instead of calling C,
 * and {@link #close()} discards the FILE's buffers ({@code __fpurge}, which calls no callback) and leaves
 * it unclosed, so that neither it nor glibc's exit-time flush jumps into freed code.
 *
 * <p><b>Threads.</b> Not thread-safe: use an instance from one thread at a time. (glibc locks the FILE
 * around each stdio call, so the callbacks of one stream never overlap; the store is synchronized
 * besides, so {@link #contents()} may be read from another thread.)
 */
@SuppressWarnings("restricted")   // the application calls C itself: this module is granted native access
public final class GuardedCookieStream implements AutoCloseable {

    /** {@code SEEK_SET}, {@code SEEK_CUR}, {@code SEEK_END}. */
    public static final int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2;
    /** C's {@code EOF}. */
    public static final int EOF = -1;

    /**
     * glibc's {@code cookie_io_functions_t}: read, write, seek, close, in that order; the cookie
     * (argument 0) of every call must be the context registered with the table.
     */
    public static final Schema COOKIE_IO = Schema.builder("glibc.cookie_io_functions_t", 1)
            // ssize_t read(void *cookie, char *buf, size_t size)
            .slot("read", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG),
                    s -> s.refusal(-1L).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // ssize_t write(void *cookie, const char *buf, size_t size)
            .slot("write", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG),
                    s -> s.refusal(0L).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // int seek(void *cookie, off64_t *offset, int whence)
            .slot("seek", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT),
                    s -> s.refusal(-1).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // int close(void *cookie)
            .slot("close", FunctionDescriptor.of(JAVA_INT, ADDRESS),
                    s -> s.refusal(EOF).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            .build();

    /** The struct as C passes it to {@code fopencookie} (by value). */
    public static final MemoryLayout COOKIE_IO_LAYOUT = COOKIE_IO.layout();

    private static final MethodHandle FOPENCOOKIE = Libc.downcall("fopencookie",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, COOKIE_IO_LAYOUT));
    private static final Map<FunctionDescriptor, MethodHandle> FPRINTF_SHAPES = new ConcurrentHashMap<>();
    private static final MethodHandle READ, WRITE, SEEK, CLOSE;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            READ = l.findVirtual(MemoryFile.class, "read", MethodType.methodType(long.class, MemorySegment.class, MemorySegment.class, long.class));
            WRITE = l.findVirtual(MemoryFile.class, "write", MethodType.methodType(long.class, MemorySegment.class, MemorySegment.class, long.class));
            SEEK = l.findVirtual(MemoryFile.class, "seek", MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, int.class));
            CLOSE = l.findVirtual(MemoryFile.class, "close", MethodType.methodType(int.class, MemorySegment.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Arena arena = Arena.ofShared();
    private final MemoryFile store = new MemoryFile();
    private final MemorySegment cookie;
    private final CallbackTable table;
    private final MemorySegment file;
    private boolean closed;

    /**
     * Builds a {@link #COOKIE_IO} table in {@code registry} over a fresh in-memory store and opens it
     * with {@code fopencookie(cookie, "w+", table)}.
     *
     * @throws IllegalStateException if glibc refuses to open the stream
     */
    public GuardedCookieStream(Registry registry) {
        Objects.requireNonNull(registry, "registry");
        try {
            // The cookie is an identity token: glibc hands it back to every callback, and the trampolines
            // refuse a call whose cookie is not this one. Its content is never read.
            cookie = arena.allocate(JAVA_LONG);
            table = registry.builder(COOKIE_IO)
                    .bind("read", READ.bindTo(store))
                    .bind("write", WRITE.bindTo(store))
                    .bind("seek", SEEK.bindTo(store))
                    .bind("close", CLOSE.bindTo(store))
                    .context(cookie)
                    .build();
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        MemorySegment opened;
        try {
            opened = (MemorySegment) FOPENCOOKIE.invokeExact(cookie, arena.allocateFrom("w+"), table.payload());
        } catch (Throwable t) {
            opened = MemorySegment.NULL;
        }
        if (opened.equals(MemorySegment.NULL)) {
            table.close();
            arena.close();
            throw new IllegalStateException("fopencookie refused to open the stream");
        }
        file = opened;
    }

    /** The verified table glibc was given (its payload is the {@code cookie_io_functions_t}). */
    public CallbackTable table() {
        return table;
    }

    /** The cookie registered with the table and handed to glibc. */
    public MemorySegment cookie() {
        return cookie;
    }

    /** The {@code FILE *}. Invalid after {@link #fclose()}. */
    public MemorySegment file() {
        return file;
    }

    /** {@code fprintf(file, format, args...)}; args are Integer, Long, Double (or Float) and String. Returns fprintf's result. */
    public int fprintf(String format, Object... args) {
        ensureOpen();
        try (Arena call = Arena.ofConfined()) {
            List<MemoryLayout> layouts = new ArrayList<>(List.of(ADDRESS, ADDRESS));
            List<Object> values = new ArrayList<>(List.of(file, call.allocateFrom(format)));
            for (Object a : args) {
                switch (a) {
                    case Integer i -> { layouts.add(JAVA_INT); values.add(i); }
                    case Long v -> { layouts.add(JAVA_LONG); values.add(v); }
                    case Double d -> { layouts.add(JAVA_DOUBLE); values.add(d); }
                    case Float f -> { layouts.add(JAVA_DOUBLE); values.add((double) f); }   // C's default promotion
                    case String s -> { layouts.add(ADDRESS); values.add(call.allocateFrom(s)); }
                    case null, default -> throw new IllegalArgumentException("fprintf argument of unsupported type: " + a);
                }
            }
            FunctionDescriptor shape = FunctionDescriptor.of(JAVA_INT, layouts.toArray(MemoryLayout[]::new));
            MethodHandle fprintf = FPRINTF_SHAPES.computeIfAbsent(shape,
                    d -> Libc.LINKER.downcallHandle(Libc.FPRINTF, d, Linker.Option.firstVariadicArg(2)));
            return (int) fprintf.invokeWithArguments(values);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fprintf failed", t);
        }
    }

    /** {@code fwrite(data, 1, data.length, file)}: the number of bytes glibc accepted. */
    public long fwrite(byte[] data) {
        ensureOpen();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buffer, ValueLayout.JAVA_BYTE, 0, data.length);
            return (long) Libc.FWRITE.invokeExact(buffer, 1L, (long) data.length, file);
        } catch (Throwable t) {
            throw rethrow("fwrite", t);
        }
    }

    /** {@code fwrite} of a string's UTF-8 bytes. */
    public long fwrite(String text) {
        return fwrite(text.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code fflush(file)}: 0, or {@link #EOF} when a write failed (or was refused). */
    public int fflush() {
        ensureOpen();
        try {
            return (int) Libc.FFLUSH.invokeExact(file);
        } catch (Throwable t) {
            throw rethrow("fflush", t);
        }
    }

    /** {@code fread} of up to {@code max} bytes: what glibc delivered (short at end of file or on error). */
    public byte[] fread(int max) {
        ensureOpen();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(Math.max(1, max));
            long n = (long) Libc.FREAD.invokeExact(buffer, 1L, (long) max, file);
            return Arrays.copyOf(buffer.toArray(ValueLayout.JAVA_BYTE), (int) n);
        } catch (Throwable t) {
            throw rethrow("fread", t);
        }
    }

    /** {@code fseek(file, offset, whence)}: 0, or -1. */
    public int fseek(long offset, int whence) {
        ensureOpen();
        try {
            return (int) Libc.FSEEK.invokeExact(file, offset, whence);
        } catch (Throwable t) {
            throw rethrow("fseek", t);
        }
    }

    /** {@code ferror(file) != 0}. */
    public boolean ferror() {
        ensureOpen();
        try {
            return (int) Libc.FERROR.invokeExact(file) != 0;
        } catch (Throwable t) {
            throw rethrow("ferror", t);
        }
    }

    /** {@code clearerr(file)}. */
    public void clearerr() {
        ensureOpen();
        try {
            Libc.CLEARERR.invokeExact(file);
        } catch (Throwable t) {
            throw rethrow("clearerr", t);
        }
    }

    /**
     * {@code fclose(file)}: flushes, calls the close callback and frees the FILE (glibc frees it even when
     * it returns {@link #EOF}). Idempotent: later calls return 0 and do nothing.
     */
    public int fclose() {
        if (closed) {
            return 0;
        }
        ensureRegistryOpen();
        closed = true;
        try {
            return (int) Libc.FCLOSE.invokeExact(file);
        } catch (Throwable t) {
            throw rethrow("fclose", t);
        }
    }

    /** A copy of every byte the store holds (what the write callbacks delivered). */
    public byte[] contents() {
        return store.contents();
    }

    /** How many times glibc's calls reached the Java write callback (refused calls never do). */
    public int writeCallbacks() {
        return store.writes();
    }

    /** How many times glibc's calls reached the Java read callback. */
    public int readCallbacks() {
        return store.reads();
    }

    /**
     * Calls a {@code cookie_write_function_t} pointer directly, the way native code holding a
     * counterfeit {@code cookie_io_functions_t} (or a FILE with a forged cookie) would:
     * {@code write(cookie, data, data.length)}. Returns what the function returned.
     */
    public static long callWriteFunction(MemorySegment writeFunction, MemorySegment cookie, byte[] data) {
        try (Arena call = Arena.ofConfined()) {
            MethodHandle write = Libc.LINKER.downcallHandle(writeFunction, FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
            MemorySegment buffer = call.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buffer, ValueLayout.JAVA_BYTE, 0, data.length);
            return (long) write.invokeExact(cookie, buffer, (long) data.length);
        } catch (Throwable t) {
            throw rethrow("write", t);
        }
    }

    /** {@link #fclose()}, then closes the table (its slots refuse from now on) and frees the cookie. Never throws. */
    @Override
    public void close() {
        if (!closed && table.status() == TableStatus.REGISTRY_CLOSED) {
            closed = true;
            try {
                Libc.FPURGE.invokeExact(file);   // nothing left for exit() to flush through freed trampolines
            } catch (Throwable ignored) {
                // __fpurge does not fail
            }
        }
        try {
            fclose();
        } catch (RuntimeException ignored) {
            // closing must release the rest regardless
        }
        table.close();
        arena.close();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the stream is closed");
        }
        ensureRegistryOpen();
    }

    private void ensureRegistryOpen() {
        if (table.status() == TableStatus.REGISTRY_CLOSED) {
            throw new IllegalStateException("the table's registry is closed and its trampolines are freed: "
                    + "close a stream before its registry");
        }
    }

    private static RuntimeException rethrow(String function, Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(function + " failed", t);
    }

    /**
     * The Java side of the stream: a growable byte array with a position, like a file. Called by the
     * trampolines on whatever thread glibc runs; synchronized.
     */
    private static final class MemoryFile {
        private static final int MAX_SIZE = Integer.MAX_VALUE - 16;
        private byte[] data = new byte[256];
        private int size;
        private long position;
        private int writes;
        private int reads;

        synchronized long read(MemorySegment cookie, MemorySegment buf, long n) {
            reads++;
            if (n < 0 || position >= size) {
                return 0;
            }
            int k = (int) Math.min(n, size - position);
            MemorySegment.copy(data, (int) position, buf.reinterpret(k), ValueLayout.JAVA_BYTE, 0, k);
            position += k;
            return k;
        }

        synchronized long write(MemorySegment cookie, MemorySegment buf, long n) {
            writes++;
            if (n < 0 || position + n > MAX_SIZE) {
                return 0;   // glibc's convention: an error writes nothing and returns 0
            }
            int end = (int) (position + n);
            if (end > data.length) {
                data = Arrays.copyOf(data, (int) Math.min(MAX_SIZE, Math.max(end, 2L * data.length)));
            }
            if (position > size) {
                Arrays.fill(data, size, (int) position, (byte) 0);   // a hole after a seek past the end
            }
            MemorySegment.copy(buf.reinterpret(n), ValueLayout.JAVA_BYTE, 0, data, (int) position, (int) n);
            position = end;
            size = Math.max(size, end);
            return n;
        }

        synchronized int seek(MemorySegment cookie, MemorySegment offsetPointer, int whence) {
            MemorySegment offset = offsetPointer.reinterpret(JAVA_LONG.byteSize());
            long base = switch (whence) {
                case SEEK_SET -> 0;
                case SEEK_CUR -> position;
                case SEEK_END -> size;
                default -> -1;
            };
            long target = base + offset.get(JAVA_LONG, 0);
            if (base < 0 || target < 0 || target > MAX_SIZE) {
                return -1;
            }
            position = target;
            offset.set(JAVA_LONG, 0, target);
            return 0;
        }

        synchronized int close(MemorySegment cookie) {
            return 0;
        }

        synchronized byte[] contents() {
            return Arrays.copyOf(data, size);
        }

        synchronized int writes() {
            return writes;
        }

        synchronized int reads() {
            return reads;
        }
    }
}
