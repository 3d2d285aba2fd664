package io.tabguard.testkit;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.CheckMode;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;
import io.tabguard.registry.TableStatus;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The fuzz targets' registry and its tables, and the oracle: which (bytes, caller's schema) pairs and
 * which (pointer, length, caller's schema) triples must be accepted, written down from the design, not
 * asked of the code under test. A fuzz run is millions of calls, so events are counted, not kept.
 */
final class FuzzWorld implements AutoCloseable {
    /** An audit sink that counts and forgets (an in-memory list would grow for the whole campaign). */
    static final class CountingSink implements AuditSink {
        final AtomicLong events = new AtomicLong();

        @Override
        public void record(SecurityEvent event) {
            events.incrementAndGet();
        }

        @Override
        public void close() {
        }
    }

    static final Schema CALC = Fixtures.CALC;
    static final Schema VERSIONED = BuilderRefusalTest.VERSIONED;
    static final Schema VERSIONED_OLD_CALLER = VERSIONED.atMinor(0);
    /** The schemas a caller may expect, in a fixed order the fuzzer indexes. */
    static final List<Schema> CALLERS = List.of(CALC, VERSIONED, VERSIONED_OLD_CALLER);

    final CountingSink audit = new CountingSink();
    final Registry registry;
    final Fixtures.Targets targets = new Fixtures.Targets();
    final CallbackTable calc;         // open, CALC minor 0
    final CallbackTable v0;           // open, VERSIONED minor 0
    final CallbackTable v1zero;       // open, VERSIONED minor 1, "extra" unbound (null): an old caller accepts it
    final CallbackTable v1set;        // open, VERSIONED minor 1, "extra" bound: an old caller must refuse it
    final CallbackTable revoked;      // CALC, revoked
    final CallbackTable closed;       // CALC, closed
    /** Every table, in a fixed order the fuzzer indexes. */
    final List<CallbackTable> tables;
    /** For each caller's schema, the open tables it must accept (the version rule of the design, by hand). */
    final Map<Schema, List<CallbackTable>> acceptedBy;

    FuzzWorld(CheckMode mode) {
        // writable: adoptPointer plays a native writer on these tables (a read-only one would fault)
        registry = Registry.open(RegistryOptions.builder().auditSink(audit).checkMode(mode).writableTables().build());
        calc = Fixtures.calcTable(registry, targets);
        v0 = registry.builder(VERSIONED).minor(0).bind("inc", targets.incHandle()).data("version", 3).build();
        v1zero = registry.builder(VERSIONED).bind("inc", targets.incHandle()).build();
        v1set = registry.builder(VERSIONED).bind("inc", targets.incHandle()).bind("extra", targets.dblHandle()).build();
        revoked = Fixtures.calcTable(registry, targets);
        registry.revoke(revoked);
        closed = Fixtures.calcTable(registry, targets);
        closed.close();
        tables = List.of(calc, v0, v1zero, v1set, revoked, closed);
        acceptedBy = Map.of(
                CALC, List.of(calc),
                VERSIONED, List.of(v0, v1zero, v1set),
                VERSIONED_OLD_CALLER, List.of(v0, v1zero));
    }

    /** The table {@code registry.adopt(bytes, caller)} must return, or null if it must refuse. */
    CallbackTable expectedAdoption(byte[] bytes, Schema caller) {
        for (CallbackTable t : acceptedBy.get(caller)) {
            if (t.status() == TableStatus.OPEN && Arrays.equals(bytes, t.verifiedBytes())) {
                return t;
            }
        }
        return null;
    }

    /** The table {@code registry.adopt(pointer, length, caller)} must return, or null if it must refuse. */
    CallbackTable expectedAdoption(MemorySegment pointer, long length, Schema caller) {
        for (CallbackTable t : acceptedBy.get(caller)) {
            if (t.status() == TableStatus.OPEN && pointer.address() == t.payload().address()
                    && length == t.payload().byteSize()
                    && Arrays.equals(NativeTamper.liveBytes(t), t.verifiedBytes())) {
                return t;
            }
        }
        return null;
    }

    /**
     * Asserts that {@code adopted} is {@code expected} as a table of {@code caller}: the very table when it
     * was built with {@code caller}, else a view of it (same serial and payload) whose schema is {@code caller}.
     */
    static void assertAdoptedAs(CallbackTable expected, CallbackTable adopted, Schema caller, java.util.function.Supplier<String> message) {
        org.junit.jupiter.api.Assertions.assertNotNull(expected, message);
        if (expected.schema().equals(caller)) {
            org.junit.jupiter.api.Assertions.assertSame(expected, adopted, message);
        } else {
            org.junit.jupiter.api.Assertions.assertAll(
                    () -> org.junit.jupiter.api.Assertions.assertEquals(expected.serial(), adopted.serial(), message),
                    () -> org.junit.jupiter.api.Assertions.assertEquals(expected.payload().address(), adopted.payload().address(), message),
                    () -> org.junit.jupiter.api.Assertions.assertEquals(caller, adopted.schema(), message));
        }
    }

    /** True while every table is in the state it was made in and every live table equals its snapshot. */
    boolean intact() {
        for (CallbackTable t : tables) {
            TableStatus expected = t == revoked ? TableStatus.REVOKED : t == closed ? TableStatus.CLOSED : TableStatus.OPEN;
            if (t.status() != expected || !Arrays.equals(NativeTamper.liveBytes(t), t.verifiedBytes())) {
                return false;
            }
        }
        return true;
    }

    /** Sets the CRC32C of {@code bytes} (if it has a header) to match, as any attacker can. */
    static void fixChecksum(byte[] bytes) {
        if (bytes.length >= AbiV1.HEADER_SIZE) {
            MemorySegment.ofArray(bytes).set(AbiV1.LE_INT, AbiV1.OFFSET_CHECKSUM, NativeTamper.checksum(bytes));
        }
    }

    @Override
    public void close() {
        registry.close();
    }
}
