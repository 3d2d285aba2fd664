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
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Run in a forked JVM by {@link StackHeadroomForkTest}: C code recurses until a given number of bytes
 * of its thread's stack is left, then calls a Java slot. With plenty left the target runs; with less
 * than the guard's headroom the call is refused before it enters the JVM (an upcall entered that low
 * overflows inside the JVM's entry frames, beyond any handler, and the JVM aborts), on the calling
 * Java thread and on a fresh C thread the JVM has never seen alike; the refusals are audited. Prints
 * one line per fact.
 *
 * <p>Arguments: the directory to build the C helper in.
 */
public final class StackHeadroomMain {
    private StackHeadroomMain() {}

    static final String SOURCE = """
            #define _GNU_SOURCE
            #include <pthread.h>
            #include <stddef.h>
            #include <stdint.h>
            typedef int (*unary)(int);
            static __attribute__((noinline)) int recurse(int depth, size_t leave, char *low, unary f, int arg) {
                volatile char pad[1024];
                pad[0] = (char) depth;
                if ((size_t) ((char *) pad - low) > leave) {
                    int r = recurse(depth + 1, leave, low, f, arg);
                    __asm__ volatile("" : : "r"(pad) : "memory");
                    return r;
                }
                return f(arg);
            }
            static char *stack_low(void) {
                pthread_attr_t attr;
                void *low = NULL;
                size_t size = 0;
                pthread_getattr_np(pthread_self(), &attr);
                pthread_attr_getstack(&attr, &low, &size);
                pthread_attr_destroy(&attr);
                return low;
            }
            int call_with_stack_left(unary f, int arg, long leave) {
                return recurse(0, (size_t) leave, stack_low(), f, arg);
            }
            struct job { unary f; int arg; long leave; int result; };
            static void *run_job(void *p) {
                struct job *j = p;
                j->result = call_with_stack_left(j->f, j->arg, j->leave);
                return NULL;
            }
            int call_on_new_thread(unary f, int arg, long leave) {
                struct job j = {f, arg, leave, -999};
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 2 * 1024 * 1024);
                pthread_t t;
                if (pthread_create(&t, &attr, run_job, &j) != 0) return -998;
                pthread_join(t, NULL);
                pthread_attr_destroy(&attr);
                return j.result;
            }
            """;

    static final AtomicLong TARGET_RUNS = new AtomicLong();

    static int negate(int x) {
        TARGET_RUNS.incrementAndGet();
        return -x;
    }

    public static void main(String[] args) throws Throwable {
        Path dir = Files.createDirectories(Path.of(args[0]));
        Path library = NativeBuilds.sharedLibrary(dir, "stack_headroom", SOURCE, "-O1");
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        FunctionDescriptor caller = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG);
        MethodHandle onThisThread = NativeTamper.callPointer(lib.find("call_with_stack_left").orElseThrow(), caller);
        MethodHandle onNewThread = NativeTamper.callPointer(lib.find("call_on_new_thread").orElseThrow(), caller);

        AtomicLong lowStackAudited = new AtomicLong();
        AuditSink sink = new AuditSink() {
            @Override
            public void record(SecurityEvent e) {
                if (e.type() == EventType.TABLE_REFUSED && "DISPATCH_TOO_DEEP".equals(e.violation())
                        && e.detail() != null && e.detail().contains("stack")) {
                    lowStackAudited.addAndGet(e.count());
                }
            }

            @Override
            public void close() {
            }
        };
        Schema schema = Schema.builder("tabguard.test.stack_headroom", 1)
                .slot("negate", FunctionDescriptor.of(JAVA_INT, JAVA_INT), o -> o.refusal(-7))
                .build();
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(sink).build())) {
            CallbackTable table = registry.builder(schema)
                    .bind("negate", MethodHandles.lookup().findStatic(StackHeadroomMain.class, "negate",
                            MethodType.methodType(int.class, int.class)))
                    .build();
            var slot = table.function("negate");
            print("plenty here " + (int) onThisThread.invokeExact(slot, 5, 512L * 1024) + " runs " + TARGET_RUNS.get());
            print("plenty new thread " + (int) onNewThread.invokeExact(slot, 6, 512L * 1024) + " runs " + TARGET_RUNS.get());
            print("low here " + (int) onThisThread.invokeExact(slot, 7, 64L * 1024) + " runs " + TARGET_RUNS.get());
            print("low new thread " + (int) onNewThread.invokeExact(slot, 8, 64L * 1024) + " runs " + TARGET_RUNS.get());
            print("again plenty here " + (int) onThisThread.invokeExact(slot, 9, 512L * 1024) + " runs " + TARGET_RUNS.get());
            registry.auditNativeRefusals();
            print("low stack refusals audited " + lowStackAudited.get());
        }
        print("survived");
        System.exit(0);
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
