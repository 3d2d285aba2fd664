package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Run in a forked JVM by {@link PointedContextForkTest}: native code calls slots bound with
 * {@link Schema.SlotOptions#contextArgumentPointsTo} (SQLite's {@code pFile->pMethods} pattern) with
 * counterfeit, garbage, NULL, unmapped, kernel-half and misaligned "file" pointers, and with the valid
 * twins. Prints {@code CASE result=<returned> runs=<targets run so far>} per call, then
 * {@code audited <violation>=<calls>} for the table and {@code survived}: a guard that dereferenced
 * one of those pointers directly would die with SIGSEGV first.
 */
public final class PointedContextMain {
    static final FunctionDescriptor FILE_INT = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
    static final int REFUSED = -1;
    static final long PAGE = 4096;

    /** {@code struct io { int (*xRead)(file *, int); int (*xAt16)(file *, int); }}: file->methods at 0, or at 16. */
    static final Schema IO = Schema.builder("tabguard.test.pointed_io", 1)
            .slot("xRead", FILE_INT, o -> o.contextArgumentPointsTo(0, 0).refusal(REFUSED))
            .slot("xAt16", FILE_INT, o -> o.contextArgumentPointsTo(0, 16).refusal(REFUSED))
            .build();

    private static final AtomicLong RUNS = new AtomicLong();

    private PointedContextMain() {}

    static int target(MemorySegment file, int x) {
        RUNS.incrementAndGet();
        return x + 1;
    }

    public static void main(String[] args) throws Throwable {
        MethodHandle target = MethodHandles.lookup().findStatic(PointedContextMain.class, "target",
                MethodType.methodType(int.class, MemorySegment.class, int.class));
        Fixtures.Audit audit = new Fixtures.Audit();
        try (Registry registry = Fixtures.open(audit); Arena arena = Arena.ofConfined()) {
            CallbackTable a = registry.builder(IO).bind("xRead", target).bind("xAt16", target).build();
            CallbackTable b = registry.builder(IO).bind("xRead", target).bind("xAt16", target).build();
            long payload = a.payload().address();

            MemorySegment file = arena.allocate(32, 8);
            file.set(JAVA_LONG, 0, payload);
            call("VALID", a, "xRead", file);
            MemorySegment file16 = arena.allocate(32, 8);
            file16.set(JAVA_LONG, 16, payload);
            call("VALID_AT_16", a, "xAt16", file16);

            MemorySegment other = arena.allocate(32, 8);
            other.set(JAVA_LONG, 0, b.payload().address());
            other.set(JAVA_LONG, 16, b.payload().address());
            call("OTHER_TABLE", a, "xRead", other);
            call("OTHER_TABLE_AT_16", a, "xAt16", other);
            MemorySegment garbage = arena.allocate(32, 8);
            garbage.fill((byte) 0x41);
            call("GARBAGE", a, "xRead", garbage);
            call("WRONG_OFFSET", a, "xAt16", file);             // payload at 0, the slot reads 16
            call("PAYLOAD_ITSELF", a, "xRead", a.payload());    // its first word is a slot pointer, not the payload
            call("NULL", a, "xRead", MemorySegment.NULL);
            call("WILD", a, "xRead", MemorySegment.ofAddress(0x10));
            call("KERNEL_HALF", a, "xRead", MemorySegment.ofAddress(0xffff_8000_0000_0000L));
            MemorySegment misaligned = arena.allocate(32, 8);
            misaligned.set(JAVA_LONG_UNALIGNED, 1, payload);    // the right word, one byte off alignment
            call("MISALIGNED", a, "xRead", misaligned.asSlice(1));

            long pages = mmap(2 * PAGE);
            munmap(pages + PAGE, PAGE);                          // second page gone
            call("UNMAPPED", a, "xRead", MemorySegment.ofAddress(pages + PAGE));
            // a mapped argument whose word at 16 lies on the unmapped page
            call("WORD_ON_UNMAPPED_PAGE", a, "xAt16", MemorySegment.ofAddress(pages + PAGE - 8));
            munmap(pages, PAGE);

            call("VALID_AGAIN", a, "xRead", file);
            registry.flushAudit();
            audit.callsByViolation(a, EventType.TABLE_REFUSED).forEach((v, n) -> print("audited " + v + "=" + n));
            print("b-refusals=" + audit.count(b, EventType.TABLE_REFUSED));
        }
        print("survived");
        System.exit(0);
    }

    private static void call(String name, CallbackTable table, String slot, MemorySegment file) throws Throwable {
        int result = (int) NativeTamper.callPointer(table.function(slot), FILE_INT).invokeExact(file, 41);
        print(name + " result=" + result + " runs=" + RUNS.get());
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("mmap").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("munmap").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));

    private static long mmap(long size) throws Throwable {
        long p = (long) MMAP.invokeExact(0L, size, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0L);
        if (p == -1L) {
            throw new IllegalStateException("mmap failed");
        }
        return p;
    }

    private static void munmap(long address, long size) throws Throwable {
        if ((int) MUNMAP.invokeExact(address, size) != 0) {
            throw new IllegalStateException("munmap failed");
        }
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
