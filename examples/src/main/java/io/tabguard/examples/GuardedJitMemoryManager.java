package io.tabguard.examples;

import io.tabguard.guard.Schema;
import io.tabguard.guard.Schema.ContextBinding;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * LLVM's simple MCJIT memory manager behind a verified table: the four callbacks of
 * {@code LLVMCreateSimpleMCJITMemoryManager} are the slots of {@link #SCHEMA}, each an upcall trampoline
 * that checks the table before every dispatch, and each bound to the {@code Opaque} registered with the
 * table, so a call with any other {@code Opaque} is refused ({@code CONTEXT_MISMATCH}).
 *
 * <p>Refusal values: {@code NULL} for the two allocations (MCJIT then stops with its own fatal error,
 * "Unable to allocate section memory", before any JIT-compiled code can run), {@code 1} (failure) for
 * {@code FinalizeMemory} with {@code *ErrMsg} left alone, nothing for {@code Destroy} (the pages stay
 * mapped until {@link #close()}).
 *
 * <p>Lifecycle: {@link #createLlvmMemoryManager} hands the trampolines to LLVM; the engine (or
 * {@code LLVMDisposeMCJITMemoryManager}) calls {@code Destroy} when it is disposed. {@link #close()} the
 * manager only after that: it closes and releases the table and unmaps whatever LLVM did not destroy. The registry
 * must outlive the engine too: closing it frees the trampolines LLVM still holds.
 *
 * <p>Thread-safe as far as its {@link SimpleMemoryManager} is.
 */
@SuppressWarnings("restricted")
public final class GuardedJitMemoryManager implements AutoCloseable {

    /** The callbacks with their C signatures from {@code llvm-c/ExecutionEngine.h}; all required; Opaque (argument 0) bound to the context. */
    public static final Schema SCHEMA = Schema.builder("llvm.mcjit_simple_memory_manager", 1)
            // uint8_t *(*)(void *Opaque, uintptr_t Size, unsigned Alignment, unsigned SectionID, const char *SectionName)
            .slot("AllocateCodeSection", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS),
                    s -> s.refusal(MemorySegment.NULL).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // uint8_t *(*)(void *Opaque, uintptr_t Size, unsigned Alignment, unsigned SectionID, const char *SectionName, LLVMBool IsReadOnly)
            .slot("AllocateDataSection", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT),
                    s -> s.refusal(MemorySegment.NULL).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // LLVMBool (*)(void *Opaque, char **ErrMsg)
            .slot("FinalizeMemory", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS),
                    s -> s.refusal(1).contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            // void (*)(void *Opaque)
            .slot("Destroy", FunctionDescriptor.ofVoid(ADDRESS),
                    s -> s.contextArgument(0, ContextBinding.REGISTERED_CONTEXT))
            .build();

    /** The slots in the order of the C struct and of {@code LLVMCreateSimpleMCJITMemoryManager}'s arguments. */
    public static final java.util.List<String> SLOTS = java.util.List.of("AllocateCodeSection", "AllocateDataSection",
            "FinalizeMemory", "Destroy");

    static final MethodHandle ALLOCATE_CODE, ALLOCATE_DATA, FINALIZE, DESTROY;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            ALLOCATE_CODE = l.findVirtual(SimpleMemoryManager.class, "allocateCodeSection", MethodType.methodType(
                    MemorySegment.class, MemorySegment.class, long.class, int.class, int.class, MemorySegment.class));
            ALLOCATE_DATA = l.findVirtual(SimpleMemoryManager.class, "allocateDataSection", MethodType.methodType(
                    MemorySegment.class, MemorySegment.class, long.class, int.class, int.class, MemorySegment.class, int.class));
            FINALIZE = l.findVirtual(SimpleMemoryManager.class, "finalizeMemory",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
            DESTROY = l.findVirtual(SimpleMemoryManager.class, "destroy", MethodType.methodType(void.class, MemorySegment.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Arena arena = Arena.ofShared();
    private final Registry registry;
    private final SimpleMemoryManager memory;
    private final MemorySegment opaque;
    private final CallbackTable table;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** A fresh {@link JitMemory} behind a table built in {@code registry}. */
    public GuardedJitMemoryManager(Registry registry) {
        this(registry, new JitMemory());
    }

    /** {@code memory} behind a table built in {@code registry}, with a fresh Opaque as its registered context. */
    public GuardedJitMemoryManager(Registry registry, SimpleMemoryManager memory) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.memory = Objects.requireNonNull(memory, "memory");
        try {
            opaque = arena.allocate(JAVA_LONG);   // an identity token: LLVM passes it back, nobody reads it
            table = registry.builder(SCHEMA)
                    .bind("AllocateCodeSection", ALLOCATE_CODE.bindTo(memory))
                    .bind("AllocateDataSection", ALLOCATE_DATA.bindTo(memory))
                    .bind("FinalizeMemory", FINALIZE.bindTo(memory))
                    .bind("Destroy", DESTROY.bindTo(memory))
                    .context(opaque)
                    .build();
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * {@code LLVMCreateSimpleMCJITMemoryManager(Opaque, ...)} with the four function pointers read from the
     * live table, as a C consumer reads a struct it was given. Put the result in
     * {@code LLVMMCJITCompilerOptions.MCJMM}; the engine owns it from then on.
     */
    public MemorySegment createLlvmMemoryManager(LlvmJit llvm) {
        MemorySegment payload = table.payload();
        return llvm.createSimpleMemoryManager(opaque,
                payload.get(ADDRESS, SCHEMA.member("AllocateCodeSection").orElseThrow().offset()),
                payload.get(ADDRESS, SCHEMA.member("AllocateDataSection").orElseThrow().offset()),
                payload.get(ADDRESS, SCHEMA.member("FinalizeMemory").orElseThrow().offset()),
                payload.get(ADDRESS, SCHEMA.member("Destroy").orElseThrow().offset()));
    }

    public CallbackTable table() {
        return table;
    }

    /** The Opaque registered with the table: the only one its trampolines accept. */
    public MemorySegment opaque() {
        return opaque;
    }

    public SimpleMemoryManager memory() {
        return memory;
    }

    /**
     * Closes the table and {@link Registry#release releases} it (its thunks, slot records and the
     * memory manager they reach are given back, so a process that creates and disposes engines by the
     * thousand stays flat), then unmaps whatever LLVM did not destroy. Call only after the engine that
     * used it was disposed ({@code LLVMDisposeExecutionEngine} has returned, so LLVM has called
     * {@code Destroy} and holds none of the four pointers): a call through a released pointer may fault.
     * If the registry was closed first, it already gave everything back and there is nothing to release.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        table.close();
        try {
            registry.release(table);
        } catch (IllegalStateException registryClosed) {
            // the table is closed, so only a closed registry refuses; its close freed the table's thunks
        }
        if (memory instanceof JitMemory jm) {
            jm.release();
        }
        arena.close();
    }
}
