/*
 * One job: the stack-headroom check in front of every shared upcall stub (x86-64 SysV). An upcall
 * entered with too little stack left overflows in the JVM's own entry frames, where no handler can
 * catch it, and the JVM aborts. So every Java-slot thunk jumps not to its shape's stub but to the
 * shape's guard entry, which refuses the call, counted, when rsp lies in the lowest TG_STACK_HEADROOM
 * bytes of the thread's own stack:
 *
 *   0  f3 0f 1e fa          endbr64
 *   4  64 4c 8b 1c 25 d32   mov  r11, fs:[low]          this thread's lowest stack address (0: not known yet)
 *  13  4d 85 db             test r11, r11
 *  16  74 15                jz   39                     not known yet: the slow path learns it
 *  18  49 f7 db             neg  r11
 *  21  49 01 e3             add  r11, rsp               rsp - low
 *  24  49 81 fb imm32       cmp  r11, TG_STACK_HEADROOM
 *  31  72 06                jb   39                     within the headroom: the slow path refuses
 *  33  ff 25 d32            jmp  [rip+25]               the shape's upcall stub (data at 64)
 *  39  4c 8d 1d d32         lea  r11, [rip-46]          this entry, to retry after learning the floor
 *  46  ff 25 d32            jmp  [rip+20]               tg_stack_slow (data at 72)
 *  52  cc ...               int3 padding
 *  64  stub address; 72 tg_stack_slow's address
 *
 * The compare is unsigned, so an rsp outside the thread's own stack (a coroutine's stack, a signal's
 * alternate stack) is never refused: the guard cannot know how much such a stack has left. Only r11 and
 * the flags change; every argument register, including the one the thunk put the slot's id in,
 * reaches the stub as it was. tg_stack_slow (tg_stack_slow.S) learns the thread's stack once (saving
 * every argument register around the C call) and retries, or refuses.
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* This thread's lowest stack address, 0 until its first guarded call; initial-exec: one fixed offset
 * from the thread pointer in every thread, which the guard entries encode. */
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread uint64_t tg_stack_low;
/* Non-zero when the thread's stack could not be found: every guarded call on it is refused (fail closed). */
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread uint64_t tg_stack_unknown;

__attribute__((visibility("hidden"))) uint64_t tg_low_stack_refusals;

/* Called by tg_stack_slow on a thread whose stack is not yet known. */
__attribute__((visibility("hidden"))) void tg_stack_init_thread(void) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *low = NULL;
        size_t size = 0;
        if (pthread_attr_getstack(&attr, &low, &size) == 0 && low != NULL && size > 0) {
            tg_stack_low = (uint64_t) (uintptr_t) low;
        }
        pthread_attr_destroy(&attr);
    }
    if (tg_stack_low == 0) {
        tg_stack_unknown = 1;
    }
}

long tg_stack_floor_tls_offset(void) {
    uintptr_t thread_pointer;
    __asm__("mov %%fs:0, %0" : "=r"(thread_pointer));   /* x86-64: the TCB's self pointer */
    return (long) ((uintptr_t) &tg_stack_low - thread_pointer);
}

uint64_t tg_stack_floor(void) {
    return tg_stack_low == 0 ? UINT64_MAX : tg_stack_low + TG_STACK_HEADROOM;
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
        0x4d, 0x85, 0xdb,                       /* 13 test r11, r11 */
        0x74, 0x15,                             /* 16 jz 39 */
        0x49, 0xf7, 0xdb,                       /* 18 neg r11 */
        0x49, 0x01, 0xe3,                       /* 21 add r11, rsp */
        0x49, 0x81, 0xfb};                      /* 24 cmp r11, imm32 */
    memcpy(code + 13, body, sizeof body);
    int32_t headroom = TG_STACK_HEADROOM;
    memcpy(code + 27, &headroom, 4);
    static const unsigned char tail[] = {
        0x72, 0x06,                             /* 31 jb 39 */
        0xff, 0x25, 25, 0, 0, 0,                /* 33 jmp [rip+25] -> 64 */
        0x4c, 0x8d, 0x1d, 0xd2, 0xff, 0xff, 0xff, /* 39 lea r11, [rip-46] -> 0 */
        0xff, 0x25, 20, 0, 0, 0};               /* 46 jmp [rip+20] -> 72 */
    memcpy(code + 31, tail, sizeof tail);
    uint64_t target = (uint64_t) (uintptr_t) stub;
    uint64_t slow = (uint64_t) (uintptr_t) tg_stack_slow;
    memcpy(code + 64, &target, 8);
    memcpy(code + 72, &slow, 8);
    memcpy(cell_writable, code, sizeof code);
    return 0;
}
