package io.tabguard.guard;

import io.tabguard.guard.internal.SigningKey;
import io.tabguard.guard.internal.TableStamper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * {@code native/include/tabguard.h} mirrors {@link AbiV1}: a C program that includes it prints every
 * field's offset, size and type, the constants and the violation codes, and reads a table stamped by
 * Java through {@code tabguard_header_of}; each is compared with the Java definition.
 *
 * <p>The program is generated from the Java side ({@code AbiV1.HEADER}'s members, {@code Violation.values()}),
 * so a Java field or violation with no C twin fails to compile; the header's text is parsed for the
 * other direction.
 */
class CHeaderMirrorTest {

    @TempDir
    static Path work;

    /** Lines of the probe's output, keyed by their first two words. */
    private static Map<String, String[]> output;
    private static byte[] table;
    private static Schema schema;

    @BeforeAll
    static void compileAndRunTheProbe() throws IOException {
        schema = Schema.builder("mirror.probe", 4)
                .slot("open", java.lang.foreign.FunctionDescriptor.of(JAVA_INT, ADDRESS))
                .data("version", JAVA_INT)
                .minor(1).slot("close", java.lang.foreign.FunctionDescriptor.ofVoid(ADDRESS))
                .build();
        table = new byte[AbiV1.HEADER_SIZE + (int) schema.payloadSize(1)];
        MemorySegment t = MemorySegment.ofArray(table);
        t.set(AbiV1.LE_LONG, AbiV1.HEADER_SIZE, 0x7f00_1234_5678L);
        t.set(AbiV1.LE_INT, AbiV1.HEADER_SIZE + 8, 77);
        t.set(AbiV1.LE_LONG, AbiV1.HEADER_SIZE + 16, 0x7f00_8765_4320L);
        TableStamper.stamp(t, schema, 1, 0xFEDC_BA98_7654_3210L, 0x0123_4567_89AB_CDEFL,
                SigningKey.generate(new SecureRandom()), 0x7f12_3456_7000L);
        Files.write(work.resolve("table.bin"), table);

        String stdout = CCompiler.compileAndRun(work, "mirror.c", probeSource(), work.resolve("table.bin").toString());
        output = new LinkedHashMap<>();
        for (String line : stdout.split("\n")) {
            String[] words = line.trim().split(" ");
            if (words.length >= 2) {
                output.put(words[0] + " " + words[1], words);
            }
        }
    }

    private static String[] line(String kind, String name) {
        String[] words = output.get(kind + " " + name);
        assertNotNull(words, "the probe printed no '" + kind + " " + name + "' line");
        return words;
    }

    private static long number(String kind, String name, int index) {
        return Long.parseUnsignedLong(line(kind, name)[index]);
    }

    private static List<MemoryLayout> javaFields() {
        return AbiV1.HEADER.memberLayouts();
    }

    private static String fieldName(MemoryLayout field) {
        return field.name().orElseThrow(() -> new AssertionError("AbiV1.HEADER has an unnamed member: " + field));
    }

    private static String probeSource() {
        StringBuilder c = new StringBuilder();
        c.append("""
                #include <inttypes.h>
                #include <stdio.h>
                #include <string.h>
                #include "tabguard.h"

                #define TYPE_NAME(x) _Generic((x), uint8_t: "u8", uint16_t: "u16", uint32_t: "u32", uint64_t: "u64", \\
                        int8_t: "i8", int16_t: "i16", int32_t: "i32", int64_t: "i64", default: "other")

                static struct tabguard_header_v1 probe;
                static _Alignas(8) unsigned char buf[TABGUARD_MAX_TABLE_SIZE];
                static unsigned char copy[TABGUARD_MAX_TABLE_SIZE];

                /* CRC32C (Castagnoli, reflected 0x82F63B78), as a C consumer without the key would check it. */
                static uint32_t crc32c(const unsigned char *p, size_t n) {
                    uint32_t crc = 0xFFFFFFFFu;
                    for (size_t i = 0; i < n; i++) {
                        crc ^= p[i];
                        for (int k = 0; k < 8; k++) {
                            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
                        }
                    }
                    return ~crc;
                }

                int main(int argc, char **argv) {
                    if (argc != 2) {
                        return 2;
                    }
                    printf("const sizeof %zu\\n", sizeof(struct tabguard_header_v1));
                    printf("const alignof %zu\\n", _Alignof(struct tabguard_header_v1));
                    printf("const HEADER_SIZE %d\\n", TABGUARD_HEADER_SIZE);
                    printf("const MAGIC %llu\\n", (unsigned long long) TABGUARD_MAGIC);
                    printf("const ABI_VERSION %d\\n", TABGUARD_ABI_VERSION);
                    printf("const MAX_TABLE_SIZE %lld\\n", (long long) TABGUARD_MAX_TABLE_SIZE);
                    printf("const SIGNATURE_SIZE %d\\n", TABGUARD_SIGNATURE_SIZE);
                    printf("const RESERVED1_SIZE %d\\n", TABGUARD_RESERVED1_SIZE);
                """);
        for (MemoryLayout field : javaFields()) {
            String n = fieldName(field);
            if (field instanceof SequenceLayout) {
                c.append("    printf(\"field %s %zu %zu %s %zu\\n\", \"").append(n).append("\", offsetof(struct tabguard_header_v1, ")
                        .append(n).append("), sizeof(probe.").append(n).append("), TYPE_NAME(probe.").append(n)
                        .append("[0]), sizeof(probe.").append(n).append(") / sizeof(probe.").append(n).append("[0]));\n");
            } else {
                c.append("    printf(\"field %s %zu %zu %s 1\\n\", \"").append(n).append("\", offsetof(struct tabguard_header_v1, ")
                        .append(n).append("), sizeof(probe.").append(n).append("), TYPE_NAME(probe.").append(n).append("));\n");
            }
        }
        for (Violation v : Violation.values()) {
            c.append("    printf(\"violation %s %d\\n\", \"").append(v.name()).append("\", (int) TABGUARD_V_").append(v.name()).append(");\n");
        }
        c.append("""
                    FILE *f = fopen(argv[1], "rb");
                    if (f == NULL) {
                        return 3;
                    }
                    size_t n = fread(buf, 1, sizeof buf, f);
                    fclose(f);
                    const void *payload = buf + TABGUARD_HEADER_SIZE;
                    const struct tabguard_header_v1 *h = tabguard_header_of(payload);
                    printf("table bytes %zu\\n", n);
                    printf("table header_of_delta %td\\n", (const unsigned char *) h - buf);
                """);
        for (MemoryLayout field : javaFields()) {
            if (field instanceof ValueLayout) {
                String n = fieldName(field);
                c.append("    printf(\"table ").append(n).append(" %llu\\n\", (unsigned long long) h->").append(n).append(");\n");
            }
        }
        c.append("""
                    memcpy(copy, buf, n);
                    struct tabguard_header_v1 zeroed;
                    memcpy(&zeroed, copy, sizeof zeroed);
                    zeroed.checksum = 0;
                    memset(zeroed.signature, 0, sizeof zeroed.signature);
                    memcpy(copy, &zeroed, sizeof zeroed);
                    printf("table crc32c %llu\\n", (unsigned long long) crc32c(copy, h->table_size));
                    uint64_t first;
                    memcpy(&first, payload, sizeof first);
                    printf("table payload0 %llu\\n", (unsigned long long) first);
                """);
        c.append("    printf(\"check layout_right %d\\n\", tabguard_check_layout(payload, ").append(Long.toUnsignedString(schema.layoutId(1)))
                .append("ULL));\n");
        c.append("    printf(\"check layout_of_minor0 %d\\n\", tabguard_check_layout(payload, ").append(Long.toUnsignedString(schema.layoutId(0)))
                .append("ULL));\n");
        c.append("""
                    printf("check layout_null %d\\n", tabguard_check_layout(NULL, 0));
                    return 0;
                }
                """);
        return c.toString();
    }

    @TestFactory
    Stream<DynamicTest> everyJavaFieldHasACTwinOfTheSameOffsetSizeAndUnsignedFixedWidthType() {
        return javaFields().stream().map(field -> dynamicTest(fieldName(field), () -> {
            String n = fieldName(field);
            String[] words = line("field", n);
            long offset = AbiV1.HEADER.byteOffset(PathElement.groupElement(n));
            long elementSize = field instanceof SequenceLayout s ? s.elementLayout().byteSize() : field.byteSize();
            long count = field instanceof SequenceLayout s ? s.elementCount() : 1;
            assertAll(
                    () -> assertEquals(offset, Long.parseLong(words[2]), "offsetof " + n),
                    () -> assertEquals(field.byteSize(), Long.parseLong(words[3]), "sizeof " + n),
                    () -> assertEquals("u" + 8 * elementSize, words[4], "C type of " + n + " (fixed-width, unsigned)"),
                    () -> assertEquals(count, Long.parseLong(words[5]), "element count of " + n));
        }));
    }

    @Test
    void theHeaderDeclaresExactlyTheJavaFieldsInTheJavaOrder() throws IOException {
        String text = Files.readString(CCompiler.header());
        Matcher body = Pattern.compile("struct tabguard_header_v1 \\{(.*?)\\};", Pattern.DOTALL).matcher(text);
        assertEquals(true, body.find(), "struct tabguard_header_v1 { ... }; not found in tabguard.h");
        Matcher decl = Pattern.compile("^\\s*u?int(?:8|16|32|64)_t\\s+(\\w+)\\s*(?:\\[[^]]*])?\\s*;", Pattern.MULTILINE)
                .matcher(body.group(1));
        List<String> cFields = new ArrayList<>();
        while (decl.find()) {
            cFields.add(decl.group(1));
        }
        assertEquals(javaFields().stream().map(CHeaderMirrorTest::fieldName).toList(), cFields);
    }

    @Test
    void constantsMatch() {
        assertAll(
                () -> assertEquals(AbiV1.HEADER_SIZE, number("const", "sizeof", 2), "sizeof(struct tabguard_header_v1)"),
                () -> assertEquals(AbiV1.HEADER.byteAlignment(), number("const", "alignof", 2), "_Alignof(struct tabguard_header_v1)"),
                () -> assertEquals(AbiV1.HEADER_SIZE, number("const", "HEADER_SIZE", 2)),
                () -> assertEquals(AbiV1.MAGIC, number("const", "MAGIC", 2)),
                () -> assertEquals(AbiV1.ABI_VERSION, number("const", "ABI_VERSION", 2)),
                () -> assertEquals(AbiV1.MAX_TABLE_SIZE, number("const", "MAX_TABLE_SIZE", 2)),
                () -> assertEquals(AbiV1.SIGNATURE_SIZE, number("const", "SIGNATURE_SIZE", 2)),
                () -> assertEquals(AbiV1.RESERVED1_SIZE, number("const", "RESERVED1_SIZE", 2)));
    }

    @TestFactory
    Stream<DynamicTest> everyViolationHasTheSameCodeInC() {
        return Arrays.stream(Violation.values()).map(v -> dynamicTest(v.name(),
                () -> assertEquals(v.code(), number("violation", v.name(), 2), "TABGUARD_V_" + v.name())));
    }

    @Test
    void theCEnumNamesNoViolationJavaLacks() throws IOException {
        Matcher m = Pattern.compile("\\bTABGUARD_V_(\\w+)\\s*=\\s*(\\d+)").matcher(Files.readString(CCompiler.header()));
        Map<String, Integer> c = new LinkedHashMap<>();
        while (m.find()) {
            c.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        Map<String, Integer> java = new LinkedHashMap<>();
        for (Violation v : Violation.values()) {
            java.put(v.name(), v.code());
        }
        assertEquals(java, c);
    }

    @Test
    void cReadsATableStampedByJavaThroughTabguardHeaderOf() {
        MemorySegment t = MemorySegment.ofArray(table);
        assertAll(
                () -> assertEquals(table.length, number("table", "bytes", 2)),
                () -> assertEquals(0, Long.parseLong(line("table", "header_of_delta")[2]), "tabguard_header_of(payload) == payload - 128"),
                () -> assertEquals(AbiV1.MAGIC, number("table", "magic", 2)),
                () -> assertEquals(AbiV1.ABI_VERSION, number("table", "abi_version", 2)),
                () -> assertEquals(AbiV1.HEADER_SIZE, number("table", "header_size", 2)),
                () -> assertEquals(0, number("table", "flags", 2)),
                () -> assertEquals(table.length, number("table", "table_size", 2)),
                () -> assertEquals(schema.payloadSize(1), number("table", "payload_size", 2)),
                () -> assertEquals(2, number("table", "slot_count", 2)),
                () -> assertEquals(4, number("table", "schema_major", 2)),
                () -> assertEquals(1, number("table", "schema_minor", 2)),
                () -> assertEquals(schema.id(), number("table", "schema_id", 2)),
                () -> assertEquals(0xFEDC_BA98_7654_3210L, number("table", "serial", 2)),
                () -> assertEquals(0x0123_4567_89AB_CDEFL, number("table", "key_epoch", 2)),
                () -> assertEquals(Integer.toUnsignedLong(t.get(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM)), number("table", "checksum", 2)),
                () -> assertEquals(0, number("table", "reserved0", 2)),
                () -> assertEquals(schema.layoutId(1), number("table", "layout_id", 2), "layout_id: the members at minor 1"),
                () -> assertEquals(number("table", "checksum", 2), number("table", "crc32c", 2),
                        "C code without the key recomputes the checksum the Java stamper wrote"),
                () -> assertEquals(0x7f00_1234_5678L, number("table", "payload0", 2), "the payload starts right after the header"));
    }

    @Test
    void tabguardCheckLayoutAcceptsTheTablesOwnLayoutIdOnly() {
        assertAll(
                () -> assertEquals(0, Long.parseLong(line("check", "layout_right")[2]), "the layout id of the table's minor"),
                () -> assertEquals(Violation.LAYOUT_MISMATCH.code(), Long.parseLong(line("check", "layout_of_minor0")[2]),
                        "minor 0's layout id is not minor 1's"),
                () -> assertEquals(Violation.UNKNOWN_TABLE.code(), Long.parseLong(line("check", "layout_null")[2])));
    }

    @Test
    void theHeaderCompilesAsCpp(@TempDir Path dir) {
        assertTrue(CCompiler.available("g++"), "g++ is needed to prove the header compiles as C++ (.ci/run installs it)");
        String source = """
                #include "tabguard.h"
                #include <cstddef>
                static_assert(sizeof(tabguard_header_v1) == TABGUARD_HEADER_SIZE, "size");
                static_assert(offsetof(tabguard_header_v1, signature) == 64, "signature");
                int main() {
                    alignas(8) static const unsigned char table[TABGUARD_HEADER_SIZE + 8] = {0};
                    const tabguard_header_v1 *h = tabguard_header_of(table + TABGUARD_HEADER_SIZE);
                    tabguard_violation v = TABGUARD_V_SIGNATURE;
                    return (static_cast<const void *>(h) == static_cast<const void *>(table) && v == 15) ? 0 : 1;
                }
                """;
        Path exe = CCompiler.compile(dir, "g++", "mirror.cpp", source, List.of("-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"));
        CCompiler.run(List.of(exe.toString()), dir, "running the C++ probe");
    }
}
