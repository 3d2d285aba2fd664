package io.tabguard.registry.internal;

import io.tabguard.registry.CallbackTable;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The invocation handler behind {@code Registry.proxy}: each slot method calls through the table with a
 * validated downcall; {@code TableRejectedException} propagates to the caller. Thread-safe.
 */
public final class TableProxy implements InvocationHandler {
    private final CallbackTable table;
    private final Map<Method, MethodHandle> handles;
    private final String description;

    public TableProxy(Class<?> type, CallbackTable table, List<Method> slotMethods) {
        this.table = table;
        this.handles = slotMethods.stream().collect(Collectors.toUnmodifiableMap(Function.identity(),
                m -> table.slotHandle(m.getName()).asSpreader(Object[].class, m.getParameterCount())));
        this.description = type.getSimpleName() + " proxy of " + table;
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        MethodHandle h = handles.get(method);
        if (h != null) {
            return h.invoke(args == null ? new Object[0] : args);
        }
        return switch (method.getName()) {
            case "toString" -> description;
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == args[0];
            default -> throw new UnsupportedOperationException(method.toString());
        };
    }

    public CallbackTable table() {
        return table;
    }
}
