package io.tabguard.testkit;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.CheckMode;
import org.junit.jupiter.api.AfterAll;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fuzz targets for the parser and verifier, through the registry's import: arbitrary bytes, a valid
 * table mutated by fuzzer-chosen edits, and a native pointer with a length.
 *
 * <p>The oracle: {@code adopt} returns a table if and only if the bytes equal the verified bytes of an
 * open table of this registry, made for a schema the caller's schema accepts under the version rule
 * ({@link FuzzWorld#acceptedBy}); otherwise it throws {@link TableRejectedException}. Any other
 * exception, a false accept, a false refusal, or a crash is a finding. Regression mode (the default)
 * runs the committed seeds in {@code src/test/resources/io/tabguard/testkit/TableImportFuzzTestInputs/};
 * {@code JAZZER_FUZZ=1} (see {@code scripts/fuzz.sh}) fuzzes.
 */
class TableImportFuzzTest {
    private static FuzzWorld world;

    private static synchronized FuzzWorld world() {
        if (world == null) {
            world = new FuzzWorld(CheckMode.FAST);
        }
        return world;
    }

    @AfterAll
    static synchronized void closeWorld() {
        if (world != null) {
            world.close();
            world = null;
        }
    }

    /**
     * Arbitrary bytes claimed to be a table, for each caller's schema. The last byte of the input (as
     * FuzzedDataProvider reads booleans from the end) says whether to rewrite the CRC32C first, as any
     * attacker can, so the fuzzer reaches the signature, state and slot checks too.
     */
    @FuzzTest(maxDuration = "2m")
    void adoptArbitraryBytes(FuzzedDataProvider data) {
        boolean fixChecksum = data.consumeBoolean();
        byte[] bytes = data.consumeRemainingAsBytes();
        if (fixChecksum) {
            FuzzWorld.fixChecksum(bytes);
        }
        FuzzWorld w = world();
        for (Schema caller : FuzzWorld.CALLERS) {
            checkAdoption(w, bytes, caller);
        }
    }

    /** One of the world's tables (open, revoked, closed; three schemas and minors) edited by a fuzzer-chosen script. */
    @FuzzTest(maxDuration = "2m")
    void adoptMutatedTable(FuzzedDataProvider data) {
        FuzzWorld w = world();
        CallbackTable base = w.tables.get(data.consumeInt(0, w.tables.size() - 1));
        byte[] mutated = TableMutator.mutate(base.schema(), base.verifiedBytes(), data.consumeRemainingAsBytes(), false);
        for (Schema caller : FuzzWorld.CALLERS) {
            checkAdoption(w, mutated, caller);
        }
    }

    /**
     * A pointer and length handed back by native code: the payload address of one of the tables, its
     * header address, an address near it, or any address at all (which must be refused without being
     * read: a read would crash the fuzzer); the right length or another. Optionally the table's live
     * memory is edited first (and restored after).
     */
    @FuzzTest(maxDuration = "2m")
    void adoptPointer(FuzzedDataProvider data) {
        FuzzWorld w = world();
        CallbackTable t = w.tables.get(data.consumeInt(0, w.tables.size() - 1));
        Schema caller = FuzzWorld.CALLERS.get(data.consumeInt(0, FuzzWorld.CALLERS.size() - 1));
        long payload = t.payload().address();
        long address = switch (data.consumeInt(0, 4)) {
            case 0 -> payload;
            case 1 -> payload - AbiV1.HEADER_SIZE;
            case 2 -> payload + data.consumeInt(-512, 512);
            case 3 -> 0;
            default -> data.consumeLong();
        };
        long size = t.payload().byteSize();
        long length = switch (data.consumeInt(0, 3)) {
            case 0 -> size;
            case 1 -> size + data.consumeInt(-64, 64);
            case 2 -> data.consumeLong();
            default -> 0;
        };
        boolean tamper = data.consumeBoolean();
        byte[] honest = t.verifiedBytes();
        if (tamper) {
            NativeTamper.writeBytes(t, TableMutator.mutate(t.schema(), honest, data.consumeRemainingAsBytes(), true));
        }
        MemorySegment pointer = MemorySegment.ofAddress(address);
        CallbackTable expected = w.expectedAdoption(pointer, length, caller);
        try {
            CallbackTable adopted = w.registry.adopt(pointer, length, caller);
            FuzzWorld.assertAdoptedAs(expected, adopted, caller, () -> "accepted 0x" + Long.toHexString(address) + "+" + length + " as " + caller);
        } catch (TableRejectedException refused) {
            assertNull(expected, () -> "refused the payload pointer of " + expected + ": " + refused);
        } finally {
            if (tamper) {
                NativeTamper.writeBytes(t, honest);
            }
        }
        assertTrue(w.intact(), "an import changed a table's state or memory");
    }

    private static void checkAdoption(FuzzWorld w, byte[] bytes, Schema caller) {
        CallbackTable expected = w.expectedAdoption(bytes, caller);
        try {
            CallbackTable adopted = w.registry.adopt(bytes, caller);
            FuzzWorld.assertAdoptedAs(expected, adopted, caller, () -> "accepted " + bytes.length + " bytes as " + caller + " that no open table has");
        } catch (TableRejectedException refused) {
            assertNull(expected, () -> "refused the verified bytes of " + expected + " as " + caller + ": " + refused);
        }
    }
}
