/*
 * One job: the refusal paths every thunk ends in when its table is not OPEN, or (tg_refuse_context)
 * when its context argument is not the one the table is bound to. Assembly because it is
 * entered by a jump with the caller's arguments and return address untouched and r11 = the table's
 * state cell, rax = the slot's refusal bits, which C cannot express.
 *
 * Every scalar return of the SysV ABI comes back in rax (int, long, pointer; narrower ints in its low
 * bits) or xmm0 (float, double in its low bits), so one entry serves every shape: the bits go to both.
 * Struct returns never get a thunk (the schema gives them no refusal value).
 */
#include <cet.h>   /* emits the IBT/SHSTK property note under -fcf-protection, as the C files do */
    .text
    .globl  tg_refuse
    .hidden tg_refuse
    .type   tg_refuse, @function
    .p2align 4
tg_refuse:
    .cfi_startproc
    endbr64
    movq    8(%r11), %rcx           /* the table's refusal counter (ordinary memory)          */
    lock incq (%rcx)                /* counted here, audited later by the registry (drain)     */
    movq    %rax, %xmm0
    ret
    .cfi_endproc
    .size   tg_refuse, .-tg_refuse

    .globl  tg_refuse_context
    .hidden tg_refuse_context
    .type   tg_refuse_context, @function
    .p2align 4
tg_refuse_context:
    .cfi_startproc
    endbr64
    movq    8(%r11), %rcx           /* the table's refusal counters: [1] counts context refusals */
    lock incq 8(%rcx)
    movq    %rax, %xmm0
    ret
    .cfi_endproc
    .size   tg_refuse_context, .-tg_refuse_context

    .section .note.GNU-stack,"",@progbits
