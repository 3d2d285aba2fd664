package io.tabguard.registry.internal;

import io.tabguard.audit.EventType;
import io.tabguard.audit.SecurityEvent;
import io.tabguard.ffm.internal.DispatchGate;
import io.tabguard.ffm.internal.GateOwner;
import io.tabguard.ffm.internal.RefusalLedger;
import io.tabguard.ffm.internal.TableState;
import io.tabguard.ffm.internal.ValidatedDowncalls;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.guard.internal.TableStamper;
import io.tabguard.guard.internal.TableVerifier;
import io.tabguard.guard.internal.VerifiedTable;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.TableStatus;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one implementation of {@link CallbackTable}. Constructed only by the registry's builder; its
 * gate does the per-dispatch checks, this class the full checks and the audit trail. Thread-safe.
 */
public final class TableImpl implements CallbackTable, GateOwner {
    /** The table the registry built: itself, or for a view made by {@link #asTableOf}, the table it shows. */
    private final TableImpl built;
    private final RegistryContext registry;
    private final Schema schema;
    private final int minor;
    private final long serial;
    private final MemorySegment table;
    private final DispatchGate gate;
    /** The schema's own list (shared by its tables); what each slot must hold is in the gate's snapshot. */
    private final List<Schema.Slot> slots;
    /** Made on the first {@link #slotHandle}: most tables are only ever called from C. */
    private volatile Map<String, MethodHandle> slotHandles;

    /**
     * What each slot must hold (the entry minted for it, an allow-listed function's thunk, or 0) is what
     * it held when stamped: the gate's verified snapshot, which {@link DispatchGate#seal} sets.
     */
    public TableImpl(RegistryContext registry, Schema schema, int minor, long serial, MemorySegment table,
                     DispatchGate gate) {
        this.registry = registry;
        this.schema = schema;
        this.minor = minor;
        this.serial = serial;
        this.table = table;
        this.gate = gate;
        this.slots = schema.slots(minor);
        this.built = this;
    }

    /** A view of {@code built} as a table of {@code schema} at {@code minor}; the caller checked they agree. */
    private TableImpl(TableImpl built, Schema schema, int minor) {
        this.built = built;
        this.registry = built.registry;
        this.schema = schema;
        this.minor = minor;
        this.serial = built.serial;
        this.table = built.table;
        this.gate = built.gate;
        // Equal members up to this minor: the same slots at the same offsets, so the built table's snapshot says what they hold.
        this.slots = schema.slots(minor);
    }

    /**
     * This table as a table of {@code expected}, whose members up to {@code min(minor, expected.minor())}
     * the caller has checked to equal this table's: itself if its schema equals {@code expected}, else a
     * view sharing memory, gate and state, whose schema is {@code expected}.
     */
    public TableImpl asTableOf(Schema expected) {
        TableImpl b = built;
        if (b.schema.equals(expected)) {
            return b;
        }
        return new TableImpl(b, expected, Math.min(b.minor, expected.minor()));
    }

    /** Whether the registry whose context is {@code registry} built this table (released or not). */
    public boolean builtBy(RegistryContext registry) {
        return this.registry == registry;
    }

    /** The table the registry built (this one, unless this is a view). */
    public TableImpl built() {
        return built;
    }

    /** The schema the registry built the table with. */
    public Schema builtSchema() {
        return built.schema;
    }

    /** The minor the registry built the table at. */
    public int builtMinor() {
        return built.minor;
    }

    @Override
    public Schema schema() {
        return schema;
    }

    @Override
    public int minor() {
        return minor;
    }

    @Override
    public long serial() {
        return serial;
    }

    @Override
    public MemorySegment payload() {
        return table.asSlice(AbiV1.HEADER_SIZE).asReadOnly();   // made per call: a field was 40 B on every table
    }

    public long tableAddress() {
        return table.address();
    }

    public MemorySegment tableMemory() {
        return table;
    }

    public DispatchGate gate() {
        return gate;
    }

    @Override
    public TableStatus status() {
        return switch (gate.state()) {
            case OPEN -> TableStatus.OPEN;
            case REVOKED -> TableStatus.REVOKED;
            case CLOSED -> TableStatus.CLOSED;
            case QUARANTINED -> TableStatus.QUARANTINED;
            case REGISTRY_CLOSED -> TableStatus.REGISTRY_CLOSED;
        };
    }

    @Override
    public MemorySegment function(String slotName) {
        Schema.Slot slot = slot(slotName);
        return MemorySegment.ofAddress(gate.snapshotWord(AbiV1.HEADER_SIZE + slot.offset()));
    }

    @Override
    public MethodHandle slotHandle(String slotName) {
        Map<String, MethodHandle> handles = slotHandles;
        if (handles == null) {
            synchronized (this) {
                handles = slotHandles;
                if (handles == null) {
                    handles = new ConcurrentHashMap<>();
                    slotHandles = handles;
                }
            }
        }
        return handles.computeIfAbsent(slotName, name -> {
            Schema.Slot slot = slot(name);
            return ValidatedDowncalls.through(gate, slots.indexOf(slot), AbiV1.HEADER_SIZE + slot.offset(), slot.descriptor());
        });
    }

    private Schema.Slot slot(String name) {
        for (Schema.Slot s : slots) {
            if (s.name().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("schema " + schema.name() + " minor " + minor + " has no slot " + name);
    }

    @Override
    public byte[] verifiedBytes() {
        return gate.snapshotBytes();
    }

    @Override
    public void close() {
        if (gate.retire(TableState.CLOSED)) {
            flushCounts();   // what was counted while open (e.g. context mismatches) before the close record
            audit(EventType.TABLE_CLOSED, null, -1, null);
        }
    }

    /** Gives back the table's thunks, state cell and slot records (see {@code Registry.release}); audited. */
    public void release() {
        long[] slotPointers = new long[slots.size()];
        for (int i = 0; i < slotPointers.length; i++) {
            slotPointers[i] = gate.snapshotWord(AbiV1.HEADER_SIZE + slots.get(i).offset());   // what was minted
        }
        gate.release(slotPointers);
        audit(EventType.TABLE_RELEASED, null, -1, null);
    }

    /** Revocation, called by the registry. */
    public void revoke() {
        if (gate.retire(TableState.REVOKED)) {
            flushCounts();
            audit(EventType.TABLE_REVOKED, null, -1, null);
        }
    }

    /**
     * Writes the refusals and throws counted since the last summary as one record per reason, with the
     * count and the first and last times. Called by the registry's flusher about once a second, and when
     * the table or the registry closes.
     */
    public void flushCounts() {
        gate.drainCounts((reason, count, first, last) -> {
            boolean threw = reason >= RefusalLedger.TARGET_THREW;
            String violation = threw ? null : Violation.values()[reason].name();
            Class<?> lastThrow = gate.lastThrowClass();
            String detail = reason == RefusalLedger.HANDLER_THREW ? "refusal handlers threw; counted since the last record"
                    : threw ? "targets threw (last: " + (lastThrow == null ? "?" : lastThrow.getName()) + "); counted since the last record"
                    : "refused; counted since the last record";
            registry.audit(SecurityEvent.summary(threw ? EventType.CALLBACK_THREW : EventType.TABLE_REFUSED, serial,
                    schema.name(), schema.id(), violation, -1, detail, count, first, last));
        });
    }

    /**
     * Completes an import: the copy passed checks 2-5 against this table's address; now state and slots,
     * and the copy must be this table's verified snapshot.
     */
    public void acceptImported(VerifiedTable copy) {
        if (built != this) {
            built.acceptImported(copy);
            return;
        }
        TableState state = gate.state();
        if (state != TableState.OPEN) {
            throw new TableRejectedException(state.refusal(), -1);
        }
        checkSlots(copy.bytes());
        long difference = gate.firstDifference(copy.bytes(), gate.snapshotBytes());
        if (difference != -1) {
            throw new TableRejectedException(Violation.SNAPSHOT_MISMATCH, difference);
        }
    }

    /** Re-signs under the registry's current key (rotation); the caller holds the registry's stamping lock. */
    public void resign(long epoch, io.tabguard.guard.internal.SigningKey key) {
        gate.replace(bytes -> TableStamper.resign(bytes, epoch, key, table.address()));
    }

    @Override
    public TableRejectedException fullCheck(byte[] liveBytes) {
        try {
            TableVerifier.verify(MemorySegment.ofArray(liveBytes), table.address(), schema.atMinor(minor), registry.keys());
            checkSlots(liveBytes);
            return null;
        } catch (TableRejectedException refused) {
            return refused;
        } catch (Throwable unexpected) {
            return new TableRejectedException(Violation.SNAPSHOT_MISMATCH, -1, "check failed: " + unexpected.getClass().getName());
        }
    }

    /** Check 7: a required slot is non-null, and each non-null slot holds exactly what was minted for that place. */
    private void checkSlots(byte[] bytes) {
        MemorySegment t = MemorySegment.ofArray(bytes);
        for (int i = 0; i < slots.size(); i++) {
            Schema.Slot s = slots.get(i);
            long offset = AbiV1.HEADER_SIZE + s.offset();
            long pointer = t.get(AbiV1.LE_LONG, offset);
            long expected = gate.snapshotWord(offset);
            if (pointer == 0) {
                if (s.required()) {
                    throw new TableRejectedException(Violation.NULL_REQUIRED_SLOT, offset, "slot " + s.name());
                }
                if (expected != 0) {
                    throw new TableRejectedException(Violation.FOREIGN_SLOT, offset, "slot " + s.name() + " was emptied");
                }
            } else if (pointer != expected) {
                throw new TableRejectedException(Violation.FOREIGN_SLOT, offset, "slot " + s.name());
            }
        }
    }

    @Override
    public void refused(int slot, Violation violation, long offset, String detail) {
        String where = slot >= 0 && slot < slots.size() ? "slot " + slots.get(slot).name() : null;
        audit(EventType.TABLE_REFUSED, violation, offset, detail == null ? where : where + ": " + detail);
    }

    /**
     * Audits the calls C callers made through this table's native entry thunks that were refused since
     * the last time (the thunks only count, on the call path): one TABLE_REFUSED record carrying the
     * count and the state the table is in now.
     *
     * @return the number of refused calls audited
     */
    public long auditNativeRefusals() {
        io.tabguard.ffm.internal.NativeEntry entry = gate.nativeEntry();
        long refused = entry == null ? 0 : entry.drainRefusals();
        long contextRefused = entry == null ? 0 : entry.drainContextRefusals();
        if (contextRefused > 0) {
            java.time.Instant now = java.time.Instant.now();
            registry.audit(SecurityEvent.summary(EventType.TABLE_REFUSED, serial, schema.name(), schema.id(),
                    Violation.CONTEXT_MISMATCH.name(), -1, contextRefused
                            + " native calls refused by entry thunks: context argument is not the table's bound context",
                    contextRefused, now, now));
        }
        if (refused > 0) {
            // One summary record whose count is the refused calls, so a log's counts add up to the refusals
            // (the thunk counts; it keeps no times, so first and last are the time of this drain).
            java.time.Instant now = java.time.Instant.now();
            Violation reason = gate.state().refusal();
            registry.audit(SecurityEvent.summary(EventType.TABLE_REFUSED, serial, schema.name(), schema.id(),
                    reason == null ? null : reason.name(), -1, refused + " native calls refused by entry thunks", refused, now, now));
        }
        return refused + contextRefused;
    }

    @Override
    public void quarantined(Violation violation, long offset) {
        audit(EventType.TABLE_QUARANTINED, violation, offset, null);
    }

    @Override
    public void callbackThrew(int slot, Throwable thrown) {
        // The exception's class only: its message may carry data the callback was handling.
        String where = slot >= 0 && slot < slots.size() ? "slot " + slots.get(slot).name() : "slot ?";
        audit(EventType.CALLBACK_THREW, null, -1, where + " threw " + thrown.getClass().getName());
    }

    @Override
    public void refusalHandlerThrew(int slot, Throwable thrown) {
        String where = slot >= 0 && slot < slots.size() ? "slot " + slots.get(slot).name() : "slot ?";
        audit(EventType.CALLBACK_THREW, null, -1, "refusal handler of " + where + " threw " + thrown.getClass().getName());
    }

    @Override
    public void countsPending() {
        registry.countsPending(this);
    }

    @Override
    public void failStop(Violation violation) {
        registry.failStop(violation);
    }

    public void audit(EventType type, Violation violation, long offset, String detail) {
        registry.audit(SecurityEvent.of(type, serial, schema.name(), schema.id(),
                violation == null ? null : violation.name(), offset, detail));
    }

    @Override
    public String toString() {
        return "CallbackTable[" + schema.name() + " " + schema.major() + "." + minor + ", serial " + serial + ", " + status() + "]";
    }
}
