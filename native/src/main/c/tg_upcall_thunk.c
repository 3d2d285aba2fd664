/*
 * One job: the machine code of a Java-target entry thunk (x86-64 SysV). Every Java slot of one
 * function shape shares a single FFM upcall stub whose descriptor is the slot's plus one trailing
 * `long`: the slot's record (which table, which slot). The thunk puts that record in the integer
 * register the trailing argument is passed in, which is the first one the slot's own arguments leave
 * free, and tail-jumps to the shared stub. It touches nothing else: every argument register the slot
 * uses, the stack and the return address reach the stub as the caller left them. One 32-byte cell:
 *
 *   0  f3 0f 1e fa          endbr64                    a valid indirect-branch target under CET IBT
 *   4  REX.W(B) b8+r imm64  mov  <free register>, record
 *  14  ff 25 04 00 00 00    jmp  [rip+4]               the shared upcall stub (data at 24)
 *  20  cc cc cc cc          int3 padding: a jump into the gap traps
 *  24  the shared stub's address
 *
 * Checking happens on the Java side of the stub (state, table bytes, context binding, nesting), which
 * also runs refusal handlers and audits; record and stub address sit in the read+execute cell,
 * written once through the writable alias, so nothing a thunk reads can be changed through the
 * address native code is given. Only shapes whose arguments all travel in registers with one integer
 * register to spare get such a thunk (the Java side decides; docs/internals.md lists the others).
 */
#include "tabguard_native.h"

#include <errno.h>
#include <string.h>

enum { OFF_STUB = 24 };

/* SysV integer argument registers in order: rdi rsi rdx rcx r8 r9, as x86 register numbers. */
static const unsigned char REGISTER_NUMBER[6] = {7, 6, 2, 1, 8, 9};

int tg_upcall_thunk_write(void *cell_writable, const void *cell_view, uint64_t record,
                          int free_register, const void *stub) {
    if (cell_writable == NULL || cell_view == NULL || stub == NULL || free_register < 0 || free_register > 5
            || ((uintptr_t) cell_view % TG_UPCALL_THUNK_SIZE) != 0) {
        return EINVAL;
    }
    unsigned char code[TG_UPCALL_THUNK_SIZE];
    memset(code, 0xcc, sizeof code);
    static const unsigned char endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
    memcpy(code, endbr64, 4);
    unsigned char reg = REGISTER_NUMBER[free_register];
    code[4] = reg >= 8 ? 0x49 : 0x48;                      /* REX.W, plus REX.B for r8/r9 */
    code[5] = (unsigned char) (0xb8 + (reg & 7));          /* mov r64, imm64 */
    memcpy(code + 6, &record, 8);
    code[14] = 0xff;                                       /* jmp [rip+4] */
    code[15] = 0x25;
    int32_t displacement = OFF_STUB - 20;
    memcpy(code + 16, &displacement, 4);
    uint64_t target = (uint64_t) (uintptr_t) stub;
    memcpy(code + OFF_STUB, &target, 8);
    memcpy(cell_writable, code, sizeof code);
    return 0;
}
