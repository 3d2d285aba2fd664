package io.tabguard.examples;

import io.tabguard.guard.Schema;
import io.tabguard.guard.Schema.ContextBinding;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * zlib's {@code deflate}/{@code inflate} with every allocation made through a verified table: a two-slot
 * struct {@code {zalloc, zfree}} whose trampolines are copied into each {@code z_stream}'s
 * {@code zalloc}/{@code zfree} fields, with {@code opaque} set to the context registered with the table.
 * A call whose {@code opaque} is not that context, or through a table that was tampered with, revoked or
 * closed, is refused: {@code zalloc} returns {@code NULL} (zlib then answers {@code Z_MEM_ERROR}) and
 * {@code zfree} frees nothing (a refused free leaks rather than free memory on a forged request; the
 * leaked blocks are freed by {@link #close()}).
 *
 * <p>The Java allocator takes memory from the C heap ({@code calloc}/{@code free} by downcall) and keeps
 * every live block in a map, so {@code zfree} frees only what it handed out, and counts both.
 *
 * <p><b>Threads.</b> Thread-safe: {@link #compress} and {@link #decompress} may run on many threads at
 * once (each call has its own {@code z_stream}; the allocator's bookkeeping is concurrent).
 * {@link #close()} must not overlap a running call.
 */
@SuppressWarnings("restricted")   // the application calls C itself: this module is granted native access
public final class GuardedZlib implements AutoCloseable {

    /** The allocator hooks as zlib types them; argument 0 ({@code opaque}) is bound to the registered context. */
    public static final Schema ALLOCATOR = Schema.builder("zlib.alloc_free", 1)
            // voidpf zalloc(voidpf opaque, uInt items, uInt size)
            .slot("zalloc", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT),
                    s -> s.refusal(MemorySegment.NULL).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // void zfree(voidpf opaque, voidpf address)
            .slot("zfree", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS),
                    s -> s.contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            .build();

    /** zlib's return codes used here. */
    public static final int Z_OK = 0, Z_STREAM_END = 1, Z_NEED_DICT = 2, Z_STREAM_ERROR = -2, Z_DATA_ERROR = -3,
            Z_MEM_ERROR = -4, Z_BUF_ERROR = -5;
    private static final int Z_NO_FLUSH = 0, Z_FINISH = 4;

    /** {@code z_stream} on LP64 (x86-64, aarch64): {@code uInt} is 32 bits, {@code uLong} 64; 112 bytes. */
    public static final StructLayout Z_STREAM = MemoryLayout.structLayout(
            ADDRESS.withName("next_in"),
            JAVA_INT.withName("avail_in"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("total_in"),
            ADDRESS.withName("next_out"),
            JAVA_INT.withName("avail_out"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("total_out"),
            ADDRESS.withName("msg"),
            ADDRESS.withName("state"),
            ADDRESS.withName("zalloc"),
            ADDRESS.withName("zfree"),
            ADDRESS.withName("opaque"),
            JAVA_INT.withName("data_type"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("adler"),
            JAVA_LONG.withName("reserved")).withName("z_stream");

    private static final long NEXT_IN = offset("next_in"), AVAIL_IN = offset("avail_in"), NEXT_OUT = offset("next_out"),
            AVAIL_OUT = offset("avail_out"), MSG = offset("msg"), ZALLOC = offset("zalloc"), ZFREE = offset("zfree"),
            OPAQUE = offset("opaque");
    private static final int CHUNK = 256 * 1024;
    private static final MethodHandle ZALLOC_TARGET, ZFREE_TARGET;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            ZALLOC_TARGET = l.findVirtual(Allocator.class, "zalloc", MethodType.methodType(MemorySegment.class, MemorySegment.class, int.class, int.class));
            ZFREE_TARGET = l.findVirtual(Allocator.class, "zfree", MethodType.methodType(void.class, MemorySegment.class, MemorySegment.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** zlib failed: {@code function} returned {@code code}. */
    public static final class ZlibException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String function;
        private final int code;

        ZlibException(String function, int code, String message) {
            super(function + " returned " + code + (message == null ? "" : " (" + message + ")"));
            this.function = function;
            this.code = code;
        }

        public String function() {
            return function;
        }

        public int code() {
            return code;
        }
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment opaque;
    private final Allocator allocator = new Allocator();
    private final CallbackTable table;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Builds the allocator table in {@code registry}. */
    public GuardedZlib(Registry registry) {
        Objects.requireNonNull(registry, "registry");
        try {
            opaque = arena.allocate(JAVA_LONG);   // an identity token: zlib passes it back, nobody reads it
            table = registry.builder(ALLOCATOR)
                    .bind("zalloc", ZALLOC_TARGET.bindTo(allocator))
                    .bind("zfree", ZFREE_TARGET.bindTo(allocator))
                    .context(opaque)
                    .build();
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The verified allocator table. */
    public CallbackTable table() {
        return table;
    }

    /** The {@code opaque} value registered with the table. */
    public MemorySegment opaque() {
        return opaque;
    }

    /** zalloc calls that reached the Java allocator and got memory. */
    public long allocations() {
        return allocator.allocations.get();
    }

    /** zfree calls that reached the Java allocator and freed a block it had handed out. */
    public long frees() {
        return allocator.frees.get();
    }

    /** Blocks handed out and not yet freed. */
    public int liveAllocations() {
        return allocator.live.size();
    }

    /** zlib's version string ({@code zlibVersion()}). */
    public static String zlibVersion() {
        return Zlib.VERSION.getString(0);
    }

    /**
     * Compresses {@code input} (zlib format) at {@code level} (0-9, or -1 for the default).
     *
     * @throws ZlibException when zlib fails, for instance {@code deflateInit_} with {@link #Z_MEM_ERROR}
     *                       when the allocator table refused the allocation
     */
    public byte[] compress(byte[] input, int level) {
        return compress(input, level, opaque);
    }

    /**
     * {@link #compress(byte[], int)} with {@code streamOpaque} in the z_stream's {@code opaque} instead of the
     * registered context: what native code reusing the table's trampolines with its own context does.
     */
    byte[] compress(byte[] input, int level, MemorySegment streamOpaque) {
        ensureOpen();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment strm = newStream(call, streamOpaque);
            int rc = (int) Zlib.DEFLATE_INIT.invokeExact(strm, level, Zlib.VERSION, (int) Z_STREAM.byteSize());
            check("deflateInit_", rc, strm);
            try {
                MemorySegment in = call.allocate(Math.max(1, input.length));
                MemorySegment.copy(input, 0, in, ValueLayout.JAVA_BYTE, 0, input.length);
                strm.set(ADDRESS, NEXT_IN, in);
                strm.set(JAVA_INT, AVAIL_IN, input.length);
                MemorySegment out = call.allocate(CHUNK);
                ByteArrayOutputStream result = new ByteArrayOutputStream(Math.max(64, input.length / 4));
                do {
                    strm.set(ADDRESS, NEXT_OUT, out);
                    strm.set(JAVA_INT, AVAIL_OUT, CHUNK);
                    rc = (int) Zlib.DEFLATE.invokeExact(strm, Z_FINISH);
                    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                        check("deflate", rc, strm);
                    }
                    int produced = CHUNK - strm.get(JAVA_INT, AVAIL_OUT);
                    if (rc == Z_BUF_ERROR && produced == 0) {
                        check("deflate", rc, strm);   // no progress possible: do not spin
                    }
                    result.write(out.asSlice(0, produced).toArray(ValueLayout.JAVA_BYTE), 0, produced);
                } while (rc != Z_STREAM_END);
                return result.toByteArray();
            } finally {
                int ignored = (int) Zlib.DEFLATE_END.invokeExact(strm);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("deflate failed", t);
        }
    }

    /**
     * Decompresses a zlib stream that inflates to exactly {@code originalLength} bytes.
     *
     * @throws ZlibException when zlib fails or the data is truncated or longer than announced
     */
    public byte[] decompress(byte[] compressed, int originalLength) {
        ensureOpen();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment strm = newStream(call, opaque);
            int rc = (int) Zlib.INFLATE_INIT.invokeExact(strm, Zlib.VERSION, (int) Z_STREAM.byteSize());
            check("inflateInit_", rc, strm);
            try {
                MemorySegment in = call.allocate(Math.max(1, compressed.length));
                MemorySegment.copy(compressed, 0, in, ValueLayout.JAVA_BYTE, 0, compressed.length);
                strm.set(ADDRESS, NEXT_IN, in);
                strm.set(JAVA_INT, AVAIL_IN, compressed.length);
                MemorySegment out = call.allocate(Math.max(1, originalLength));
                strm.set(ADDRESS, NEXT_OUT, out);
                strm.set(JAVA_INT, AVAIL_OUT, originalLength);
                rc = (int) Zlib.INFLATE.invokeExact(strm, Z_NO_FLUSH);
                while (rc == Z_OK && strm.get(JAVA_INT, AVAIL_OUT) > 0 && strm.get(JAVA_INT, AVAIL_IN) > 0) {
                    rc = (int) Zlib.INFLATE.invokeExact(strm, Z_NO_FLUSH);
                }
                if (rc != Z_STREAM_END) {
                    check("inflate", rc == Z_OK ? Z_BUF_ERROR : rc, strm);
                }
                if (strm.get(JAVA_INT, AVAIL_OUT) != 0) {
                    throw new ZlibException("inflate", Z_DATA_ERROR, "shorter than " + originalLength + " bytes");
                }
                return out.toArray(ValueLayout.JAVA_BYTE);
            } finally {
                int ignored = (int) Zlib.INFLATE_END.invokeExact(strm);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("inflate failed", t);
        }
    }

    /** Closes the table (its slots refuse from now on) and frees any block a refused zfree left behind. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        table.close();
        allocator.freeAll();
        arena.close();
    }

    /** A zeroed z_stream wired to the table: zalloc/zfree are the table's trampolines, opaque its context. */
    private MemorySegment newStream(Arena call, MemorySegment streamOpaque) {
        MemorySegment strm = call.allocate(Z_STREAM);   // zeroed
        strm.set(ADDRESS, ZALLOC, table.function("zalloc"));
        strm.set(ADDRESS, ZFREE, table.function("zfree"));
        strm.set(ADDRESS, OPAQUE, streamOpaque);
        return strm;
    }

    private static void check(String function, int rc, MemorySegment strm) {
        if (rc == Z_OK) {
            return;
        }
        MemorySegment msg = strm.get(ADDRESS, MSG);
        throw new ZlibException(function, rc, msg.equals(MemorySegment.NULL) ? null : msg.reinterpret(256).getString(0));
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("closed");
        }
    }

    private static long offset(String field) {
        return Z_STREAM.byteOffset(groupElement(field));
    }

    /** The Java allocator behind the table: C-heap blocks, every live one tracked. Thread-safe. */
    private static final class Allocator {
        final Map<Long, Long> live = new ConcurrentHashMap<>();
        final AtomicLong allocations = new AtomicLong();
        final AtomicLong frees = new AtomicLong();

        MemorySegment zalloc(MemorySegment opaque, int items, int size) throws Throwable {
            long bytes = Integer.toUnsignedLong(items) * Integer.toUnsignedLong(size);   // both < 2^32: no overflow
            MemorySegment block = (MemorySegment) Libc.CALLOC.invokeExact(Integer.toUnsignedLong(items), Integer.toUnsignedLong(size));
            if (block.equals(MemorySegment.NULL)) {
                return MemorySegment.NULL;
            }
            live.put(block.address(), bytes);
            allocations.incrementAndGet();
            return block;
        }

        void zfree(MemorySegment opaque, MemorySegment address) throws Throwable {
            if (live.remove(address.address()) == null) {
                return;   // not a block of ours (or already freed): never hand it to free()
            }
            Libc.FREE.invokeExact(address);
            frees.incrementAndGet();
        }

        void freeAll() {
            for (Long address : live.keySet()) {
                if (live.remove(address) != null) {
                    try {
                        Libc.FREE.invokeExact(MemorySegment.ofAddress(address));
                    } catch (Throwable ignored) {
                        // free() does not fail
                    }
                }
            }
        }
    }

    /** zlib's entry points, loaded on first use ({@code libz.so.1}, kept for the life of the process). */
    private static final class Zlib {
        static final SymbolLookup LIB = SymbolLookup.libraryLookup("libz.so.1", Arena.global());
        static final MethodHandle DEFLATE_INIT = find("deflateInit_", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle DEFLATE = find("deflate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle DEFLATE_END = find("deflateEnd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle INFLATE_INIT = find("inflateInit_", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        static final MethodHandle INFLATE = find("inflate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle INFLATE_END = find("inflateEnd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        /** {@code const char *zlibVersion(void)}: what deflateInit_/inflateInit_ must be given (zlib compares it). */
        static final MemorySegment VERSION;

        static {
            try {
                MethodHandle zlibVersion = find("zlibVersion", FunctionDescriptor.of(ADDRESS));
                VERSION = ((MemorySegment) zlibVersion.invokeExact()).reinterpret(64);
            } catch (Throwable t) {
                throw new ExceptionInInitializerError(t);
            }
        }

        private static MethodHandle find(String name, FunctionDescriptor d) {
            return Libc.LINKER.downcallHandle(LIB.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libz.so.1 has no " + name)), d);
        }
    }
}
