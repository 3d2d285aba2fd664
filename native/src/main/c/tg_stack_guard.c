/*
 * One job: the stack-headroom check in front of every shared upcall stub (x86-64 SysV). An upcall
 * entered with too little stack left overflows in the JVM's own entry frames, where no handler can
 * catch it, and the JVM aborts. So every Java-slot thunk jumps not to its shape's stub but to the
 * shape's guard entry, which compares rsp with this thread's floor (the lowest address of its stack
 * plus TG_STACK_HEADROOM) and refuses the call, counted, when rsp is at or below it:
 *
 *   0  f3 0f 1e fa          endbr64
 *   4  64 4c 8b 1c 25 d32   mov  r11, fs:[floor]        this thread's ~floor (0 until initialised)
 *  13  49 f7 d3             not  r11                    -> floor; an uninitialised thread gets ~0,
 *  16  4c 39 dc             cmp  rsp, r11                  which every rsp is below: the slow path
 *  19  76 06                jbe  27
 *  21  ff 25 d32            jmp  [rip+21]               the shape's upcall stub (data at 48)
 *  27  4c 8d 1d d32         lea  r11, [rip-34]          this entry, to retry after initialising
 *  34  ff 25 d32            jmp  [rip+16]               tg_stack_slow (data at 56)
 *  40  cc x8                int3 padding
 *  48  stub address; 56 tg_stack_slow's address
 *
 * Only r11 and the flags change; every argument register, including the one the thunk put the slot's
 * id in, reaches the stub as it was. tg_stack_slow (tg_stack_slow.S) initialises the thread's floor
 * once (saving every argument register around the C call) and retries, or refuses.
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* Inverted so that the zero every new thread starts with reads as "floor = top of memory": the first
 * call on a thread always takes the slow path, which initialises it. Initial-exec: one fixed offset
 * from the thread pointer in every thread, which the guard entries encode. */
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread uint64_t tg_stack_floor_inverted;

__attribute__((visibility("hidden"))) uint64_t tg_low_stack_refusals;

/* Called by tg_stack_slow on a thread whose floor is not yet known. A thread whose stack cannot be
 * found refuses every call (floor at the top of memory): fail closed. */
__attribute__((visibility("hidden"))) void tg_stack_init_thread(void) {
    uint64_t floor = UINT64_MAX - 1;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *low = NULL;
        size_t size = 0;
        if (pthread_attr_getstack(&attr, &low, &size) == 0 && low != NULL && size > 0) {
            floor = (uint64_t) (uintptr_t) low + TG_STACK_HEADROOM;
        }
        pthread_attr_destroy(&attr);
    }
    tg_stack_floor_inverted = ~floor;
}

long tg_stack_floor_tls_offset(void) {
    uintptr_t thread_pointer;
    __asm__("mov %%fs:0, %0" : "=r"(thread_pointer));   /* x86-64: the TCB's self pointer */
    return (long) ((uintptr_t) &tg_stack_floor_inverted - thread_pointer);
}

uint64_t tg_stack_floor(void) {
    return ~tg_stack_floor_inverted;
}

uint64_t tg_stack_refusals_drain(void) {
    return __atomic_exchange_n(&tg_low_stack_refusals, 0, __ATOMIC_SEQ_CST);
}

void tg_stack_slow(void);

int tg_guard_entry_write(void *cell_writable, const void *cell_view, const void *stub) {
    if (cell_writable == NULL || cell_view == NULL || stub == NULL || ((uintptr_t) cell_view % TG_GUARD_ENTRY_SIZE) != 0) {
        return EINVAL;
    }
    long offset = tg_stack_floor_tls_offset();
    if (offset < INT32_MIN || offset > INT32_MAX) {
        return EINVAL;
    }
    unsigned char code[TG_GUARD_ENTRY_SIZE];
    memset(code, 0xcc, sizeof code);
    static const unsigned char head[] = {
        0xf3, 0x0f, 0x1e, 0xfa,                 /*  0 endbr64 */
        0x64, 0x4c, 0x8b, 0x1c, 0x25};          /*  4 mov r11, fs:[d32] */
    memcpy(code, head, sizeof head);
    int32_t d = (int32_t) offset;
    memcpy(code + 9, &d, 4);
    static const unsigned char body[] = {
        0x49, 0xf7, 0xd3,                       /* 13 not r11 */
        0x4c, 0x39, 0xdc,                       /* 16 cmp rsp, r11 */
        0x76, 0x06,                             /* 19 jbe 27 */
        0xff, 0x25, 21, 0, 0, 0,                /* 21 jmp [rip+21] -> 48 */
        0x4c, 0x8d, 0x1d, 0xde, 0xff, 0xff, 0xff, /* 27 lea r11, [rip-34] -> 0 */
        0xff, 0x25, 16, 0, 0, 0};               /* 34 jmp [rip+16] -> 56 */
    memcpy(code + 13, body, sizeof body);
    uint64_t target = (uint64_t) (uintptr_t) stub;
    uint64_t slow = (uint64_t) (uintptr_t) tg_stack_slow;
    memcpy(code + 48, &target, 8);
    memcpy(code + 56, &slow, 8);
    memcpy(cell_writable, code, sizeof code);
    return 0;
}
