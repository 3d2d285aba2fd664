/*
 * The C plugin PluginTest builds in many variants (-DVARIANT_xxx), one honest and one per attack.
 * Schema "tabguard.test.plugin" 1: minor 0 {add, mul}, minor 1 adds {neg}. SCHEMA_ID comes from -D.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tabguard.h"

typedef int (*binary_fn)(int, int);
typedef int (*unary_fn)(int);

struct ops_v0 { binary_fn add; binary_fn mul; };
struct ops_v1 { binary_fn add; binary_fn mul; unary_fn neg; };
struct ops_v2 { binary_fn add; binary_fn mul; unary_fn neg; void *extra; };

#if defined(VARIANT_MINOR0)
typedef struct ops_v0 ops_t;
#define MINOR 0
#elif defined(VARIANT_NEWER_ZERO) || defined(VARIANT_NEWER_NONZERO)
typedef struct ops_v2 ops_t;
#define MINOR 2
#else
typedef struct ops_v1 ops_t;
#define MINOR 1
#endif

struct table_buffer { struct tabguard_header_v1 header; ops_t ops; };

int plugin_add(int a, int b) { return a + b + OFFSET; }
int plugin_mul(int a, int b) { return a * b; }
int plugin_neg(int a) { return -a - 1000; }

/* ---- slots that are symbols of the plugin's own file, but not functions (issue 14) ---- */
#if defined(VARIANT_DATA)
int plugin_data[4] = {1, 2, 3, 4};                 /* an exported data object in .data */
#elif defined(VARIANT_LABEL)
/* An exported label (no type, no size) in the middle of a function. */
int plugin_labelled(int a, int b) {
    __asm__ volatile(".globl plugin_mid_label\nplugin_mid_label:");
    return a - b;
}
extern const char plugin_mid_label[];
#elif defined(VARIANT_MID_FUNCTION)
/* The same, typed STT_FUNC with a size: dladdr1 alone sees the exact start of a sized function. */
int plugin_labelled(int a, int b) {
    __asm__ volatile(".globl plugin_mid_function\n.type plugin_mid_function, @function\n"
                     ".size plugin_mid_function, 4\nplugin_mid_function:");
    return a - b;
}
extern const char plugin_mid_function[];
#elif defined(VARIANT_PLT_FUNCTION)
/* A sized, exported STT_FUNC placed in the plugin's own .plt section: a stub that jumps to libc's abs. */
__asm__(".pushsection .plt,\"ax\",@progbits\n.globl plugin_plt_abs\n.type plugin_plt_abs, @function\n"
        "plugin_plt_abs:\njmp *abs@GOTPCREL(%rip)\n.size plugin_plt_abs, .-plugin_plt_abs\n.popsection\n");
int plugin_plt_abs(int);
#elif defined(VARIANT_PLT_ALIAS)
/* abs is called through the PLT; -Wl,--defsym=plugin_abs_alias=ADDR(.plt)+16 names its PLT entry. */
int plugin_uses_abs(int a) { return abs(a); }
extern const char plugin_abs_alias[];
#endif

/* The sealed table this plugin was given back; a hostile plugin keeps it to write into it later. */
const void *sealed_table;
static struct table_buffer buffer;

/* Exported so that a test can make the plugin write into the sealed copy, as a hostile plugin would. */
void plugin_tamper(void) {
    ops_t *ops = (ops_t *) (void *) (uintptr_t) sealed_table;
    binary_fn swap = ops->add;
    ops->add = ops->mul;
    ops->mul = swap;
}

/* The host interface this plugin was given, kept to release tables later. */
static const struct tabguard_host_v1 *given_host;
static void *given_host_ctx;

/* Exported so that a test can make the plugin give its sealed table back. */
void plugin_release_sealed(void) {
    given_host->table_release(given_host_ctx, sealed_table);
}

/* Exported so that a test can make the plugin "release" memory the host never sealed. */
void plugin_release_foreign(void) {
    given_host->table_release(given_host_ctx, &buffer.ops);
}

static void fill(ops_t *ops) {
    ops->add = plugin_add;
    ops->mul = plugin_mul;
#if MINOR >= 1
    ops->neg = plugin_neg;
#endif
#if defined(VARIANT_NEWER_NONZERO)
    ops->extra = (void *) plugin_add;
#endif
#if defined(VARIANT_LIBC)
    ops->add = (binary_fn) (void (*)(void)) dlsym(RTLD_DEFAULT, "system");
#elif defined(VARIANT_GADGET)
    ops->add = (binary_fn) (void (*)(void)) ((uintptr_t) plugin_add + 4);
#elif defined(VARIANT_HEAP)
    ops->add = (binary_fn) (void (*)(void)) (uintptr_t) malloc(64);
#elif defined(VARIANT_DATA)
    ops->add = (binary_fn) (void (*)(void)) (uintptr_t) plugin_data;
#elif defined(VARIANT_LABEL)
    ops->add = (binary_fn) (void (*)(void)) (uintptr_t) plugin_mid_label;
#elif defined(VARIANT_MID_FUNCTION)
    ops->add = (binary_fn) (void (*)(void)) (uintptr_t) plugin_mid_function;
#elif defined(VARIANT_PLT_FUNCTION)
    ops->neg = plugin_plt_abs;
#elif defined(VARIANT_PLT_ALIAS)
    {
        /* The defsym'd alias is an absolute (unrelocated) link-time address: add the load base. */
        Dl_info self;
        ops->neg = dladdr((void *) (uintptr_t) plugin_add, &self) == 0 ? NULL
                : (unary_fn) (void (*)(void)) ((uintptr_t) self.dli_fbase + (uintptr_t) plugin_abs_alias);
    }
#elif defined(VARIANT_OTHER_PLUGIN)
    {
        void *other = dlopen(OTHER_PLUGIN, RTLD_NOW);
        ops->add = other == NULL ? NULL : (binary_fn) (void (*)(void)) dlsym(other, "plugin_add");
    }
#endif
}

#if defined(VARIANT_THREADS)
struct seal_job { const struct tabguard_host_v1 *host; void *ctx; const void *out; int rc; };

static void *seal_thread(void *arg) {
    struct seal_job *job = arg;
    job->rc = job->host->table_seal(job->ctx, &buffer, sizeof buffer, &job->out);
    return NULL;
}
#endif

/*
 * ---- bad pointers handed to the host (issue 14): each would crash a host that dereferences them ----
 * Guard pages are PROT_NONE rather than unmapped, so that no other mapping can land there meanwhile.
 */
#if defined(VARIANT_BAD_OUT_WILD) || defined(VARIANT_BAD_OUT_NULL) || defined(VARIANT_BAD_INIT_NULL) \
        || defined(VARIANT_BAD_INIT_TAIL) || defined(VARIANT_BAD_INIT_READ_ONLY) || defined(VARIANT_BAD_SEAL_TAIL) \
        || defined(VARIANT_BAD_INIT_HUGE) || defined(VARIANT_BAD_SEAL_HUGE) || defined(VARIANT_FLUSH)
#define BAD_POINTER_VARIANT 1
#endif

#if defined(VARIANT_BAD_INIT_TAIL) || defined(VARIANT_FLUSH)
static unsigned char *two_pages_second_protected(void) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 2 * (size_t) page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p + page, (size_t) page, PROT_NONE) != 0) {
        abort();
    }
    return p;
}
#endif

#if defined(BAD_POINTER_VARIANT)
static int bad_pointer_variant(const struct tabguard_host_v1 *host, void *host_ctx, const void **out_table) {
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    int rc;
    (void) page;
    (void) out_table;
#if defined(VARIANT_BAD_OUT_WILD)
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, &buffer, sizeof buffer);
    if (rc != 0) return 100 + rc;
    fill(&buffer.ops);
    return host->table_seal(host_ctx, &buffer, sizeof buffer, (const void **) (uintptr_t) 0x10);
#elif defined(VARIANT_BAD_OUT_NULL)
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, &buffer, sizeof buffer);
    if (rc != 0) return 100 + rc;
    fill(&buffer.ops);
    return host->table_seal(host_ctx, &buffer, sizeof buffer, NULL);
#elif defined(VARIANT_BAD_INIT_NULL)
    (void) rc;
    return host->table_init(host_ctx, SCHEMA_ID, MINOR, NULL, sizeof buffer);
#elif defined(VARIANT_BAD_INIT_TAIL)
    /* The buffer's last 8 bytes lie on the protected page. */
    struct table_buffer *b = (struct table_buffer *) (void *) (two_pages_second_protected() + page - sizeof buffer + 8);
    (void) rc;
    return host->table_init(host_ctx, SCHEMA_ID, MINOR, b, sizeof buffer);
#elif defined(VARIANT_BAD_INIT_READ_ONLY)
    void *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ro == MAP_FAILED) abort();
    (void) rc;
    return host->table_init(host_ctx, SCHEMA_ID, MINOR, ro, sizeof buffer);
#elif defined(VARIANT_BAD_SEAL_TAIL)
    /* Initialised while wholly writable; the tail page is protected before the seal reads it. */
    unsigned char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct table_buffer *b = (struct table_buffer *) (void *) (p + page - sizeof buffer + 8);
    if (p == MAP_FAILED) abort();
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, b, sizeof buffer);
    if (rc != 0) return 100 + rc;
    fill(&b->ops);
    if (mprotect(p + page, page, PROT_NONE) != 0) abort();
    return host->table_seal(host_ctx, b, sizeof buffer, out_table);
#elif defined(VARIANT_BAD_INIT_HUGE)
    (void) rc;
    return host->table_init(host_ctx, SCHEMA_ID, MINOR, &buffer, SIZE_MAX);
#elif defined(VARIANT_BAD_SEAL_HUGE)
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, &buffer, sizeof buffer);
    if (rc != 0) return 100 + rc;
    fill(&buffer.ops);
    return host->table_seal(host_ctx, &buffer, SIZE_MAX, out_table);
#elif defined(VARIANT_FLUSH)
    /* The valid twin: buffer and out pointer end exactly where the protected page begins. */
    struct table_buffer *b = (struct table_buffer *) (void *) (two_pages_second_protected() + page - sizeof buffer);
    const void **out = (const void **) (void *) (two_pages_second_protected() + page - sizeof(void *));
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, b, sizeof buffer);
    if (rc != 0) return 100 + rc;
    fill(&b->ops);
    rc = host->table_seal(host_ctx, b, sizeof buffer, out);
    if (rc != 0) return rc;
    *out_table = sealed_table = *out;
    return 0;
#endif
}
#endif

int tabguard_plugin_init_v1(const struct tabguard_host_v1 *host, void *host_ctx, const void **out_table) {
    int rc = tabguard_host_check_v1(host);
    if (rc != 0) {
        return rc;
    }
    given_host = host;
    given_host_ctx = host_ctx;
#if defined(BAD_POINTER_VARIANT)
    return bad_pointer_variant(host, host_ctx, out_table);
#endif
#if defined(VARIANT_STACK)
    unsigned char on_stack[64] = {0};
#endif
#if defined(VARIANT_WRONG_SCHEMA)
    rc = host->table_init(host_ctx, SCHEMA_ID + 1, MINOR, &buffer, sizeof buffer);
#elif defined(VARIANT_WRONG_SIZE)
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, &buffer, sizeof buffer - 8);
#elif defined(VARIANT_WRONG_CONTEXT)
    rc = host->table_init((char *) host_ctx + 8, SCHEMA_ID, MINOR, &buffer, sizeof buffer);
#else
    rc = host->table_init(host_ctx, SCHEMA_ID, MINOR, &buffer, sizeof buffer);
#endif
    if (rc != 0) {
        return rc;
    }
    fill(&buffer.ops);
#if defined(VARIANT_EDIT_MAJOR)
    buffer.header.schema_major = 2;          /* a plugin of another major, passing off the host's header */
#elif defined(VARIANT_EDIT_ID)
    buffer.header.schema_id ^= 1;            /* a plugin of another schema */
#endif
#if defined(VARIANT_STACK)
    buffer.ops.add = (binary_fn) (void (*)(void)) (uintptr_t) on_stack;
#endif
#if defined(VARIANT_RAW)
    /* A raw struct with a plausible header, never sealed, handed back as if it were the sealed table. */
    *out_table = &buffer.ops;
    return 0;
#elif defined(VARIANT_TWICE)
    rc = host->table_seal(host_ctx, &buffer, sizeof buffer, out_table);
    if (rc != 0) {
        return 100 + rc;
    }
    sealed_table = *out_table;
    {
        const void *again = NULL;
        return host->table_seal(host_ctx, &buffer, sizeof buffer, &again);   /* refused: sealed already */
    }
#elif defined(VARIANT_THREADS)
    {
        struct seal_job jobs[2] = {{host, host_ctx, NULL, -1}, {host, host_ctx, NULL, -1}};
        pthread_t threads[2];
        int i;
        for (i = 0; i < 2; i++) {
            pthread_create(&threads[i], NULL, seal_thread, &jobs[i]);
        }
        for (i = 0; i < 2; i++) {
            pthread_join(threads[i], NULL);
        }
        if (jobs[0].rc == 0 && jobs[1].rc == TABGUARD_V_BUFFER_NOT_INITIALIZED) {
            *out_table = jobs[0].out;
        } else if (jobs[1].rc == 0 && jobs[0].rc == TABGUARD_V_BUFFER_NOT_INITIALIZED) {
            *out_table = jobs[1].out;
        } else {
            return 200 + jobs[0].rc * 10 + jobs[1].rc;   /* not exactly one winner */
        }
        sealed_table = *out_table;
        return 0;
    }
#else
    rc = host->table_seal(host_ctx, &buffer, sizeof buffer, out_table);
    if (rc == 0) {
        sealed_table = *out_table;
    }
    return rc;
#endif
}

/* The header helpers, exported so that a test can hold them against tables the host made. */
int plugin_check_table(const void *payload, uint64_t schema_id, uint16_t major, uint32_t payload_size) {
    return tabguard_check_table(payload, schema_id, major, payload_size);
}
