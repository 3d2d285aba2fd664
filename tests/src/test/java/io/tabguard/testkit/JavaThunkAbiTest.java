package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.testkit.ThunkAbiTest.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.ToIntFunction;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The Java-target counterpart of {@link ThunkAbiTest}: every shape of {@link ThunkAbiTest#shapes()} is
 * bound to a Java target that computes, from the arguments it received, the same hash the generated C
 * function computes, and C calls it through the table's slot with the literal arguments of
 * {@code check_k}; the results must agree bit for bit. Shapes with an argument register to spare for the
 * record id (at most five integer-class arguments, or else at most seven floating-point ones) must sit in
 * the shared {@code tabguard-thunks} code mapping, the others in an upcall stub of their own.
 * After a revoke every slot returns its refusal value and no Java target runs; after the registry is
 * closed an old shared-thunk pointer is refused with the shape's zero value (in a forked JVM,
 * {@link JavaThunkAbiMain}); and 40,000 Java slots of one shape leave the code cache almost untouched.
 */
class JavaThunkAbiTest {
    private static final int SLOTS_PER_TABLE = 64;

    @TempDir
    Path dir;

    /**
     * Java targets that hash their arguments as the C functions of {@link ThunkAbiTest#source} do, and
     * count their runs by a counter index chosen per slot. A void target stores the hash into the C
     * library's {@code stored}, where {@code check_k} reads it.
     */
    static final class JavaTargets {
        private static final MethodHandle RUN;

        static {
            try {
                RUN = MethodHandles.lookup().findStatic(JavaThunkAbiTest.class, "run", MethodType.methodType(Object.class,
                        Shape.class, JavaTargets.class, int.class, Object[].class));
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final AtomicLongArray runs;
        final MemorySegment stored;

        JavaTargets(int counters, MemorySegment stored) {
            this.runs = new AtomicLongArray(counters);
            this.stored = stored;
        }

        /** A handle of exactly {@code s}'s slot type whose runs count in {@code runs[counter]}. */
        MethodHandle target(Shape s, int counter) {
            return MethodHandles.insertArguments(RUN, 0, s, this, counter)
                    .asCollector(Object[].class, s.params().length())
                    .asType(s.descriptor().toMethodType());
        }

        long totalRuns() {
            long total = 0;
            for (int i = 0; i < runs.length(); i++) {
                total += runs.get(i);
            }
            return total;
        }
    }

    private static Object run(Shape s, JavaTargets targets, int counter, Object[] args) {
        targets.runs.incrementAndGet(counter);
        long h = hash(s.params(), args);
        return switch (s.ret()) {
            case 'v' -> {
                targets.stored.set(JAVA_LONG, 0, h);
                yield null;
            }
            case 'i' -> (int) h;
            case 'l' -> h;
            case 'f' -> (float) Long.remainderUnsigned(h, 1000003) / 7.0f;
            case 'd' -> (double) Long.remainderUnsigned(h, 100000007) / 3.0;
            case 'p' -> MemorySegment.ofAddress(h | 1);
            default -> throw new IllegalStateException(String.valueOf(s.ret()));
        };
    }

    /** The C functions' FNV-style hash over the bits of the arguments as Java received them. */
    static long hash(String params, Object[] args) {
        long h = 1469598103934665603L;
        for (int i = 0; i < params.length(); i++) {
            long bits = switch (params.charAt(i)) {
                case 'i' -> (long) (Integer) args[i];                   // C: (uint64_t) of an int sign-extends
                case 'l' -> (Long) args[i];
                case 'f' -> Float.floatToRawIntBits((Float) args[i]) & 0xFFFF_FFFFL;
                case 'd' -> Double.doubleToRawLongBits((Double) args[i]);
                case 'p' -> ((MemorySegment) args[i]).address();
                default -> throw new IllegalArgumentException(params);
            };
            h = (h ^ (bits + i)) * 1099511628211L;
        }
        return h;
    }

    /**
     * Whether a thunk can carry {@code s} by the x86-64 SysV rule: one argument register left for the
     * record id, an integer one (at most five integer-class arguments) or else an xmm one (at most seven
     * floating-point arguments). Arguments on the stack do not matter: the thunk is a tail jump.
     */
    static boolean carried(Shape s) {
        return integerArguments(s) <= 5 || floatArguments(s) <= 7;
    }

    /** Arguments passed in the SysV integer registers rdi, rsi, rdx, rcx, r8, r9 (then on the stack). */
    static long integerArguments(Shape s) {
        return s.params().chars().filter(t -> t == 'i' || t == 'l' || t == 'p').count();
    }

    /** Arguments passed in xmm0-xmm7 (then on the stack). */
    static long floatArguments(Shape s) {
        return s.params().chars().filter(t -> t == 'f' || t == 'd').count();
    }

    /** Builds one table binding every shape of {@code group} to its Java target. */
    static CallbackTable table(Registry registry, String schemaName, List<Shape> group, JavaTargets targets,
                               ToIntFunction<Shape> counter) {
        Schema.Builder schema = Schema.builder(schemaName, 1);
        for (Shape s : group) {
            schema.slot(s.name(), s.descriptor(), o -> {
                if (s.ret() != 'v') {
                    o.refusal(ThunkAbiTest.refusal(s.ret()));
                }
            });
        }
        var builder = registry.builder(schema.build());
        group.forEach(s -> builder.bind(s.name(), targets.target(s, counter.applyAsInt(s))));
        return builder.build();
    }

    /**
     * C {@code uint64_t through(int k, void *fp)}: the bits the call of {@code check_k} returns through
     * {@code fp} (zero-extended), or for a void function what it stored (cleared before the call).
     * Appended to {@link ThunkAbiTest#source}, whose includes and {@code stored} it uses.
     */
    static String throughSource(List<Shape> shapes) {
        StringBuilder c = new StringBuilder();
        for (Shape s : shapes) {
            StringBuilder decl = new StringBuilder();
            StringBuilder args = new StringBuilder();
            for (int i = 0; i < s.params().length(); i++) {
                decl.append(i == 0 ? "" : ", ").append(ThunkAbiTest.cType(s.params().charAt(i)));
                args.append(i == 0 ? "" : ", ").append(ThunkAbiTest.argument(s.params().charAt(i), i));
            }
            String ret = ThunkAbiTest.cType(s.ret());
            String call = "((" + ret + " (*)(" + (decl.isEmpty() ? "void" : decl) + ")) fp)(" + args + ")";
            c.append("static uint64_t through_").append(s.index()).append("(void *fp) {\n");
            if (s.ret() == 'v') {
                c.append("    stored = 0; ").append(call).append(";\n    return stored;\n");
            } else {
                c.append("    ").append(ret).append(" r = ").append(call).append(";\n")
                        .append("    uint64_t bits = 0; memcpy(&bits, &r, sizeof r);\n    return bits;\n");
            }
            c.append("}\n");
        }
        c.append("uint64_t through(int k, void *fp) {\n    switch (k) {\n");
        for (Shape s : shapes) {
            c.append("    case ").append(s.index()).append(": return through_").append(s.index()).append("(fp);\n");
        }
        c.append("    default: return 0xdeadULL;\n    }\n}\n");
        return c.toString();
    }

    /** A /proc/self/maps line: its range, permissions and path (empty for anonymous memory). */
    record Mapping(long start, long end, String permissions, String path) {
        boolean contains(long address) {
            return Long.compareUnsigned(start, address) <= 0 && Long.compareUnsigned(address, end) < 0;
        }

        boolean isSharedThunkCode() {
            return path.startsWith("/memfd:tabguard-thunks") && permissions.equals("r-xs");
        }
    }

    static List<Mapping> mappings() throws IOException {
        List<Mapping> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            String[] range = f[0].split("-");
            out.add(new Mapping(Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16), f[1],
                    f.length == 6 ? f[5] : ""));
        }
        return out;
    }

    static Mapping mappingOf(List<Mapping> maps, long address) {
        return maps.stream().filter(m -> m.contains(address)).findFirst()
                .orElseThrow(() -> new AssertionError("0x" + Long.toHexString(address) + " is not mapped"));
    }

    @Test
    void everyShapeReachesItsJavaTargetIntactSharedThunksCarryTheRegisterShapesAndRevokeRefusesAll() throws Throwable {
        List<Shape> shapes = ThunkAbiTest.shapes();
        Path library = NativeBuilds.sharedLibrary(dir, "java_thunk_abi", ThunkAbiTest.source(shapes), "-O0");
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        FunctionDescriptor checker = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS);
        MethodHandle check = NativeTamper.callPointer(lib.find("check").orElseThrow(), checker);
        MethodHandle refused = NativeTamper.callPointer(lib.find("refused").orElseThrow(), checker);
        MemorySegment cRuns = lib.find("runs").orElseThrow().reinterpret(8);
        JavaTargets targets = new JavaTargets(shapes.size(), lib.find("stored").orElseThrow().reinterpret(8));
        try (Registry registry = Fixtures.open(new Fixtures.Audit())) {
            List<CallbackTable> tables = new ArrayList<>();
            List<MemorySegment> slots = new ArrayList<>();
            for (int from = 0; from < shapes.size(); from += SLOTS_PER_TABLE) {
                List<Shape> group = shapes.subList(from, Math.min(shapes.size(), from + SLOTS_PER_TABLE));
                CallbackTable table = table(registry, "tabguard.test.javaabi" + from, group, targets, Shape::index);
                tables.add(table);
                for (Shape s : group) {
                    MemorySegment slot = NativeTamper.readSlot(table, s.name());
                    assertEquals(slot, table.function(s.name()));
                    slots.add(slot);
                }
            }

            List<Mapping> maps = mappings();
            int carriedCount = 0;
            for (Shape s : shapes) {
                Mapping m = mappingOf(maps, slots.get(s.index()).address());
                if (carried(s)) {
                    carriedCount++;
                    assertTrue(m.isSharedThunkCode(), s + " is carried by a shared thunk, but its slot lies in " + m);
                } else {
                    assertFalse(m.path().startsWith("/memfd:tabguard-"), s + " needs a stub of its own, but its slot lies in " + m);
                }
            }
            // every side of the rule is exercised: the id in an integer register, in an xmm register (six or more
            // integer arguments), past stack-passed floats, and shapes that keep a stub of their own
            assertTrue(carriedCount > 0, "no shape carried");
            assertTrue(shapes.stream().anyMatch(s -> integerArguments(s) >= 6 && floatArguments(s) <= 7), "no shape carried in an xmm register");
            assertTrue(shapes.stream().anyMatch(s -> integerArguments(s) <= 5 && floatArguments(s) >= 9), "no shape with 9+ float arguments");
            assertTrue(shapes.stream().anyMatch(s -> !carried(s)), "no shape that needs a stub of its own");
            assertEquals(shapes.size(), slots.stream().map(MemorySegment::address).distinct().count(), "one entry per slot");

            for (Shape s : shapes) {
                long javaBefore = targets.runs.get(s.index());
                long totalBefore = targets.totalRuns();
                long cBefore = cRuns.get(JAVA_LONG, 0);
                assertEquals(1, (int) check.invokeExact(s.index(), slots.get(s.index())),
                        s + " (" + (carried(s) ? "shared thunk" : "own stub") + "): the Java target's result differs from the C function's");
                assertEquals(javaBefore + 1, targets.runs.get(s.index()), s + ": its own Java target ran once");
                assertEquals(totalBefore + 1, targets.totalRuns(), s + ": no other Java target ran");
                assertEquals(cBefore + 1, cRuns.get(JAVA_LONG, 0), s + ": the direct C call ran once");
            }

            tables.forEach(registry::revoke);
            long javaBefore = targets.totalRuns();
            long cBefore = cRuns.get(JAVA_LONG, 0);
            for (Shape s : shapes) {
                assertEquals(1, (int) refused.invokeExact(s.index(), slots.get(s.index())), s + ": not refused after revoke");
            }
            assertEquals(javaBefore, targets.totalRuns(), "no Java target ran after revoke");
            assertEquals(cBefore, cRuns.get(JAVA_LONG, 0), "nothing reached C after revoke");
        }
    }

    /** The shapes {@link JavaThunkAbiMain} binds: a spread of carried shapes, every return type among them. */
    static List<Shape> forkShapes() {
        List<Shape> all = ThunkAbiTest.shapes().stream().filter(JavaThunkAbiTest::carried).toList();
        List<Shape> picked = new ArrayList<>();
        for (int i = 0; i < all.size(); i += 23) {
            picked.add(all.get(i));
        }
        return picked;
    }

    static String forkSource() {
        List<Shape> shapes = forkShapes();
        return ThunkAbiTest.source(shapes) + throughSource(shapes);
    }

    @TempDir
    Path crashDir;

    @Test
    void afterTheRegistryClosesAnOldSharedThunkPointerIsRefusedWithTheZeroValueInsteadOfCrashing() throws Exception {
        Path library = NativeBuilds.sharedLibrary(dir, "java_thunk_fork", forkSource(), "-O0");
        Forks.Outcome o = Forks.run(JavaThunkAbiMain.class, 120,
                List.of("-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + crashDir.resolve("hs_err_%p.log")), library.toString());
        int n = forkShapes().size();
        assertEquals(0, o.exitCode(), o.output());
        List<String> lines = o.lines();
        assertTrue(lines.contains("open: " + n + " of " + n + " answered as their C twins"), o.output());
        assertTrue(lines.contains("closed: " + n + " of " + n + " refused with zero, 0 target runs"), o.output());
        assertTrue(lines.contains("reopened: " + n + " of " + n + " old refused with zero, 0 target runs; "
                + n + " of " + n + " new answered"), o.output());
        assertTrue(lines.contains("survived"), o.output());
    }

    /**
     * Bytes in use in the JVM's code cache: the NON_HEAP pools named "CodeHeap ..." (segmented) or
     * "CodeCache". java.management is reached reflectively, as in {@link Forks#jvmArguments()}: the test
     * kit's module does not read it.
     */
    static long codeCacheUsed() throws ReflectiveOperationException {
        Class<?> pool = Class.forName("java.lang.management.MemoryPoolMXBean");
        Method type = pool.getMethod("getType");
        Method name = pool.getMethod("getName");
        Method usage = pool.getMethod("getUsage");
        Method used = Class.forName("java.lang.management.MemoryUsage").getMethod("getUsed");
        List<?> pools = (List<?>) Class.forName("java.lang.management.ManagementFactory").getMethod("getMemoryPoolMXBeans").invoke(null);
        long total = 0;
        int counted = 0;
        for (Object p : pools) {
            String n = (String) name.invoke(p);
            if (((Enum<?>) type.invoke(p)).name().equals("NON_HEAP") && (n.startsWith("CodeHeap") || n.equals("CodeCache"))) {
                total += (long) used.invoke(usage.invoke(p));
                counted++;
            }
        }
        assertTrue(counted > 0, "no code cache pool among " + pools);
        return total;
    }

    private static final int FOOTPRINT_SLOTS = 8;

    /** {@code count} tables of {@code FOOTPRINT_SLOTS} slots of {@code shape}; table t's slot j counts in runs[t * 8 + j]. */
    private static List<CallbackTable> sameShapeTables(Registry registry, Schema schema, Shape shape, JavaTargets targets,
                                                       int firstCounter, int count) {
        List<CallbackTable> tables = new ArrayList<>(count);
        for (int t = 0; t < count; t++) {
            var builder = registry.builder(schema);
            for (int j = 0; j < FOOTPRINT_SLOTS; j++) {
                builder.bind("s" + j, targets.target(shape, firstCounter + t * FOOTPRINT_SLOTS + j));
            }
            tables.add(builder.build());
        }
        return tables;
    }

    private static Schema sameShapeSchema(String name, Shape shape) {
        Schema.Builder schema = Schema.builder(name, 1);
        for (int j = 0; j < FOOTPRINT_SLOTS; j++) {
            schema.slot("s" + j, shape.descriptor(), o -> o.refusal(ThunkAbiTest.refusal(shape.ret())));
        }
        return schema.build();
    }

    @Test
    void fortyThousandJavaSlotsOfOneCarriedShapeLeaveTheCodeCacheAlmostUntouchedAndEachAnswersForItself() throws Throwable {
        List<Shape> all = ThunkAbiTest.shapes();
        // one carried shape with four different argument types and a value to compare
        Shape shape = all.stream().filter(s -> s.params().chars().distinct().count() == 4 && s.ret() != 'v' && s.ret() != 'p')
                .filter(JavaThunkAbiTest::carried).findFirst().orElseThrow();
        // the control: a shape no thunk can carry (six or more integer-class arguments), so each slot mints a stub
        Shape uncarried = all.stream().filter(s -> !carried(s) && s.ret() != 'v').findFirst().orElseThrow();
        Path library = NativeBuilds.sharedLibrary(dir, "java_thunk_footprint", ThunkAbiTest.source(List.of(shape, uncarried)), "-O0");
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        MethodHandle check = NativeTamper.callPointer(lib.find("check").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        int warmUp = 1_000;
        int measured = 5_000;
        int controlTables = 8;
        JavaTargets targets = new JavaTargets((warmUp + measured + controlTables) * FOOTPRINT_SLOTS, lib.find("stored").orElseThrow().reinterpret(8));
        Schema schema = sameShapeSchema("tabguard.test.javaabi.footprint", shape);
        try (Registry registry = Fixtures.open(new Fixtures.Audit())) {
            // warm up: the shape's one stub, the registry's build path compiled
            sameShapeTables(registry, schema, shape, targets, 0, warmUp);

            long controlBefore = codeCacheUsed();
            List<CallbackTable> control = sameShapeTables(registry, sameShapeSchema("tabguard.test.javaabi.control", uncarried),
                    uncarried, targets, (warmUp + measured) * FOOTPRINT_SLOTS, controlTables);
            long perStub = (codeCacheUsed() - controlBefore) / (controlTables * FOOTPRINT_SLOTS);

            long before = codeCacheUsed();
            List<CallbackTable> tables = sameShapeTables(registry, schema, shape, targets, warmUp * FOOTPRINT_SLOTS, measured);
            long growth = codeCacheUsed() - before;
            System.out.printf("code cache: %,d bytes for %,d carried Java slots; %,d bytes per own stub (%s)%n",
                    growth, measured * FOOTPRINT_SLOTS, perStub, uncarried);
            // the measurement sees stubs: a slot of its own costs at least 1 KB, 40,000 of them 40 MB
            assertTrue(perStub >= 1024, "an uncarried slot's stub cost " + perStub + " bytes: the measurement cannot tell the designs apart");
            assertTrue(growth < 2L * 1024 * 1024, growth + " bytes of code cache for " + measured * FOOTPRINT_SLOTS + " Java slots of one shape");

            Set<Long> pointers = new HashSet<>();
            List<Mapping> maps = mappings();
            for (CallbackTable t : tables) {
                for (int j = 0; j < FOOTPRINT_SLOTS; j++) {
                    long p = t.function("s" + j).address();
                    assertTrue(pointers.add(p), "slot s" + j + " of table " + t.serial() + " repeats another slot's pointer");
                    assertTrue(mappingOf(maps, p).isSharedThunkCode(), "s" + j + " of table " + t.serial() + " is not a shared thunk");
                }
            }
            // a sample from C: each call reaches exactly its own table's own slot's target
            long ranBefore = targets.totalRuns();
            int sampled = 0;
            for (int t = 0; t < measured; t += (t == 0 || t >= measured - 2 ? 1 : 97)) {
                int j = t % FOOTPRINT_SLOTS;
                int counter = (warmUp + t) * FOOTPRINT_SLOTS + j;
                assertEquals(1, (int) check.invokeExact(shape.index(), tables.get(t).function("s" + j)),
                        "table " + t + " slot s" + j + ": the Java target's result differs from the C function's");
                assertEquals(1, targets.runs.get(counter), "table " + t + " slot s" + j + " ran its own target");
                sampled++;
            }
            assertEquals(ranBefore + sampled, targets.totalRuns(), "no other target ran");
            for (CallbackTable t : control) {
                assertEquals(1, (int) check.invokeExact(uncarried.index(), t.function("s3")), "control table " + t.serial());
            }
        }
    }
}
