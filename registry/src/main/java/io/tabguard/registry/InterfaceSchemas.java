package io.tabguard.registry;

import io.tabguard.guard.Schema;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Derives a {@link Schema} from an annotated Java interface: the {@link CallbackSchema} gives name and
 * major, each {@link CallbackSlot} method a slot in {@code order}, introduced at {@code since}; the
 * schema's minor is the highest {@code since}.
 *
 * <p>Refuses ({@link IllegalArgumentException}): a type that is not a public interface annotated with
 * {@code @CallbackSchema}; an abstract method without {@code @CallbackSlot}; orders that are not
 * 0..n-1; a {@code since} that decreases along the order; a parameter or return type with no C
 * mapping; a refusal text that does not parse as the return type. Thread-safe; results are cached.
 */
public final class InterfaceSchemas {
    private InterfaceSchemas() {}

    private static final ClassValue<Schema> CACHE = new ClassValue<>() {
        @Override
        protected Schema computeValue(Class<?> type) {
            return derive(type);
        }
    };

    /**
     * The schema of an annotated interface, derived once and cached.
     *
     * @param callbackInterface a public interface annotated {@link CallbackSchema}
     * @return its schema
     * @throws IllegalArgumentException if the interface breaks a rule listed above
     */
    public static Schema schemaOf(Class<?> callbackInterface) {
        return CACHE.get(callbackInterface);
    }

    /** The slot methods of the interface, in slot order. */
    static List<Method> slotMethods(Class<?> type) {
        schemaOf(type);
        return sortedSlots(type);
    }

    private static Schema derive(Class<?> type) {
        CallbackSchema annotation = type.getAnnotation(CallbackSchema.class);
        if (!type.isInterface() || !Modifier.isPublic(type.getModifiers()) || annotation == null) {
            throw new IllegalArgumentException(type.getName() + " is not a public interface annotated @CallbackSchema");
        }
        List<Method> slots = sortedSlots(type);
        Schema.Builder builder = Schema.builder(annotation.name(), annotation.major());
        int minor = 0;
        for (int i = 0; i < slots.size(); i++) {
            Method m = slots.get(i);
            CallbackSlot slot = m.getAnnotation(CallbackSlot.class);
            if (slot.order() != i) {
                throw new IllegalArgumentException(type.getName() + ": slot orders must be 0.." + (slots.size() - 1) + ", found " + slot.order() + " on " + m.getName());
            }
            if (slot.since() < minor) {
                throw new IllegalArgumentException(type.getName() + ": slot " + m.getName() + " has since " + slot.since() + " after a slot of minor " + minor);
            }
            minor = slot.since();
            builder.minor(minor);
            FunctionDescriptor descriptor = descriptorOf(m);
            Object refusal = m.getReturnType() == void.class ? null : refusalOf(m, slot.refusal());
            builder.slot(m.getName(), descriptor, o -> {
                if (refusal != null) {
                    o.refusal(refusal);
                }
            });
        }
        if (slots.isEmpty()) {
            throw new IllegalArgumentException(type.getName() + " has no @CallbackSlot method");
        }
        return builder.build();
    }

    private static List<Method> sortedSlots(Class<?> type) {
        List<Method> slots = new ArrayList<>();
        for (Method m : type.getMethods()) {
            if (m.isAnnotationPresent(CallbackSlot.class)) {
                slots.add(m);
            } else if (Modifier.isAbstract(m.getModifiers())) {
                throw new IllegalArgumentException(type.getName() + "." + m.getName() + " is abstract but not a @CallbackSlot");
            }
        }
        slots.sort(Comparator.comparingInt(m -> m.getAnnotation(CallbackSlot.class).order()));
        return slots;
    }

    private static FunctionDescriptor descriptorOf(Method m) {
        MemoryLayout[] args = new MemoryLayout[m.getParameterCount()];
        for (int i = 0; i < args.length; i++) {
            args[i] = layoutOf(m, m.getParameterTypes()[i]);
        }
        return m.getReturnType() == void.class
                ? FunctionDescriptor.ofVoid(args)
                : FunctionDescriptor.of(layoutOf(m, m.getReturnType()), args);
    }

    private static ValueLayout layoutOf(Method m, Class<?> type) {
        if (type == int.class) return ValueLayout.JAVA_INT;
        if (type == long.class) return ValueLayout.JAVA_LONG;
        if (type == short.class) return ValueLayout.JAVA_SHORT;
        if (type == byte.class) return ValueLayout.JAVA_BYTE;
        if (type == float.class) return ValueLayout.JAVA_FLOAT;
        if (type == double.class) return ValueLayout.JAVA_DOUBLE;
        if (type == MemorySegment.class) return ValueLayout.ADDRESS;
        throw new IllegalArgumentException(m.getDeclaringClass().getName() + "." + m.getName() + ": " + type.getName() + " has no C mapping");
    }

    private static Object refusalOf(Method m, String text) {
        Class<?> t = m.getReturnType();
        String s = text.isEmpty() ? (t == MemorySegment.class ? "NULL" : "0") : text.trim();
        try {
            if (t == int.class) return Integer.decode(s);
            if (t == long.class) return Long.decode(s);
            if (t == short.class) return Short.decode(s);
            if (t == byte.class) return Byte.decode(s);
            if (t == float.class) return Float.parseFloat(s);
            if (t == double.class) return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(m.getName() + ": refusal \"" + text + "\" is not a " + t.getName(), e);
        }
        if (t == MemorySegment.class && s.equals("NULL")) {
            return MemorySegment.NULL;
        }
        throw new IllegalArgumentException(m.getName() + ": refusal of a pointer slot can only be NULL");
    }
}
