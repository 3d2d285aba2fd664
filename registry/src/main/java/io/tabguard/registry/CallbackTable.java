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
 * callers); its memory and trampolines stay valid, and keep refusing, until the registry closes.
 */
public sealed interface CallbackTable extends AutoCloseable permits io.tabguard.registry.internal.TableImpl {

    Schema schema();

    /** The minor this table was built at. */
    int minor();

    /** Unique within its registry, never reused. */
    long serial();

    /**
     * The struct to hand to native code: the payload, in the layout {@code schema().layout(minor())}, as a
     * read-only segment. Unless the table was built writable ({@link TableBuilder#writable()}, or a schema
     * with a consumer-written member), its pages are mapped read-only for native code too: a write through
     * this address faults and stops the process.
     */
    MemorySegment payload();

    TableStatus status();

    /** The function pointer a slot holds (a trampoline, or an allow-listed native function), from the verified snapshot. */
    MemorySegment function(String slot);

    /**
     * A handle of the slot's Java type that calls through the table from Java: it checks the table, then
     * calls the slot's function pointer.
     *
     * @throws io.tabguard.guard.TableRejectedException from the handle, when the table is refused
     */
    MethodHandle slotHandle(String slot);

    /** A copy of the table's verified bytes (header and payload), as stamped. */
    byte[] verifiedBytes();

    /** Refuses every later call; returns once no other thread is inside one of its targets. Idempotent. */
    @Override
    void close();
}
