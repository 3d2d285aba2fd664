package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Forked by {@link MillionTablesForkTest}: builds N live 8-slot tables of one schema, every slot a Java
 * target, in one registry whose audit sink only counts; then C ({@code call_slots} of the test's helper
 * library, which reads each slot pointer out of the payload it is handed) calls every slot of the
 * first, middle and last table, whose targets tag their results with the table and slot, and of
 * {@value #RANDOM_SAMPLE} random tables sharing plain targets. Prints one {@code result key=value ...}
 * line: calls made and failed, heap and native bytes per table, build rate, and what one
 * {@code membarrier(PRIVATE_EXPEDITED_SYNC_CORE)} (the code barrier every build runs) costs here.
 *
 * <p>Heap: used bytes after {@code System.gc()} (a full collection under G1), after a warm-up of
 * {@value #WARM_UP} tables and after the rest. Native: the resident set outside the Java heap's reserved
 * range (found with the {@code GC.heap_info} diagnostic command), read from {@code /proc/self/smaps}:
 * anonymous pages of every mapping, and for shared memory (the memfd slabs of tables and thunks, each
 * mapped twice) the proportional set, which counts a page mapped twice once. File-backed clean pages
 * (libjvm and other libraries) are left out: they do not grow with tables, and their share moves with
 * other processes mapping the same files. This sees everything Native Memory Tracking would and more
 * (NMT misses libtabguard's own mmaps), so the fork runs without NMT's flag.
 */
public final class MillionTablesMain {
    static final int WARM_UP = 2_000;
    static final int RANDOM_SAMPLE = 1_000;
    static final int SLOTS = 8;
    static final FunctionDescriptor BINOP = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
    static final Schema EIGHT = eightSlots();

    private MillionTablesMain() {}

    /** What a slot returns: a function of its tag, so a call that reached another table's or slot's target shows. */
    static int tagged(int tag, int a, int b) {
        return tag * 1_000_003 + a * 7 - b;
    }

    /** The tag of slot {@code slot} of a table with plain targets (shared by every such table). */
    static int plainTag(int slot) {
        return slot + 1;
    }

    /** The tag of slot {@code slot} of sampled table {@code index}: unique to that table and slot. */
    static int sampledTag(int index, int slot) {
        return -(index * SLOTS + slot + 1);
    }

    private static final MethodHandle TAGGED;
    private static final MethodHandle[] PLAIN = new MethodHandle[SLOTS];

    static {
        try {
            TAGGED = MethodHandles.lookup().findStatic(MillionTablesMain.class, "tagged",
                    MethodType.methodType(int.class, int.class, int.class, int.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        for (int s = 0; s < SLOTS; s++) {
            PLAIN[s] = MethodHandles.insertArguments(TAGGED, 0, plainTag(s));
        }
    }

    private static Schema eightSlots() {
        Schema.Builder b = Schema.builder("tabguard.test.million", 1);
        for (int s = 0; s < SLOTS; s++) {
            b.slot("s" + s, BINOP, o -> o.refusal(0));
        }
        return b.build();
    }

    private static final String[] NAMES = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"};

    static CallbackTable build(Registry registry, int index, boolean sampled) {
        var builder = registry.builder(EIGHT);
        for (int s = 0; s < SLOTS; s++) {
            builder.bind(NAMES[s], sampled ? MethodHandles.insertArguments(TAGGED, 0, sampledTag(index, s)) : PLAIN[s]);
        }
        return builder.build();
    }

    public static void main(String[] args) throws Throwable {
        int n = Integer.parseInt(args[0]);
        Path helper = Path.of(args[1]);
        if (n < 2 * WARM_UP) {
            throw new IllegalArgumentException("at least " + 2 * WARM_UP + " tables");
        }
        SymbolLookup lib = SymbolLookup.libraryLookup(helper, Arena.global());
        MethodHandle callSlots = NativeTamper.callPointer(lib.find("call_slots").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        int middle = n / 2;
        int last = n - 1;
        FuzzWorld.CountingSink audit = new FuzzWorld.CountingSink();
        StringBuilder result = new StringBuilder("result");
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(audit).build());
             Arena arena = Arena.ofConfined()) {
            CallbackTable[] tables = new CallbackTable[n];
            for (int i = 0; i < WARM_UP; i++) {
                tables[i] = build(registry, i, i == 0);
            }
            Footprint before = Footprint.take();
            long t0 = System.nanoTime();
            for (int i = WARM_UP; i < n; i++) {
                tables[i] = build(registry, i, i == middle || i == last);
            }
            double buildSeconds = (System.nanoTime() - t0) / 1e9;
            Footprint after = Footprint.take();
            int built = n - WARM_UP;

            MemorySegment results = arena.allocate(JAVA_INT, SLOTS);
            long calls = 0;
            long failed = 0;
            SplittableRandom random = new SplittableRandom(16);
            for (int k = 0; k < 3 + RANDOM_SAMPLE; k++) {
                int index = switch (k) {
                    case 0 -> 0;
                    case 1 -> middle;
                    case 2 -> last;
                    default -> 1 + random.nextInt(n - 2);
                };
                boolean sampled = index == 0 || index == middle || index == last;
                CallbackTable t = tables[index];
                int a = random.nextInt(1 << 20);
                int b = random.nextInt(1 << 20);
                int made = (int) callSlots.invokeExact(t.payload(), SLOTS, a, b, results);
                if (made != SLOTS || t.status() != TableStatus.OPEN) {
                    failed += SLOTS;
                }
                for (int s = 0; s < SLOTS; s++) {
                    calls++;
                    int expected = tagged(sampled ? sampledTag(index, s) : plainTag(s), a, b);
                    if (results.getAtIndex(JAVA_INT, s) != expected) {
                        failed++;
                        System.out.println("FAILED table " + index + " slot " + s + ": " + results.getAtIndex(JAVA_INT, s)
                                + " instead of " + expected);
                    }
                }
            }
            long live = 0;
            for (CallbackTable t : tables) {
                live += t.status() == TableStatus.OPEN ? 1 : 0;
            }
            double barrierNanos = membarrierNanos(20_000);
            java.lang.ref.Reference.reachabilityFence(tables);
            result.append(String.format(Locale.ROOT,
                    " tables=%d live=%d measured=%d calls=%d failed=%d auditEvents=%d"
                            + " heapPerTable=%.1f nativePerTable=%.1f heapResidentPerTable=%.1f memfdPerTable=%.1f anonPerTable=%.1f"
                            + " buildSeconds=%.2f tablesPerSecond=%.0f usPerTable=%.2f membarrierUs=%.2f",
                    n, live, built, calls, failed, audit.events.get(),
                    (double) (after.heapUsed - before.heapUsed) / built,
                    (double) (after.nativeBytes() - before.nativeBytes()) / built,
                    (double) (after.heapResident - before.heapResident) / built,
                    (double) (after.shared - before.shared) / built,
                    (double) (after.anonymous - before.anonymous) / built,
                    buildSeconds, built / buildSeconds, buildSeconds * 1e6 / built, barrierNanos / 1e3));
            if (Boolean.getBoolean("tabguard.million.histogram")) {
                // where the heap per table goes: the largest classes of the live heap, as jcmd GC.class_histogram
                diagnosticCommand("gcClassHistogram").lines().limit(45).forEach(System.out::println);
            }
            System.out.println("before: " + before);
            System.out.println("after:  " + after);
        }
        System.out.println(result);
        System.out.println("vm options: " + vmOptions());
        System.out.println("closed");
    }

    /** The -X and -XX options this JVM was started with (the test wants none: default heap, code cache, compilers). */
    static java.util.List<String> vmOptions() throws ReflectiveOperationException {
        Object bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getRuntimeMXBean").invoke(null);
        @SuppressWarnings("unchecked")
        java.util.List<String> args = (java.util.List<String>) Class.forName("java.lang.management.RuntimeMXBean")
                .getMethod("getInputArguments").invoke(bean);
        return args.stream().filter(a -> a.startsWith("-X")).toList();
    }

    /**
     * Mean nanoseconds of {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)}, the barrier
     * {@code tg_barrier_publish_code} runs once per build (libtabguard registered the process for it), or
     * NaN if the kernel refuses it here.
     */
    private static double membarrierNanos(int times) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle syscall = linker.downcallHandle(linker.defaultLookup().find("syscall").orElseThrow(),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(1));
        final long sysMembarrier = 324;        // x86-64
        final int privateExpeditedSyncCore = 1 << 5;
        if ((long) syscall.invokeExact(sysMembarrier, privateExpeditedSyncCore, 0, 0) != 0) {
            return Double.NaN;
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < times; i++) {
            long ignored = (long) syscall.invokeExact(sysMembarrier, privateExpeditedSyncCore, 0, 0);
        }
        return (double) (System.nanoTime() - t0) / times;
    }

    /** Heap used after a full GC, and the resident bytes of the process's mappings by kind. */
    private record Footprint(long heapUsed, long heapResident, long anonymous, long shared) {
        long nativeBytes() {
            return anonymous + shared;
        }

        static Footprint take() throws Exception {
            Runtime rt = Runtime.getRuntime();
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(20);
            }
            long used = rt.totalMemory() - rt.freeMemory();
            long[] heap = heapRange();
            long heapResident = 0;
            long anonymous = 0;
            long shared = 0;
            long start = 0;
            long end = 0;
            boolean memfd = false;
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                Matcher range = VMA.matcher(line);
                if (range.find()) {
                    start = Long.parseUnsignedLong(range.group(1), 16);
                    end = Long.parseUnsignedLong(range.group(2), 16);
                    memfd = line.contains("/memfd:") || line.contains("/SYSV") || line.contains("/dev/zero") || line.contains("/dev/shm/");
                    continue;
                }
                boolean inHeap = start >= heap[0] && end <= heap[1];
                if (line.startsWith("Rss:") && inHeap) {
                    heapResident += kilobytes(line);
                } else if (line.startsWith("Anonymous:") && !inHeap) {
                    anonymous += kilobytes(line);
                } else if (line.startsWith("Pss:") && memfd && !inHeap) {
                    shared += kilobytes(line);
                }
            }
            return new Footprint(used, heapResident, anonymous, shared);
        }

        private static long kilobytes(String line) {
            String[] f = line.trim().split("\\s+");
            return Long.parseLong(f[1]) * 1024;
        }
    }

    private static final Pattern VMA = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) ");
    private static final Pattern HEAP_RANGE = Pattern.compile("\\[0x([0-9a-f]+), 0x([0-9a-f]+)\\)");

    /**
     * The Java heap's reserved range {@code [start, end)}, from the {@code GC.heap_info} diagnostic
     * command (as {@code jcmd} runs it). java.management is in the boot layer (service binding brings
     * it) but this module does not read it, so it is reached reflectively, as {@link Forks} does.
     */
    static long[] heapRange() throws IOException {
        String info = diagnosticCommand("gcHeapInfo");
        Matcher m = HEAP_RANGE.matcher(info);
        if (!m.find()) {
            throw new IOException("no heap range in GC.heap_info: " + info);
        }
        return new long[]{Long.parseUnsignedLong(m.group(1), 16), Long.parseUnsignedLong(m.group(2), 16)};
    }

    /** A diagnostic command's output, by its MBean operation name ({@code gcHeapInfo} is {@code GC.heap_info}). */
    static String diagnosticCommand(String operation) throws IOException {
        try {
            Object server = Class.forName("java.lang.management.ManagementFactory").getMethod("getPlatformMBeanServer").invoke(null);
            Class<?> objectName = Class.forName("javax.management.ObjectName");
            Object name = objectName.getConstructor(String.class).newInstance("com.sun.management:type=DiagnosticCommand");
            return (String) Class.forName("javax.management.MBeanServerConnection")
                    .getMethod("invoke", objectName, String.class, Object[].class, String[].class)
                    .invoke(server, name, operation, new Object[]{new String[0]}, new String[]{String[].class.getName()});
        } catch (ReflectiveOperationException e) {
            throw new IOException("cannot run the diagnostic command " + operation, e);
        }
    }
}
