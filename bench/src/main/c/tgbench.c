/*
 * The minimal native caller of Tabguard's benchmarks: C code calling a function pointer it was given,
 * and a trivial C function for the Java -> native benchmark. Built by bench/pom.xml into
 * bench/target/native/libtgbench.so. Nothing here may be inlined into a caller in Java, and the
 * compiler cannot drop the calls: the pointer is opaque and each result feeds the next call.
 */
typedef int (*tg_binop)(int, int);

/* The trivial callee of benchmark 3 (Java -> native): bound into a table slot with bindNative. */
int add_ints(int a, int b) {
    return a + b;
}

/* One call through f: the unit of the latency (SampleTime) benchmarks. */
int call_ii(tg_binop f, int a, int b) {
    return f(a, b);
}

/* n calls through f in a loop, each depending on the last: the unit of the throughput benchmarks. */
int call_n(tg_binop f, int n) {
    int acc = 0;
    for (int i = 0; i < n; i++) {
        acc = f(acc, i);
    }
    return acc;
}

/*
 * RevokeLatency's native callers: n pthreads calling one function pointer back to back until stopped,
 * counting the calls that returned the refusal value. One set of threads at a time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static _Atomic(tg_binop) hammer_target;
static atomic_int hammer_stopping;
static atomic_long hammer_calls, hammer_refused;
static pthread_t *hammer_threads;
static int hammer_count;
static int hammer_refusal;

static void *hammer_run(void *unused) {
    (void) unused;
    long c = 0, r = 0;
    while (!atomic_load_explicit(&hammer_stopping, memory_order_relaxed)) {
        tg_binop f = atomic_load_explicit(&hammer_target, memory_order_relaxed);
        if (f(1, 2) == hammer_refusal) {
            r++;
        }
        c++;
    }
    atomic_fetch_add(&hammer_calls, c);
    atomic_fetch_add(&hammer_refused, r);
    return NULL;
}

/* Starts n threads calling f(1, 2); 0 on success. */
int hammer_start(tg_binop f, int n, int refusal) {
    atomic_store(&hammer_target, f);
    atomic_store(&hammer_stopping, 0);
    atomic_store(&hammer_calls, 0);
    atomic_store(&hammer_refused, 0);
    hammer_refusal = refusal;
    hammer_threads = calloc((size_t) n, sizeof(pthread_t));
    if (hammer_threads == NULL) {
        return -1;
    }
    for (hammer_count = 0; hammer_count < n; hammer_count++) {
        if (pthread_create(&hammer_threads[hammer_count], NULL, hammer_run, NULL) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Stops and joins the threads; writes the calls made and the calls refused. */
void hammer_stop(long *calls, long *refused) {
    atomic_store(&hammer_stopping, 1);
    for (int i = 0; i < hammer_count; i++) {
        pthread_join(hammer_threads[i], NULL);
    }
    free(hammer_threads);
    hammer_threads = NULL;
    hammer_count = 0;
    *calls = atomic_load(&hammer_calls);
    *refused = atomic_load(&hammer_refused);
}
