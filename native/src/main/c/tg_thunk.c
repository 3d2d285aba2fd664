/*
 * One job: the machine code of an entry thunk (x86-64 SysV). A thunk touches only r11 (and rax on
 * the refusal path, where the call returns instead of reaching the target), so every argument
 * register (rdi rsi rdx rcx r8 r9, xmm0-7, al for variadic calls, r10) and the stack — including
 * stack-passed arguments and structs passed by value — reach the target exactly as the caller left
 * them; the target returns straight to the caller (tail jump).
 *
 *   0  f3 0f 1e fa        endbr64                  a valid indirect-branch target under CET IBT
 *   4  4c 8b 1d d32       mov  r11, [rip+29]       the table's state cell (data at 40)
 *  11  49 81 3b imm32     cmp  qword [r11], OPEN
 *  18  75 06              jne  26
 *  20  ff 25 d32          jmp  [rip+22]            the target (data at 48): the caller's frame, intact
 *  26  48 8b 05 d32       mov  rax, [rip+23]       refused: the slot's refusal bits (data at 56)
 *  33  41 ff 63 10        jmp  [r11+16]            the refusal entry named by the state cell
 *  37  cc ...             int3 padding to 40, then three data words; 64 bytes in all
 *
 * The data words sit in the same read+execute page (written once through the writable alias), so
 * nothing a thunk reads can be changed through the address native code is given.
 */
#include "tabguard_native.h"

#include <errno.h>
#include <string.h>

enum {
    OFF_STATE_PTR = 40,
    OFF_TARGET = 48,
    OFF_REFUSAL_BITS = 56,
};

static void put32(unsigned char *p, int32_t v) {
    memcpy(p, &v, sizeof v);
}

int tg_thunk_write(void *cell_writable, const void *cell_view, const tg_state_cell *state_cell,
                   const void *target, uint64_t refusal_bits) {
    if (cell_writable == NULL || cell_view == NULL || state_cell == NULL || target == NULL
            || ((uintptr_t) cell_view % TG_THUNK_SIZE) != 0) {
        return EINVAL;
    }
    unsigned char code[TG_THUNK_SIZE];
    memset(code, 0xcc, sizeof code);                       /* int3 padding: a jump into the gaps traps */
    unsigned char *p = code;
    static const unsigned char endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
    memcpy(p, endbr64, 4); p += 4;                         /* 0 */
    *p++ = 0x4c; *p++ = 0x8b; *p++ = 0x1d;                 /* 4: mov r11, [rip+d] */
    put32(p, OFF_STATE_PTR - 11); p += 4;
    *p++ = 0x49; *p++ = 0x81; *p++ = 0x3b;                 /* 11: cmp qword [r11], imm32 */
    put32(p, (int32_t) TG_STATE_OPEN); p += 4;
    *p++ = 0x75; *p++ = 0x06;                              /* 18: jne 26 (refuse) */
    *p++ = 0xff; *p++ = 0x25;                              /* 20: jmp [rip+d] (target) */
    put32(p, OFF_TARGET - 26); p += 4;
    *p++ = 0x48; *p++ = 0x8b; *p++ = 0x05;                 /* 26: mov rax, [rip+d] (refusal bits) */
    put32(p, OFF_REFUSAL_BITS - 33); p += 4;
    *p++ = 0x41; *p++ = 0xff; *p++ = 0x63; *p++ = 0x10;    /* 33: jmp [r11+16] (refusal entry) */
    if (p - code > OFF_STATE_PTR) {
        return EINVAL;                                     /* unreachable: the layout above is fixed */
    }
    uint64_t state_ptr = (uint64_t) (uintptr_t) state_cell;
    uint64_t target_ptr = (uint64_t) (uintptr_t) target;
    memcpy(code + OFF_STATE_PTR, &state_ptr, 8);
    memcpy(code + OFF_TARGET, &target_ptr, 8);
    memcpy(code + OFF_REFUSAL_BITS, &refusal_bits, 8);
    memcpy(cell_writable, code, sizeof code);
    return 0;
}
