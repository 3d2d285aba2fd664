package io.tabguard.testkit;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.CheckMode;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.AfterAll;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.tabguard.testkit.Fixtures.REFUSED;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A valid table, its live memory edited by a fuzzer-chosen script ({@link TableMutator}), then one of
 * its slots called from "native" code through the pointer the builder handed out. The oracle: the
 * target runs and its result comes back if and only if the live bytes equal the verified bytes;
 * otherwise the caller gets the refusal value, the target does not run, and the table is quarantined.
 * Both check modes. Each execution builds a fresh table; the registries are replaced every
 * {@value #TABLES_PER_REGISTRY} tables so that a long campaign does not pile up upcall stubs.
 */
class DispatchFuzzTest {
    private static final int TABLES_PER_REGISTRY = 256;
    private static final String[] SLOTS = {"inc", "dbl", "neg"};
    private static final FuzzWorld.CountingSink AUDIT = new FuzzWorld.CountingSink();
    private static final Registry[] registries = new Registry[CheckMode.values().length];
    private static final int[] built = new int[CheckMode.values().length];

    private static synchronized Registry registry(CheckMode mode) {
        int i = mode.ordinal();
        if (registries[i] == null || built[i] >= TABLES_PER_REGISTRY) {
            if (registries[i] != null) {
                registries[i].close();
            }
            registries[i] = Registry.open(RegistryOptions.builder().auditSink(AUDIT).checkMode(mode).writableTables().build());
            built[i] = 0;
        }
        built[i]++;
        return registries[i];
    }

    @AfterAll
    static synchronized void closeRegistries() {
        for (int i = 0; i < registries.length; i++) {
            if (registries[i] != null) {
                registries[i].close();
                registries[i] = null;
            }
        }
    }

    @FuzzTest(maxDuration = "2m")
    void dispatchMutatedTable(FuzzedDataProvider data) throws Throwable {
        CheckMode mode = data.consumeBoolean() ? CheckMode.FULL : CheckMode.FAST;
        String slot = SLOTS[data.consumeInt(0, SLOTS.length - 1)];
        int argument = data.consumeInt();
        byte[] script = data.consumeRemainingAsBytes();

        Fixtures.Targets targets = new Fixtures.Targets();
        CallbackTable table = Fixtures.calcTable(registry(mode), targets);
        byte[] valid = table.verifiedBytes();
        MemorySegment function = table.function(slot);   // what native code was handed, before any edit
        byte[] mutated = TableMutator.mutate(Fixtures.CALC, valid, script, true);
        NativeTamper.writeBytes(table, mutated);

        long defaultRunsBefore = Fixtures.DEFAULT_NEGATE_CALLS.get();
        int result = Fixtures.callNative(function, argument);
        long runs = switch (slot) {
            case "inc" -> targets.inc.get();
            case "dbl" -> targets.dbl.get();
            default -> Fixtures.DEFAULT_NEGATE_CALLS.get() - defaultRunsBefore;
        };
        if (Arrays.equals(mutated, valid)) {
            int honest = switch (slot) {
                case "inc" -> argument + 1;
                case "dbl" -> argument * 2;
                default -> -argument;
            };
            assertEquals(honest, result, "an untouched table answered wrongly");
            assertEquals(1, runs, "an untouched table was refused");
            assertEquals(TableStatus.OPEN, table.status());
        } else {
            assertEquals(0, runs, "the target of a tampered table ran");
            assertEquals(REFUSED, result, "a tampered table did not return the refusal value");
            assertEquals(TableStatus.QUARANTINED, table.status());
        }
        if (targets.total() != (slot.equals("neg") ? 0 : runs)) {
            fail("a slot other than " + slot + " ran");
        }
        table.close();
    }
}
