/*
 * One job: the slow path of a guard entry (tg_stack_guard.c), reached by a jump with r11 = the guard
 * entry and every argument register of the call live. Assembly because it must save and restore all
 * of them around a C call, and refuse by returning to the original caller, which C cannot express.
 *
 *   this thread's stack is not known yet: save rax (al of a variadic caller), rdi rsi rdx rcx r8 r9
 *       r10, r11 and xmm0-7; tg_stack_init_thread(); restore; jump back to the guard entry to check again;
 *   it is known (so rsp is within the headroom), or it cannot be found (fail closed): count the refusal
 *       and return 0 in rax and xmm0 (the guard has no refusal value to give: docs/internals.md).
 *
 * Alignment: entered like a function (rsp = 8 mod 16); nine pushes and 128 bytes make it 0 mod 16 at the call.
 */
#include <cet.h>
    .text
    .globl  tg_stack_slow
    .hidden tg_stack_slow
    .type   tg_stack_slow, @function
    .p2align 4
tg_stack_slow:
    .cfi_startproc
    endbr64
    pushq   %rax
    .cfi_adjust_cfa_offset 8
    movq    tg_stack_low@gottpoff(%rip), %rax
    movq    %fs:(%rax), %rax
    testq   %rax, %rax
    jnz     .Llow
    movq    tg_stack_unknown@gottpoff(%rip), %rax
    movq    %fs:(%rax), %rax
    testq   %rax, %rax
    jnz     .Llow
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    pushq   %rdx
    .cfi_adjust_cfa_offset 8
    pushq   %rcx
    .cfi_adjust_cfa_offset 8
    pushq   %r8
    .cfi_adjust_cfa_offset 8
    pushq   %r9
    .cfi_adjust_cfa_offset 8
    pushq   %r10
    .cfi_adjust_cfa_offset 8
    pushq   %r11
    .cfi_adjust_cfa_offset 8
    subq    $128, %rsp
    .cfi_adjust_cfa_offset 128
    movdqu  %xmm0, 0(%rsp)
    movdqu  %xmm1, 16(%rsp)
    movdqu  %xmm2, 32(%rsp)
    movdqu  %xmm3, 48(%rsp)
    movdqu  %xmm4, 64(%rsp)
    movdqu  %xmm5, 80(%rsp)
    movdqu  %xmm6, 96(%rsp)
    movdqu  %xmm7, 112(%rsp)
    call    tg_stack_init_thread
    movdqu  0(%rsp), %xmm0
    movdqu  16(%rsp), %xmm1
    movdqu  32(%rsp), %xmm2
    movdqu  48(%rsp), %xmm3
    movdqu  64(%rsp), %xmm4
    movdqu  80(%rsp), %xmm5
    movdqu  96(%rsp), %xmm6
    movdqu  112(%rsp), %xmm7
    addq    $128, %rsp
    .cfi_adjust_cfa_offset -128
    popq    %r11
    .cfi_adjust_cfa_offset -8
    popq    %r10
    .cfi_adjust_cfa_offset -8
    popq    %r9
    .cfi_adjust_cfa_offset -8
    popq    %r8
    .cfi_adjust_cfa_offset -8
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    popq    %rdx
    .cfi_adjust_cfa_offset -8
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    popq    %rax
    .cfi_adjust_cfa_offset -8
    jmp     *%r11
.Llow:
    .cfi_adjust_cfa_offset 8
    popq    %rax
    .cfi_adjust_cfa_offset -8
    lock incq tg_low_stack_refusals(%rip)
    xorl    %eax, %eax
    pxor    %xmm0, %xmm0
    ret
    .cfi_endproc
    .size   tg_stack_slow, .-tg_stack_slow

    .section .note.GNU-stack,"",@progbits
