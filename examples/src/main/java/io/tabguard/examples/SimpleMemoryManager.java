package io.tabguard.examples;

import java.lang.foreign.MemorySegment;

/**
 * The four callbacks of LLVM's simple MCJIT memory manager ({@code LLVMCreateSimpleMCJITMemoryManager},
 * {@code llvm-c/ExecutionEngine.h}), with their C types as FFM carries them: {@code uintptr_t} is a
 * {@code long}, {@code unsigned} and {@code LLVMBool} are {@code int}s, pointers are zero-length segments.
 * {@link JitMemory} is the implementation; {@link GuardedJitMemoryManager} puts one behind a verified table.
 *
 * <p>Implementations are called from LLVM's compiling thread through the table's trampolines;
 * {@link JitMemory} is one, and states its own thread-safety.
 */
public interface SimpleMemoryManager {

    /** {@code uint8_t *AllocateCodeSection(void *Opaque, uintptr_t Size, unsigned Alignment, unsigned SectionID, const char *SectionName)} */
    MemorySegment allocateCodeSection(MemorySegment opaque, long size, int alignment, int sectionId, MemorySegment sectionName);

    /** {@code uint8_t *AllocateDataSection(void *Opaque, uintptr_t Size, unsigned Alignment, unsigned SectionID, const char *SectionName, LLVMBool IsReadOnly)} */
    MemorySegment allocateDataSection(MemorySegment opaque, long size, int alignment, int sectionId, MemorySegment sectionName,
                                      int isReadOnly);

    /** {@code LLVMBool FinalizeMemory(void *Opaque, char **ErrMsg)}: 0 on success; on failure 1, with a {@code strdup}'ed message in {@code *ErrMsg}. */
    int finalizeMemory(MemorySegment opaque, MemorySegment errMsg);

    /** {@code void Destroy(void *Opaque)} */
    void destroy(MemorySegment opaque);
}
