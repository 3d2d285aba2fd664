package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;

/**
 * Mints upcall trampolines: a stub whose Java side is, built from method-handle combinators so the JIT
 * can inline it whole,
 * <pre>
 *   try {
 *     try { return gate.enter(slot) ? try { target(args) } finally { gate.exit() } : refusal; }
 *     catch (Throwable t) { gate.targetThrew(slot, t); return refusal; }
 *   } catch (Throwable t) { return refusal; }     // nothing escapes an upcall, ever
 * </pre>
 * Stateless and thread-safe.
 */
public final class Trampolines {
    private static final MethodHandle ENTER;
    private static final MethodHandle ENTER_PAYLOAD_CONTEXT;
    private static final MethodHandle ENTER_REGISTERED_CONTEXT;
    private static final MethodHandle EXIT;
    private static final MethodHandle TARGET_THREW;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            ENTER = l.findVirtual(DispatchGate.class, "enter", MethodType.methodType(boolean.class, int.class));
            ENTER_PAYLOAD_CONTEXT = l.findVirtual(DispatchGate.class, "enterWithPayloadContext",
                    MethodType.methodType(boolean.class, int.class, MemorySegment.class));
            ENTER_REGISTERED_CONTEXT = l.findVirtual(DispatchGate.class, "enterWithRegisteredContext",
                    MethodType.methodType(boolean.class, int.class, MemorySegment.class));
            EXIT = l.findVirtual(DispatchGate.class, "exit", MethodType.methodType(void.class));
            TARGET_THREW = l.findVirtual(DispatchGate.class, "targetThrew", MethodType.methodType(void.class, int.class, Throwable.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Which argument, if any, must equal an address bound to the table. */
    public enum ContextCheck { NONE, PAYLOAD_ADDRESS, REGISTERED_CONTEXT }

    private Trampolines() {}

    /**
     * The guarded Java side of slot {@code slot}: type {@code descriptor.toMethodType()}.
     *
     * @param target  the user's implementation, already of the descriptor's type
     * @param refusal the boxed refusal value, or null for a void slot
     */
    public static MethodHandle guarded(DispatchGate gate, int slot, FunctionDescriptor descriptor, MethodHandle target,
                                       Object refusal, int contextArgument, ContextCheck contextCheck) {
        MethodType type = descriptor.toMethodType();
        if (!target.type().equals(type)) {
            throw new IllegalArgumentException("target type " + target.type() + " is not the slot's " + type);
        }
        List<Class<?>> params = type.parameterList();
        MethodHandle refuse = MethodHandles.dropArguments(constant(type.returnType(), refusal), 0, params);

        MethodHandle admit = switch (contextCheck) {
            case NONE -> MethodHandles.dropArguments(MethodHandles.insertArguments(ENTER, 0, gate, slot), 0, params);
            case PAYLOAD_ADDRESS -> selectArgument(MethodHandles.insertArguments(ENTER_PAYLOAD_CONTEXT, 0, gate, slot), params, contextArgument);
            case REGISTERED_CONTEXT -> selectArgument(MethodHandles.insertArguments(ENTER_REGISTERED_CONTEXT, 0, gate, slot), params, contextArgument);
        };

        MethodHandle exit = EXIT.bindTo(gate);
        MethodHandle cleanup = type.returnType() == void.class
                ? MethodHandles.dropArguments(exit, 0, Throwable.class)
                : MethodHandles.dropArguments(
                        MethodHandles.foldArguments(MethodHandles.identity(type.returnType()), exit), 0, Throwable.class);
        MethodHandle admitted = MethodHandles.tryFinally(target, cleanup);
        MethodHandle checked = MethodHandles.guardWithTest(admit, admitted, refuse);

        MethodHandle report = MethodHandles.insertArguments(TARGET_THREW, 0, gate, slot);   // (Throwable)void
        MethodHandle reportAndRefuse = MethodHandles.foldArguments(
                MethodHandles.dropArguments(constant(type.returnType(), refusal), 0, Throwable.class), report);
        MethodHandle caught = MethodHandles.catchException(checked, Throwable.class,
                MethodHandles.dropArguments(reportAndRefuse, 1, params));
        MethodHandle lastResort = MethodHandles.dropArguments(constant(type.returnType(), refusal), 0,
                prepend(Throwable.class, params));
        return MethodHandles.catchException(caught, Throwable.class, lastResort);
    }

    /** Mints the stub for a guarded handle in the registry's arena. */
    public static MemorySegment mint(MethodHandle guarded, FunctionDescriptor descriptor, Arena registryArena) {
        return NativeAccess.upcallStub(guarded, descriptor, registryArena);
    }

    private static MethodHandle selectArgument(MethodHandle oneArgTest, List<Class<?>> params, int index) {
        MethodHandle h = MethodHandles.dropArguments(oneArgTest, 1, params.subList(index + 1, params.size()));
        return MethodHandles.dropArguments(h, 0, params.subList(0, index));
    }

    private static MethodHandle constant(Class<?> type, Object value) {
        if (type == void.class) {
            return MethodHandles.empty(MethodType.methodType(void.class));
        }
        return MethodHandles.constant(type, value);
    }

    private static List<Class<?>> prepend(Class<?> first, List<Class<?>> rest) {
        java.util.ArrayList<Class<?>> all = new java.util.ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return all;
    }
}
