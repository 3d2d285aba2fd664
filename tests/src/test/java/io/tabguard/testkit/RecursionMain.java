package io.tabguard.testkit;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Run in a forked JVM by {@link RecursionForkTest}: a qsort comparator that calls glibc's qsort again
 * (with its own table's trampoline) from inside every comparison, without end. The registry refuses the
 * call that would nest deeper than its limit ({@code DISPATCH_TOO_DEEP}); the deepest admitted
 * comparison then exhausts the rest of the stack in plain Java ({@link StackOverflowError} inside a
 * target, thirty-odd upcalls deep). Afterwards the thread must no longer be inside a dispatch:
 * {@code revoke} and {@code close} on other threads return within a bounded time, and {@code close} on
 * the recursing thread itself is not refused. Prints one line per fact, and every audit event.
 *
 * <p>Argument: {@code other} (revoke and close from another thread) or {@code self} (close from the
 * recursing thread).
 */
@SuppressWarnings("restricted")
public final class RecursionMain {
    private RecursionMain() {}

    static final FunctionDescriptor COMPARE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    static final Schema COMPARATOR = Schema.builder("tabguard.test.recursive_comparator", 1)
            .slot("compare", COMPARE, o -> o.refusal(0))
            .build();
    private static final MethodHandle QSORT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("qsort").orElseThrow(),
            FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));

    static final AtomicLong DEEPEST = new AtomicLong();
    static MemorySegment comparator;
    static final ThreadLocal<Integer> DEPTH = ThreadLocal.withInitial(() -> 0);

    /** Compares, but first sorts a fresh pair through the same comparator: recursion without end. */
    static int compare(MemorySegment a, MemorySegment b) throws Throwable {
        int depth = DEPTH.get() + 1;
        DEPTH.set(depth);
        try {
            DEEPEST.accumulateAndGet(depth, Math::max);
            try (Arena pair = Arena.ofConfined()) {
                MemorySegment two = pair.allocate(JAVA_INT, 2);
                two.setAtIndex(JAVA_INT, 0, 2);
                two.setAtIndex(JAVA_INT, 1, 1);
                QSORT.invokeExact(two, 2L, 4L, comparator);
            }
            if (depth == RegistryOptions.DEFAULT_MAX_NESTED_DISPATCHES) {
                exhaustTheStack(0);
            }
            return Integer.compare(a.reinterpret(4).get(JAVA_INT, 0), b.reinterpret(4).get(JAVA_INT, 0));
        } finally {
            DEPTH.set(depth - 1);
        }
    }

    private static long exhaustTheStack(long n) {
        return exhaustTheStack(n + 1) + 1;
    }

    public static void main(String[] args) throws Throwable {
        boolean fromOtherThread = args[0].equals("other");
        AtomicLong threw = new AtomicLong();
        AtomicLong records = new AtomicLong();
        AtomicLong tooDeep = new AtomicLong();
        AuditSink counting = new AuditSink() {
            @Override
            public void record(SecurityEvent e) {
                records.incrementAndGet();
                print("audit " + e.type() + " " + e.violation() + " count=" + e.count() + " " + e.detail());
                if (e.type() == EventType.CALLBACK_THREW && e.detail() != null && e.detail().contains("StackOverflowError")) {
                    threw.addAndGet(e.count());
                }
                if (e.type() == EventType.TABLE_REFUSED && "DISPATCH_TOO_DEEP".equals(e.violation())) {
                    tooDeep.addAndGet(e.count());
                }
            }

            @Override
            public void close() {
            }
        };
        Registry registry = Registry.open(RegistryOptions.builder().auditSink(counting).build());
        MethodHandle target = MethodHandles.lookup().findStatic(RecursionMain.class, "compare",
                MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
        CallbackTable table = registry.builder(COMPARATOR).bind("compare", target).build();
        comparator = table.function("compare");

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(JAVA_INT, 2);   // one comparison: one chain of recursion
            values.setAtIndex(JAVA_INT, 0, 2);
            values.setAtIndex(JAVA_INT, 1, 1);
            QSORT.invokeExact(values, 2L, 4L, comparator);
        }
        print("deepest " + DEEPEST.get());
        print("outer depth back to " + DEPTH.get());

        if (fromOtherThread) {
            CompletableFuture<Void> revoke = CompletableFuture.runAsync(() -> registry.revoke(table));
            revoke.get(10, TimeUnit.SECONDS);
            print("revoke returned");
            CompletableFuture<Void> close = CompletableFuture.runAsync(registry::close);
            close.get(10, TimeUnit.SECONDS);
            print("close returned");
        } else {
            registry.close();
            print("close returned");
        }
        print("callback throws audited " + threw.get());
        print("too deep refusals audited " + tooDeep.get());
        System.exit(0);
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
