package io.tabguard.ffm.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Java → native calls through a table's slot: check the table, read the function pointer from the
 * verified snapshot (never from the live, attackable memory), then call it.
 * <pre>
 *   int token = gate.enterOrThrow(slot);    // TableRejectedException when refused
 *   try { return downcall(snapshotWord(offset), args); } finally { gate.exit(token); }
 * </pre>
 * Stateless and thread-safe.
 */
public final class ValidatedDowncalls {
    private static final MethodHandle ENTER_OR_THROW;
    private static final MethodHandle EXIT;
    private static final MethodHandle SNAPSHOT_WORD;
    private static final MethodHandle OF_ADDRESS;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            ENTER_OR_THROW = l.findVirtual(DispatchGate.class, "enterOrThrow", MethodType.methodType(int.class, int.class));
            EXIT = l.findVirtual(DispatchGate.class, "exit", MethodType.methodType(void.class, int.class));
            SNAPSHOT_WORD = l.findVirtual(DispatchGate.class, "snapshotWord", MethodType.methodType(long.class, long.class));
            OF_ADDRESS = l.findStatic(MemorySegment.class, "ofAddress", MethodType.methodType(MemorySegment.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private ValidatedDowncalls() {}

    /** A handle of type {@code descriptor.toMethodType()} that calls through the slot at {@code slotTableOffset}. */
    public static MethodHandle through(DispatchGate gate, int slot, long slotTableOffset, FunctionDescriptor descriptor) {
        MethodType type = descriptor.toMethodType();
        MethodHandle downcall = NativeAccess.downcall(descriptor);          // (MemorySegment, args...)R
        MethodHandle functionPointer = MethodHandles.filterReturnValue(
                MethodHandles.insertArguments(SNAPSHOT_WORD, 0, gate, slotTableOffset), OF_ADDRESS);   // ()MemorySegment
        MethodHandle call = MethodHandles.foldArguments(downcall, functionPointer);                   // (args...)R
        MethodHandle exit = EXIT.bindTo(gate);                                                        // (int token) void
        call = MethodHandles.dropArguments(call, 0, int.class);                                       // (token, args...)R
        MethodHandle cleanup = type.returnType() == void.class
                ? MethodHandles.dropArguments(exit, 0, Throwable.class)
                : MethodHandles.dropArguments(MethodHandles.foldArguments(
                        MethodHandles.dropArguments(MethodHandles.identity(type.returnType()), 1, int.class), 1, exit),
                        0, Throwable.class);                                                          // (Throwable, [R], token)
        MethodHandle guarded = MethodHandles.tryFinally(call, cleanup);
        return MethodHandles.foldArguments(guarded, MethodHandles.insertArguments(ENTER_OR_THROW, 0, gate, slot));
    }
}
