package io.tabguard.examples;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C library functions the examples call as an ordinary embedding application would: downcall
 * handles resolved once from the linker's default lookup (glibc on Linux). Immutable and thread-safe.
 */
@SuppressWarnings("restricted")   // this module plays the application: it is granted native access
final class Libc {
    static final Linker LINKER = Linker.nativeLinker();

    /** {@code void *calloc(size_t n, size_t size)} */
    static final MethodHandle CALLOC = downcall("calloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG));
    /** {@code void *malloc(size_t size)} */
    static final MethodHandle MALLOC = downcall("malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
    /** {@code void *realloc(void *p, size_t size)} */
    static final MethodHandle REALLOC = downcall("realloc", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG));
    /** {@code void free(void *p)} */
    static final MethodHandle FREE = downcall("free", FunctionDescriptor.ofVoid(ADDRESS));
    /** {@code size_t fwrite(const void *p, size_t size, size_t n, FILE *f)} */
    static final MethodHandle FWRITE = downcall("fwrite", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    /** {@code size_t fread(void *p, size_t size, size_t n, FILE *f)} */
    static final MethodHandle FREAD = downcall("fread", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    /** {@code int fflush(FILE *f)} */
    static final MethodHandle FFLUSH = downcall("fflush", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** {@code int fseek(FILE *f, long offset, int whence)} */
    static final MethodHandle FSEEK = downcall("fseek", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** {@code int fclose(FILE *f)} */
    static final MethodHandle FCLOSE = downcall("fclose", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** {@code int ferror(FILE *f)} */
    static final MethodHandle FERROR = downcall("ferror", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** {@code void clearerr(FILE *f)} */
    static final MethodHandle CLEARERR = downcall("clearerr", FunctionDescriptor.ofVoid(ADDRESS));
    /** {@code void __fpurge(FILE *f)} (glibc): drops buffered input and output without calling the stream's functions. */
    static final MethodHandle FPURGE = downcall("__fpurge", FunctionDescriptor.ofVoid(ADDRESS));
    /** {@code int fprintf(FILE *f, const char *format, ...)}: the address; handles are made per call shape. */
    static final MemorySegment FPRINTF = symbol("fprintf");

    private Libc() {}

    static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("the C library has no " + name));
    }

    static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor);
    }
}
