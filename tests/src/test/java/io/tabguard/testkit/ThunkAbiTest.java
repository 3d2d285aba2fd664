package io.tabguard.testkit;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The thunk keeps every argument register and the stack intact: C functions of many shapes, generated
 * here, are bound as native slots and called from C through the table's slots; each result (or, for void
 * functions, the value the function stored) must equal a direct call's, bit for bit. Shapes: every
 * combination of int/long/float/double/pointer parameters of up to 4 arguments (781 shapes), a seeded
 * sample of 5 to 8 arguments (including 7 and 8 integer-class arguments: stack-passed), and 10 and 12
 * arguments (floats past xmm7 and integers past r9 on the stack); returns cycle through void, int,
 * long, float, double and pointer. Then the tables are revoked and every shape must return its refusal
 * value without running (variadic calls are covered by the C self-test, struct-by-value slots by
 * {@link StructSlotTest}).
 */
class ThunkAbiTest {
    private static final char[] PARAMETER_TYPES = {'i', 'l', 'f', 'd', 'p'};
    private static final char[] RETURN_TYPES = {'v', 'i', 'l', 'f', 'd', 'p'};
    private static final int SLOTS_PER_TABLE = 64;

    @TempDir
    Path dir;

    record Shape(int index, char ret, String params) {
        String name() {
            return "f" + index;
        }

        /** The C function type as FFM describes it. */
        FunctionDescriptor descriptor() {
            MemoryLayout[] args = params.chars().mapToObj(t -> layout((char) t)).toArray(MemoryLayout[]::new);
            return ret == 'v' ? FunctionDescriptor.ofVoid(args) : FunctionDescriptor.of(layout(ret), args);
        }
    }

    static List<Shape> shapes() {
        List<String> params = new ArrayList<>();
        params.add("");
        for (int n = 1; n <= 4; n++) {
            for (int code = 0; code < Math.pow(5, n); code++) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0, c = code; i < n; i++, c /= 5) {
                    sb.append(PARAMETER_TYPES[c % 5]);
                }
                params.add(sb.toString());
            }
        }
        Random random = new Random(16);
        for (int n = 5; n <= 8; n++) {
            for (int k = 0; k < 40; k++) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < n; i++) {
                    sb.append(PARAMETER_TYPES[random.nextInt(5)]);
                }
                params.add(sb.toString());
            }
        }
        params.addAll(List.of("lllllll", "iiiiiiii", "pilpilpi", "dddddddddd", "ffffffffff", "idlfpidlfpid", "lllllllldddddddddd"));
        List<Shape> shapes = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            shapes.add(new Shape(i, RETURN_TYPES[i % RETURN_TYPES.length], params.get(i)));
        }
        return shapes;
    }

    static String cType(char t) {
        return switch (t) {
            case 'v' -> "void";
            case 'i' -> "int";
            case 'l' -> "long";
            case 'f' -> "float";
            case 'd' -> "double";
            case 'p' -> "void *";
            default -> throw new IllegalArgumentException(String.valueOf(t));
        };
    }

    static MemoryLayout layout(char t) {
        return switch (t) {
            case 'i' -> JAVA_INT;
            case 'l' -> JAVA_LONG;
            case 'f' -> ValueLayout.JAVA_FLOAT;
            case 'd' -> ValueLayout.JAVA_DOUBLE;
            case 'p' -> ADDRESS;
            default -> throw new IllegalArgumentException(String.valueOf(t));
        };
    }

    static Object refusal(char t) {
        return switch (t) {
            case 'i' -> -7;
            case 'l' -> -7L;
            case 'f' -> -7.0f;
            case 'd' -> -7.0;
            case 'p' -> MemorySegment.NULL;
            default -> throw new IllegalArgumentException(String.valueOf(t));
        };
    }

    /** A literal argument for position {@code i} of a call: distinct per position and type. */
    static String argument(char t, int i) {
        return switch (t) {
            case 'i' -> String.valueOf(-1000 - 37 * i);
            case 'l' -> "(long) " + (0x1234_5678_9ABCL + 7919L * i) + "L";
            case 'f' -> (1.25f + i * 0.5f) + "f";
            case 'd' -> String.valueOf(-3.0625 - i * 1.75);
            case 'p' -> "(void *) (unsigned long) " + (0x7000_0000_1000L + 4096L * i) + "UL";
            default -> throw new IllegalArgumentException(String.valueOf(t));
        };
    }

    /** The C refusal value of a return type, as C compares it. */
    static String cRefusal(char t) {
        return switch (t) {
            case 'i', 'l' -> "-7";
            case 'f' -> "-7.0f";
            case 'd' -> "-7.0";
            case 'p' -> "(void *) 0";
            default -> throw new IllegalArgumentException(String.valueOf(t));
        };
    }

    static String source(List<Shape> shapes) {
        StringBuilder c = new StringBuilder("""
                #include <stdint.h>
                #include <string.h>
                long runs;
                uint64_t stored;
                static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ULL; }
                static uint64_t bits_f(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
                static uint64_t bits_d(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
                """);
        for (Shape s : shapes) {
            String params = s.params();
            StringBuilder decl = new StringBuilder();
            StringBuilder body = new StringBuilder("    uint64_t h = 1469598103934665603ULL;\n    runs++;\n");
            for (int i = 0; i < params.length(); i++) {
                char t = params.charAt(i);
                decl.append(i == 0 ? "" : ", ").append(cType(t)).append(" a").append(i);
                String bits = switch (t) {
                    case 'f' -> "bits_f(a" + i + ")";
                    case 'd' -> "bits_d(a" + i + ")";
                    case 'p' -> "(uint64_t) (uintptr_t) a" + i;
                    default -> "(uint64_t) a" + i;
                };
                body.append("    h = mix(h, ").append(bits).append(" + ").append(i).append(");\n");
            }
            if (params.isEmpty()) {
                decl.append("void");
            }
            body.append(switch (s.ret()) {
                case 'v' -> "    stored = h;\n";
                case 'i' -> "    return (int) h;\n";
                case 'l' -> "    return (long) h;\n";
                case 'f' -> "    return (float) (h % 1000003) / 7.0f;\n";
                case 'd' -> "    return (double) (h % 100000007) / 3.0;\n";
                case 'p' -> "    return (void *) (uintptr_t) (h | 1);\n";
                default -> throw new IllegalStateException();
            });
            String ret = cType(s.ret());
            c.append(ret).append(' ').append(s.name()).append('(').append(decl).append(") {\n").append(body).append("}\n");
            // check_N(fp): the same call through fp and directly; 1 when both agree bit for bit.
            StringBuilder args = new StringBuilder();
            for (int i = 0; i < params.length(); i++) {
                args.append(i == 0 ? "" : ", ").append(argument(params.charAt(i), i));
            }
            String fnType = ret + " (*)(" + decl + ")";
            c.append("static int check_").append(s.index()).append("(void *fp) {\n");
            if (s.ret() == 'v') {
                c.append("    stored = 0; ((").append(fnType).append(") fp)(").append(args).append(");\n")
                        .append("    uint64_t through = stored; stored = 0;\n    ").append(s.name()).append('(').append(args).append(");\n")
                        .append("    return through == stored && through != 0;\n");
            } else {
                c.append("    ").append(ret).append(" through = ((").append(fnType).append(") fp)(").append(args).append(");\n")
                        .append("    ").append(ret).append(" direct = ").append(s.name()).append('(').append(args).append(");\n")
                        .append("    return memcmp(&through, &direct, sizeof through) == 0;\n");
            }
            c.append("}\n");
            // refused_N(fp): 1 when a call through fp returns the refusal value (void: stores nothing).
            c.append("static int refused_").append(s.index()).append("(void *fp) {\n");
            if (s.ret() == 'v') {
                c.append("    stored = 0; ((").append(fnType).append(") fp)(").append(args).append(");\n    return stored == 0;\n");
            } else {
                c.append("    return ((").append(fnType).append(") fp)(").append(args).append(") == ").append(cRefusal(s.ret())).append(";\n");
            }
            c.append("}\n");
        }
        // one entry point each, so the test needs two downcall handles rather than two per shape
        for (String kind : List.of("check", "refused")) {
            c.append("int ").append(kind).append("(int k, void *fp) {\n    switch (k) {\n");
            for (Shape s : shapes) {
                c.append("    case ").append(s.index()).append(": return ").append(kind).append('_').append(s.index()).append("(fp);\n");
            }
            c.append("    default: return -1;\n    }\n}\n");
        }
        return c.toString();
    }

    @Test
    void everyShapeReachesItsTargetIntactAndIsRefusedAfterRevoke() throws Throwable {
        List<Shape> shapes = shapes();
        Path library = NativeBuilds.sharedLibrary(dir, "thunk_abi", source(shapes), "-O0");
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        FunctionDescriptor checker = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS);
        MethodHandle check = NativeTamper.callPointer(lib.find("check").orElseThrow(), checker);
        MethodHandle refused = NativeTamper.callPointer(lib.find("refused").orElseThrow(), checker);
        MemorySegment runs = lib.find("runs").orElseThrow().reinterpret(8);
        try (Registry registry = Fixtures.open(new Fixtures.Audit(), o -> o.allowLibrary(library.toString()))) {
            List<CallbackTable> tables = new ArrayList<>();
            List<MemorySegment> thunks = new ArrayList<>();
            for (int from = 0; from < shapes.size(); from += SLOTS_PER_TABLE) {
                List<Shape> group = shapes.subList(from, Math.min(shapes.size(), from + SLOTS_PER_TABLE));
                Schema.Builder schema = Schema.builder("tabguard.test.abi" + from, 1);
                for (Shape s : group) {
                    schema.slot(s.name(), s.descriptor(), o -> {
                        if (s.ret() != 'v') {
                            o.refusal(refusal(s.ret()));
                        }
                    });
                }
                var builder = registry.builder(schema.build());
                group.forEach(s -> builder.bindNative(s.name(), s.name()));
                CallbackTable table = builder.build();
                tables.add(table);
                for (Shape s : group) {
                    MemorySegment slot = NativeTamper.readSlot(table, s.name());
                    assertNotEquals(lib.find(s.name()).orElseThrow().address(), slot.address(), s + " holds its thunk");
                    assertEquals(slot, table.function(s.name()));
                    thunks.add(slot);
                }
            }
            for (Shape s : shapes) {
                long before = runs.get(JAVA_LONG, 0);
                assertEquals(1, (int) check.invokeExact(s.index(), thunks.get(s.index())), s + ": the call through the thunk differs from a direct call");
                assertEquals(before + 2, runs.get(JAVA_LONG, 0), s + " ran through the thunk and directly");
            }
            tables.forEach(registry::revoke);
            long before = runs.get(JAVA_LONG, 0);
            for (Shape s : shapes) {
                assertEquals(1, (int) refused.invokeExact(s.index(), thunks.get(s.index())), s + ": not refused after revoke");
            }
            assertEquals(before, runs.get(JAVA_LONG, 0), "no target ran after revoke");
            assertEquals(shapes.size(), registry.auditNativeRefusals(), "every refused call counted");
        }
    }
}
