package io.tabguard.ffm.internal;

import io.tabguard.guard.Violation;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
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
 *     int code = gate.enter(slot);                       // token (admitted) or refusal code; never throws
 *     try {
 *       if (code >= 0) { try { return target(args); } finally { gate.exit(code); } }
 *       try { return handler(violationOf(code), args); }  // the embedder's refusal handler, or the constant
 *       catch (Throwable t) { gate.handlerThrew(slot, t); return refusal; }
 *     } catch (Throwable t) {
 *       try { gate.afterThrow(code, slot, t); return refusal; }      // leave (again), report
 *       catch (Throwable u) { gate.lastResort(code, slot); return refusal; }   // leave, count
 *     }
 *   } catch (Throwable t) { return refusal; }         // nothing escapes an upcall, ever
 * </pre>
 * Leaving is by token (the depth before entry), so a frame whose {@code finally} failed (a
 * {@link StackOverflowError} deep in a recursion through native code) is left by its own catch or by
 * the first enclosing frame that exits. The refusal handler runs outside the dispatch tracker: it is not
 * a target, and a revoke never waits for it.
 *
 * <p>The combinator chain is built once per shape (function type and context check) as a template taking
 * {@code (gate, slot, target, handler, refusal)} first; each trampoline binds those five. Trampolines of
 * one shape therefore share their lambda forms: no per-trampoline class spinning, and the first calls
 * through a new trampoline are as fast as later ones. A slot returning a struct by value has its target
 * (and refusal handler) return through {@link #copyStruct}, so a bad returned segment is a refusal. Thread-safe.
 */
public final class Trampolines {
    private static final MethodHandle ENTER;
    private static final MethodHandle ENTER_PAYLOAD_CONTEXT;
    private static final MethodHandle ENTER_REGISTERED_CONTEXT;
    private static final MethodHandle ENTER_POINTED_PAYLOAD_CONTEXT;
    private static final MethodHandle EXIT;
    private static final MethodHandle AFTER_THROW;
    private static final MethodHandle LAST_RESORT;
    private static final MethodHandle HANDLER_THREW;
    private static final MethodHandle VIOLATION_OF;
    private static final MethodHandle ADMITTED;
    private static final MethodHandle COPY_STRUCT;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            ENTER = l.findVirtual(DispatchGate.class, "enter", MethodType.methodType(int.class, int.class));
            ENTER_PAYLOAD_CONTEXT = l.findVirtual(DispatchGate.class, "enterWithPayloadContext",
                    MethodType.methodType(int.class, int.class, MemorySegment.class));
            ENTER_REGISTERED_CONTEXT = l.findVirtual(DispatchGate.class, "enterWithRegisteredContext",
                    MethodType.methodType(int.class, int.class, MemorySegment.class));
            ENTER_POINTED_PAYLOAD_CONTEXT = l.findVirtual(DispatchGate.class, "enterWithPointedPayloadContext",
                    MethodType.methodType(int.class, int.class, MemorySegment.class, long.class));
            EXIT = l.findVirtual(DispatchGate.class, "exit", MethodType.methodType(void.class, int.class));
            AFTER_THROW = l.findVirtual(DispatchGate.class, "afterThrow",
                    MethodType.methodType(void.class, int.class, int.class, Throwable.class));
            LAST_RESORT = l.findVirtual(DispatchGate.class, "lastResort", MethodType.methodType(void.class, int.class, int.class));
            HANDLER_THREW = l.findVirtual(DispatchGate.class, "handlerThrew", MethodType.methodType(void.class, int.class, Throwable.class));
            VIOLATION_OF = l.findStatic(DispatchGate.class, "violationOf", MethodType.methodType(Violation.class, int.class));
            ADMITTED = l.findStatic(Trampolines.class, "admitted", MethodType.methodType(boolean.class, int.class));
            COPY_STRUCT = l.findStatic(Trampolines.class, "copyStruct",
                    MethodType.methodType(MemorySegment.class, MemorySegment.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Which argument, if any, must equal an address bound to the table, or (POINTED_PAYLOAD) point to a
     * struct whose word at the context offset is the payload address.
     */
    public enum ContextCheck { NONE, PAYLOAD_ADDRESS, REGISTERED_CONTEXT, POINTED_PAYLOAD }

    /**
     * {@code handled}: the slot has a refusal handler; without one, a refusal returns the constant directly.
     * {@code contextOffset}: the pointed-to word's offset for POINTED_PAYLOAD, else -1 (part of the shape:
     * offsets are few, and a constant folds into the chain).
     */
    record Shape(MethodType type, ContextCheck check, int contextArgument, long contextOffset, boolean handled) {}

    private static final Map<Shape, MethodHandle> TEMPLATES = new ConcurrentHashMap<>();

    private Trampolines() {}

    private static boolean admitted(int code) {
        return code >= 0;
    }

    /**
     * A struct a target or refusal handler returned, copied to the heap inside the guarded chain: FFM
     * reads the returned segment after the Java side has returned, where a segment too small, NULL or
     * already freed would throw outside every catch and take the JVM down; here it throws into the
     * trampoline's catch and the call is refused instead.
     */
    private static MemorySegment copyStruct(MemorySegment returned, long size) {
        MemorySegment copy = MemorySegment.ofArray(new byte[(int) size]);
        MemorySegment.copy(returned, 0, copy, 0, size);
        return copy;
    }

    /** The type a refusal handler of a slot of function type {@code slotType} has: a leading {@link Violation}. */
    public static MethodType refusalHandlerType(MethodType slotType) {
        return slotType.insertParameterTypes(0, Violation.class);
    }

    /**
     * The guarded Java side of slot {@code slot}: type {@code descriptor.toMethodType()}.
     *
     * @param target         the user's implementation, already of the descriptor's type
     * @param refusal        the boxed refusal value, or null for a void slot; for a struct return a segment
     *                       of the struct's size that nobody writes (FFM copies it out on every refusal)
     * @param refusalHandler called instead of the target when a call is refused, of
     *                       {@link #refusalHandlerType}; null to return {@code refusal} directly
     * @param contextOffset  for {@link ContextCheck#POINTED_PAYLOAD}, the offset of the payload word in the
     *                       struct the context argument points to; ignored otherwise
     */
    public static MethodHandle guarded(DispatchGate gate, int slot, FunctionDescriptor descriptor, MethodHandle target,
                                       Object refusal, MethodHandle refusalHandler, int contextArgument,
                                       ContextCheck contextCheck, long contextOffset) {
        Bound b = bind(descriptor, target, refusal, refusalHandler, contextArgument, contextCheck, contextOffset);
        MethodHandle template = template(b.shape());
        return b.shape().type().returnType() == void.class
                ? MethodHandles.insertArguments(template, 0, gate, slot, b.target(), b.handler())
                : MethodHandles.insertArguments(template, 0, gate, slot, b.target(), b.handler(), refusal);
    }

    /** A slot's target and refusal handler made ready for a template of {@code shape}. */
    record Bound(Shape shape, MethodHandle target, MethodHandle handler) {}

    /** Type-checks a slot's parts and prepares them for the template of its shape (see {@link #guarded}). */
    static Bound bind(FunctionDescriptor descriptor, MethodHandle target, Object refusal, MethodHandle refusalHandler,
                      int contextArgument, ContextCheck contextCheck, long contextOffset) {
        MethodType type = descriptor.toMethodType();
        if (!target.type().equals(type)) {
            throw new IllegalArgumentException("target type " + target.type() + " is not the slot's " + type);
        }
        MethodType handlerType = refusalHandlerType(type);
        MethodHandle handler = refusalHandler != null ? refusalHandler : constantRefusal(type, refusal);
        if (!handler.type().equals(handlerType)) {
            throw new IllegalArgumentException("refusal handler type " + handler.type() + " is not " + handlerType);
        }
        if (descriptor.returnLayout().orElse(null) instanceof GroupLayout struct) {
            MethodHandle copy = MethodHandles.insertArguments(COPY_STRUCT, 1, struct.byteSize());
            target = MethodHandles.filterReturnValue(target, copy);
            if (refusalHandler != null) {
                handler = MethodHandles.filterReturnValue(handler, copy);
            }
        }
        Shape shape = new Shape(type, contextCheck, contextCheck == ContextCheck.NONE ? -1 : contextArgument,
                contextCheck == ContextCheck.POINTED_PAYLOAD ? contextOffset : -1, refusalHandler != null);
        return new Bound(shape, target, handler);
    }

    /**
     * The template of {@code shape}, built once: {@code (gate, slot, target, handler, [refusal], args...)}.
     */
    static MethodHandle template(Shape shape) {
        return TEMPLATES.computeIfAbsent(shape, Trampolines::buildTemplate);
    }

    static MethodHandle constantRefusalHandler(MethodType slotType, Object refusal) {
        return constantRefusal(slotType, refusal);
    }

    /**
     * Constant refusal handlers by slot type and value: each is a few method-handle objects, and a million
     * tables of one schema would otherwise hold eight million copies of the same few (about 40 B each).
     * Only immutable values are shared (boxed scalars, NULL); a struct's refusal segment is per slot. Bounded,
     * so distinct refusal values cannot grow it without limit: past the bound a handler is made per slot.
     */
    private static final Map<List<Object>, MethodHandle> CONSTANT_REFUSALS = new ConcurrentHashMap<>();
    private static final int MAX_CONSTANT_REFUSALS = 4_096;

    private static MethodHandle constantRefusal(MethodType type, Object refusal) {
        boolean shareable = refusal == null || refusal instanceof Integer || refusal instanceof Long || refusal instanceof Short
                || refusal instanceof Byte || refusal instanceof Float || refusal instanceof Double
                || refusal instanceof Boolean || refusal instanceof Character || MemorySegment.NULL.equals(refusal);
        if (!shareable) {
            return newConstantRefusal(type, refusal);
        }
        List<Object> key = java.util.Arrays.asList(type, refusal);
        MethodHandle shared = CONSTANT_REFUSALS.get(key);
        if (shared == null) {
            shared = newConstantRefusal(type, refusal);
            if (CONSTANT_REFUSALS.size() < MAX_CONSTANT_REFUSALS) {
                MethodHandle raced = CONSTANT_REFUSALS.putIfAbsent(key, shared);
                shared = raced != null ? raced : shared;
            }
        }
        return shared;
    }

    private static MethodHandle newConstantRefusal(MethodType type, Object refusal) {
        List<Class<?>> params = concat(List.of(Violation.class), type.parameterList());
        if (type.returnType() == void.class) {
            return MethodHandles.empty(MethodType.methodType(void.class, params));
        }
        return MethodHandles.dropArguments(MethodHandles.constant(type.returnType(), refusal), 0, params);
    }

    /** Mints the stub for a guarded handle in the registry's arena. */
    public static MemorySegment mint(MethodHandle guarded, FunctionDescriptor descriptor, Arena registryArena) {
        return NativeAccess.upcallStub(guarded, descriptor, registryArena);
    }

    /**
     * {@code (DispatchGate gate, int slot, MethodHandle target, MethodHandle handler, R refusal, A... args) R}
     * — without the {@code refusal} parameter for a void function.
     */
    private static MethodHandle buildTemplate(Shape shape) {
        MethodType type = shape.type();
        Class<?> r = type.returnType();
        boolean isVoid = r == void.class;
        List<Class<?>> args = type.parameterList();
        List<Class<?>> lead = isVoid
                ? List.of(DispatchGate.class, int.class, MethodHandle.class, MethodHandle.class)
                : List.of(DispatchGate.class, int.class, MethodHandle.class, MethodHandle.class, r);
        List<Class<?>> all = concat(lead, args);                       // the template's parameters
        List<Class<?>> withCode = concat(List.of(int.class), all);     // (code, lead..., args...): inside the fold

        // the constant refusal, ignoring everything: (X..., lead..., args...) -> refusal
        MethodHandle refuse = isVoid
                ? MethodHandles.empty(MethodType.methodType(void.class, all))
                : MethodHandles.dropArguments(MethodHandles.dropArguments(MethodHandles.identity(r), 0, lead.subList(0, 4)), 5, args);

        // admitted: (code, gate, slot, target, handler, [refusal], args...) -> target(args) finally gate.exit(code)
        MethodHandle invoke = MethodHandles.exactInvoker(type);                          // (MethodHandle, args...) R
        MethodHandle call = MethodHandles.dropArguments(invoke, 0, int.class, DispatchGate.class, int.class);
        call = MethodHandles.dropArguments(call, 4, lead.subList(3, lead.size()));       // drop handler, [refusal]
        MethodHandle exitByCode = MethodHandles.permuteArguments(EXIT,
                MethodType.methodType(void.class, int.class, DispatchGate.class), 1, 0); // (code, gate) void
        MethodHandle cleanup = isVoid
                ? MethodHandles.dropArguments(exitByCode, 0, Throwable.class)           // (Throwable, code, gate) void
                : MethodHandles.dropArguments(MethodHandles.foldArguments(
                        MethodHandles.dropArguments(MethodHandles.identity(r), 1, int.class, DispatchGate.class),
                        1, exitByCode), 0, Throwable.class);                             // (Throwable, R, code, gate) R
        MethodHandle admitted = MethodHandles.tryFinally(call, cleanup);

        // refused: (code, gate, slot, target, handler, [refusal], args...) -> handler(violationOf(code), args)
        MethodHandle handlerInvoke = MethodHandles.exactInvoker(refusalHandlerType(type));   // (MethodHandle, Violation, args...) R
        handlerInvoke = MethodHandles.filterArguments(handlerInvoke, 1, VIOLATION_OF);       // (MethodHandle, int code, args...) R
        handlerInvoke = MethodHandles.permuteArguments(handlerInvoke,
                handlerInvoke.type().changeParameterType(0, int.class).changeParameterType(1, MethodHandle.class),
                permutation(args.size()));                                                    // (code, MethodHandle, args...) R
        MethodHandle refusedCall = MethodHandles.dropArguments(handlerInvoke, 1, DispatchGate.class, int.class, MethodHandle.class);
        if (!isVoid) {
            refusedCall = MethodHandles.dropArguments(refusedCall, 5, r);
        }
        // a throwing handler: (Throwable, code, gate, slot, ...) -> gate.handlerThrew(slot, t); refusal
        MethodHandle reportHandler = MethodHandles.dropArguments(MethodHandles.permuteArguments(HANDLER_THREW,
                        MethodType.methodType(void.class, Throwable.class, int.class, DispatchGate.class, int.class), 2, 3, 0),
                4, withCode.subList(3, withCode.size()));
        MethodHandle refusedCaught = shape.handled()
                ? MethodHandles.catchException(refusedCall, Throwable.class,
                        MethodHandles.foldArguments(MethodHandles.dropArguments(refuse, 0, Throwable.class, int.class), reportHandler))
                : MethodHandles.dropArguments(refuse, 0, int.class);   // the constant, no call at all

        MethodHandle test = MethodHandles.dropArguments(ADMITTED, 1, all);
        MethodHandle checked = MethodHandles.guardWithTest(test, admitted, refusedCaught);

        // anything else thrown (the target, or its finally): (Throwable, code, gate, slot, ...) -> leave, report, refuse
        MethodHandle afterThrow = MethodHandles.dropArguments(MethodHandles.permuteArguments(AFTER_THROW,
                        MethodType.methodType(void.class, Throwable.class, int.class, DispatchGate.class, int.class), 2, 1, 3, 0),
                4, withCode.subList(3, withCode.size()));
        MethodHandle refuseAfterThrow = MethodHandles.dropArguments(refuse, 0, Throwable.class, int.class);
        MethodHandle caught = MethodHandles.catchException(checked, Throwable.class,
                MethodHandles.foldArguments(refuseAfterThrow, afterThrow));
        MethodHandle lastResort = MethodHandles.dropArguments(MethodHandles.permuteArguments(LAST_RESORT,
                        MethodType.methodType(void.class, Throwable.class, int.class, DispatchGate.class, int.class), 2, 1, 3),
                4, withCode.subList(3, withCode.size()));
        MethodHandle body = MethodHandles.catchException(caught, Throwable.class,
                MethodHandles.foldArguments(refuseAfterThrow, lastResort));

        // admit: (gate, slot, target, handler, [refusal], args...) -> int code
        MethodHandle admit = switch (shape.check()) {
            case NONE -> MethodHandles.dropArguments(ENTER, 2, all.subList(2, all.size()));
            case PAYLOAD_ADDRESS -> contextTest(ENTER_PAYLOAD_CONTEXT, all, lead.size() + shape.contextArgument());
            case REGISTERED_CONTEXT -> contextTest(ENTER_REGISTERED_CONTEXT, all, lead.size() + shape.contextArgument());
            case POINTED_PAYLOAD -> contextTest(MethodHandles.insertArguments(ENTER_POINTED_PAYLOAD_CONTEXT, 3, shape.contextOffset()),
                    all, lead.size() + shape.contextArgument());
        };
        MethodHandle entered = MethodHandles.foldArguments(body, admit);
        // the last resort calls nothing: it only returns the refusal it was given
        return MethodHandles.catchException(entered, Throwable.class, MethodHandles.dropArguments(refuse, 0, Throwable.class));
    }

    /** Reorders {@code (MethodHandle, int, args...)} as {@code (int, MethodHandle, args...)}. */
    private static int[] permutation(int argCount) {
        int[] p = new int[2 + argCount];
        p[0] = 1;
        p[1] = 0;
        for (int i = 0; i < argCount; i++) {
            p[2 + i] = 2 + i;
        }
        return p;
    }

    private static MethodHandle contextTest(MethodHandle enterWithContext, List<Class<?>> all, int index) {
        // enterWithContext: (gate, int, MemorySegment) int; keep gate, slot and argument `index`
        MethodHandle h = MethodHandles.dropArguments(enterWithContext, 3, all.subList(index + 1, all.size()));
        return MethodHandles.dropArguments(h, 2, all.subList(2, index));
    }

    private static List<Class<?>> concat(List<Class<?>> a, List<Class<?>> b) {
        List<Class<?>> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
