package io.tabguard.registry;

import io.tabguard.guard.Schema;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * required slot, a non-void slot with no refusal value, and a slot bound to a registered context
 * when no context was given. Not thread-safe; builds one table.
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
    private final Map<String, Object> data = new HashMap<>();
    private boolean writable;
    private boolean built;

    TableBuilder(Registry registry, Schema schema) {
        this.registry = registry;
        this.schema = Objects.requireNonNull(schema, "schema");
        this.minor = schema.minor();
    }

    /** Builds the table at an older minor of its schema (for a consumer that expects that minor's struct). */
    public TableBuilder minor(int atMinor) {
        if (atMinor < 0 || atMinor > schema.minor()) {
            throw new IllegalArgumentException("schema " + schema.name() + " has minors 0.." + schema.minor());
        }
        this.minor = atMinor;
        return this;
    }

    /** Binds a slot to a Java method handle of exactly the slot's type. */
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

    /** Binds a slot to a function of one of the registry's allow-listed libraries. */
    public TableBuilder bindNative(String slot, String symbol) {
        slot(slot);
        MemorySegment function = registry.findAllowListed(symbol).orElseThrow(() -> new IllegalArgumentException(
                "symbol " + symbol + " is in none of the allow-listed libraries " + registry.options().allowedLibraries()));
        put(slot, new Binding.Native(symbol, function));
        return this;
    }

    /**
     * Binds a slot to a C plugin's function whose address {@link Plugin}'s seal has already checked: the
     * exact start of a symbol of an allow-listed library ({@code dladdr}). Package-private: only the
     * plugin host calls it.
     */
    TableBuilder bindVerifiedNative(String slot, String symbol, MemorySegment function) {
        slot(slot);
        put(slot, new Binding.Native(symbol, function));
        return this;
    }

    /** What a refused call through {@code slot} returns to native code (overrides the schema's). */
    public TableBuilder refusal(String slot, Object value) {
        Schema.Slot s = slot(slot);
        requireRefusalType(s, value);
        refusals.put(slot, value);
        return this;
    }

    /** Writes a data member (boxed in its layout's carrier: Integer for JAVA_INT, MemorySegment for ADDRESS, ...). */
    public TableBuilder data(String member, Object value) {
        Objects.requireNonNull(value, "value");
        Schema.Member m = schema.member(member).filter(x -> x.sinceMinor() <= minor)
                .orElseThrow(() -> new IllegalArgumentException("schema " + schema.name() + " has no member " + member));
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

    /** The context that slots declared {@code REGISTERED_CONTEXT} check their context argument against. */
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
     */
    public TableBuilder writable() {
        this.writable = true;
        return this;
    }

    /** Stamps and returns the table; the builder cannot be used again. */
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
            if (s.contextBinding() == Schema.ContextBinding.REGISTERED_CONTEXT && context.address() == 0) {
                throw new IllegalStateException("slot " + s.name() + " checks a registered context, but none was given: call context(...)");
            }
        }
        bindings.keySet().stream().filter(name -> schema.member(name).orElseThrow().sinceMinor() > minor).findFirst()
                .ifPresent(name -> {
                    throw new IllegalStateException("slot " + name + " does not exist at minor " + minor);
                });
        built = true;
        return registry.seal(schema, minor, resolved, refusalValues, Map.copyOf(data), context, writable);
    }

    private Schema.Slot slot(String name) {
        Schema.Member m = schema.member(Objects.requireNonNull(name, "slot"))
                .orElseThrow(() -> new IllegalArgumentException("schema " + schema.name() + " has no slot " + name));
        if (!(m instanceof Schema.Slot s)) {
            throw new IllegalArgumentException(name + " is a data member, not a slot");
        }
        return s;
    }

    private void put(String slot, Binding binding) {
        if (bindings.putIfAbsent(slot, binding) != null) {
            throw new IllegalStateException("slot " + slot + " is already bound");
        }
    }

    private static void requireRefusalType(Schema.Slot s, Object value) {
        Objects.requireNonNull(value, "refusal value (use MemorySegment.NULL for pointers)");
        ValueLayout ret = (ValueLayout) s.descriptor().returnLayout().orElseThrow(() ->
                new IllegalArgumentException("slot " + s.name() + " returns void: it has no refusal value"));
        Class<?> boxed = MethodType.methodType(ret.carrier()).wrap().returnType();
        if (!boxed.isInstance(value)) {
            throw new IllegalArgumentException("refusal of slot " + s.name() + " must be a " + boxed.getSimpleName());
        }
        if (value instanceof MemorySegment p && p.address() != 0) {
            throw new IllegalArgumentException("a refused call may only return MemorySegment.NULL");
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
