package io.tabguard.examples;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Forked by {@link LlvmEngineChurnForkTest}: creates and disposes {@code COUNT} MCJIT engines in a row,
 * each with a fresh {@link GuardedJitMemoryManager} (closed, hence released, after its engine was
 * disposed), each JIT-compiling {@code arith} and running it once on arguments that change with the
 * engine. After each engine count in {@code CHECKPOINTS} it collects garbage and prints
 * {@code measure N rss=KB codeCache=BYTES heapUsed=BYTES thunkViews=V ms=T}; at the end
 * {@code wrong=W} (engines whose function returned the wrong value), the audit's counts by type, and
 * {@code done}.
 *
 * <pre>java -m io.tabguard.examples/io.tabguard.examples.LlvmEngineChurnMain COUNT CHECKPOINT...</pre>
 */
public final class LlvmEngineChurnMain {
    private LlvmEngineChurnMain() {}

    /** Counts events by type and keeps none: a log that grew with the engines would be the growth measured. */
    static final class CountingSink implements AuditSink {
        final Map<EventType, AtomicLong> counts = new EnumMap<>(EventType.class);

        CountingSink() {
            for (EventType t : EventType.values()) {
                counts.put(t, new AtomicLong());
            }
        }

        @Override
        public void record(SecurityEvent event) {
            counts.get(event.type()).incrementAndGet();
        }

        @Override
        public void close() {
        }
    }

    public static void main(String[] args) throws Throwable {
        int count = Integer.parseInt(args[0]);
        Set<Integer> checkpoints = new TreeSet<>();
        for (int i = 1; i < args.length; i++) {
            checkpoints.add(Integer.parseInt(args[i]));
        }
        LlvmJit llvm = LlvmJit.load();
        System.out.println("llvm " + llvm.library());
        CountingSink audit = new CountingSink();
        long start = System.nanoTime();
        long wrong = 0;
        FunctionDescriptor arithType = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(audit).build())) {
            for (int n = 1; n <= count; n++) {
                GuardedJitMemoryManager mm = new GuardedJitMemoryManager(registry);
                LlvmJit.Module module = llvm.newModule("churn").addArithmetic("arith").verify();
                int a = n % 1000, b = n % 7;
                try (LlvmJit.Engine engine = llvm.compile(module, mm.createLlvmMemoryManager(llvm))) {
                    MethodHandle arith = engine.function("arith", arithType);
                    if ((int) arith.invokeExact(a, b) != LlvmJitSamples.arith(a, b)) {
                        wrong++;
                    }
                } finally {
                    module.close();
                }
                if (!((JitMemory) mm.memory()).destroyed()) {
                    System.out.println("engine " + n + ": Destroy did not run");
                    wrong++;
                }
                mm.close();   // after LLVMDisposeExecutionEngine: LLVM holds none of the table's pointers
                if (checkpoints.contains(n)) {
                    measure(n, start);
                }
            }
            System.out.println("open tables " + registry.openTables());
        }
        System.out.println("wrong=" + wrong);
        audit.counts.forEach((t, c) -> System.out.println("audit " + t + " " + c.get()));
        System.out.println("done");
    }

    private static void measure(int n, long start) throws Exception {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        System.out.printf("measure %d rss=%d codeCache=%d heapUsed=%d thunkViews=%d ms=%d%n", n, rssKb(), codeCacheUsed(),
                heapUsed(), mappings("/memfd:tabguard-thunks"), (System.nanoTime() - start) / 1_000_000);
        System.out.flush();
    }

    static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    static long mappings(String name) throws Exception {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains(name) && l.contains(" r-xs ")).count();
    }

    /** Used bytes of the code cache pools ("CodeHeap '...'" when segmented, else "CodeCache"), through java.management reflectively. */
    static long codeCacheUsed() throws Exception {
        long used = 0;
        for (Object pool : memoryPools()) {
            String name = (String) Class.forName("java.lang.management.MemoryPoolMXBean").getMethod("getName").invoke(pool);
            if (name.startsWith("CodeHeap") || name.equals("CodeCache")) {
                used += usedOf(Class.forName("java.lang.management.MemoryPoolMXBean").getMethod("getUsage").invoke(pool));
            }
        }
        return used;
    }

    static long heapUsed() throws Exception {
        Object bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getMemoryMXBean").invoke(null);
        return usedOf(Class.forName("java.lang.management.MemoryMXBean").getMethod("getHeapMemoryUsage").invoke(bean));
    }

    private static long usedOf(Object memoryUsage) throws Exception {
        return (long) Class.forName("java.lang.management.MemoryUsage").getMethod("getUsed").invoke(memoryUsage);
    }

    private static List<?> memoryPools() throws Exception {
        return (List<?>) Class.forName("java.lang.management.ManagementFactory").getMethod("getMemoryPoolMXBeans").invoke(null);
    }
}
