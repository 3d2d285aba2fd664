package io.tabguard.examples;

import io.tabguard.guard.Schema;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * SQLite's {@code sqlite3_vfs} (iVersion 3) as a Tabguard schema made from the layouts jextract emits
 * for {@code sqlite3.h}, with no member retyped: the {@link #LAYOUT struct layout} and the slots'
 * {@link FunctionDescriptor}s below are written exactly as jextract 22 writes them (its {@code C_INT},
 * its {@code C_POINTER} with a byte-sequence target layout, an explicit {@code paddingLayout(4)} after
 * {@code mxPathname}); the build has no jextract, so they are transcribed here.
 *
 * <p>iVersion 1, 2 and 3 are the schema's minors 0, 1 and 2: {@code xCurrentTimeInt64} starts minor 1,
 * {@code xSetSystemCall} minor 2. The six data members ({@code iVersion}, {@code szOsFile},
 * {@code mxPathname}, {@code pNext}, {@code zName}, {@code pAppData}) are written by the table's builder;
 * the sixteen slots take the {@code sqlite3_vfs*} SQLite passes back as argument 0, which must be the
 * table's payload ({@link Schema.ContextBinding#PAYLOAD_ADDRESS}).
 *
 * <p>Constants only: immutable and thread-safe.
 */
public final class Sqlite3Vfs {
    private Sqlite3Vfs() {}

    /** jextract's {@code C_INT}. */
    public static final ValueLayout.OfInt C_INT = JAVA_INT;
    /** jextract's {@code C_POINTER}: an address whose target layout is a byte sequence of {@code Long.MAX_VALUE} elements. */
    public static final AddressLayout C_POINTER = ValueLayout.ADDRESS.withTargetLayout(
            MemoryLayout.sequenceLayout(Long.MAX_VALUE, JAVA_BYTE));

    /** {@code struct sqlite3_vfs}, as jextract's {@code sqlite3_vfs.layout()} returns it. */
    public static final GroupLayout LAYOUT = MemoryLayout.structLayout(
            C_INT.withName("iVersion"),
            C_INT.withName("szOsFile"),
            C_INT.withName("mxPathname"),
            MemoryLayout.paddingLayout(4),
            C_POINTER.withName("pNext"),
            C_POINTER.withName("zName"),
            C_POINTER.withName("pAppData"),
            C_POINTER.withName("xOpen"),
            C_POINTER.withName("xDelete"),
            C_POINTER.withName("xAccess"),
            C_POINTER.withName("xFullPathname"),
            C_POINTER.withName("xDlOpen"),
            C_POINTER.withName("xDlError"),
            C_POINTER.withName("xDlSym"),
            C_POINTER.withName("xDlClose"),
            C_POINTER.withName("xRandomness"),
            C_POINTER.withName("xSleep"),
            C_POINTER.withName("xCurrentTime"),
            C_POINTER.withName("xGetLastError"),
            C_POINTER.withName("xCurrentTimeInt64"),
            C_POINTER.withName("xSetSystemCall"),
            C_POINTER.withName("xGetSystemCall"),
            C_POINTER.withName("xNextSystemCall")
    ).withName("sqlite3_vfs");

    /** Each slot's descriptor, as jextract's {@code sqlite3_vfs.xOpen.descriptor()} and its siblings return it. */
    public static final Map<String, FunctionDescriptor> SLOTS = Map.ofEntries(
            // int (*xOpen)(sqlite3_vfs*, sqlite3_filename zName, sqlite3_file*, int flags, int *pOutFlags)
            Map.entry("xOpen", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER)),
            // int (*xDelete)(sqlite3_vfs*, const char *zName, int syncDir)
            Map.entry("xDelete", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_INT)),
            // int (*xAccess)(sqlite3_vfs*, const char *zName, int flags, int *pResOut)
            Map.entry("xAccess", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_INT, C_POINTER)),
            // int (*xFullPathname)(sqlite3_vfs*, const char *zName, int nOut, char *zOut)
            Map.entry("xFullPathname", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_INT, C_POINTER)),
            // void *(*xDlOpen)(sqlite3_vfs*, const char *zFilename)
            Map.entry("xDlOpen", FunctionDescriptor.of(C_POINTER, C_POINTER, C_POINTER)),
            // void (*xDlError)(sqlite3_vfs*, int nByte, char *zErrMsg)
            Map.entry("xDlError", FunctionDescriptor.ofVoid(C_POINTER, C_INT, C_POINTER)),
            // void (*(*xDlSym)(sqlite3_vfs*, void*, const char *zSymbol))(void)
            Map.entry("xDlSym", FunctionDescriptor.of(C_POINTER, C_POINTER, C_POINTER, C_POINTER)),
            // void (*xDlClose)(sqlite3_vfs*, void*)
            Map.entry("xDlClose", FunctionDescriptor.ofVoid(C_POINTER, C_POINTER)),
            // int (*xRandomness)(sqlite3_vfs*, int nByte, char *zOut)
            Map.entry("xRandomness", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER)),
            // int (*xSleep)(sqlite3_vfs*, int microseconds)
            Map.entry("xSleep", FunctionDescriptor.of(C_INT, C_POINTER, C_INT)),
            // int (*xCurrentTime)(sqlite3_vfs*, double*)
            Map.entry("xCurrentTime", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER)),
            // int (*xGetLastError)(sqlite3_vfs*, int, char *)
            Map.entry("xGetLastError", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER)),
            // int (*xCurrentTimeInt64)(sqlite3_vfs*, sqlite3_int64*)
            Map.entry("xCurrentTimeInt64", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER)),
            // int (*xSetSystemCall)(sqlite3_vfs*, const char *zName, sqlite3_syscall_ptr)
            Map.entry("xSetSystemCall", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER)),
            // sqlite3_syscall_ptr (*xGetSystemCall)(sqlite3_vfs*, const char *zName)
            Map.entry("xGetSystemCall", FunctionDescriptor.of(C_POINTER, C_POINTER, C_POINTER)),
            // const char *(*xNextSystemCall)(sqlite3_vfs*, const char *zName)
            Map.entry("xNextSystemCall", FunctionDescriptor.of(C_POINTER, C_POINTER, C_POINTER)));

    /** SQLite's {@code SQLITE_ERROR}: what a refused call returns to SQLite from an int slot. */
    public static final int SQLITE_ERROR = 1;

    /** {@code sqlite3_vfs} iVersion 3: minors 0..2, every slot context-bound to the payload, refused calls fail with SQLITE_ERROR or NULL. */
    public static final Schema SCHEMA = Schema.builder("sqlite3_vfs", 1)
            .members(LAYOUT, SLOTS, layout -> {
                layout.minor(1, "xCurrentTimeInt64").minor(2, "xSetSystemCall");
                SLOTS.forEach((name, descriptor) -> layout.slot(name, refusedAndBound(descriptor)));
            })
            .build();

    private static Consumer<Schema.SlotOptions> refusedAndBound(FunctionDescriptor descriptor) {
        return o -> {
            descriptor.returnLayout().ifPresent(r -> o.refusal(r instanceof AddressLayout ? MemorySegment.NULL : SQLITE_ERROR));
            o.contextArgument(0, Schema.ContextBinding.PAYLOAD_ADDRESS);
        };
    }
}
