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
 * A slot therefore costs a thunk cell and a record instead of ~6 KB of code cache, and the code that
 * runs is the same, hot, for every slot of a shape.
 *
 * <p>Only shapes with a register left for the id are carried ({@link #idRegister}); the others (struct by value; six or more integer-class arguments
 * together with eight or more floating-point ones) keep a stub of their own ({@link Trampolines#mint}).
 *
 * <p>A call whose id is stale (its slot was released) or names another shape resolves to the shape's
 * refusing record: it is refused with {@link Violation#CLOSED} and the shape's zero value, and counted
 * in {@link #staleCalls}. Thread-safe.
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
            RESOLVE = l.findStatic(SlotRecords.class, "resolve", MethodType.methodType(SlotRecords.SlotRecord.class,
                    Object.class, SlotRecords.SlotRecord.class, long.class));
            Class<?> r = SlotRecords.SlotRecord.class;
            GATE = l.findVirtual(r, "gate", MethodType.methodType(DispatchGate.class));
            SLOT = l.findVirtual(r, "slot", MethodType.methodType(int.class));
            TARGET = l.findVirtual(r, "target", MethodType.methodType(MethodHandle.class));
            HANDLER = l.findVirtual(r, "handler", MethodType.methodType(MethodHandle.class));
            REFUSAL = l.findVirtual(r, "refusal", MethodType.methodType(Object.class));
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
            SlotRecords.SlotRecord stale = new SlotRecords.SlotRecord(this, STALE_GATE, -1,
                    MethodHandles.empty(type), Trampolines.constantRefusalHandler(type, zero), zero, -1);
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

    /** One Java slot's entry: the thunk's address (what the table holds) and the id to release. */
    public record Entry(long address, long recordId) {}

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
     * The entry of Java slot {@code slot} of {@code gate}'s table, or null when its shape is not carried
     * (see {@link #idRegister}; the caller mints a stub of its own). Arguments as for
     * {@link Trampolines#guarded}. Call {@link EntryThunks#publish()} before handing the address out.
     */
    public static Entry entry(DispatchGate gate, int slot, FunctionDescriptor descriptor, MethodHandle target,
                              Object refusal, MethodHandle refusalHandler, int contextArgument,
                              Trampolines.ContextCheck contextCheck, long contextOffset) {
        int idRegister = idRegister(descriptor);
        if (idRegister < 0) {
            return null;
        }
        Trampolines.Bound b = Trampolines.bind(descriptor, target, refusal, refusalHandler, contextArgument,
                contextCheck, contextOffset);
        SharedShape shared = SHAPES.computeIfAbsent(new Key(descriptor, b.shape()),
                k -> new SharedShape(k.descriptor(), k.shape(), idRegister));
        long id = SlotRecords.register(new SlotRecords.Parts(shared, gate, slot, b.target(), b.handler(), refusal));
        try {
            return new Entry(EntryThunks.mintUpcall(id, shared.idRegister, shared.stub), id);
        } catch (RuntimeException | Error e) {
            SlotRecords.release(id);
            throw e;
        }
    }

    /** Refuses every later call through the entry registered under {@code recordId}; idempotent. */
    public static void release(long recordId) {
        SlotRecords.release(recordId);
    }

    /**
     * {@link #release(long)}, and frees the entry's thunk at {@code thunk}: once its region retires, a
     * call through it faults instead of being refused.
     */
    public static void releaseAndFree(long recordId, long thunk) {
        Object shape = SlotRecords.shapeOf(recordId);
        SlotRecords.release(recordId);
        if (shape instanceof SharedShape s) {
            EntryThunks.freeUpcall(thunk, s.idRegister);
        }
    }

    /**
     * Calls refused by the guard entries since the last drain because the calling thread had at most
     * {@link TabguardLibrary#STACK_HEADROOM} bytes of stack left (process-wide: the guard cannot tell tables
     * apart). Zero when libtabguard is unavailable.
     */
    public static long drainLowStackRefusals() {
        return SHAPES.isEmpty() ? 0 : TabguardLibrary.get().drainStackRefusals();
    }

    /** Calls that arrived with a stale or foreign record id, since the process started. */
    public static long staleCalls() {
        return SlotRecords.staleCalls();
    }

    /** Distinct shapes, each with one upcall stub (for tests and footprint measurements). */
    public static int shapes() {
        return SHAPES.size();
    }

    /** Live slot records (for tests and footprint measurements). */
    public static int liveRecords() {
        return SlotRecords.live();
    }

    /**
     * {@code (args..., long id) R}: resolve the id once, then the template with the record's gate,
     * slot, target, handler and refusal.
     */
    private static MethodHandle dispatcher(MethodHandle template, MethodType type, SharedShape shape,
                                           SlotRecords.SlotRecord stale, boolean idAsDouble) {
        boolean isVoid = type.returnType() == void.class;
        int lead = isVoid ? 4 : 5;
        int n = type.parameterCount();
        MethodHandle[] getters = isVoid
                ? new MethodHandle[] {GATE, SLOT, TARGET, HANDLER}
                : new MethodHandle[] {GATE, SLOT, TARGET, HANDLER,
                        REFUSAL.asType(MethodType.methodType(type.returnType(), SlotRecords.SlotRecord.class))};
        MethodHandle spread = MethodHandles.filterArguments(template, 0, getters);     // (SR x lead, args...) R
        int[] fromRecord = new int[lead + n];
        for (int i = 0; i < n; i++) {
            fromRecord[lead + i] = 1 + i;
        }
        MethodHandle byRecord = MethodHandles.permuteArguments(spread,
                type.insertParameterTypes(0, SlotRecords.SlotRecord.class), fromRecord);   // (SR, args...) R
        MethodHandle byId = MethodHandles.filterArguments(byRecord, 0,
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
