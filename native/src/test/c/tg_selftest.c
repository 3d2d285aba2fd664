/*
 * libtabguard's C self-test, run by the native module's build: thunks called from C with every
 * argument class (registers, stack, struct by value, variadic), refusal, W^X of the two mappings
 * (faults checked in forked children), no rwx mapping in /proc/self/maps, and the barrier.
 * Exit 0 only if every check passed; each failure prints one line.
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <ucontext.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static volatile int target_ran;

static int add3(int a, int b, int c) { target_ran++; return a * 100 + b * 10 + c; }
static long ten_longs(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j) {
    target_ran++;
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}
static double ten_doubles(double a, double b, double c, double d, double e, double f, double g, double h,
                          double i, double j) {
    target_ran++;
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}
typedef struct { long a, b, c; } big_struct;          /* MEMORY class: passed on the stack */
typedef struct { double x, y; } sse_struct;            /* SSE class: xmm0, xmm1 */
static long take_big(int k, big_struct s, double w) { target_ran++; return k + s.a * 3 + s.b * 5 + s.c * 7 + (long) w; }
static double take_sse(sse_struct s, float f) { target_ran++; return s.x * 2 + s.y * 3 + f; }
static float ret_float(float a, double b) { target_ran++; return a * 2.0f + (float) b; }
static double sum_variadic(int n, ...) {
    target_ran++;
    va_list ap;
    va_start(ap, n);
    double s = 0;
    for (int i = 0; i < n; i++) {
        s += va_arg(ap, double);
    }
    va_end(ap);
    return s;
}

/* Stand-ins for a shared upcall stub: each takes the slot's arguments plus the record last. */
static long rec_none(long rec) { return rec; }
static long rec_after_long(long a, long rec) { return rec - a; }
static long rec_after_mixed(double x, long a, int b, float y, long rec) { return rec + a * 3 + b * 5 + (long) (x * 7 + y * 11); }
static long rec_after_five(long a, long b, long c, long d, long e, long rec) { return rec + a + 2 * b + 3 * c + 4 * d + 5 * e; }
static double rec_after_doubles(double a, double b, double c, double d, double e, double f, double g, double h,
                                long p, long rec) {
    return (double) rec + a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + (double) p;
}
static long rec_in_r8(long a, long b, long c, long d, long rec) { return rec * 2 + a + b + c + d; }
static long rec_in_rcx(void *a, int b, short c, long rec) { return rec + (long) (intptr_t) a + b + c; }

static tg_dualmap code, states;
static uint64_t refusal_counts[2];   /* [0] state refusal_counts[0], [1] context refusal_counts[0] */
static int next_cell;

static void *thunk_for(const void *target, uint64_t refusal_bits) {
    int cell = next_cell++;
    void *view = (char *) code.view + cell * TG_THUNK_SIZE;
    int rc = tg_thunk_write((char *) code.writable + cell * TG_THUNK_SIZE, view, (tg_state_cell *) states.view,
                            target, refusal_bits);
    CHECK(rc == 0, "tg_thunk_write: %d", rc);
    CHECK(tg_barrier_publish_code() == 0, "publish code");
    return view;
}

static tg_dualmap upcall_code;
static uint64_t upcall_used;

static void *upcall_thunk_for(const void *stub, uint64_t record, int id_register) {
    uint64_t size = tg_upcall_thunk_size(id_register);
    CHECK(size == 32 || size == 64, "cell size %llu", (unsigned long long) size);
    upcall_used = (upcall_used + size - 1) / size * size;
    void *view = (char *) upcall_code.view + upcall_used;
    int rc = tg_upcall_thunk_write((char *) upcall_code.writable + upcall_used, view, record, id_register, stub);
    upcall_used += size;
    CHECK(rc == 0, "tg_upcall_thunk_write: %d", rc);
    CHECK(tg_barrier_publish_code() == 0, "publish code");
    return view;
}

/* The xmm form: the id arrives as a double whose bits are the id. */
static long rec_after_six(long a, long b, long c, long d, long e, long f, double rec) {
    uint64_t bits;
    memcpy(&bits, &rec, 8);
    return (long) bits + a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}
static double rec_after_six_and_floats(long a, long b, long c, long d, long e, long f, double x, float y, double rec) {
    uint64_t bits;
    memcpy(&bits, &rec, 8);
    return (double) (bits % 1000) + (double) (a + b + c + d + e + f) + x * 3 + y * 5;
}

/* Guard entries: the stack check in front of a shared stub. */
static tg_dualmap guard_code;
static long eight_and_six(long a, long b, long c, long d, long e, long f, double x0, double x1, double x2, double x3,
                          double x4, double x5, double x6, double x7) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f
            + (long) (x0 + 2 * x1 + 3 * x2 + 4 * x3 + 5 * x4 + 6 * x5 + 7 * x6 + 8 * x7);
}
typedef long (*eight_and_six_fn)(long, long, long, long, long, long, double, double, double, double, double, double,
                                 double, double);
static eight_and_six_fn guarded_fn;
static long guarded_result_first, guarded_result_deep;
static uint64_t guarded_floor_before, guarded_floor_after;
static char *deepest_frame;

/* Recurses until less than `leave` bytes of the thread's stack are left, then calls through the guard. */
static __attribute__((noinline)) long recurse_then_call(int depth, size_t leave, char *low) {
    volatile char pad[1024];
    pad[0] = (char) depth;
    if ((size_t) ((char *) pad - low) > leave) {
        long r = recurse_then_call(depth + 1, leave, low);
        __asm__ volatile("" : : "r"(pad) : "memory");   /* keeps this frame alive: no tail call */
        return r;
    }
    deepest_frame = (char *) pad;
    return guarded_fn(1, 2, 3, 4, 5, 6, .5, 1, 2, 3, 4, 5, 6, 7.25);
}

static void *guarded_thread(void *arg) {
    size_t leave = (size_t) (uintptr_t) arg;
    guarded_floor_before = tg_stack_floor();
    guarded_result_first = guarded_fn(1, 2, 3, 4, 5, 6, .5, 1, 2, 3, 4, 5, 6, 7.25);   /* initialises: registers kept */
    guarded_floor_after = tg_stack_floor();
    pthread_attr_t attr;
    void *low = NULL;
    size_t size = 0;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    guarded_result_deep = recurse_then_call(0, leave, low);
    return NULL;
}

static void run_guarded_thread(size_t leave) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    pthread_t t;
    CHECK(pthread_create(&t, &attr, guarded_thread, (void *) (uintptr_t) leave) == 0, "guarded thread");
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
}

static ucontext_t coroutine, coroutine_caller;
static long coroutine_result;
static void on_coroutine(void) {
    coroutine_result = guarded_fn(1, 2, 3, 4, 5, 6, .5, 1, 2, 3, 4, 5, 6, 7.25);
}

static void check_guard_entries(void) {
    long page = sysconf(_SC_PAGESIZE);
    CHECK(tg_dualmap_create((uint64_t) page, 1, &guard_code) == 0, "guard mapping");
    CHECK(tg_guard_entry_write(guard_code.writable, guard_code.view, (void *) eight_and_six) == 0, "guard entry");
    CHECK(tg_guard_entry_write(guard_code.writable, (char *) guard_code.view + 32, (void *) eight_and_six) == EINVAL,
          "a misaligned guard entry is refused");
    CHECK(tg_barrier_publish_code() == 0, "publish code");
    guarded_fn = (eight_and_six_fn) guard_code.view;
    long expected = eight_and_six(1, 2, 3, 4, 5, 6, .5, 1, 2, 3, 4, 5, 6, 7.25);
    tg_stack_refusals_drain();

    /* plenty of stack left: reaches the target, first call (the slow path) and deep call alike */
    run_guarded_thread(TG_STACK_HEADROOM + 64 * 1024);
    CHECK(guarded_floor_before == UINT64_MAX, "a new thread's floor is unknown: %llx", (unsigned long long) guarded_floor_before);
    CHECK(guarded_floor_after != UINT64_MAX && guarded_floor_after > (uint64_t) TG_STACK_HEADROOM, "the first call set the floor");
    CHECK(guarded_result_first == expected, "first call through the slow path: %ld, not %ld", guarded_result_first, expected);
    CHECK(guarded_result_deep == expected, "deep but above the floor: %ld", guarded_result_deep);
    CHECK(tg_stack_refusals_drain() == 0, "nothing refused above the floor");

    /* below the floor: refused with 0, counted, the target never runs */
    run_guarded_thread(TG_STACK_HEADROOM - 16 * 1024);
    CHECK(guarded_result_first == expected, "first call on the second thread");
    CHECK((uint64_t) (uintptr_t) deepest_frame <= guarded_floor_after, "the recursion went below the floor");
    CHECK(guarded_result_deep == 0, "below the floor the call was not refused: %ld", guarded_result_deep);
    CHECK(tg_stack_refusals_drain() == 1, "the refusal was not counted once");

    /* a stack that is not the thread's own (a coroutine's, 64 KiB from malloc): the guard cannot judge it */
    size_t size = 64 * 1024;
    void *stack = malloc(size);
    CHECK(getcontext(&coroutine) == 0, "getcontext");
    coroutine.uc_stack.ss_sp = stack;
    coroutine.uc_stack.ss_size = size;
    coroutine.uc_link = &coroutine_caller;
    makecontext(&coroutine, on_coroutine, 0);
    CHECK(swapcontext(&coroutine_caller, &coroutine) == 0, "swapcontext");
    free(stack);
    CHECK(coroutine_result == expected, "a call on another stack was refused: %ld", coroutine_result);
    CHECK(tg_stack_refusals_drain() == 0, "nothing refused on another stack");
}

static jmp_buf retired_fault;
static void on_retired_fault(int sig) { (void) sig; siglongjmp(retired_fault, 1); }

/* Java-target thunks: the id lands in the first free register, every argument intact. */
static void check_upcall_thunks(void) {
    long page = sysconf(_SC_PAGESIZE);
    CHECK(tg_dualmap_create((uint64_t) page, 1, &upcall_code) == 0, "upcall thunk mapping");
    const uint64_t record = UINT64_C(0x0000000700001234);   /* generation 7, index 0x1234 */
    long (*t0)(void) = upcall_thunk_for((void *) rec_none, record, TG_THUNK_INTEGER_REGISTER(0));
    long (*t1)(long) = upcall_thunk_for((void *) rec_after_long, record, TG_THUNK_INTEGER_REGISTER(1));
    long (*t2)(double, long, int, float) = upcall_thunk_for((void *) rec_after_mixed, record, TG_THUNK_INTEGER_REGISTER(2));
    long (*t3)(void *, int, short) = upcall_thunk_for((void *) rec_in_rcx, record, TG_THUNK_INTEGER_REGISTER(3));
    long (*t4)(long, long, long, long) = upcall_thunk_for((void *) rec_in_r8, record, TG_THUNK_INTEGER_REGISTER(4));
    long (*t5)(long, long, long, long, long) = upcall_thunk_for((void *) rec_after_five, record, TG_THUNK_INTEGER_REGISTER(5));
    double (*t_doubles)(double, double, double, double, double, double, double, double, long) =
            upcall_thunk_for((void *) rec_after_doubles, record, TG_THUNK_INTEGER_REGISTER(1));
    long (*t_six)(long, long, long, long, long, long) = upcall_thunk_for((void *) rec_after_six, record, TG_THUNK_VECTOR_REGISTER(0));
    double (*t_six_floats)(long, long, long, long, long, long, double, float) =
            upcall_thunk_for((void *) rec_after_six_and_floats, record, TG_THUNK_VECTOR_REGISTER(2));
    CHECK(t0() == (long) record, "record in rdi");
    CHECK(t1(5) == rec_after_long(5, (long) record), "record in rsi");
    CHECK(t2(1.5, 2, -3, 0.25f) == rec_after_mixed(1.5, 2, -3, 0.25f, (long) record), "record in rdx, xmm intact");
    CHECK(t3((void *) 64, 9, -2) == rec_in_rcx((void *) 64, 9, -2, (long) record), "record in rcx");
    CHECK(t4(1, 2, 3, 4) == rec_in_r8(1, 2, 3, 4, (long) record), "record in r8");
    CHECK(t5(1, 2, 3, 4, 5) == rec_after_five(1, 2, 3, 4, 5, (long) record), "record in r9");
    CHECK(t_doubles(1, 2, 3, 4, 5, 6, 7, 8.5, 100) == rec_after_doubles(1, 2, 3, 4, 5, 6, 7, 8.5, 100, (long) record),
          "eight doubles in xmm0-7, record in rsi");
    double as_double;
    memcpy(&as_double, &record, 8);
    CHECK(t_six(1, 2, 3, 4, 5, 6) == rec_after_six(1, 2, 3, 4, 5, 6, as_double), "six integers, record in xmm0");
    CHECK(t_six_floats(1, 2, 3, 4, 5, 6, 0.5, 0.25f) == rec_after_six_and_floats(1, 2, 3, 4, 5, 6, 0.5, 0.25f, as_double),
          "six integers and two floats, record in xmm2");
    CHECK(tg_upcall_thunk_size(6) == 0 && tg_upcall_thunk_size(TG_THUNK_VECTOR_REGISTER(8)) == 0 && tg_upcall_thunk_size(-1) == 0,
          "no seventh integer or ninth vector register");
    CHECK(tg_upcall_thunk_write(upcall_code.writable, upcall_code.view, record, 6, (void *) rec_none) == EINVAL,
          "a seventh integer register is refused");
    CHECK(tg_upcall_thunk_write(upcall_code.writable, (char *) upcall_code.view + 32, record, TG_THUNK_VECTOR_REGISTER(0),
                                (void *) rec_none) == EINVAL, "a 64-byte cell off its alignment is refused");
    CHECK(tg_upcall_thunk_write(upcall_code.writable, upcall_code.view, record, 0, NULL) == EINVAL, "a NULL stub is refused");

    /* retire: the memory goes, the addresses stay reserved and fault */
    void *view = upcall_code.view;
    CHECK(tg_dualmap_retire(&upcall_code) == 0 && upcall_code.writable == NULL, "retire");
    struct sigaction fault = {0}, old_segv, old_bus;
    fault.sa_handler = on_retired_fault;
    sigaction(SIGSEGV, &fault, &old_segv);
    sigaction(SIGBUS, &fault, &old_bus);
    volatile int faulted = 0;
    if (sigsetjmp(retired_fault, 1) == 0) {
        (void) t1(5);
    } else {
        faulted = 1;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    CHECK(faulted, "a call into a retired thunk did not fault");
    void *again = mmap(NULL, (size_t) page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(again != view, "the retired range was handed out again");
    munmap(again, (size_t) page);
    CHECK(tg_dualmap_retire(&upcall_code) == EINVAL, "retiring twice is refused");
}

static long ctx_first(void *ctx, long b) { target_ran++; return (long) (intptr_t) ctx + b * 3; }
static double ctx_sixth(double x, long a, long b, long c, long d, long e, void *ctx, double y) {
    target_ran++;
    return x + (double) (a + 2 * b + 3 * c + 4 * d + 5 * e) + (double) (intptr_t) ctx + y * 7;
}

static tg_dualmap context_code;

static void *context_thunk_for(int cell, const void *target, uint64_t refusal_bits, int context_register, uint64_t context) {
    void *view = (char *) context_code.view + cell * TG_CONTEXT_THUNK_SIZE;
    int rc = tg_context_thunk_write((char *) context_code.writable + cell * TG_CONTEXT_THUNK_SIZE, view,
                                    (tg_state_cell *) states.view, target, refusal_bits, context_register, context);
    CHECK(rc == 0, "tg_context_thunk_write: %d", rc);
    CHECK(tg_barrier_publish_code() == 0, "publish code");
    return view;
}

static void set_state(uint64_t state);

/* Context-checking thunks: the bound context passes, any other value is refused and counted apart. */
static void check_context_thunks(void) {
    long page = sysconf(_SC_PAGESIZE);
    CHECK(tg_dualmap_create((uint64_t) page, 1, &context_code) == 0, "context thunk mapping");
    void *bound = (void *) (uintptr_t) 0x7f0000001000UL;
    long (*t_first)(void *, long) = context_thunk_for(0, (void *) ctx_first, (uint64_t) (int64_t) -7, 0, (uint64_t) (uintptr_t) bound);
    double refusal_double = -0.5;
    uint64_t refusal_double_bits;
    memcpy(&refusal_double_bits, &refusal_double, 8);
    double (*t_sixth)(double, long, long, long, long, long, void *, double) =
            context_thunk_for(1, (void *) ctx_sixth, refusal_double_bits, 5, (uint64_t) (uintptr_t) bound);
    set_state(TG_STATE_OPEN);
    target_ran = 0;
    uint64_t state_before = refusal_counts[0], context_before = refusal_counts[1];
    CHECK(t_first(bound, 5) == ctx_first(bound, 5), "bound context in rdi passes");
    CHECK(t_sixth(1.5, 1, 2, 3, 4, 5, bound, 0.25) == ctx_sixth(1.5, 1, 2, 3, 4, 5, bound, 0.25), "bound context in r9 passes, xmm intact");
    CHECK(target_ran == 4, "targets ran %d times", target_ran);
    target_ran = 0;
    CHECK(t_first((char *) bound + 8, 5) == -7, "another context in rdi is refused");
    CHECK(t_first(NULL, 5) == -7, "NULL context is refused");
    CHECK(t_sixth(1.5, 1, 2, 3, 4, 5, (char *) bound - 1, 0.25) == -0.5, "another context in r9 is refused");
    CHECK(target_ran == 0, "a refused target ran");
    CHECK(refusal_counts[1] == context_before + 3 && refusal_counts[0] == state_before, "context refusal_counts[0] counted apart");
    set_state(0);
    CHECK(t_first(bound, 5) == -7 && target_ran == 0, "the state is checked first");
    CHECK(refusal_counts[0] == state_before + 1 && refusal_counts[1] == context_before + 3, "a state refusal is counted as one");
    set_state(TG_STATE_OPEN);
    CHECK(tg_context_thunk_write(context_code.writable, context_code.view, states.view, (void *) ctx_first, 0, 6, 0) == EINVAL,
          "a seventh integer register is refused");
    CHECK(tg_context_thunk_write(context_code.writable, (char *) context_code.view + 128, states.view, (void *) ctx_first, 0, 0, 0) == EINVAL,
          "a misaligned context thunk is refused");
}

static void set_state(uint64_t state) {
    ((volatile tg_state_cell *) states.writable)->state = state;
    CHECK(tg_barrier_publish_state() == 0, "publish state");
}

/* Runs `fn` in a forked child; true if the child died of SIGSEGV (or SIGBUS). */
static int faults_in_child(void (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}
static void write_view(void) { *(volatile unsigned char *) code.view = 0x90; }
static void write_state_view(void) { ((volatile tg_state_cell *) states.view)->state = TG_STATE_OPEN; }
static void exec_writable(void) { ((void (*)(void)) code.writable)(); }
static void harmless(void) { (void) *(volatile unsigned char *) code.view; }

/*
 * Revocation against a thread caught between its state load and its jump, made deterministic with a
 * signal: thread `caller` calls a thunk in a loop; the main thread signals it until the handler sees
 * it interrupted at the thunk's jne/jmp (offsets 34-41: the state compare already done, OPEN) or at
 * the rseq abort handler (offset 60: the kernel moved it there). There, on the caller's own stack,
 * the handler revokes (state word + barrier) and sets `revoked`. A target that starts with `revoked`
 * set started after revocation returned. With rseq the caller can never be seen at 34-41 and is sent
 * back to re-read the state: zero late starts. Built without rseq, every round is a late start.
 */
static _Atomic int revoked;
static _Atomic long late_starts, hits_window, hits_abort, window_calls;
static _Atomic int stop_caller;
static uintptr_t window_cell;
static int window_target(int x) {
    if (atomic_load(&revoked)) atomic_fetch_add(&late_starts, 1);
    return x + 1;
}
static void on_signal(int sig, siginfo_t *info, void *context) {
    (void) sig; (void) info;
    uintptr_t rip = (uintptr_t) ((ucontext_t *) context)->uc_mcontext.gregs[REG_RIP];
    int in_window = rip >= window_cell + 34 && rip < window_cell + 42;
    int at_abort = rip == window_cell + 60;
    if ((in_window || at_abort) && !atomic_load(&revoked)) {
        ((volatile tg_state_cell *) states.writable)[1].state = 0;
        tg_barrier_publish_state();
        atomic_store(&revoked, 1);
        atomic_fetch_add(in_window ? &hits_window : &hits_abort, 1);
    }
}
static void *call_in_loop(void *fn) {
    int (*thunk)(int) = (int (*)(int)) fn;
    while (!atomic_load_explicit(&stop_caller, memory_order_relaxed)) {
        for (int i = 0; i < 16; i++) {            /* mostly inside the thunk, so most signals land there */
            int r = thunk(41);
            if (r != 42 && r != -7) atomic_fetch_add(&late_starts, 1000000);   /* a wrong result: clobbered */
        }
        atomic_fetch_add_explicit(&window_calls, 16, memory_order_relaxed);
    }
    return NULL;
}
static void check_revocation_window(void) {
    tg_state_cell *cell = &((tg_state_cell *) states.writable)[1];
    cell->refusals = refusal_counts;
    cell->refusal_entry = tg_refusal_entry();
    cell->context_refusal_entry = tg_context_refusal_entry();
    cell->state = TG_STATE_OPEN;
    int c = next_cell++;
    window_cell = (uintptr_t) code.view + (uintptr_t) c * TG_THUNK_SIZE;
    CHECK(tg_thunk_write((char *) code.writable + c * TG_THUNK_SIZE, (void *) window_cell, cell,
                         (void *) window_target, (uint64_t) (int64_t) -7) == 0, "window thunk");
    tg_barrier_publish_code();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t caller;
    pthread_create(&caller, NULL, call_in_loop, (void *) window_cell);
    const int rounds = 8;
    time_t deadline = time(NULL) + 60;
    for (int round = 0; round < rounds && time(NULL) < deadline; round++) {
        while (!atomic_load(&revoked) && time(NULL) < deadline) {
            pthread_kill(caller, SIGUSR1);
            for (volatile int spin = 0; spin < 200; spin++) {}
        }
        long calls = atomic_load(&window_calls);
        while (atomic_load(&window_calls) < calls + 10 && time(NULL) < deadline) {}   /* it runs on, refused */
        atomic_store(&revoked, 0);                                                     /* the next round: reopen */
        cell->state = TG_STATE_OPEN;
        tg_barrier_publish_state();
    }
    atomic_store(&stop_caller, 1);
    pthread_join(caller, NULL);
    long window = atomic_load(&hits_window), aborted = atomic_load(&hits_abort), late = atomic_load(&late_starts);
    printf("revocation window: %ld rounds caught between load and jump, %ld at the rseq abort, %ld late starts\n",
           window, aborted, late);
    CHECK(window + aborted == rounds, "only %ld of %d rounds caught the caller in the window", window + aborted, rounds);
    if (tg_rseq_cs_offset() != -1) {
        CHECK(window == 0, "with rseq a thread was seen between its state load and its jump %ld times", window);
        CHECK(late == 0, "with rseq a target started after revocation %ld times", late);
    } else {
        CHECK(late == window && late == rounds, "without rseq each caught round must start late: %ld of %d", late, rounds);
    }
}

static void check_maps(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    CHECK(maps != NULL, "open /proc/self/maps");
    if (maps == NULL) return;
    char line[512];
    int rwx = 0, view_rx = 0, writable_rw = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[8] = {0};
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        if (perms[0] == 'r' && perms[1] == 'w' && perms[2] == 'x') { rwx++; printf("rwx mapping: %s", line); }
        if (lo == (unsigned long) code.view) view_rx = strncmp(perms, "r-xs", 4) == 0;
        if (lo == (unsigned long) code.writable) writable_rw = strncmp(perms, "rw-s", 4) == 0;
    }
    fclose(maps);
    CHECK(rwx == 0, "%d rwx mappings", rwx);
    CHECK(view_rx, "the thunk view is not r-xs");
    CHECK(writable_rw, "the writable alias is not rw-s");
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    CHECK(tg_dualmap_create((uint64_t) page, 1, &code) == 0, "code mapping");
    CHECK(tg_dualmap_create((uint64_t) page, 0, &states) == 0, "state mapping");
    CHECK(tg_dualmap_create(100, 1, &(tg_dualmap){0}) == EINVAL, "a size that is no page multiple is refused");
    if (failures) return 1;
    CHECK(tg_barrier_init() >= TG_BARRIER_FENCE, "barrier init");
    tg_state_cell *cell = states.writable;
    cell->refusals = refusal_counts;
    cell->refusal_entry = tg_refusal_entry();
    cell->context_refusal_entry = tg_context_refusal_entry();
    set_state(TG_STATE_OPEN);

    int (*t_add3)(int, int, int) = thunk_for((void *) add3, (uint64_t) (int64_t) -7);
    long (*t_ten_longs)(long, long, long, long, long, long, long, long, long, long) = thunk_for((void *) ten_longs, 0);
    double (*t_ten_doubles)(double, double, double, double, double, double, double, double, double, double) =
            thunk_for((void *) ten_doubles, 0);
    long (*t_big)(int, big_struct, double) = thunk_for((void *) take_big, 0);
    double (*t_sse)(sse_struct, float) = thunk_for((void *) take_sse, 0);
    double minus_half = -0.5;
    uint64_t minus_half_bits;
    memcpy(&minus_half_bits, &minus_half, 8);
    double (*t_variadic)(int, ...) = thunk_for((void *) sum_variadic, minus_half_bits);
    float minus_two = -2.0f;
    uint32_t minus_two_bits;
    memcpy(&minus_two_bits, &minus_two, 4);
    float (*t_float)(float, double) = thunk_for((void *) ret_float, minus_two_bits);

    /* OPEN: every shape reaches its target with the same result as a direct call */
    CHECK(t_add3(1, 2, 3) == add3(1, 2, 3), "add3");
    CHECK(t_ten_longs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) == ten_longs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), "stack-passed longs");
    CHECK(t_ten_doubles(.5, 1, 2, 3, 4, 5, 6, 7, 8, 9.25) == ten_doubles(.5, 1, 2, 3, 4, 5, 6, 7, 8, 9.25), "stack-passed doubles");
    big_struct big = {11, 13, 17};
    CHECK(t_big(3, big, 2.0) == take_big(3, big, 2.0), "struct by value on the stack");
    sse_struct sse = {1.5, -2.25};
    CHECK(t_sse(sse, 0.125f) == take_sse(sse, 0.125f), "struct by value in xmm registers");
    CHECK(t_variadic(3, 1.0, 2.0, 4.5) == 7.5, "variadic (al preserved)");
    CHECK(t_float(1.5f, 0.25) == ret_float(1.5f, 0.25), "float return");
    CHECK(refusal_counts[0] == 0, "no refusal while OPEN");

    /* not OPEN: the refusal value of each shape, the target never runs, each refusal counted */
    for (uint64_t closed = 0; closed < 3; closed++) {
        set_state(closed == 0 ? 0 : closed == 1 ? UINT64_C(0x44455645) : ~TG_STATE_OPEN);
        target_ran = 0;
        uint64_t before = refusal_counts[0];
        CHECK(t_add3(1, 2, 3) == -7, "add3 refused");
        CHECK(t_ten_longs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) == 0, "longs refused");
        CHECK(t_big(3, big, 2.0) == 0, "struct refused");
        CHECK(t_variadic(2, 1.0, 2.0) == -0.5, "double refusal value");
        CHECK(t_float(1.5f, 0.25) == -2.0f, "float refusal value");
        CHECK(target_ran == 0, "a refused target ran %d times", target_ran);
        CHECK(refusal_counts[0] == before + 5, "refusal_counts[0] counted: %llu", (unsigned long long) (refusal_counts[0] - before));
    }
    set_state(TG_STATE_OPEN);
    CHECK(t_add3(4, 5, 6) == 456 && target_ran == 1, "reopened (test only: the registry never reopens)");

    check_revocation_window();
    check_upcall_thunks();
    check_context_thunks();
    check_guard_entries();

    /* W^X: neither mapping is writable and executable; the views cannot be made writable */
    check_maps();
    CHECK(faults_in_child(write_view), "a write to the thunk view did not fault");
    CHECK(faults_in_child(write_state_view), "a write to the state view did not fault");
    CHECK(faults_in_child(exec_writable), "executing the writable alias did not fault");
    CHECK(!faults_in_child(harmless), "the fork helper reports faults that did not happen");
    errno = 0;
    CHECK(mprotect(code.view, (size_t) page, PROT_READ | PROT_WRITE | PROT_EXEC) != 0 && errno == EACCES,
          "mprotect(view, RWX) was not refused with EACCES (errno %d)", errno);
    CHECK(mprotect(states.view, (size_t) page, PROT_READ | PROT_WRITE) != 0, "mprotect(state view, RW) succeeded");

    if (failures) {
        printf("tg_selftest: %d checks failed\n", failures);
        return 1;
    }
    printf("tg_selftest: all checks passed (barrier mode %d)\n", tg_barrier_init());
    return 0;
}
