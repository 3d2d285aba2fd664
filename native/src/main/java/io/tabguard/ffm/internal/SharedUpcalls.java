package io.tabguard.ffm.internal;

import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Java slots without an upcall stub of their own: every Java slot of one shape (its C descriptor and
 * how it is checked) shares one FFM upcall stub, minted once for the life of the process, whose
 * descriptor is the slot's plus a trailing {@code long} (or {@code double}, see {@link #idRegister}).
 * Each slot gets a 32-byte (or 64-byte) entry thunk ({@code tg_upcall_thunk.c}) that puts the slot's
 * {@link SlotRecords record id} in the register that trailing argument arrives in and jumps to the stub; the stub's Java side resolves the id and
 * runs the shape's {@link Trampolines trampoline template} with the slot's gate, target and refusal.
 * A slot therefore costs a thunk cell and four references in its table's one record instead of ~6 KB of code cache, and the code that
 * runs is the same, hot, for every slot of a shape.
 *
 * <p>Only shapes with a register left for the id are carried ({@link #idRegister}); the others (struct by value; six or more integer-class arguments
 * together with eight or more floating-point ones) keep a stub of their own ({@link Trampolines#mint}).
 *
 * <p>A call whose id is stale (its slot was released) or names another shape resolves to the shape's
 * refusing record: it is refused with {@link Violation#CLOSED} and the shape's zero value. Thread-safe.
 */
public final class SharedUpcalls {
    private static final MethodHandle RESOLVE;
    private static final MethodHandle GATE;
    private static final MethodHandle SLOT;
    private static final MethodHandle TARGET;
    private static final MethodHandle HANDLER;
    private static final MethodHandle REFUSAL;
    private static final MethodHandle DOUBLE_BITS;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            Class<?> r = SlotRecords.TableRecord.class;
            RESOLVE = l.findStatic(SlotRecords.class, "resolve", MethodType.methodType(r, Object.class, r, long.class));
            GATE = l.findVirtual(r, "gate", MethodType.methodType(DispatchGate.class, long.class));
            SLOT = l.findVirtual(r, "slot", MethodType.methodType(int.class, long.class));
            TARGET = l.findVirtual(r, "target", MethodType.methodType(MethodHandle.class, long.class));
            HANDLER = l.findVirtual(r, "handler", MethodType.methodType(MethodHandle.class, long.class));
            REFUSAL = l.findVirtual(r, "refusal", MethodType.methodType(Object.class, long.class));
            DOUBLE_BITS = l.findStatic(Double.class, "doubleToRawLongBits", MethodType.methodType(long.class, double.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A shape and its one stub. */
    private static final class SharedShape {
        final long stub;
        final int idRegister;

        SharedShape(FunctionDescriptor descriptor, Trampolines.Shape shape, int idRegister) {
            this.idRegister = idRegister;
            MethodType type = shape.type();
            Object zero = zeroOf(type.returnType());
            SlotRecords.TableRecord stale = SlotRecords.TableRecord.refusing(this, STALE_GATE,
                    MethodHandles.empty(type), Trampolines.constantRefusalHandler(type, zero), zero);
            boolean vector = idRegister >= VECTOR_REGISTER;
            MethodHandle dispatcher = dispatcher(Trampolines.template(shape), type, this, stale, vector);
            FunctionDescriptor withId = descriptor.appendArgumentLayouts(vector ? ValueLayout.JAVA_DOUBLE : ValueLayout.JAVA_LONG);
            long upcallStub = NativeAccess.upcallStub(dispatcher, withId, Arena.global()).address();
            // thunks jump to the stack check, which jumps to the stub
            this.stub = EntryThunks.mintGuardEntry(upcallStub);
        }
    }

    private record Key(FunctionDescriptor descriptor, Trampolines.Shape shape) {}

    private static final Map<Key, SharedShape> SHAPES = new ConcurrentHashMap<>();
    private static final DispatchGate STALE_GATE = staleGate();

    /**
     * The Java slots of one table being built: {@link #entry} for each, then {@link #publish} once (or
     * {@link #abandon} if the table is not built). Confined to the building thread.
     */
    public static final class TableEntries {
        private final SlotRecords.Reservation reservation;
        private int entries;

        private TableEntries(SlotRecords.Reservation reservation) {
            this.reservation = reservation;
        }

        /** Whether any slot got an entry (else there is nothing to publish). */
        public boolean isEmpty() {
            return entries == 0;
        }
    }

    /**
     * Starts the entries of a table of {@code slotCount} slots guarded by {@code gate}: one record for the
     * table, which resolves only once {@link #publish}ed.
     */
    public static TableEntries forTable(DispatchGate gate, int slotCount) {
        return new TableEntries(SlotRecords.reserve(gate, slotCount));
    }

    /**
     * Makes the table's entries resolve (their thunks dispatch to its slots from now on) and returns the
     * id to hand {@link #release} when the table's registry closes. Call {@link EntryThunks#publish()}
     * before handing the thunks out.
     */
    public static long publish(TableEntries table) {
        return SlotRecords.publish(table.reservation);
    }

    /** Gives back a table's record when the table will not be built; no thunk of it may have been handed out. */
    public static void abandon(TableEntries table) {
        SlotRecords.abandon(table.reservation);
    }

    private SharedUpcalls() {}

    /** {@code TG_THUNK_VECTOR_REGISTER(0)}: id registers at and above it are xmm registers. */
    static final int VECTOR_REGISTER = 16;

    /**
     * Where a slot of {@code descriptor}'s thunk puts its id: the SysV integer argument register a
     * trailing {@code long} would arrive in (0 = rdi ... 5 = r9) when the slot has at most five
     * integer-class arguments, else {@link #VECTOR_REGISTER} + the xmm register a trailing {@code double}
     * would arrive in when it has at most seven floating-point ones; -1 if the shape cannot be carried: a
     * struct (or any non-scalar) argument or return, or both register files full (the id would go on the
     * stack, which a jump cannot extend). Arguments passed on the stack are no obstacle: the thunk is a
     * tail jump, and a trailing register argument does not move them.
     */
    public static int idRegister(FunctionDescriptor descriptor) {
        if (descriptor.returnLayout().isPresent() && !(descriptor.returnLayout().get() instanceof ValueLayout)) {
            return -1;
        }
        int integers = 0;
        int floats = 0;
        for (MemoryLayout argument : descriptor.argumentLayouts()) {
            if (!(argument instanceof ValueLayout v)) {
                return -1;
            }
            if (v.carrier() == float.class || v.carrier() == double.class) {
                floats++;
            } else {
                integers++;
            }
        }
        if (integers <= 5) {
            return integers;
        }
        return floats <= 7 ? VECTOR_REGISTER + floats : -1;
    }

    /**
     * The entry thunk's address of Java slot {@code slot} of {@code table} (the slot's index among the
     * table's slots), or 0 when its shape is not carried (see {@link #idRegister}; the caller mints a
     * stub of its own). Arguments as for {@link Trampolines#guarded}. The entry dispatches only once the
     * table is {@linkplain #publish published}.
     */
    public static long entry(TableEntries table, int slot, FunctionDescriptor descriptor, MethodHandle target,
                             Object refusal, MethodHandle refusalHandler, int contextArgument,
                             Trampolines.ContextCheck contextCheck, long contextOffset) {
        int idRegister = idRegister(descriptor);
        if (idRegister < 0) {
            return 0;
        }
        Trampolines.Bound b = Trampolines.bind(descriptor, target, refusal, refusalHandler, contextArgument,
                contextCheck, contextOffset);
        SharedShape shared = SHAPES.computeIfAbsent(new Key(descriptor, b.shape()),
                k -> new SharedShape(k.descriptor(), k.shape(), idRegister));
        long address = EntryThunks.mintUpcall(table.reservation.idOf(slot), shared.idRegister, shared.stub);
        table.reservation.bind(slot, shared, b.target(), b.handler(), refusal);
        table.entries++;
        return address;
    }

    /** Refuses every later call through the entries of the table published under {@code tableId}; idempotent. */
    public static void release(long tableId) {
        SlotRecords.release(tableId);
    }

    /**
     * {@link #release(long)}, and frees the entries' thunks ({@code slotPointers[slot]} for each slot with
     * an entry): once their region retires, a call through one faults instead of being refused.
     */
    public static void releaseAndFree(long tableId, long[] slotPointers) {
        Object[] shapes = SlotRecords.shapesOf(tableId);
        SlotRecords.release(tableId);
        if (shapes == null) {
            return;
        }
        for (int slot = 0; slot < shapes.length && slot < slotPointers.length; slot++) {
            if (shapes[slot] instanceof SharedShape s) {
                EntryThunks.freeUpcall(slotPointers[slot], s.idRegister);
            }
        }
    }

    /**
     * Frees the thunks of a table that was never published ({@link #abandon}): {@code slotPointers[slot]}
     * for each slot that got an entry.
     */
    public static void freeAbandoned(TableEntries table, long[] slotPointers) {
        Object[] parts = table.reservation.shapes();
        for (int slot = 0; slot < parts.length && slot < slotPointers.length; slot++) {
            if (parts[slot] instanceof SharedShape s && slotPointers[slot] != 0) {
                EntryThunks.freeUpcall(slotPointers[slot], s.idRegister);
            }
        }
    }

    /**
     * Calls refused by the guard entries since the last drain because the calling thread had at most
     * {@link TabguardLibrary#STACK_HEADROOM} bytes of stack left (process-wide: the guard cannot tell tables
     * apart). Zero when no shape has been minted.
     */
    public static long drainLowStackRefusals() {
        return SHAPES.isEmpty() ? 0 : TabguardLibrary.get().drainStackRefusals();
    }

    /**
     * {@code (args..., long id) R}: resolve the id once, then the template with the record's gate,
     * slot, target, handler and refusal.
     */
    private static MethodHandle dispatcher(MethodHandle template, MethodType type, SharedShape shape,
                                           SlotRecords.TableRecord stale, boolean idAsDouble) {
        boolean isVoid = type.returnType() == void.class;
        int lead = isVoid ? 4 : 5;
        int n = type.parameterCount();
        Class<?> r = SlotRecords.TableRecord.class;
        MethodHandle[] getters = isVoid
                ? new MethodHandle[] {GATE, SLOT, TARGET, HANDLER}
                : new MethodHandle[] {GATE, SLOT, TARGET, HANDLER,
                        REFUSAL.asType(MethodType.methodType(type.returnType(), r, long.class))};
        MethodHandle spread = template;
        for (int k = lead - 1; k >= 0; k--) {
            spread = MethodHandles.collectArguments(spread, k, getters[k]);             // lead param k from (TR, id)
        }                                                                                // ((TR, long) x lead, args...) R
        int[] fromRecord = new int[2 * lead + n];
        for (int k = 0; k < lead; k++) {
            fromRecord[2 * k] = 0;
            fromRecord[2 * k + 1] = 1;
        }
        for (int i = 0; i < n; i++) {
            fromRecord[2 * lead + i] = 2 + i;
        }
        MethodHandle byRecord = MethodHandles.permuteArguments(spread,
                type.insertParameterTypes(0, r, long.class), fromRecord);               // (TR, long, args...) R
        MethodHandle byId = MethodHandles.foldArguments(byRecord,
                MethodHandles.insertArguments(RESOLVE, 0, shape, stale));                 // (long, args...) R
        int[] idLast = new int[1 + n];
        idLast[0] = n;
        for (int i = 0; i < n; i++) {
            idLast[1 + i] = i;
        }
        MethodHandle idLastByLong = MethodHandles.permuteArguments(byId, type.appendParameterTypes(long.class), idLast);
        return idAsDouble ? MethodHandles.filterArguments(idLastByLong, n, DOUBLE_BITS) : idLastByLong;
    }

    private static Object zeroOf(Class<?> type) {
        if (type == void.class) {
            return null;
        }
        if (type == MemorySegment.class) {
            return MemorySegment.NULL;
        }
        try {
            return MethodHandles.zero(type).invoke();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A gate that never opened: refuses with CLOSED, and its owner only counts. */
    private static DispatchGate staleGate() {
        MemorySegment nothing = MemorySegment.ofArray(new long[1]);
        DispatchGate gate = new DispatchGate(nothing, nothing, new long[0], 0, 0, false, false, new DispatchTracker(1));
        gate.bindOwner(new GateOwner() {
            @Override public TableRejectedException fullCheck(byte[] liveBytes) {
                return new TableRejectedException(Violation.CLOSED, -1);
            }
            @Override public void refused(int slot, Violation violation, long offset, String detail) { }
            @Override public void quarantined(Violation violation, long offset) { }
            @Override public void callbackThrew(int slot, Throwable thrown) { }
            @Override public void refusalHandlerThrew(int slot, Throwable thrown) { }
            @Override public void countsPending() { }
            @Override public void failStop(Violation violation) { }
        });
        return gate;
    }
}
