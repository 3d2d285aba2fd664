package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Key rotation rewrites every live table from its verified snapshot. A table tampered with since the
 * last dispatch must not come out of that blessed and open: the tamper is named and the table quarantined.
 */
class RotationKeepsTamperEvidenceTest {

    @Test
    void aTableTamperedBeforeARotationIsQuarantinedNotSilentlyRestored() throws Throwable {
        Fixtures.Audit audit = new Fixtures.Audit();
        try (Registry registry = Fixtures.openWritable(audit)) {
            Fixtures.Targets targets = new Fixtures.Targets();
            CallbackTable tampered = Fixtures.calcTable(registry, targets);
            CallbackTable untouched = Fixtures.calcTable(registry, targets);
            MemorySegment planted = untouched.function("dbl");
            NativeTamper.writeSlot(tampered, "inc", planted);
            NativeTamper.fixChecksum(tampered);

            registry.rotateKey();

            assertEquals(TableStatus.QUARANTINED, tampered.status());
            assertEquals(1, audit.count(tampered, EventType.TABLE_QUARANTINED), audit.toString());
            assertEquals("SIGNATURE", audit.violations(tampered, EventType.TABLE_QUARANTINED).getFirst());
            long incCalls = targets.inc.get();
            Fixtures.callNative(tampered, "inc", 41);
            assertEquals(incCalls, targets.inc.get(), "a quarantined table runs no target");
            // the valid twin: an untouched table is re-signed and keeps working
            assertEquals(TableStatus.OPEN, untouched.status());
            assertEquals(0, audit.count(untouched, EventType.TABLE_QUARANTINED));
        }
    }
}
