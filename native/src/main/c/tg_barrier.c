/*
 * One job: the asymmetric barrier the registry runs after writing a state word or new thunk code,
 * so that the thunks' call path carries no fence. As liburcu's urcu-memb flavour does: query, register
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED once, else fall back to MEMBARRIER_CMD_GLOBAL, else to a fence on
 * this side only (sufficient on x86-TSO for the state word; documented in the README).
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static int mode = -1;
static int sync_core;           /* MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE registered */
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

int tg_barrier_publish_state(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    switch (tg_barrier_init()) {
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
    if (tg_barrier_init() == TG_BARRIER_EXPEDITED && sync_core) {
        /* Every running thread of the process executes a core-serialising instruction: the rule of the
         * Intel SDM (8.1.3) for code written by one processor and executed by another. */
        return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0) == 0 ? 0 : errno;
    }
    return tg_barrier_publish_state();
}
