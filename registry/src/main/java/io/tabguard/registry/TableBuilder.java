package io.tabguard.registry;

import io.tabguard.guard.Schema;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The sealed builder: the only way to a {@link CallbackTable}. Obtained from {@link Registry#builder};
 * bind every required slot, then {@link #build()}.
 *
 * <p>Refuses, at the call that introduces the problem: an unknown member, a slot bound twice, a binding
 * whose type is not exactly the slot's {@code FunctionDescriptor} type, a native symbol not found in the
 * registry's allow-listed libraries, a data value of the wrong type. {@link #build()} refuses a missing
 * required slot, a non-void slot with no refusal value, a refusal handler on a slot with no Java target,
 * and a slot bound to a registered context when no context was given. Not thread-safe; builds one table.
 */
public final class TableBuilder {

    /** What a slot is bound to. */
    sealed interface Binding {
        record Java(MethodHandle target) implements Binding {}

        record Native(String symbol, MemorySegment function) implements Binding {}
    }

    private final Registry registry;
    private final Schema schema;
    private int minor;
    private MemorySegment context = MemorySegment.NULL;
    private final Map<String, Binding> bindings = new HashMap<>();
    private final Map<String, Object> refusals = new HashMap<>();
    private final Map<String, MethodHandle> refusalHandlers = new HashMap<>();
    private final Map<String, Object> data = new HashMap<>();
    private boolean writable;
    private boolean built;

    TableBuilder(Registry registry, Schema schema) {
        this.registry = registry;
        this.schema = Objects.requireNonNull(schema, "schema");
        this.minor = schema.minor();
    }

    /**
     * Builds the table at an older minor of its schema (for a consumer that expects that minor's struct).
     *
     * @param atMinor a minor from 0 to the schema's
     * @return this builder
     * @throws IllegalArgumentException if the schema has no such minor
     */
    public TableBuilder minor(int atMinor) {
        if (atMinor < 0 || atMinor > schema.minor()) {
            throw new IllegalArgumentException("schema " + schema.name() + " has minors 0.." + schema.minor());
        }
        this.minor = atMinor;
        return this;
    }

    /**
     * Binds a slot to a Java method handle of exactly the slot's type.
     *
     * @param slot   the slot's name
     * @param target a handle of type {@code descriptor.toMethodType()}
     * @return this builder
     * @throws IllegalArgumentException if there is no such slot, or the type differs
     * @throws IllegalStateException    if the slot is bound already
     */
    public TableBuilder bind(String slot, MethodHandle target) {
        Objects.requireNonNull(target, "target");
        Schema.Slot s = slot(slot);
        MethodType expected = s.descriptor().toMethodType();
        if (!target.type().equals(expected)) {
            throw new IllegalArgumentException("slot " + slot + " needs " + expected + ", the handle is " + target.type());
        }
        put(slot, new Binding.Java(target));
        return this;
    }

    /**
     * Binds a slot to a lambda (or any implementation) of a public functional interface whose single
     * abstract method has exactly the slot's type.
     *
     * @param <F>                 the functional interface
     * @param slot                the slot's name
     * @param functionalInterface a public interface, in an exported package, with one abstract method
     * @param implementation      what the slot calls
     * @return this builder
     * @throws IllegalArgumentException as {@link #bind(String, MethodHandle)}, or if the interface is not
     *                                  public and functional
     */
    public <F> TableBuilder bind(String slot, Class<F> functionalInterface, F implementation) {
        Objects.requireNonNull(implementation, "implementation");
        Method method = singleAbstractMethod(functionalInterface);
        MethodHandle handle;
        try {
            handle = MethodHandles.publicLookup().unreflect(method).bindTo(implementation);
        } catch (IllegalAccessException e) {
            throw new IllegalArgumentException(functionalInterface.getName() + " must be public and in an exported package", e);
        }
        return bind(slot, handle);
    }

    /**
     * Binds a slot to a function defined in one of the registry's allow-listed libraries
     * ({@link RegistryOptions.Builder#allowLibrary}): the exact start of a sized {@code STT_FUNC} symbol of
     * that very file. A name the listed file only imports (with only {@code libz.so.1} listed: {@code system},
     * {@code execve}, {@code mprotect}, {@code dlopen}, which libz's dependency libc defines), a data object,
     * a label, a PLT/GOT stub or an IFUNC is refused. Struct arguments by value pass through the native entry
     * thunk (a tail jump) unchanged; a slot that <em>returns</em> a struct by value cannot be bound natively,
     * since the thunk's refusal path returns one register value and cannot write a struct (in registers or
     * through the caller's hidden pointer): bind such a slot to a Java target, whose trampoline can. A slot
     * with a context binding ({@code PAYLOAD_ADDRESS}, {@code REGISTERED_CONTEXT}) gets a thunk that also
     * compares the context argument with the bound address and refuses, counted as {@code CONTEXT_MISMATCH},
     * when they differ; {@code POINTS_TO_PAYLOAD}, or a context argument that is not passed in one of the
     * six integer argument registers, cannot be checked by a thunk and is refused here.
     *
     * @param slot   the slot's name
     * @param symbol the name of the C function to call, as the allow-listed library's symbol table defines it
     * @return this builder
     * @throws IllegalArgumentException if there is no such slot, the slot returns a struct by value or has a
     *                                  context binding a thunk cannot check (see above), or no allow-listed
     *                                  library defines {@code symbol} as a
     *                                  function; the message says where the name resolved instead
     *                                  ({@code SLOT_OUTSIDE_ALLOW_LIST})
     * @throws IllegalStateException    if the slot is bound already
     */
    public TableBuilder bindNative(String slot, String symbol) {
        requireNativeReturn(slot(slot));
        requireNativeContext(slot(slot));
        var resolution = registry.findAllowListed(symbol);
        MemorySegment function = resolution.function().orElseThrow(() -> new IllegalArgumentException(
                "symbol " + symbol + " is in none of the allow-listed libraries " + registry.options().allowedLibraries()
                        + " (" + io.tabguard.guard.Violation.SLOT_OUTSIDE_ALLOW_LIST + "): " + resolution.refusal()));
        put(slot, new Binding.Native(symbol, function));
        return this;
    }

    /**
     * Binds a slot to a C plugin's function whose address {@link Plugin}'s seal has already checked: a
     * function of the plugin's own file ({@code AllowedObject}: the exact start of a defined, sized
     * {@code STT_FUNC} in its executable code). Package-private: only the plugin host calls it.
     */
    TableBuilder bindVerifiedNative(String slot, String symbol, MemorySegment function) {
        requireNativeReturn(slot(slot));
        requireNativeContext(slot(slot));
        put(slot, new Binding.Native(symbol, function));
        return this;
    }

    /**
     * What a refused call through {@code slot} returns to native code (overrides the schema's).
     *
     * @param slot  the slot's name
     * @param value boxed as the return type's carrier; {@code MemorySegment.NULL} is the only pointer allowed;
     *              for a struct returned by value a {@code byte[]} or {@code MemorySegment} of its size, copied now
     * @return this builder
     * @throws IllegalArgumentException if there is no such slot or the value's type or size does not fit
     */
    public TableBuilder refusal(String slot, Object value) {
        Schema.Slot s = slot(slot);
        refusals.put(slot, Schema.checkedRefusal(s.name(), s.descriptor(), value));
        return this;
    }

    /**
     * Names the embedder's own handler for refused calls through {@code slot}: called instead of the
     * target whenever the guard refuses a call (tampered, revoked, closed or quarantined table, context
     * mismatch, registry closed), told which {@link io.tabguard.guard.Violation} refused it, and its
     * result returned to native code. Its type is the slot's with a leading {@code Violation}
     * parameter: for {@code int (*compare)(const void *, const void *)},
     * {@code (Violation, MemorySegment, MemorySegment) int}.
     *
     * <p>The handler is contained like a target: whatever it throws is caught and audited, and the caller
     * gets the slot's constant refusal value (so a non-void slot still needs one). It runs outside the
     * table's dispatch tracking: a revoke or close never waits for it. It must not call back into the
     * refused table (that call is refused too) and must never call the table's target: it exists so a
     * caller in the middle of an operation gets an answer that keeps its own state consistent (see the
     * README on choosing a refusal).
     *
     * @param slot    the slot's name
     * @param handler the handler, of the slot's type with a leading {@code Violation} parameter
     * @return this builder
     * @throws IllegalArgumentException if the handler's type is not the slot's with a leading Violation
     * @throws IllegalStateException    if the slot already has a handler
     */
    public TableBuilder refuseWith(String slot, MethodHandle handler) {
        Objects.requireNonNull(handler, "handler");
        Schema.Slot s = slot(slot);
        MethodType expected = s.descriptor().toMethodType().insertParameterTypes(0, io.tabguard.guard.Violation.class);
        if (!handler.type().equals(expected)) {
            throw new IllegalArgumentException("refusal handler of slot " + slot + " needs " + expected + ", the handle is " + handler.type());
        }
        if (refusalHandlers.putIfAbsent(slot, handler) != null) {
            throw new IllegalStateException("slot " + slot + " already has a refusal handler");
        }
        return this;
    }

    /**
     * Writes a data member: a scalar boxed in its layout's carrier (Integer for JAVA_INT, MemorySegment
     * for ADDRESS, whose address is written), or for an {@link Schema.Aggregate} (an array or nested
     * struct) a {@code byte[]} or {@code MemorySegment} of exactly its size, whose contents are copied now.
     *
     * @param member the data member's name
     * @param value  its value
     * @return this builder
     * @throws IllegalArgumentException if there is no such data member at the table's minor, it is a slot,
     *                                  or the value's type or size does not fit
     */
    public TableBuilder data(String member, Object value) {
        Objects.requireNonNull(value, "value");
        Schema.Member m = schema.member(member).filter(x -> x.sinceMinor() <= minor)
                .orElseThrow(() -> new IllegalArgumentException("schema " + schema.name() + " has no member " + member));
        if (m instanceof Schema.Aggregate a) {
            long given = switch (value) {
                case byte[] b -> b.length;
                case MemorySegment segment -> segment.byteSize();
                default -> throw new IllegalArgumentException("member " + member + " is a " + a.layout()
                        + ": give a byte[] or MemorySegment, not a " + value.getClass().getSimpleName());
            };
            if (given != a.layout().byteSize()) {
                throw new IllegalArgumentException("member " + member + " is " + a.layout().byteSize() + " bytes, " + given + " given");
            }
            data.put(member, value instanceof byte[] b ? b.clone()
                    : ((MemorySegment) value).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            return this;
        }
        if (!(m instanceof Schema.Data d)) {
            throw new IllegalArgumentException(member + " is a slot: bind it instead");
        }
        if (d.consumerWritten()) {
            throw new IllegalArgumentException(member + " is written by the consumer: it starts NULL");
        }
        Class<?> boxed = MethodType.methodType(d.layout().carrier()).wrap().returnType();
        if (!boxed.isInstance(value)) {
            throw new IllegalArgumentException("member " + member + " holds a " + boxed.getSimpleName() + ", not a " + value.getClass().getSimpleName());
        }
        data.put(member, value);
        return this;
    }

    /**
     * The context that slots declared {@code REGISTERED_CONTEXT} check their context argument against.
     *
     * @param registeredContext the pointer those arguments must equal
     * @return this builder
     */
    public TableBuilder context(MemorySegment registeredContext) {
        this.context = Objects.requireNonNull(registeredContext);
        return this;
    }

    /**
     * Builds the table in memory that native code can write, instead of read-only pages. Only for a
     * consumer that writes into the struct it is given (a schema with a
     * {@linkplain Schema.Builder#consumerWritten consumer-written} member is built so anyway) or for
     * tests that play a native writer: a write into such a table is not prevented, only detected at the
     * next dispatch through one of its trampolines (refused, quarantined, audited).
     *
     * @return this builder
     */
    public TableBuilder writable() {
        this.writable = true;
        return this;
    }

    /**
     * Stamps and returns the table; the builder cannot be used again.
     *
     * @return the sealed table, open and owned by the registry
     * @throws IllegalStateException if a required slot is unbound, a non-void slot has no refusal value, a
     *                               slot is bound to a registered context that was not given, this builder
     *                               built a table already, or the registry is closed
     */
    public CallbackTable build() {
        if (built) {
            throw new IllegalStateException("this builder already built a table");
        }
        Map<String, Binding> resolved = new HashMap<>();
        Map<String, Object> refusalValues = new HashMap<>();
        for (Schema.Member m : schema.members(minor)) {
            if (!(m instanceof Schema.Slot s)) {
                continue;
            }
            Binding b = bindings.get(s.name());
            if (b == null && s.required()) {
                throw new IllegalStateException("required slot " + s.name() + " of " + schema.name() + " is not bound");
            }
            if (b == null && s.defaultImplementation().isPresent()) {
                b = new Binding.Java(s.defaultImplementation().get());
            }
            if (b != null) {
                resolved.put(s.name(), b);
            }
            Object refusal = refusals.containsKey(s.name()) ? refusals.get(s.name()) : s.refusalValue().orElse(null);
            if (refusal == null && s.descriptor().returnLayout().isPresent()) {
                throw new IllegalStateException("slot " + s.name() + " returns a value but has no refusal value");
            }
            refusalValues.put(s.name(), refusal);
            if (refusalHandlers.containsKey(s.name()) && !(b instanceof Binding.Java)) {
                throw new IllegalStateException("slot " + s.name() + " has a refusal handler but no Java target: only a trampoline can call it");
            }
            if (s.contextBinding() == Schema.ContextBinding.REGISTERED_CONTEXT && context.address() == 0) {
                throw new IllegalStateException("slot " + s.name() + " checks a registered context, but none was given: call context(...)");
            }
        }
        bindings.keySet().stream().filter(name -> schema.member(name).orElseThrow().sinceMinor() > minor).findFirst()
                .ifPresent(name -> {
                    throw new IllegalStateException("slot " + name + " does not exist at minor " + minor);
                });
        built = true;
        return registry.seal(schema, minor, resolved, refusalValues, Map.copyOf(refusalHandlers), Map.copyOf(data), context, writable);
    }

    private Schema.Slot slot(String name) {
        Schema.Member m = schema.member(Objects.requireNonNull(name, "slot"))
                .orElseThrow(() -> new IllegalArgumentException("schema " + schema.name() + " has no slot " + name));
        if (!(m instanceof Schema.Slot s)) {
            throw new IllegalArgumentException(name + " is a data member, not a slot");
        }
        return s;
    }

    private static void requireNativeReturn(Schema.Slot s) {
        if (s.descriptor().returnLayout().filter(java.lang.foreign.GroupLayout.class::isInstance).isPresent()) {
            throw new IllegalArgumentException("slot " + s.name() + " returns a struct by value: the native entry thunk's refusal path"
                    + " cannot return one, so bind it to a Java target (bind), not to a native function");
        }
    }

    /**
     * A native slot's context binding is checked by its entry thunk, which compares an argument register
     * with the bound address: the argument must arrive in one of the six integer argument registers, and
     * the thunk never dereferences it ({@code POINTS_TO_PAYLOAD} needs a fault-safe read only a Java
     * target's trampoline does).
     */
    private static void requireNativeContext(Schema.Slot s) {
        if (s.contextBinding() == Schema.ContextBinding.POINTS_TO_PAYLOAD) {
            throw new IllegalArgumentException("slot " + s.name() + " checks what its context argument points to:"
                    + " a native entry thunk never dereferences a caller's pointer, so bind it to a Java target (bind)");
        }
        if (s.contextBinding() != Schema.ContextBinding.NONE
                && io.tabguard.ffm.internal.EntryThunks.integerRegisterOf(s.descriptor(), s.contextArgument()) < 0) {
            throw new IllegalArgumentException("slot " + s.name() + "'s context argument " + s.contextArgument()
                    + " does not arrive in one of the six integer argument registers, which is all a native entry thunk"
                    + " can compare: bind it to a Java target (bind)");
        }
    }

    private void put(String slot, Binding binding) {
        if (bindings.putIfAbsent(slot, binding) != null) {
            throw new IllegalStateException("slot " + slot + " is already bound");
        }
    }

    private static Method singleAbstractMethod(Class<?> type) {
        if (!type.isInterface()) {
            throw new IllegalArgumentException(type.getName() + " is not an interface");
        }
        Method found = null;
        for (Method m : type.getMethods()) {
            if (Modifier.isAbstract(m.getModifiers()) && !isObjectMethod(m)) {
                if (found != null) {
                    throw new IllegalArgumentException(type.getName() + " has more than one abstract method");
                }
                found = m;
            }
        }
        if (found == null) {
            throw new IllegalArgumentException(type.getName() + " has no abstract method");
        }
        return found;
    }

    private static boolean isObjectMethod(Method m) {
        try {
            Object.class.getMethod(m.getName(), m.getParameterTypes());
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }
}
