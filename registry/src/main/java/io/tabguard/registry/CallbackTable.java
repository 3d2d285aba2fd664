package io.tabguard.registry;

import io.tabguard.guard.Schema;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * A verified callback table: a C struct of function pointers in registry-owned native memory, preceded
 * by a stamped ABI v1 header. Hand {@link #payload()} to native code; every call it makes through a
 * slot is checked first. The only way to a table is {@link Registry#builder}; there is no other
 * implementation and no public constructor.
 *
 * <p>Table memory is read-only to everything but the registry (see {@link #payload()}).
 *
 * <p>Thread-safe. Closing a table makes every slot refuse (returning the slot's refusal value to native
 * callers); its memory and entry thunks stay valid, and keep refusing, until the registry closes or
 * {@link Registry#release} gives them back.
 *
 * <p>Limits: header and payload together are at most 64 KiB ({@link io.tabguard.guard.AbiV1#MAX_TABLE_SIZE});
 * see {@link Registry} for what each slot costs.
 */
public sealed interface CallbackTable extends AutoCloseable permits io.tabguard.registry.internal.TableImpl {

    /**
     * The schema the table was built for (or accepted as, when imported).
     *
     * @return the schema
     */
    Schema schema();

    /**
     * The minor this table was built at (for a view {@link Registry#adopt} made for an older caller: that caller's minor).
     *
     * @return the minor
     */
    int minor();

    /**
     * The table's serial, stamped in its header.
     *
     * @return unique within its registry, never reused
     */
    long serial();

    /**
     * The struct to hand to native code: the payload, in the layout {@code schema().layout(minor())}, as a
     * read-only segment. Unless the table was built writable ({@link TableBuilder#writable()}, or a schema
     * with a consumer-written member), its pages are mapped read-only for native code too: a write through
     * this address faults and stops the process.
     *
     * @return the payload segment (valid until the registry closes)
     */
    MemorySegment payload();

    /**
     * Where the table is in its life; only {@link TableStatus#OPEN} dispatches.
     *
     * @return the current status (it may change right after: another thread may revoke or close)
     */
    TableStatus status();

    /**
     * The function pointer a slot holds (a trampoline, or an allow-listed native function), from the verified snapshot.
     *
     * @param slot the slot's name
     * @return the pointer, {@code MemorySegment.NULL} for an unbound optional slot
     * @throws IllegalArgumentException if the schema has no such slot at the table's minor
     */
    MemorySegment function(String slot);

    /**
     * A handle of the slot's Java type that calls through the table from Java: it checks the table, then
     * calls the slot's function pointer.
     *
     * @param slot the slot's name
     * @return a handle of the slot's {@code FunctionDescriptor} type
     * @throws IllegalArgumentException if the schema has no such slot at the table's minor
     * @throws io.tabguard.guard.TableRejectedException from the handle, when the table is refused
     */
    MethodHandle slotHandle(String slot);

    /**
     * A copy of the table's verified bytes (header and payload), as stamped: what
     * {@link Registry#adopt(byte[], Schema)} accepts back while the table is open.
     *
     * @return a fresh array
     */
    byte[] verifiedBytes();

    /** Refuses every later call; returns once no other thread is inside one of its targets. Idempotent. */
    @Override
    void close();
}
