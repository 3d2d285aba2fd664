/*
 * One job: the machine code of a Java-target entry thunk (x86-64 SysV). Every Java slot of one
 * function shape shares a single FFM upcall stub whose descriptor is the slot's plus one trailing
 * argument: the slot's record id (which table, which slot). The thunk puts that id where the trailing
 * argument is passed and tail-jumps to the shared stub. It touches nothing else (r11 aside, which no
 * argument uses): every argument register the slot uses, the stack and the return address reach the
 * stub as the caller left them.
 *
 * The trailing argument is a `long` when the slot leaves an integer argument register free (five
 * integer-class arguments or fewer): it arrives in the first free one. Otherwise, when a vector
 * register is free (seven float/double arguments or fewer), it is a `double` whose bits are the id
 * and arrives in the first free xmm register. One 32-byte cell, or 64 bytes for the xmm form:
 *
 *   integer register r (TG_THUNK_INTEGER_REGISTER(0..5) = rdi rsi rdx rcx r8 r9)
 *   0  f3 0f 1e fa          endbr64                    a valid indirect-branch target under CET IBT
 *   4  REX.W(B) b8+r imm64  mov  r, id
 *  14  ff 25 04 00 00 00    jmp  [rip+4]               the shared upcall stub (data at 24)
 *  20  cc x4                int3 padding: a jump into the gap traps
 *  24  the stub's address
 *
 *   vector register n (TG_THUNK_VECTOR_REGISTER(0..7) = xmm0..xmm7)
 *   0  f3 0f 1e fa          endbr64
 *   4  f3 0f 7e 05+8n d32   movq xmmn, [rip+36]        the id (data at 48)
 *  12  ff 25 d32            jmp  [rip+38]              the stub (data at 56)
 *  18  cc x30               int3 padding
 *  48  the id; 56 the stub's address
 *
 * Checking happens on the Java side of the stub (state, table bytes, context binding, nesting), which
 * also runs refusal handlers and audits. Id and stub address sit in the read+execute cell, written
 * once through the writable alias, so nothing a thunk reads can be changed through the address
 * native code is given. Shapes with neither register free (or with struct arguments) keep an upcall
 * stub of their own (the Java side decides; docs/internals.md lists them).
 */
#include "tabguard_native.h"

#include <errno.h>
#include <string.h>

/* SysV integer argument registers in order: rdi rsi rdx rcx r8 r9, as x86 register numbers. */
static const unsigned char INTEGER_REGISTER_NUMBER[6] = {7, 6, 2, 1, 8, 9};

static const unsigned char ENDBR64[] = {0xf3, 0x0f, 0x1e, 0xfa};

static void put_jump(unsigned char *at, int next_instruction, int data_offset) {
    at[0] = 0xff;                                          /* jmp [rip+d32] */
    at[1] = 0x25;
    int32_t displacement = data_offset - next_instruction;
    memcpy(at + 2, &displacement, 4);
}

uint64_t tg_upcall_thunk_size(int id_register) {
    if (id_register >= TG_THUNK_INTEGER_REGISTER(0) && id_register <= TG_THUNK_INTEGER_REGISTER(5)) {
        return 32;
    }
    if (id_register >= TG_THUNK_VECTOR_REGISTER(0) && id_register <= TG_THUNK_VECTOR_REGISTER(7)) {
        return 64;
    }
    return 0;
}

int tg_upcall_thunk_write(void *cell_writable, const void *cell_view, uint64_t id, int id_register,
                          const void *stub) {
    uint64_t size = tg_upcall_thunk_size(id_register);
    if (cell_writable == NULL || cell_view == NULL || stub == NULL || size == 0
            || ((uintptr_t) cell_view % size) != 0) {
        return EINVAL;
    }
    unsigned char code[64];
    memset(code, 0xcc, sizeof code);
    memcpy(code, ENDBR64, 4);
    uint64_t target = (uint64_t) (uintptr_t) stub;
    if (size == 32) {
        unsigned char reg = INTEGER_REGISTER_NUMBER[id_register - TG_THUNK_INTEGER_REGISTER(0)];
        code[4] = reg >= 8 ? 0x49 : 0x48;                  /* REX.W, plus REX.B for r8/r9 */
        code[5] = (unsigned char) (0xb8 + (reg & 7));      /* mov r64, imm64 */
        memcpy(code + 6, &id, 8);
        put_jump(code + 14, 20, 24);
        memcpy(code + 24, &target, 8);
    } else {
        int n = id_register - TG_THUNK_VECTOR_REGISTER(0);
        code[4] = 0xf3;                                    /* movq xmm, m64 */
        code[5] = 0x0f;
        code[6] = 0x7e;
        code[7] = (unsigned char) (0x05 | (n << 3));       /* ModRM: xmm n, [rip+d32] */
        int32_t displacement = 48 - 12;
        memcpy(code + 8, &displacement, 4);
        put_jump(code + 12, 18, 56);
        memcpy(code + 48, &id, 8);
        memcpy(code + 56, &target, 8);
    }
    memcpy(cell_writable, code, size);
    return 0;
}
