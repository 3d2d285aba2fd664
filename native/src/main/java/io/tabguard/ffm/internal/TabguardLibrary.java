package io.tabguard.ffm.internal;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;

/**
 * libtabguard, Tabguard's own native library (native/src/main/c), built by the native module's
 * Maven build and shipped in its jar at {@value #RESOURCE}. Loaded once per process on first use:
 * copied to a fresh directory only this user can enter (0700), the copy's SHA-256 checked against the
 * bytes read from the jar, loaded, then unlinked. Each method is one C function of the library.
 *
 * <p>Refuses (with {@link UnsupportedOperationException}) any platform but Linux x86-64. Thread-safe.
 */
public final class TabguardLibrary {
    static final String RESOURCE = "/io/tabguard/ffm/native/linux-x86_64/libtabguard.so";

    /** {@code tg_dualmap}: one memfd mapped writable (registry only) and read(-execute) (handed out). */
    public record DualMapping(long writable, long view, long size) {}

    /** The barrier mode in force ({@code TG_BARRIER_*} of tabguard_native.h). */
    public enum BarrierMode { FENCE_ONLY, MEMBARRIER_GLOBAL, MEMBARRIER_PRIVATE_EXPEDITED, MEMBARRIER_RSEQ }

    private static final StructLayout DUALMAP = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("writable"), ValueLayout.JAVA_LONG.withName("view"), ValueLayout.JAVA_LONG.withName("size"));

    private final MethodHandle dualmapCreate;
    private final MethodHandle thunkWrite;
    private final MethodHandle contextThunkWrite;
    private final MethodHandle upcallThunkWrite;
    private final MethodHandle dualmapRetire;
    private final MethodHandle guardEntryWrite;
    private final MethodHandle stackRefusalsDrain;
    private final MethodHandle publishState;
    private final MethodHandle publishCode;
    private final long refusalEntry;
    private final long contextRefusalEntry;
    private final BarrierMode barrierMode;

    /** The loaded library, or why it could not be loaded (kept, so every caller gets the same clear message). */
    private static final class Holder {
        static final TabguardLibrary INSTANCE;
        static final RuntimeException FAILURE;

        static {
            TabguardLibrary loaded = null;
            RuntimeException failure = null;
            try {
                loaded = load();
            } catch (RuntimeException e) {
                failure = e;
            }
            INSTANCE = loaded;
            FAILURE = failure;
        }
    }

    private TabguardLibrary(SymbolLookup lookup) throws Throwable {
        dualmapCreate = bind(lookup, "tg_dualmap_create",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        thunkWrite = bind(lookup, "tg_thunk_write", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        upcallThunkWrite = bind(lookup, "tg_upcall_thunk_write", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        guardEntryWrite = bind(lookup, "tg_guard_entry_write", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        stackRefusalsDrain = bind(lookup, "tg_stack_refusals_drain", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
        dualmapRetire = bind(lookup, "tg_dualmap_retire", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        publishState = bind(lookup, "tg_barrier_publish_state", FunctionDescriptor.of(ValueLayout.JAVA_INT));
        publishCode = bind(lookup, "tg_barrier_publish_code", FunctionDescriptor.of(ValueLayout.JAVA_INT));
        contextThunkWrite = bind(lookup, "tg_context_thunk_write", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        contextRefusalEntry = ((MemorySegment) bind(lookup, "tg_context_refusal_entry", FunctionDescriptor.of(ValueLayout.ADDRESS)).invokeExact()).address();
        refusalEntry = ((MemorySegment) bind(lookup, "tg_refusal_entry", FunctionDescriptor.of(ValueLayout.ADDRESS)).invokeExact()).address();
        int mode = (int) bind(lookup, "tg_barrier_init", FunctionDescriptor.of(ValueLayout.JAVA_INT)).invokeExact();
        barrierMode = BarrierMode.values()[mode];
    }

    /**
     * The library, loaded on first use.
     *
     * @throws UnsupportedOperationException on any platform but Linux x86-64
     * @throws IllegalStateException if the jar lacks the library or it cannot be extracted or loaded
     */
    public static TabguardLibrary get() {
        if (Holder.INSTANCE == null) {
            RuntimeException f = Holder.FAILURE;
            if (f instanceof UnsupportedOperationException) {
                throw new UnsupportedOperationException(f.getMessage(), f);
            }
            throw new IllegalStateException("libtabguard is unavailable: " + f.getMessage(), f);
        }
        return Holder.INSTANCE;
    }

    private static MethodHandle bind(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
        return NativeAccess.downcall(lookup.find(name).orElseThrow(
                () -> new IllegalStateException("libtabguard exports no " + name + ": the jar's library is not this build's")), descriptor);
    }

    private static TabguardLibrary load() {
        requireLinuxX8664(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
        byte[] image;
        try (InputStream in = TabguardLibrary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("libtabguard is missing from the native module's jar (" + RESOURCE + ")");
            }
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read libtabguard from the jar", e);
        }
        Path dir = null;
        Path file = null;
        try {
            dir = Files.createTempDirectory("tabguard-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            file = dir.resolve("libtabguard.so");
            Files.write(file, image);
            Files.setPosixFilePermissions(file, Set.of(PosixFilePermission.OWNER_READ));
            verifyCopy(dir, file, image);
            SymbolLookup lookup = NativeAccess.library(file.toString(), Arena.global());
            return new TabguardLibrary(lookup);
        } catch (IOException e) {
            throw new IllegalStateException("cannot extract libtabguard to a private directory under java.io.tmpdir ("
                    + System.getProperty("java.io.tmpdir") + ")", e);
        } catch (IllegalArgumentException e) {
            // dlopen refused: typically java.io.tmpdir on a noexec mount
            throw new IllegalStateException("cannot load libtabguard from " + file + " (is java.io.tmpdir mounted noexec?)", e);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cannot initialise libtabguard", t);
        } finally {
            // The loaded library stays mapped; the file is no longer needed (nor reachable to swap).
            deleteQuietly(file);
            deleteQuietly(dir);
        }
    }

    /** Fails with a message naming the platform unless it is Linux on x86-64. */
    static void requireLinuxX8664(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
        if (!os.equals("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new UnsupportedOperationException("Tabguard's native entry thunks need Linux on x86-64; this is "
                    + osName + " on " + osArch + " (libtabguard is built for linux-x86_64 only)");
        }
    }

    /** The directory is ours alone and the file holds exactly the jar's bytes (nothing swapped in between). */
    private static void verifyCopy(Path dir, Path file, byte[] image) throws IOException {
        Set<PosixFilePermission> dirPermissions = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
        if (!dirPermissions.equals(PosixFilePermissions.fromString("rwx------")) || Files.isSymbolicLink(file)) {
            throw new IOException("the extraction directory " + dir + " is not private: " + dirPermissions);
        }
        if (!Arrays.equals(sha256(Files.readAllBytes(file)), sha256(image))) {
            throw new IOException("the extracted libtabguard differs from the jar's");
        }
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temp file left behind is harmless: its directory is 0700
            }
        }
    }

    /** {@code tg_dualmap_create}: {@code size} bytes (a page multiple), the view read+execute if {@code executable}. */
    public DualMapping dualMapping(long size, boolean executable) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(DUALMAP);
            int rc = (int) dualmapCreate.invokeExact(size, executable ? 1 : 0, out);
            if (rc != 0) {
                throw new IllegalStateException("tg_dualmap_create(" + size + ") failed: errno " + rc);
            }
            return new DualMapping(out.get(ValueLayout.JAVA_LONG, 0), out.get(ValueLayout.JAVA_LONG, 8), out.get(ValueLayout.JAVA_LONG, 16));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code tg_thunk_write}: one thunk, written at {@code cellWritable}, to run at {@code cellView}. */
    public void writeThunk(long cellWritable, long cellView, long stateCellView, long target, long refusalBits) {
        int rc;
        try {
            rc = (int) thunkWrite.invokeExact(cellWritable, cellView, stateCellView, target, refusalBits);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalArgumentException("tg_thunk_write refused its arguments: errno " + rc);
        }
    }

    /** {@code TG_STACK_HEADROOM}: a Java slot called with this much stack left or less is refused. */
    public static final long STACK_HEADROOM = 160 * 1024;

    /**
     * {@code tg_guard_entry_write}: the stack-headroom check in front of the upcall stub {@code stub},
     * a 128-byte cell written at {@code cellWritable} to run at {@code cellView}.
     */
    public void writeGuardEntry(long cellWritable, long cellView, long stub) {
        int rc;
        try {
            rc = (int) guardEntryWrite.invokeExact(cellWritable, cellView, stub);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalArgumentException("tg_guard_entry_write refused its arguments: errno " + rc);
        }
    }

    /** {@code tg_stack_refusals_drain}: calls refused for low stack, process-wide, since the last drain. Never throws. */
    public long drainStackRefusals() {
        try {
            return (long) stackRefusalsDrain.invokeExact();
        } catch (Throwable t) {
            return 0;
        }
    }

    /**
     * Opens ({@code PROT_READ|PROT_WRITE}) or closes ({@code PROT_NONE}) a dual mapping's writable alias,
     * which no address handed out points into.
     */
    public void protectWritable(DualMapping mapping, boolean writable) {
        NativeAccess.protect(NativeAccess.view(mapping.writable(), mapping.size()),
                writable ? NativeAccess.PROT_READ_WRITE : NativeAccess.PROT_NONE);
    }

    /**
     * {@code tg_dualmap_retire}: unmaps the writable alias and replaces the view by an inaccessible
     * reservation, so its addresses fault and are never handed out again.
     */
    public void retire(DualMapping mapping) {
        int rc;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment map = a.allocate(DUALMAP);
            map.set(ValueLayout.JAVA_LONG, 0, mapping.writable());
            map.set(ValueLayout.JAVA_LONG, 8, mapping.view());
            map.set(ValueLayout.JAVA_LONG, 16, mapping.size());
            rc = (int) dualmapRetire.invokeExact(map);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalStateException("tg_dualmap_retire failed: errno " + rc);
        }
    }

    /**
     * {@code tg_upcall_thunk_write}: one Java-target thunk at {@code cellWritable}, to run at {@code cellView},
     * putting {@code recordId} in argument register {@code idRegister} ({@code TG_THUNK_*_REGISTER}) before
     * jumping to {@code stub}.
     */
    public void writeUpcallThunk(long cellWritable, long cellView, long recordId, int idRegister, long stub) {
        int rc;
        try {
            rc = (int) upcallThunkWrite.invokeExact(cellWritable, cellView, recordId, idRegister, stub);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalArgumentException("tg_upcall_thunk_write refused its arguments: errno " + rc);
        }
    }

    /**
     * {@code tg_barrier_publish_state}: after a state word was written. Never throws: the C side runs a
     * full fence before the membarrier call, so a failing call (not seen on any kernel that registered)
     * still leaves the x86-TSO guarantee docs/internals.md states; false reports that failure.
     */
    public boolean publishState() {
        try {
            return (int) publishState.invokeExact() == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** {@code tg_barrier_publish_code}: after thunks were written, before their addresses are handed out. */
    public void publishCode() {
        check(publishCode, "tg_barrier_publish_code");
    }

    private static void check(MethodHandle barrier, String name) {
        int rc;
        try {
            rc = (int) barrier.invokeExact();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalStateException(name + " failed: errno " + rc);
        }
    }

    /**
     * {@code tg_context_thunk_write}: a 256-byte thunk that also compares integer argument register
     * {@code contextRegister} (0 = rdi ... 5 = r9) with {@code context}.
     */
    public void writeContextThunk(long cellWritable, long cellView, long stateCellView, long target, long refusalBits,
                                  int contextRegister, long context) {
        int rc;
        try {
            rc = (int) contextThunkWrite.invokeExact(cellWritable, cellView, stateCellView, target, refusalBits,
                    contextRegister, context);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalArgumentException("tg_context_thunk_write refused its arguments: errno " + rc);
        }
    }

    /** The entry a context-checking thunk jumps to when the context argument is not the bound one. */
    public long contextRefusalEntry() {
        return contextRefusalEntry;
    }

    /** The refusal entry every thunk's refusal path jumps to ({@code tg_refuse}). */
    public long refusalEntry() {
        return refusalEntry;
    }

    public BarrierMode barrierMode() {
        return barrierMode;
    }
}
