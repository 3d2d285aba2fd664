package io.tabguard.testkit;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** Schemas, counting targets, an in-memory audit sink and "native caller" helpers shared by the end-to-end tests. */
final class Fixtures {
    /** Deletes {@code dir} and everything below it (temporary folders of the fuzz targets). */
    static void deleteTree(java.nio.file.Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(dir)) {
            for (java.nio.file.Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.deleteIfExists(p);
            }
        }
    }

    private Fixtures() {}

    static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    /** What every slot of {@link #CALC} returns to a refused caller; no honest call in these tests returns it. */
    static final int REFUSED = -1;

    /** Runs of {@link #defaultNegate}; shared by every table, so tests compare before and after. */
    static final AtomicLong DEFAULT_NEGATE_CALLS = new AtomicLong();

    static int defaultNegate(int x) {
        DEFAULT_NEGATE_CALLS.incrementAndGet();
        return -x;
    }

    static final MethodHandle DEFAULT_NEGATE = staticHandle("defaultNegate", MethodType.methodType(int.class, int.class));

    /**
     * {@code struct calc { int (*inc)(int); int (*dbl)(int); int (*neg)(int); int version; }}: two
     * required slots, one optional slot with a default, one data member. 32-byte payload (4 bytes of
     * tail padding), 160-byte table.
     */
    static final Schema CALC = Schema.builder("tabguard.test.calc", 1)
            .slot("inc", INT_INT, o -> o.refusal(REFUSED))
            .slot("dbl", INT_INT, o -> o.refusal(REFUSED))
            .slot("neg", INT_INT, o -> o.optional(DEFAULT_NEGATE).refusal(REFUSED))
            .data("version", JAVA_INT)
            .build();

    /** Java targets that count their runs. */
    static final class Targets {
        final AtomicLong inc = new AtomicLong();
        final AtomicLong dbl = new AtomicLong();

        int inc(int x) {
            inc.incrementAndGet();
            return x + 1;
        }

        int dbl(int x) {
            dbl.incrementAndGet();
            return x * 2;
        }

        long total() {
            return inc.get() + dbl.get();
        }

        MethodHandle incHandle() {
            return virtualHandle(this, "inc");
        }

        MethodHandle dblHandle() {
            return virtualHandle(this, "dbl");
        }
    }

    static CallbackTable calcTable(Registry registry, Targets targets) {
        return registry.builder(CALC)
                .bind("inc", targets.incHandle())
                .bind("dbl", targets.dblHandle())
                .data("version", 7)
                .build();
    }

    /**
     * {@link #calcTable} built writable: the tests that play a native writer with {@link NativeTamper}
     * need one (a write into a read-only table stops the process; ReadOnlyTableForkTest shows that).
     */
    static CallbackTable writableCalcTable(Registry registry, Targets targets) {
        return registry.builder(CALC)
                .writable()
                .bind("inc", targets.incHandle())
                .bind("dbl", targets.dblHandle())
                .data("version", 7)
                .build();
    }

    /**
     * Collects every event in memory, in arrival order. A lock-free queue rather than a
     * CopyOnWriteArrayList: the concurrency tests flood it with refusals, and copying on every append
     * would make them quadratic.
     */
    static final class Audit implements AuditSink {
        final Queue<SecurityEvent> events = new ConcurrentLinkedQueue<>();

        @Override
        public void record(SecurityEvent event) {
            events.add(event);
        }

        @Override
        public void close() {
        }

        List<SecurityEvent> of(EventType type) {
            return events.stream().filter(e -> e.type() == type).toList();
        }

        List<SecurityEvent> of(CallbackTable table, EventType type) {
            return events.stream().filter(e -> e.type() == type && e.tableSerial() == table.serial()).toList();
        }

        /** The violations named by events of {@code type} about {@code table}, in order. */
        List<String> violations(CallbackTable table, EventType type) {
            return of(table, type).stream().map(SecurityEvent::violation).toList();
        }

        /** Records (single events and summaries) of {@code type} about {@code table}. */
        long count(CallbackTable table, EventType type) {
            return of(table, type).size();
        }

        /** The occurrences the records of {@code type} about {@code table} stand for: the sum of their counts. */
        long calls(CallbackTable table, EventType type) {
            return of(table, type).stream().mapToLong(SecurityEvent::count).sum();
        }

        /** {@link #calls} by violation name, in order of first appearance. */
        java.util.Map<String, Long> callsByViolation(CallbackTable table, EventType type) {
            java.util.Map<String, Long> m = new java.util.LinkedHashMap<>();
            of(table, type).forEach(e -> m.merge(String.valueOf(e.violation()), e.count(), Long::sum));
            return m;
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            events.forEach(e -> sb.append("\n  ").append(e.type()).append(" serial=").append(e.tableSerial())
                    .append(" violation=").append(e.violation()).append(" offset=").append(e.offset())
                    .append(" detail=").append(e.detail()).append(" count=").append(e.count()));
            return sb.toString();
        }
    }

    static Registry open(Audit audit) {
        return open(audit, b -> {});
    }

    /** A registry whose tables are all writable, for test classes that tamper with live tables throughout. */
    static Registry openWritable(Audit audit) {
        return open(audit, RegistryOptions.Builder::writableTables);
    }

    static Registry open(Audit audit, Consumer<RegistryOptions.Builder> configure) {
        RegistryOptions.Builder b = RegistryOptions.builder().auditSink(audit);
        configure.accept(b);
        return Registry.open(b.build());
    }

    /** Native code calling {@code slot} of {@code table}: a raw downcall into the pointer the table handed out. */
    static MethodHandle nativeCaller(CallbackTable table, String slot) {
        return NativeTamper.callPointer(table.function(slot), INT_INT);
    }

    static int callNative(CallbackTable table, String slot, int argument) throws Throwable {
        return (int) nativeCaller(table, slot).invokeExact(argument);
    }

    static int callNative(MemorySegment function, int argument) throws Throwable {
        return (int) NativeTamper.callPointer(function, INT_INT).invokeExact(argument);
    }

    /**
     * The violation the full checks name for a single-byte change at {@code offset} of a {@link #CALC}
     * table built at its only minor, following the design's order (structure, version, checksum,
     * signature, ...). Within the structure check: magic, abi_version, header_size, flags, reserved, then
     * the sizes. A changed slot_count still fits the 32-byte payload's 4 pointers when it is 2, so the
     * version check names it; a changed minor (table newer than the caller) passes the zero rule, since
     * the caller's tail padding is zero, and only the checksum catches it.
     */
    static Violation expectedViolationForChangedByte(long offset) {
        if (offset < AbiV1.OFFSET_ABI_VERSION) return Violation.BAD_MAGIC;
        if (offset < AbiV1.OFFSET_HEADER_SIZE) return Violation.ABI_VERSION;
        if (offset < AbiV1.OFFSET_FLAGS) return Violation.HEADER_SIZE;
        if (offset < AbiV1.OFFSET_TABLE_SIZE) return Violation.FLAGS;
        if (offset < AbiV1.OFFSET_SLOT_COUNT) return Violation.TABLE_SIZE;          // table_size and payload_size
        if (offset < AbiV1.OFFSET_SCHEMA_MAJOR) return Violation.SLOT_COUNT;
        if (offset < AbiV1.OFFSET_SCHEMA_MINOR) return Violation.SCHEMA_MAJOR;
        if (offset < AbiV1.OFFSET_SCHEMA_ID) return Violation.CHECKSUM;            // schema_minor
        if (offset < AbiV1.OFFSET_SERIAL) return Violation.SCHEMA_ID;
        if (offset < AbiV1.OFFSET_RESERVED0) return Violation.CHECKSUM;            // serial, key_epoch, checksum
        if (offset < AbiV1.OFFSET_SIGNATURE) return Violation.RESERVED;
        if (offset < AbiV1.OFFSET_RESERVED1) return Violation.SIGNATURE;
        if (offset < AbiV1.OFFSET_LAYOUT_ID) return Violation.RESERVED;
        if (offset < AbiV1.HEADER_SIZE) return Violation.LAYOUT_MISMATCH;         // checked with the version, before the CRC
        return Violation.CHECKSUM;                                                   // payload: slots, data, padding
    }

    static MethodHandle staticHandle(String name, MethodType type) {
        try {
            return MethodHandles.lookup().findStatic(Fixtures.class, name, type);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    static MethodHandle virtualHandle(Object receiver, String name) {
        try {
            return MethodHandles.lookup().findVirtual(receiver.getClass(), name, MethodType.methodType(int.class, int.class))
                    .bindTo(receiver);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
