/*
 * The C plugin PluginTest builds in many variants (-DVARIANT_xxx), one honest and one per attack.
 * Schema "tabguard.test.plugin" 1: minor 0 {add, mul}, minor 1 adds {neg}. SCHEMA_ID comes from -D.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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

int tabguard_plugin_init_v1(const struct tabguard_host_v1 *host, void *host_ctx, const void **out_table) {
    int rc = tabguard_host_check_v1(host);
    if (rc != 0) {
        return rc;
    }
    given_host = host;
    given_host_ctx = host_ctx;
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
