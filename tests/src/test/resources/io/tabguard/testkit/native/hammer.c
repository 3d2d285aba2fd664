/*
 * Native callers for the refusal-path tests: N pthreads calling one int(int) function pointer as fast
 * as they can until told to stop, counting calls and the calls that returned the refusal value.
 * Compiled by NativeHammer during the test run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef int (*tg_unary)(int);

static _Atomic(tg_unary) target;
static atomic_int stop;
static atomic_long calls, refused;
static pthread_t *threads;
static int nthreads;
static int refusal_value;

static void *run(void *unused) {
    (void) unused;
    long c = 0, r = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        tg_unary f = atomic_load_explicit(&target, memory_order_relaxed);
        if (f(1) == refusal_value) {
            r++;
        }
        c++;
    }
    atomic_fetch_add(&calls, c);
    atomic_fetch_add(&refused, r);
    return NULL;
}

/* Starts n threads calling f; 0 on success. */
int hammer_start(tg_unary f, int n, int refusal) {
    atomic_store(&target, f);
    atomic_store(&stop, 0);
    atomic_store(&calls, 0);
    atomic_store(&refused, 0);
    refusal_value = refusal;
    threads = calloc((size_t) n, sizeof(pthread_t));
    if (threads == NULL) {
        return -1;
    }
    nthreads = 0;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&threads[i], NULL, run, NULL) != 0) {
            return -1;
        }
        nthreads++;
    }
    return 0;
}

/* Points the running threads at another function. */
void hammer_retarget(tg_unary f) {
    atomic_store(&target, f);
}

/* Stops and joins the threads; writes the total calls and refused calls. */
void hammer_stop(long *out_calls, long *out_refused) {
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(threads[i], NULL);
    }
    free(threads);
    threads = NULL;
    nthreads = 0;
    *out_calls = atomic_load(&calls);
    *out_refused = atomic_load(&refused);
}
