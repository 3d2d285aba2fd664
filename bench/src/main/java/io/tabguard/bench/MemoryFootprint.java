package io.tabguard.bench;

import io.tabguard.guard.AbiV1;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Benchmark 6's memory half: heap and native bytes per live 8-slot table. Not a JMH benchmark (a
 * footprint is a difference of two states, not a rate): builds N tables in a fresh registry and
 * compares, after full GCs,
 * <ul>
 *   <li>heap used (MemoryMXBean pools of type HEAP);</li>
 *   <li>the code cache (non-heap "CodeHeap" pools), where FFM upcall stubs live (a Java slot has none of its own: its
 *       32-byte entry thunk is native memory, its shape's one shared stub is minted once);</li>
 *   <li>Native Memory Tracking, when the JVM runs with -XX:NativeMemoryTracking=summary: the committed
 *       bytes per NMT category (read in-process through the DiagnosticCommand MBean, as jcmd would).</li>
 * </ul>
 * Usage: {@code java --enable-native-access=ALL-UNNAMED -XX:NativeMemoryTracking=summary
 * -cp benchmarks.jar io.tabguard.bench.MemoryFootprint [N ...]}. Prints a markdown section.
 */
public final class MemoryFootprint {
    /** The report is this program's product: a markdown fragment on standard output, merged into the results. */
    private static final java.io.PrintStream OUT = System.out;

    private MemoryFootprint() {}

    public static void main(String[] args) throws Throwable {
        int[] counts = args.length == 0 ? new int[]{10_000, 100_000} : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        OUT.println("### Footprint per live 8-slot table");
        OUT.println();
        OUT.println("Table memory by design: header " + AbiV1.HEADER_SIZE + " B + payload "
                + Fixtures.EIGHT.payloadSize(Fixtures.EIGHT.minor()) + " B = "
                + (AbiV1.HEADER_SIZE + Fixtures.EIGHT.payloadSize(Fixtures.EIGHT.minor())) + " B of native memory, plus "
                + Fixtures.EIGHT_SLOTS + " entry thunks of 32 B (native) into one shared upcall stub, a slot record each, and the Java objects of table, gate and snapshot.");
        OUT.println("JVM: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version")
                + ", NMT " + (nmtAvailable() ? "on" : "off (run with -XX:NativeMemoryTracking=summary for the native breakdown)"));
        OUT.println();
        OUT.println("| live tables | build s | heap B/table (after GC) | code cache B/table | native B/table (NMT committed, all but Java Heap) | NMT by category B/table |");
        OUT.println("|---:|---:|---:|---:|---:|---|");
        for (int n : counts) {
            measure(n);
        }
        OUT.println();
        firstUse(1_000, 200);
    }

    /**
     * What calling each Java slot of {@code n} tables {@code calls} times adds. With per-slot stubs the JDK
     * customized each stub's method handle past ~127 calls (a hidden class each, then JIT work); with one
     * shared stub per shape this should be ~0 classes and ~0 B of code cache per slot. The time includes
     * the JIT warming the shared stub on the first slots.
     */
    private static void firstUse(int n, int calls) throws Throwable {
        Registry registry = Fixtures.registry();
        List<CallbackTable> tables = Fixtures.fill(registry, n);
        Snapshot before = Snapshot.take();
        long classesBefore = ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount();
        long t0 = System.nanoTime();
        for (CallbackTable t : tables) {
            for (int s = 0; s < Fixtures.EIGHT_SLOTS; s++) {
                int r = (int) BenchNative.CALL_N.invokeExact(t.function("s" + s), calls);
                if (r != NativeToJavaBench.sumOfFirst(calls)) {
                    throw new IllegalStateException("refused");
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(2_000);   // let the compiler queue drain
        Snapshot after = Snapshot.take();
        long classes = ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount() - classesBefore;
        int slots = n * Fixtures.EIGHT_SLOTS;
        OUT.printf(Locale.ROOT, "First use: %,d calls through each of %,d Java slots (%,d tables) took %.2f s (%.0f ns/call);"
                        + " per slot: %.2f classes loaded, %.0f B metaspace, %.0f B code cache, %.0f B heap.%n%n",
                calls, slots, n, seconds, seconds * 1e9 / ((double) slots * calls),
                (double) classes / slots, (double) (after.metaspace - before.metaspace) / slots,
                (double) (after.codeCache - before.codeCache) / slots, (double) (after.heap - before.heap) / slots);
        registry.close();
    }

    private static void measure(int n) throws Exception {
        try (Registry warm = Fixtures.registry()) {
            Fixtures.fill(warm, 2_000);   // load and link everything once, outside the measurement
        }
        Registry registry = Fixtures.registry();
        Fixtures.eightSlotTable(registry);
        Snapshot before = Snapshot.take();
        long t0 = System.nanoTime();
        List<CallbackTable> tables = Fixtures.fill(registry, n);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Snapshot after = Snapshot.take();
        StringBuilder categories = new StringBuilder();
        for (Map.Entry<String, Long> e : after.nmt.entrySet()) {
            long delta = e.getValue() - before.nmt.getOrDefault(e.getKey(), 0L);
            if (!e.getKey().equals("Total") && !e.getKey().equals("Java Heap") && Math.abs(delta) >= n * 8L) {   // at least 8 B per table
                categories.append(categories.isEmpty() ? "" : ", ").append(e.getKey()).append(' ')
                        .append(String.format(Locale.ROOT, "%.0f", (double) delta / n));
            }
        }
        String nmtNative = "n/a";
        if (after.nmt.containsKey("Total")) {
            long total = after.nmt.get("Total") - before.nmt.get("Total");
            long heap = after.nmt.getOrDefault("Java Heap", 0L) - before.nmt.getOrDefault("Java Heap", 0L);
            nmtNative = String.format(Locale.ROOT, "%.0f", (double) (total - heap) / n);
        }
        OUT.printf(Locale.ROOT, "| %,d | %.2f | %.0f | %.0f | %s | %s |%n", n, seconds,
                (double) (after.heap - before.heap) / n, (double) (after.codeCache - before.codeCache) / n,
                nmtNative, categories.isEmpty() ? "n/a" : categories);
        if (tables.size() != n) {
            throw new AssertionError();
        }
        registry.close();
    }

    private record Snapshot(long heap, long codeCache, long metaspace, Map<String, Long> nmt) {
        static Snapshot take() throws Exception {
            for (int i = 0; i < 4; i++) {
                System.gc();
                Thread.sleep(50);
            }
            long heap = 0;
            long code = 0;
            long meta = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    heap += pool.getUsage().getUsed();
                } else if (pool.getName().contains("CodeHeap") || pool.getName().equals("CodeCache")) {
                    code += pool.getUsage().getUsed();
                } else if (pool.getName().equals("Metaspace")) {
                    meta += pool.getUsage().getUsed();
                }
            }
            return new Snapshot(heap, code, meta, readNmt());
        }
    }

    private static boolean nmtAvailable() {
        try {
            return !readNmt().isEmpty();
        } catch (Exception e) {
            return false;
        }
    }

    private static final Pattern TOTAL = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern CATEGORY = Pattern.compile("-\\s+([A-Za-z][A-Za-z ]*?) \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");

    /** Committed KB per NMT category, in bytes; empty when NMT is off. */
    private static Map<String, Long> readNmt() throws Exception {
        Map<String, Long> out = new LinkedHashMap<>();
        String text;
        try {
            text = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                    new Object[]{new String[]{"summary", "scale=KB"}}, new String[]{String[].class.getName()});
        } catch (Exception e) {
            return out;
        }
        Matcher total = TOTAL.matcher(text);
        if (!total.find()) {
            return out;
        }
        out.put("Total", Long.parseLong(total.group(2)) * 1024);
        Matcher m = CATEGORY.matcher(text);
        while (m.find()) {
            out.put(m.group(1).trim(), Long.parseLong(m.group(3)) * 1024);
        }
        return out;
    }
}
