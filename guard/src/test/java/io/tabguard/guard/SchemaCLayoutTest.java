package io.tabguard.guard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_CHAR;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The schema's offsets and sizes are what gcc gives the same struct, for every minor of hand-picked
 * and random schemas: slots as function pointers of the slot's C signature, data members as their C type.
 */
class SchemaCLayoutTest {

    private static final long SEED = 20130501L;

    private static List<Schema> schemas() {
        List<Schema> schemas = new ArrayList<>();
        FunctionDescriptor fn = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_DOUBLE);
        schemas.add(Schema.builder("int_then_pointer", 0).data("n", JAVA_INT).slot("f", fn).build());
        schemas.add(Schema.builder("pointer_then_int", 0).slot("f", fn).data("n", JAVA_INT).build());
        schemas.add(Schema.builder("tail_padding_minor", 0).slot("f", fn).data("n", JAVA_INT).minor(1).data("m", JAVA_SHORT)
                .minor(2).data("c", JAVA_CHAR).data("b", JAVA_BYTE).minor(3).slot("g", fn).build());
        schemas.add(Schema.builder("unaligned_java_layouts", 0).data("a", JAVA_BYTE).data("b", AbiV1.LE_INT)
                .data("c", JAVA_BYTE).data("d", AbiV1.LE_LONG).data("e", JAVA_BYTE).data("f", AbiV1.LE_SHORT).build());
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = 0; i < 150; i++) {
            schemas.add(RandomSchemas.next(random, "random_" + i));
        }
        return schemas;
    }

    private static String structName(int schema, int minor) {
        return "s" + schema + "_m" + minor;
    }

    private static String cDeclaration(Schema.Member m) {
        if (m instanceof Schema.Slot slot) {
            FunctionDescriptor d = slot.descriptor();
            String ret = d.returnLayout().map(SchemaCLayoutTest::cTypeOf).orElse("void");
            List<String> args = d.argumentLayouts().stream().map(SchemaCLayoutTest::cTypeOf).toList();
            return ret + " (*" + m.name() + ")(" + (args.isEmpty() ? "void" : String.join(", ", args)) + ")";
        }
        return cTypeOf(m.layout()) + " " + m.name();
    }

    /** The C type, via the schema's own spelling of it (checked separately) mapped to C. */
    private static String cTypeOf(MemoryLayout layout) {
        Schema probe = Schema.builder("probe", 0).data("x", (java.lang.foreign.ValueLayout) layout).build();
        return RandomSchemas.cType(Schema.cSignature(probe.members().getFirst()));
    }

    @Test
    void offsetsAndSizesAgreeWithGcc(@TempDir Path dir) {
        List<Schema> schemas = schemas();
        StringBuilder c = new StringBuilder("#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n\n");
        StringBuilder main = new StringBuilder("int main(void) {\n");
        for (int i = 0; i < schemas.size(); i++) {
            Schema s = schemas.get(i);
            for (int m = 0; m <= s.minor(); m++) {
                String struct = structName(i, m);
                c.append("/* ").append(s.name()).append(" minor ").append(m).append(" */\nstruct ").append(struct).append(" {\n");
                for (Schema.Member member : s.members(m)) {
                    c.append("    ").append(cDeclaration(member)).append(";\n");
                }
                c.append("};\n");
                main.append("    printf(\"").append(struct).append(" sizeof %zu\\n\", sizeof(struct ").append(struct).append("));\n");
                for (Schema.Member member : s.members(m)) {
                    main.append("    printf(\"").append(struct).append(' ').append(member.name())
                            .append(" %zu\\n\", offsetof(struct ").append(struct).append(", ").append(member.name()).append("));\n");
                }
            }
        }
        main.append("    return 0;\n}\n");
        String out = CCompiler.compileAndRun(dir, "layouts.c", c.append(main).toString());

        Map<String, Long> gcc = new HashMap<>();
        for (String line : out.split("\n")) {
            String[] w = line.trim().split(" ");
            if (w.length == 3) {
                gcc.put(w[0] + " " + w[1], Long.parseLong(w[2]));
            }
        }
        for (int i = 0; i < schemas.size(); i++) {
            Schema s = schemas.get(i);
            for (int m = 0; m <= s.minor(); m++) {
                String struct = structName(i, m);
                String where = s.name() + " minor " + m + " (seed " + SEED + ")";
                Long size = gcc.get(struct + " sizeof");
                assertNotNull(size, where);
                assertEquals(size, s.payloadSize(m), where + ": sizeof");
                for (Schema.Member member : s.members(m)) {
                    assertEquals(gcc.get(struct + " " + member.name()), member.offset(), where + ": offsetof " + member.name());
                }
            }
        }
    }
}
