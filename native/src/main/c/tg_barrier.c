/*
 * One job: the asymmetric barrier the registry runs after writing a state word or new thunk code,
 * so that the thunks' call path carries no fence. As liburcu's urcu-memb flavour does: query, register
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED once, else fall back to MEMBARRIER_CMD_GLOBAL, else to a fence on
 * this side only (sufficient on x86-TSO for the state word; documented in the README).
 *
 * Beyond liburcu: a thunk is a tail jump with no read-side counter to wait for, so a memory barrier
 * alone cannot stop a thread that loaded OPEN just before the write from jumping just after it. When
 * glibc registered rseq for the process's threads and the kernel offers
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, thunks run their load-compare-jump as an rseq critical
 * section (tg_thunk.c) and the state barrier restarts every such section in flight.
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

static int mode = -1;
static int sync_core;           /* MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE registered */
static long rseq_cs_offset = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static long membarrier(int cmd, unsigned int flags) {
    return syscall(SYS_membarrier, cmd, flags, 0);
}

static void init_once(void) {
    long mask = membarrier(MEMBARRIER_CMD_QUERY, 0);
    if (mask < 0) {
        mode = TG_BARRIER_FENCE;
        return;
    }
    if ((mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED)
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0) {
        mode = TG_BARRIER_EXPEDITED;
        sync_core = (mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)
                && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0) == 0;
        /* __rseq_size is 0 when glibc did not register rseq (tunable glibc.pthread.rseq=0, old kernel) */
#ifndef TG_TEST_WITHOUT_RSEQ      /* the self-test's second build shows what happens without rseq */
        if (__rseq_size > 0 && (mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)
                && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0) == 0) {
            mode = TG_BARRIER_RSEQ;
            rseq_cs_offset = (long) __rseq_offset + 8;    /* struct rseq: cpu_id_start, cpu_id, rseq_cs */
        }
#endif
    } else if (mask & MEMBARRIER_CMD_GLOBAL) {
        mode = TG_BARRIER_GLOBAL;
    } else {
        mode = TG_BARRIER_FENCE;
    }
}

int tg_barrier_init(void) {
    pthread_once(&once, init_once);
    return mode;
}

long tg_rseq_cs_offset(void) {
    pthread_once(&once, init_once);
    return rseq_cs_offset;
}

int tg_barrier_publish_state(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    switch (tg_barrier_init()) {
    case TG_BARRIER_RSEQ:
        return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0) == 0 ? 0 : errno;
    case TG_BARRIER_EXPEDITED:
        return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0 ? 0 : errno;
    case TG_BARRIER_GLOBAL:
        return membarrier(MEMBARRIER_CMD_GLOBAL, 0) == 0 ? 0 : errno;
    default:
        return 0;
    }
}

int tg_barrier_publish_code(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int m = tg_barrier_init();
    if ((m == TG_BARRIER_EXPEDITED || m == TG_BARRIER_RSEQ) && sync_core) {
        /* Every running thread of the process executes a core-serialising instruction: the rule of the
         * Intel SDM (8.1.3) for code written by one processor and executed by another. */
        return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0) == 0 ? 0 : errno;
    }
    return tg_barrier_publish_state();
}
