/*
 * One job: the machine code of an entry thunk (x86-64 SysV). A thunk touches only r11 (and rax on
 * the refusal path, where the call returns instead of reaching the target), so every argument
 * register (rdi rsi rdx rcx r8 r9, xmm0-7, al for variadic calls, r10) and the stack — including
 * stack-passed arguments and structs passed by value — reach the target exactly as the caller left
 * them; the target returns straight to the caller (tail jump). One 128-byte cell per thunk:
 *
 *   0  f3 0f 1e fa          endbr64                      a valid indirect-branch target under CET IBT
 *   4  4c 8d 1d d32         lea  r11, [rip+85]           this cell's struct rseq_cs (at 96)
 *  11  64 4c 89 1c 25 d32   mov  fs:[__rseq_offset+8], r11   rseq->rseq_cs = &cs: enter the critical section
 *  20  4c 8b 1d d32         mov  r11, [rip+37]           the table's state cell (data at 64)   <- cs start
 *  27  49 81 3b imm32       cmp  qword [r11], OPEN
 *  34  75 06                jne  42
 *  36  ff 25 d32            jmp  [rip+30]                the target (data at 72): the commit   <- cs end
 *  42  48 8b 05 d32         mov  rax, [rip+31]           refused: the slot's refusal bits (data at 80)
 *  49  41 ff 63 10          jmp  [r11+16]                the refusal entry named by the state cell
 *  53  0f b9 3d <RSEQ_SIG>  ud1  (its last 4 bytes are the signature the kernel checks before an abort)
 *  60  eb c2                jmp  0                       abort handler: start again, reading the state anew
 *  62  cc cc                int3 padding
 *  64  state cell address, target, refusal bits, 0; 96: struct rseq_cs {0, 0, cell+20, 22, cell+60}
 *
 * The rseq critical section is what lets revocation keep its promise for a tail jump: a thread
 * preempted, signalled or hit by membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) anywhere between
 * its state load and its jump is sent back to offset 0 by the kernel and reads the state again, so
 * once that membarrier returns no thread can still jump on a stale OPEN. When the process has no
 * rseq (glibc without it, or a kernel that refuses), bytes 4-19 are NOPs and the barrier falls back
 * (tg_barrier.c; the README says what holds then).
 *
 * The data words sit in the same read+execute page (written once through the writable alias), so
 * nothing a thunk reads can be changed through the address native code is given.
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <string.h>

enum {
    OFF_CS_START = 20,
    OFF_COMMIT_END = 42,
    OFF_ABORT = 60,
    OFF_STATE_PTR = 64,
    OFF_TARGET = 72,
    OFF_REFUSAL_BITS = 80,
    OFF_RSEQ_CS = 96,
    RSEQ_SIG_X86 = 0x53053053,
};

static void put32(unsigned char *p, int32_t v) {
    memcpy(p, &v, sizeof v);
}

static void put64(unsigned char *p, uint64_t v) {
    memcpy(p, &v, sizeof v);
}

/* endbr64, then (with rseq) rseq->rseq_cs = cell + rseq_cs_at, else 16 bytes of NOPs: 20 bytes, both forms. */
static unsigned char *emit_entry(unsigned char *p, int rseq_cs_at) {
    static const unsigned char endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
    memcpy(p, endbr64, 4); p += 4;
    long rseq_cs_field = tg_rseq_cs_offset();              /* -1: no rseq in this process */
    if (rseq_cs_field >= INT32_MIN && rseq_cs_field <= INT32_MAX && rseq_cs_field != -1) {
        *p++ = 0x4c; *p++ = 0x8d; *p++ = 0x1d;             /* 4: lea r11, [rip+d] */
        put32(p, rseq_cs_at - 11); p += 4;
        *p++ = 0x64; *p++ = 0x4c; *p++ = 0x89; *p++ = 0x1c; *p++ = 0x25;   /* 11: mov fs:[d32], r11 */
        put32(p, (int32_t) rseq_cs_field); p += 4;
    } else {
        static const unsigned char nop16[] = {             /* 7-byte and 9-byte NOPs (Intel SDM) */
            0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00,
            0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00};
        memcpy(p, nop16, sizeof nop16); p += sizeof nop16;
    }
    return p;
}

/* At offset 20: r11 = the state cell (data at state_ptr_at); compare its word with OPEN. 14 bytes. */
static unsigned char *emit_state_compare(unsigned char *p, int state_ptr_at) {
    *p++ = 0x4c; *p++ = 0x8b; *p++ = 0x1d;                 /* 20: mov r11, [rip+d] */
    put32(p, state_ptr_at - 27); p += 4;
    *p++ = 0x49; *p++ = 0x81; *p++ = 0x3b;                 /* 27: cmp qword [r11], imm32 */
    put32(p, (int32_t) TG_STATE_OPEN); p += 4;
    return p;
}

/* At offset `at`: rax = the refusal bits (data at bits_at); jmp [r11 + entry_field]. 11 bytes. */
static unsigned char *emit_refusal(unsigned char *p, int at, int bits_at, unsigned char entry_field) {
    *p++ = 0x48; *p++ = 0x8b; *p++ = 0x05;                 /* mov rax, [rip+d] */
    put32(p, bits_at - (at + 7)); p += 4;
    *p++ = 0x41; *p++ = 0xff; *p++ = 0x63; *p++ = entry_field;   /* jmp [r11+disp8] */
    return p;
}

/* The rseq signature (inside a never-executed ud1) and, at abort_at, the abort handler: jmp 0. 9 bytes. */
static unsigned char *emit_abort(unsigned char *p, int abort_at) {
    *p++ = 0x0f; *p++ = 0xb9; *p++ = 0x3d;                 /* ud1 edi, [rip+sig]: its last 4 bytes are RSEQ_SIG */
    put32(p, RSEQ_SIG_X86); p += 4;
    *p++ = 0xeb; *p++ = (unsigned char) (0 - (abort_at + 2));   /* jmp 0: start again, reading the state anew */
    return p;
}

/* struct rseq_cs { __u32 version; __u32 flags; __u64 start_ip; __u64 post_commit_offset; __u64 abort_ip; } */
static void put_rseq_cs(unsigned char *at, uint64_t view, int cs_start, int commit_end, int abort_at) {
    memset(at, 0, 8);
    put64(at + 8, view + (uint64_t) cs_start);
    put64(at + 16, (uint64_t) (commit_end - cs_start));
    put64(at + 24, view + (uint64_t) abort_at);
}

int tg_thunk_write(void *cell_writable, const void *cell_view, const tg_state_cell *state_cell,
                   const void *target, uint64_t refusal_bits) {
    if (cell_writable == NULL || cell_view == NULL || state_cell == NULL || target == NULL
            || ((uintptr_t) cell_view % TG_THUNK_SIZE) != 0) {
        return EINVAL;
    }
    unsigned char code[TG_THUNK_SIZE];
    memset(code, 0xcc, sizeof code);                       /* int3 padding: a jump into the gaps traps */
    unsigned char *p = emit_entry(code, OFF_RSEQ_CS);      /* 0 */
    p = emit_state_compare(p, OFF_STATE_PTR);              /* 20 */
    *p++ = 0x75; *p++ = 0x06;                              /* 34: jne 42 (refuse) */
    *p++ = 0xff; *p++ = 0x25;                              /* 36: jmp [rip+d] (target) */
    put32(p, OFF_TARGET - 42); p += 4;
    p = emit_refusal(p, 42, OFF_REFUSAL_BITS, 0x10);       /* 42: the refusal entry at [r11+16] */
    p = emit_abort(p, OFF_ABORT);                          /* 53: signature; 60: abort handler */
    if (p - code != OFF_ABORT + 2) {
        return EINVAL;                                     /* unreachable: the layout above is fixed */
    }
    put64(code + OFF_STATE_PTR, (uint64_t) (uintptr_t) state_cell);
    put64(code + OFF_TARGET, (uint64_t) (uintptr_t) target);
    put64(code + OFF_REFUSAL_BITS, refusal_bits);
    put64(code + OFF_REFUSAL_BITS + 8, 0);
    put_rseq_cs(code + OFF_RSEQ_CS, (uint64_t) (uintptr_t) cell_view, OFF_CS_START, OFF_COMMIT_END, OFF_ABORT);
    memcpy(cell_writable, code, sizeof code);
    return 0;
}

/*
 * The same thunk with a context check, in a 256-byte cell (the check does not fit in 128 bytes with the
 * rseq descriptor's 32-byte alignment):
 *
 *   0  endbr64; 4 lea r11, [rip+213] (rseq_cs at 224); 11 mov fs:[rseq_cs], r11   (NOPs without rseq)
 *  20  mov  r11, [rip+101]          the state cell (data at 128)                 <- cs start
 *  27  cmp  qword [r11], OPEN
 *  34  jne  51
 *  36  cmp  <context register>, [rip+109]   the bound context (data at 152)
 *  43  jne  62
 *  45  jmp  [rip+85]                the target (data at 136): the commit         <- cs end
 *  51  mov  rax, [rip+86]; 58 jmp [r11+16]        refused for the state (refusal bits at 144)
 *  62  mov  rax, [rip+75]; 69 jmp [r11+24]        refused for the context
 *  73  ud1 with RSEQ_SIG; 80 jmp 0 (abort handler)
 * 128  state cell, target, refusal bits, context; 224: struct rseq_cs {0, 0, cell+20, 31, cell+80}
 */
int tg_context_thunk_write(void *cell_writable, const void *cell_view, const tg_state_cell *state_cell,
                           const void *target, uint64_t refusal_bits, int context_register, uint64_t context) {
    static const unsigned char REGISTER_NUMBER[6] = {7, 6, 2, 1, 8, 9};   /* rdi rsi rdx rcx r8 r9 */
    enum {
        C_CS_START = 20, C_COMMIT_END = 51, C_REFUSE = 51, C_REFUSE_CONTEXT = 62, C_ABORT = 80,
        C_STATE_PTR = 128, C_TARGET = 136, C_REFUSAL_BITS = 144, C_CONTEXT = 152, C_RSEQ_CS = 224,
    };
    if (cell_writable == NULL || cell_view == NULL || state_cell == NULL || target == NULL
            || context_register < 0 || context_register > 5 || ((uintptr_t) cell_view % TG_CONTEXT_THUNK_SIZE) != 0) {
        return EINVAL;
    }
    unsigned char code[TG_CONTEXT_THUNK_SIZE];
    memset(code, 0xcc, sizeof code);
    unsigned char *p = emit_entry(code, C_RSEQ_CS);        /* 0 */
    p = emit_state_compare(p, C_STATE_PTR);                /* 20 */
    *p++ = 0x75; *p++ = (unsigned char) (C_REFUSE - 36);   /* 34: jne refuse */
    unsigned char reg = REGISTER_NUMBER[context_register];
    *p++ = reg >= 8 ? 0x4c : 0x48;                         /* 36: cmp r64, [rip+d]: REX.W (+R for r8/r9) */
    *p++ = 0x3b;
    *p++ = (unsigned char) (0x05 | ((reg & 7) << 3));
    put32(p, C_CONTEXT - 43); p += 4;
    *p++ = 0x75; *p++ = (unsigned char) (C_REFUSE_CONTEXT - 45);   /* 43: jne refuse_context */
    *p++ = 0xff; *p++ = 0x25;                              /* 45: jmp [rip+d] (target) */
    put32(p, C_TARGET - 51); p += 4;
    p = emit_refusal(p, C_REFUSE, C_REFUSAL_BITS, 0x10);   /* 51: for the state, entry at [r11+16] */
    p = emit_refusal(p, C_REFUSE_CONTEXT, C_REFUSAL_BITS, 0x18);   /* 62: for the context, entry at [r11+24] */
    p = emit_abort(p, C_ABORT);                            /* 73: signature; 80: abort handler */
    if (p - code != C_ABORT + 2) {
        return EINVAL;                                     /* unreachable: the layout above is fixed */
    }
    put64(code + C_STATE_PTR, (uint64_t) (uintptr_t) state_cell);
    put64(code + C_TARGET, (uint64_t) (uintptr_t) target);
    put64(code + C_REFUSAL_BITS, refusal_bits);
    put64(code + C_CONTEXT, context);
    put_rseq_cs(code + C_RSEQ_CS, (uint64_t) (uintptr_t) cell_view, C_CS_START, C_COMMIT_END, C_ABORT);
    memcpy(cell_writable, code, sizeof code);
    return 0;
}
