package io.tabguard.testkit;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tabguard.audit.AuditSinks;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.FunctionDescriptor;
import java.util.Arrays;
import java.util.function.IntBinaryOperator;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.*;

/** The test-kit example of docs/testing.md, verbatim: an embedder fuzzing its own schema's tables in a few lines. */
class TestKitExampleTest {
    static final Schema HOOKS = Schema.builder("my.hooks", 1)
            .slot("combine", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), s -> s.refusal(-1))
            .slot("release", FunctionDescriptor.ofVoid(JAVA_INT), s -> s.optional())
            .build();
    static Registry registry;
    static CallbackTable table;

    @BeforeAll
    static void build() {
        registry = Registry.open(RegistryOptions.builder().auditSink(AuditSinks.jfrOnly()).build());
        table = registry.builder(HOOKS).bind("combine", IntBinaryOperator.class, Integer::sum).build();
    }

    @AfterAll
    static void close() {
        registry.close();
    }

    static Stream<TableVariant> malformed() {
        return MalformedTables.arguments(table);          // every attack of the catalogue, on this table
    }

    @ParameterizedTest
    @MethodSource("malformed")
    void everyMalformedTwinIsRefused(TableVariant variant) {
        assertThrows(TableRejectedException.class, () -> registry.adopt(variant.bytes(), HOOKS));
    }

    @FuzzTest(maxDuration = "30s")
    void editsAreRefusedUnlessTheyChangeNothing(FuzzedDataProvider data) {
        byte[] valid = table.verifiedBytes();
        byte[] edited = TableMutator.mutate(HOOKS, valid, data.consumeRemainingAsBytes(), false);
        if (Arrays.equals(edited, valid)) {
            assertSame(table, registry.adopt(edited, HOOKS));
        } else {
            assertThrows(TableRejectedException.class, () -> registry.adopt(edited, HOOKS));
        }
    }
}
