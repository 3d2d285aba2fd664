/*
 * libtabguard's C self-test, run by the native module's build: thunks called from C with every
 * argument class (registers, stack, struct by value, variadic), refusal, W^X of the two mappings
 * (faults checked in forked children), no rwx mapping in /proc/self/maps, and the barrier.
 * Exit 0 only if every check passed; each failure prints one line.
 */
#define _GNU_SOURCE
#include "tabguard_native.h"

#include <errno.h>
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

static tg_dualmap code, states;
static uint64_t refusals;
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
    cell->refusals = &refusals;
    cell->refusal_entry = tg_refusal_entry();
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
    CHECK(refusals == 0, "no refusal while OPEN");

    /* not OPEN: the refusal value of each shape, the target never runs, each refusal counted */
    for (uint64_t closed = 0; closed < 3; closed++) {
        set_state(closed == 0 ? 0 : closed == 1 ? UINT64_C(0x44455645) : ~TG_STATE_OPEN);
        target_ran = 0;
        uint64_t before = refusals;
        CHECK(t_add3(1, 2, 3) == -7, "add3 refused");
        CHECK(t_ten_longs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) == 0, "longs refused");
        CHECK(t_big(3, big, 2.0) == 0, "struct refused");
        CHECK(t_variadic(2, 1.0, 2.0) == -0.5, "double refusal value");
        CHECK(t_float(1.5f, 0.25) == -2.0f, "float refusal value");
        CHECK(target_ran == 0, "a refused target ran %d times", target_ran);
        CHECK(refusals == before + 5, "refusals counted: %llu", (unsigned long long) (refusals - before));
    }
    set_state(TG_STATE_OPEN);
    CHECK(t_add3(4, 5, 6) == 456 && target_ran == 1, "reopened (test only: the registry never reopens)");

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
