/*
 * A native attacker with a one-word write primitive, for ReadOnlyTableAttackTest: it writes the address
 * of its own function into a slot of a table it was handed, then calls through the slot as the consumer
 * would. Compiled by gcc during the test run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long attacker_runs;

/* The attacker's function: if it ever runs, it says so on stdout. */
int attacker(int x) {
    attacker_runs++;
    fputs("ATTACKER-FUNCTION-RAN\n", stdout);
    fflush(stdout);
    return x + 1000;
}

void *attacker_address(void) { return (void *) attacker; }

long attacker_calls(void) { return attacker_runs; }

/* The write primitive: one pointer store. */
void write_pointer(void **slot, void *value) { *(void *volatile *) slot = value; }

/* Calls a slot as the consumer does: through the pointer the table holds now. */
int call_slot(void **slot, int x) { return ((int (*)(int)) *(void *volatile *) slot)(x); }

/*
 * The same store made by a child process (fork, default SIGSEGV action, store, exit 0); returns the
 * child's wait status. The table's pages are a shared mapping, so a store that succeeded would be seen
 * by this process too.
 */
int write_pointer_in_child(void **slot, void *value) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        *(void *volatile *) slot = value;
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return status;
}

/* The control for the above: a child's store into a shared writable mapping does reach the parent. */
long shared_store_seen_by_parent(void) {
    long *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        *(volatile long *) shared = 42;
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    long seen = *(volatile long *) shared;
    munmap(shared, 4096);
    return seen;
}

int signal_of(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

/* mprotect(PROT_READ | PROT_WRITE) of the page holding address: 0, or the errno it failed with. */
int make_writable(void *address) {
    long page = sysconf(_SC_PAGESIZE);
    void *start = (void *) ((unsigned long) address & ~(unsigned long) (page - 1));
    return mprotect(start, (size_t) page, PROT_READ | PROT_WRITE) == 0 ? 0 : errno;
}

/* The control for make_writable: a fresh private read-only page can be made writable. */
int make_fresh_read_only_page_writable(void) {
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    int rc = make_writable(p);
    munmap(p, 4096);
    return rc;
}
