package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Mints upcall trampolines: a stub whose Java side is, built from method-handle combinators so the JIT
 * can inline it whole,
 * <pre>
 *   try {
 *     try { return gate.enter(slot) ? try { target(args) } finally { gate.exit() } : refusal; }
 *     catch (Throwable t) { gate.targetThrew(slot, t); return refusal; }
 *   } catch (Throwable t) { return refusal; }     // nothing escapes an upcall, ever
 * </pre>
 * The combinator chain is built once per shape (function type and context check) as a template taking
 * {@code (gate, slot, target, refusal)} first; each trampoline binds those four. Trampolines of one
 * shape therefore share their lambda forms: no per-trampoline class spinning, and the first calls
 * through a new trampoline are as fast as later ones. Thread-safe.
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

    private record Shape(MethodType type, ContextCheck check, int contextArgument) {}

    private static final Map<Shape, MethodHandle> TEMPLATES = new ConcurrentHashMap<>();

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
        Shape shape = new Shape(type, contextCheck, contextCheck == ContextCheck.NONE ? -1 : contextArgument);
        MethodHandle template = TEMPLATES.computeIfAbsent(shape, Trampolines::template);
        return type.returnType() == void.class
                ? MethodHandles.insertArguments(template, 0, gate, slot, target)
                : MethodHandles.insertArguments(template, 0, gate, slot, target, refusal);
    }

    /** Mints the stub for a guarded handle in the registry's arena. */
    public static MemorySegment mint(MethodHandle guarded, FunctionDescriptor descriptor, Arena registryArena) {
        return NativeAccess.upcallStub(guarded, descriptor, registryArena);
    }

    /**
     * {@code (DispatchGate gate, int slot, MethodHandle target, R refusal, A... args) R} — without the
     * {@code refusal} parameter for a void function.
     */
    private static MethodHandle template(Shape shape) {
        MethodType type = shape.type();
        Class<?> r = type.returnType();
        boolean isVoid = r == void.class;
        List<Class<?>> args = type.parameterList();
        List<Class<?>> lead = isVoid
                ? List.of(DispatchGate.class, int.class, MethodHandle.class)
                : List.of(DispatchGate.class, int.class, MethodHandle.class, r);
        List<Class<?>> all = concat(lead, args);

        // refusal: (lead..., args...) -> refusal
        MethodHandle refuse = isVoid
                ? MethodHandles.empty(MethodType.methodType(void.class, all))
                : MethodHandles.dropArguments(MethodHandles.dropArguments(MethodHandles.identity(r), 0, lead.subList(0, 3)), 4, args);

        // admit: (lead..., args...) -> boolean
        MethodHandle admit = switch (shape.check()) {
            case NONE -> MethodHandles.dropArguments(ENTER, 2, all.subList(2, all.size()));
            case PAYLOAD_ADDRESS -> contextTest(ENTER_PAYLOAD_CONTEXT, all, lead.size() + shape.contextArgument());
            case REGISTERED_CONTEXT -> contextTest(ENTER_REGISTERED_CONTEXT, all, lead.size() + shape.contextArgument());
        };

        // admitted: (lead..., args...) -> target(args) finally gate.exit()
        MethodHandle invoke = MethodHandles.exactInvoker(type);                    // (MethodHandle, args...) R
        MethodHandle call = MethodHandles.dropArguments(invoke, 0, DispatchGate.class, int.class);
        if (!isVoid) {
            call = MethodHandles.dropArguments(call, 3, r);
        }
        MethodHandle cleanup = isVoid
                ? MethodHandles.dropArguments(EXIT, 0, Throwable.class)                          // (Throwable, gate) void
                : MethodHandles.dropArguments(MethodHandles.foldArguments(
                        MethodHandles.dropArguments(MethodHandles.identity(r), 1, DispatchGate.class),
                        1, EXIT), 0, Throwable.class);                                           // (Throwable, R, gate) R
        MethodHandle admitted = MethodHandles.tryFinally(call, cleanup);
        MethodHandle checked = MethodHandles.guardWithTest(admit, admitted, refuse);

        // a throwing target: report it, then refuse. (Throwable, gate, slot, ...) -> refusal
        MethodHandle report = MethodHandles.dropArguments(
                MethodHandles.permuteArguments(TARGET_THREW, MethodType.methodType(void.class, Throwable.class, DispatchGate.class, int.class), 1, 2, 0),
                3, all.subList(2, all.size()));
        MethodHandle refuseAfterThrow = MethodHandles.dropArguments(refuse, 0, Throwable.class);
        MethodHandle reportAndRefuse = MethodHandles.foldArguments(refuseAfterThrow, report);
        MethodHandle caught = MethodHandles.catchException(checked, Throwable.class, reportAndRefuse);
        // the last resort calls nothing: it only returns the refusal it was given
        return MethodHandles.catchException(caught, Throwable.class, refuseAfterThrow);
    }

    private static MethodHandle contextTest(MethodHandle enterWithContext, List<Class<?>> all, int index) {
        // enterWithContext: (gate, int, MemorySegment) boolean; keep gate, slot and argument `index`
        MethodHandle h = MethodHandles.dropArguments(enterWithContext, 3, all.subList(index + 1, all.size()));
        return MethodHandles.dropArguments(h, 2, all.subList(2, index));
    }

    private static List<Class<?>> concat(List<Class<?>> a, List<Class<?>> b) {
        List<Class<?>> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
