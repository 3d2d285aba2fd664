/*
 * libtabguard's internal interface: what the Java side (io.tabguard.ffm.internal) and the C self-test
 * call. Not installed, not a public API: the Java code is the only supported user.
 */
#ifndef TABGUARD_NATIVE_H
#define TABGUARD_NATIVE_H

#include <stddef.h>
#include <stdint.h>

/* Only the functions below are exported (built with -fvisibility=hidden). */
#define TG_API __attribute__((visibility("default")))

/* One memfd mapped twice: `writable` (RW, private to the registry) and `view` (R or R+X, handed out). */
typedef struct tg_dualmap {
    void *writable;
    void *view;
    uint64_t size;
} tg_dualmap;

/* view_exec != 0: the view is PROT_READ|PROT_EXEC (thunk code), else PROT_READ (state cells).
 * Returns 0, or a positive errno. The writable alias is never PROT_EXEC; the view can never be made
 * writable (F_SEAL_FUTURE_WRITE is set before it is mapped, so mprotect(PROT_WRITE) fails). */
TG_API int tg_dualmap_create(uint64_t size, int view_exec, tg_dualmap *out);

/* Gives a dual mapping's memory back: the writable alias is unmapped and the view's address range is
 * replaced by an inaccessible reservation that is never reused, so a later access through an old view
 * address faults. Returns 0 or an errno; on success map->writable is NULL. */
TG_API int tg_dualmap_retire(tg_dualmap *map);

/* The state word value that lets a thunk through ("OPEN" in ASCII); every other value refuses, so
 * zeroed or uninitialised memory fails closed. */
#define TG_STATE_OPEN UINT64_C(0x4E45504F)

/* A table's state cell (in a read-only view): the thunk reads `state`; a refusal for the table's state
 * is counted in refusals[0] (ordinary writable memory) by the entry `refusal_entry`, a refusal for a
 * context argument that is not the bound one in refusals[1] by `context_refusal_entry`. */
typedef struct tg_state_cell {
    uint64_t state;
    uint64_t *refusals;
    void *refusal_entry;
    void *context_refusal_entry;
} tg_state_cell;

#define TG_THUNK_SIZE 128

/* Writes one thunk through its writable alias `cell_writable`; it will run at `cell_view`.
 * `state_cell` is the address of the table's state cell in its read-only view. Returns 0 or EINVAL. */
TG_API int tg_thunk_write(void *cell_writable, const void *cell_view, const tg_state_cell *state_cell,
                   const void *target, uint64_t refusal_bits);

/* Java-target thunk (tg_upcall_thunk.c): puts `id` in argument register `id_register` and tail-jumps
 * to `stub`, the shared upcall stub of the slot's shape. `id_register` is TG_THUNK_INTEGER_REGISTER(k)
 * for the k-th SysV integer argument register (0 = rdi ... 5 = r9; a 32-byte cell) or
 * TG_THUNK_VECTOR_REGISTER(k) for xmm k (0..7; a 64-byte cell, the id as a double's bits).
 * `cell_view` must be aligned to the cell's size. Returns 0 or EINVAL. */
#define TG_THUNK_INTEGER_REGISTER(k) (k)
#define TG_THUNK_VECTOR_REGISTER(k) (16 + (k))
TG_API uint64_t tg_upcall_thunk_size(int id_register);   /* 32, 64, or 0 for no such register */
TG_API int tg_upcall_thunk_write(void *cell_writable, const void *cell_view, uint64_t id, int id_register,
                                 const void *stub);

/* Stack headroom (tg_stack_guard.c, tg_stack_slow.S): a Java-slot thunk jumps to its shape's guard
 * entry, which refuses (returning 0, counted) a call whose rsp lies in the lowest TG_STACK_HEADROOM
 * bytes of the thread's own stack, and otherwise jumps to the shape's upcall stub. */
#define TG_STACK_HEADROOM (160 * 1024)
#define TG_GUARD_ENTRY_SIZE 128
TG_API int tg_guard_entry_write(void *cell_writable, const void *cell_view, const void *stub);
TG_API long tg_stack_floor_tls_offset(void);
TG_API uint64_t tg_stack_floor(void);            /* this thread's lowest stack address + headroom; UINT64_MAX until its first guarded call */
TG_API uint64_t tg_stack_refusals_drain(void);   /* calls refused for low stack since the last drain */

/* A thunk that also checks a context argument (tg_thunk.c): 256 bytes. After the state compare it
 * compares SysV integer argument register `context_register` (0 = rdi ... 5 = r9) with `context` and
 * refuses through the state cell's context_refusal_entry when they differ. Returns 0 or EINVAL. */
#define TG_CONTEXT_THUNK_SIZE 256
TG_API int tg_context_thunk_write(void *cell_writable, const void *cell_view, const tg_state_cell *state_cell,
                                  const void *target, uint64_t refusal_bits, int context_register, uint64_t context);

/* The refusal entries every thunk of every scalar shape ends in (tg_refuse.S): count one refusal (of the
 * state, or of the context argument) and return the refusal bits in both rax and xmm0. */
void tg_refuse(void);
void tg_refuse_context(void);
TG_API void *tg_refusal_entry(void);
TG_API void *tg_context_refusal_entry(void);

/* The offset from the thread pointer of this thread's struct rseq's rseq_cs field, or -1 when the
 * process has no rseq to rely on (glibc did not register it, or membarrier cannot restart rseq
 * critical sections). Fixed for the life of the process (tg_barrier.c). */
long tg_rseq_cs_offset(void);

/* Asymmetric barrier (tg_barrier.c). tg_barrier_init registers with membarrier once and returns the
 * mode in force; tg_barrier_publish_state is called after a state word is written, tg_barrier_publish_code
 * after new thunks are written and before their addresses are handed out. Both return 0 or an errno. */
#define TG_BARRIER_RSEQ 3        /* MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: restarts every thunk between load and jump */
#define TG_BARRIER_EXPEDITED 2   /* MEMBARRIER_CMD_PRIVATE_EXPEDITED (+ _SYNC_CORE for code) */
#define TG_BARRIER_GLOBAL 1      /* MEMBARRIER_CMD_GLOBAL: slower, same ordering */
#define TG_BARRIER_FENCE 0       /* no membarrier: a full fence on the writer only (x86-TSO) */
TG_API int tg_barrier_init(void);
TG_API int tg_barrier_publish_state(void);
TG_API int tg_barrier_publish_code(void);

#endif
