/*
 * tabguard.h — the Tabguard table format, ABI version 1, for C and C++.
 *
 * This header mirrors io.tabguard.guard.AbiV1 field for field; a test of the guard module
 * (CHeaderMirrorTest) compiles it and checks every offset, size and constant against the Java
 * definition. Change both together, never one alone.
 *
 * A Tabguard table is one contiguous, 8-byte aligned block of memory, little-endian:
 *
 *     [ struct tabguard_header_v1 : TABGUARD_HEADER_SIZE bytes ][ payload : payload_size bytes ]
 *
 * The payload is the C struct the native consumer expects (a struct of function pointers such as
 * glibc's cookie_io_functions_t, or a plain array of pointers). Native code is handed the address
 * of the PAYLOAD, never of the header: the header sits immediately before it, and
 * tabguard_header_of() finds it from the payload pointer.
 *
 * Field rules (ABI v1):
 *   - magic        == TABGUARD_MAGIC ("TABGUARD" read as a little-endian 64-bit integer);
 *   - abi_version  == TABGUARD_ABI_VERSION;
 *   - header_size  == TABGUARD_HEADER_SIZE;
 *   - flags        == 0, reserved0 == 0 and every byte of reserved1 == 0;
 *   - table_size   == header_size + payload_size, and table_size <= TABGUARD_MAX_TABLE_SIZE;
 *   - payload_size is exactly the size the schema's minor schema_minor defines (never "at least");
 *   - checksum     is the CRC32C of the whole table (table_size bytes) with checksum and signature
 *                  read as zero: anyone, even C code without the key, can check it;
 *   - signature    is an HMAC-SHA-256, under the owning registry's secret key, of the whole table with
 *                  signature read as zero followed by the table's address; only the registry can
 *                  check or make it;
 *   - layout_id    is the 64-bit hash of the schema's full member description at schema_minor
 *                  (Schema.layoutId(minor) in Java: every member's name, offset, minor and C signature,
 *                  where schema_id covers minor 0 only). A consumer that knows minor m and reads a table
 *                  of minor <= m compares it with its own layout id of the table's minor; two schemas
 *                  sharing a schema_id cannot pass for each other there (TABGUARD_V_LAYOUT_MISMATCH).
 * A refusal names one of the tabguard_violation codes below (stable across releases).
 */
#ifndef TABGUARD_H
#define TABGUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "TABGUARD" read as a little-endian 64-bit integer. */
#define TABGUARD_MAGIC 0x4452415547424154ULL
/** The only ABI version this header describes. */
#define TABGUARD_ABI_VERSION 1
/** sizeof(struct tabguard_header_v1). */
#define TABGUARD_HEADER_SIZE 128
/** Hard ceiling on a whole table, header included; anything claiming more is refused unread. */
#define TABGUARD_MAX_TABLE_SIZE (64 * 1024)
/** Length of the signature field: an HMAC-SHA-256. */
#define TABGUARD_SIGNATURE_SIZE 32
/** Length of the reserved field after the signature. */
#define TABGUARD_RESERVED1_SIZE 24

/* _Static_assert is C11; C++ spells it static_assert. */
#ifdef __cplusplus
#define TABGUARD_STATIC_ASSERT(condition, message) static_assert(condition, message)
#else
#define TABGUARD_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#endif

/** The header of every ABI v1 table; all multi-byte fields are little-endian. */
struct tabguard_header_v1 {
    uint64_t magic;          /* TABGUARD_MAGIC */
    uint16_t abi_version;    /* TABGUARD_ABI_VERSION */
    uint16_t header_size;    /* TABGUARD_HEADER_SIZE */
    uint32_t flags;          /* 0: ABI v1 defines no flag */
    uint32_t table_size;     /* header_size + payload_size */
    uint32_t payload_size;   /* the payload struct's size at schema_minor */
    uint32_t slot_count;     /* function-pointer members at schema_minor */
    uint16_t schema_major;
    uint16_t schema_minor;
    uint64_t schema_id;      /* 64-bit hash of the schema's canonical description */
    uint64_t serial;         /* unique per registry, never reused */
    uint64_t key_epoch;      /* which of the registry's keys signed the table */
    uint32_t checksum;       /* CRC32C, see above */
    uint32_t reserved0;      /* 0 */
    uint8_t signature[TABGUARD_SIGNATURE_SIZE]; /* HMAC-SHA-256, see above */
    uint8_t reserved1[TABGUARD_RESERVED1_SIZE]; /* all 0 */
    uint64_t layout_id;      /* 64-bit hash of the members at schema_minor, see above */
};

TABGUARD_STATIC_ASSERT(sizeof(struct tabguard_header_v1) == TABGUARD_HEADER_SIZE, "ABI v1 header is 128 bytes");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, magic) == 0, "magic");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, abi_version) == 8, "abi_version");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, header_size) == 10, "header_size");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, flags) == 12, "flags");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, table_size) == 16, "table_size");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, payload_size) == 20, "payload_size");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, slot_count) == 24, "slot_count");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, schema_major) == 28, "schema_major");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, schema_minor) == 30, "schema_minor");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, schema_id) == 32, "schema_id");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, serial) == 40, "serial");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, key_epoch) == 48, "key_epoch");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, checksum) == 56, "checksum");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, reserved0) == 60, "reserved0");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, signature) == 64, "signature");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, reserved1) == 96, "reserved1");
TABGUARD_STATIC_ASSERT(offsetof(struct tabguard_header_v1, layout_id) == 120, "layout_id");

/** Why a table was refused: the codes of io.tabguard.guard.Violation, stable across releases. */
enum tabguard_violation {
    TABGUARD_V_UNKNOWN_TABLE = 1,           /* the address is not a table this registry owns */
    TABGUARD_V_TRUNCATED = 2,               /* the bytes end before the table does */
    TABGUARD_V_BAD_MAGIC = 3,               /* the magic number is not TABGUARD */
    TABGUARD_V_ABI_VERSION = 4,             /* the ABI version is not one this library reads */
    TABGUARD_V_HEADER_SIZE = 5,             /* header_size is not the ABI v1 header size */
    TABGUARD_V_TABLE_SIZE = 6,              /* table_size disagrees with the header, the payload or the bytes given */
    TABGUARD_V_FLAGS = 7,                   /* a flag bit is set that ABI v1 does not define */
    TABGUARD_V_RESERVED = 8,                /* a reserved byte is not zero */
    TABGUARD_V_SLOT_COUNT = 9,              /* slot_count does not fit the payload or the schema at this minor */
    TABGUARD_V_SCHEMA_ID = 10,              /* the table was made for another schema */
    TABGUARD_V_SCHEMA_MAJOR = 11,           /* the schema's major version differs from the caller's */
    TABGUARD_V_PAYLOAD_SIZE = 12,           /* payload_size is not the size the table's minor defines */
    TABGUARD_V_UNKNOWN_MEMBER_NONZERO = 13, /* a member the caller's minor does not know is not zero */
    TABGUARD_V_CHECKSUM = 14,               /* the CRC32C does not match the table */
    TABGUARD_V_SIGNATURE = 15,              /* the signature does not match this registry, key and address */
    TABGUARD_V_REVOKED = 16,                /* the table was revoked */
    TABGUARD_V_CLOSED = 17,                 /* the table was closed */
    TABGUARD_V_QUARANTINED = 18,            /* the table was quarantined after a failed check */
    TABGUARD_V_REGISTRY_CLOSED = 19,        /* the registry that owned the table is closed */
    TABGUARD_V_NULL_REQUIRED_SLOT = 20,     /* a required slot is null */
    TABGUARD_V_FOREIGN_SLOT = 21,           /* a slot holds a pointer this registry did not mint for that place */
    TABGUARD_V_CONTEXT_MISMATCH = 22,       /* the call's context argument is not the one bound to the table */
    TABGUARD_V_SNAPSHOT_MISMATCH = 23,      /* the live table differs from its verified snapshot */
    TABGUARD_V_SLOT_NOT_A_SYMBOL_START = 24, /* a slot's function pointer is not the exact start of a symbol */
    TABGUARD_V_SLOT_OUTSIDE_ALLOW_LIST = 25, /* a slot's function is in a library that is not allow-listed */
    TABGUARD_V_UNSEALED_TABLE = 26,         /* the pointer is not a table the host sealed */
    TABGUARD_V_BUFFER_NOT_INITIALIZED = 27, /* the buffer was not prepared by table_init, or was sealed already */
    TABGUARD_V_SLOT_NOT_A_FUNCTION = 28,    /* a slot's pointer is not the start of a function: data, a label or a PLT/GOT stub */
    TABGUARD_V_BAD_POINTER = 29,            /* a pointer handed to the host is NULL or its memory cannot be read or written */
    TABGUARD_V_LAYOUT_MISMATCH = 30,        /* the table's members at its minor are not those of the caller's schema */
    TABGUARD_V_DISPATCH_TOO_DEEP = 31       /* the call would nest more dispatches on one thread than allowed */
};

/**
 * The header of the table whose payload native code was handed: it sits TABGUARD_HEADER_SIZE bytes
 * before the payload. Only meaningful for a pointer that really is a Tabguard table's payload; the
 * header's fields still have to be checked before anything in it is trusted.
 */
static inline const struct tabguard_header_v1 *tabguard_header_of(const void *payload) {
    return (const struct tabguard_header_v1 *) (const void *) ((const unsigned char *) payload - TABGUARD_HEADER_SIZE);
}

/* ---------------------------------------------------------------------------------------------
 * C plugins: the plugin side.
 *
 * A plugin never fills a raw struct for the host. The host (Java: Registry.loadPlugin) loads the
 * plugin's shared library and calls its entry point TABGUARD_PLUGIN_ENTRY_V1 once:
 *
 *     int tabguard_plugin_init_v1(const struct tabguard_host_v1 *host, void *host_ctx,
 *                                 const void **out_table);
 *
 * The plugin checks the host table (tabguard_host_check_v1), then
 *   1. host->table_init(host_ctx, MY_SCHEMA_ID, MY_MINOR, buf, sizeof buf): the host writes the header
 *      and zero for every member (zero = the host's default) into buf; a size that is not exactly
 *      TABGUARD_HEADER_SIZE + the payload size of that minor is refused;
 *   2. fills its function pointers into the payload (buf + TABGUARD_HEADER_SIZE): each must be an
 *      exported (non-static, default visibility) function of the plugin's own library;
 *   3. host->table_seal(host_ctx, buf, sizeof buf, out_table): the host copies buf once, checks it and
 *      every slot, and stores the payload address of the sealed copy (registry memory) in *out_table;
 *      buf is never read again, and may not be sealed twice;
 *   4. returns 0 (or the non-zero code table_seal returned).
 * table_init and table_seal return 0, a tabguard_violation code, or TABGUARD_HOST_REFUSED (-1) when the
 * host table refused the call itself (another host_ctx, a closed or tampered host table). Slots refused: a pointer that is not
 * the exact start of a symbol (TABGUARD_V_SLOT_NOT_A_SYMBOL_START: a gadget, the heap, the stack, a PLT entry),
 * a symbol of another library (TABGUARD_V_SLOT_OUTSIDE_ALLOW_LIST: libc, another plugin), or a symbol of the
 * plugin that is not a defined, sized STT_FUNC in its executable code (TABGUARD_V_SLOT_NOT_A_FUNCTION: a data
 * object, a label, a function symbol inside another function or in .plt/.plt.sec/.plt.got/.got). The host
 * reads buf and writes *out_table only through the kernel (process_vm_readv/process_vm_writev): NULL, a wild
 * pointer or a buffer whose memory is partly unmapped, PROT_NONE or read-only is TABGUARD_V_BAD_POINTER, never
 * a crash; *out_table is NULL until the seal succeeds. Writing into the
 * sealed copy afterwards is caught at the next call through it: the table is quarantined.
 * ------------------------------------------------------------------------------------------- */

/** The name of the plugin's entry point, as the host looks it up. */
#define TABGUARD_PLUGIN_ENTRY_V1 "tabguard_plugin_init_v1"
/** What table_init/table_seal return when the host table itself refused the call (e.g. another host_ctx). */
#define TABGUARD_HOST_REFUSED (-1)
/** schema_id of the host interface "tabguard.host" 1.0 (see io.tabguard.registry.Plugin). */
#define TABGUARD_HOST_SCHEMA_ID 0x7de1173e893cb123ULL
#define TABGUARD_HOST_SCHEMA_MAJOR 1

/** The host interface: itself a Tabguard table (the header sits before it); host_ctx must be the one given. */
struct tabguard_host_v1 {
    int (*table_init)(void *host_ctx, uint64_t schema_id, uint32_t schema_minor, void *buf, size_t size);
    int (*table_seal)(void *host_ctx, const void *buf, size_t size, const void **out_table);
    void (*table_release)(void *host_ctx, const void *table);
};
TABGUARD_STATIC_ASSERT(sizeof(struct tabguard_host_v1) == 24, "tabguard_host_v1 is three pointers");

typedef int (*tabguard_plugin_init_v1_fn)(const struct tabguard_host_v1 *host, void *host_ctx, const void **out_table);

/**
 * CRC32C (Castagnoli, reflected, as java.util.zip.CRC32C) of a whole table of table_size bytes, with
 * the checksum and signature fields read as zero: what the header's checksum must equal.
 */
static inline uint32_t tabguard_table_crc32c(const struct tabguard_header_v1 *table, uint32_t table_size) {
    const unsigned char *bytes = (const unsigned char *) (const void *) table;
    uint32_t crc = 0xFFFFFFFFu;
    uint32_t i;
    for (i = 0; i < table_size; i++) {
        unsigned char b = bytes[i];
        int bit;
        if ((i >= offsetof(struct tabguard_header_v1, checksum) && i < offsetof(struct tabguard_header_v1, reserved0))
                || (i >= offsetof(struct tabguard_header_v1, signature) && i < offsetof(struct tabguard_header_v1, reserved1))) {
            b = 0;
        }
        crc ^= b;
        for (bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        }
    }
    return crc ^ 0xFFFFFFFFu;
}

/**
 * Checks the header of the table whose payload is given, before anything in it is trusted: magic, ABI
 * version, header size, flags, sizes (table_size == header + payload_size == header + expected_payload_size),
 * schema id and major, CRC32C. Returns 0 or the tabguard_violation code of the first failed check. (The
 * signature needs the host's key: only the host can check it.) Little-endian hosts only, as ABI v1.
 */
static inline int tabguard_check_table(const void *payload, uint64_t schema_id, uint16_t schema_major,
                                       uint32_t expected_payload_size) {
    const struct tabguard_header_v1 *h;
    if (payload == NULL) {
        return TABGUARD_V_UNKNOWN_TABLE;
    }
    h = tabguard_header_of(payload);
    if (h->magic != TABGUARD_MAGIC) return TABGUARD_V_BAD_MAGIC;
    if (h->abi_version != TABGUARD_ABI_VERSION) return TABGUARD_V_ABI_VERSION;
    if (h->header_size != TABGUARD_HEADER_SIZE) return TABGUARD_V_HEADER_SIZE;
    if (h->flags != 0) return TABGUARD_V_FLAGS;
    if (h->payload_size != expected_payload_size) return TABGUARD_V_PAYLOAD_SIZE;
    if (h->table_size != (uint32_t) TABGUARD_HEADER_SIZE + h->payload_size || h->table_size > TABGUARD_MAX_TABLE_SIZE) {
        return TABGUARD_V_TABLE_SIZE;
    }
    if (h->schema_major != schema_major) return TABGUARD_V_SCHEMA_MAJOR;
    if (h->schema_id != schema_id) return TABGUARD_V_SCHEMA_ID;
    if (h->reserved0 != 0) return TABGUARD_V_RESERVED;
    if (tabguard_table_crc32c(h, h->table_size) != h->checksum) return TABGUARD_V_CHECKSUM;
    return 0;
}

/**
 * For a consumer that knows the table's minor: 0 if the header's layout_id is the layout id of that minor
 * (Schema.layoutId(minor) in Java, a constant the consumer compiles in), else TABGUARD_V_LAYOUT_MISMATCH.
 * Call it after tabguard_check_table, which checked schema_id, major and size: a table of another schema
 * that shares the schema_id (same name, major and minor-0 members) fails here. A table of a newer minor
 * has another layout_id by design; a consumer that accepts newer minors applies the zero rule instead.
 */
static inline int tabguard_check_layout(const void *payload, uint64_t layout_id) {
    if (payload == NULL) {
        return TABGUARD_V_UNKNOWN_TABLE;
    }
    return tabguard_header_of(payload)->layout_id == layout_id ? 0 : TABGUARD_V_LAYOUT_MISMATCH;
}

/** tabguard_check_table for the host table a plugin was given. Returns 0 or a tabguard_violation code. */
static inline int tabguard_host_check_v1(const struct tabguard_host_v1 *host) {
    return tabguard_check_table(host, TABGUARD_HOST_SCHEMA_ID, TABGUARD_HOST_SCHEMA_MAJOR,
                                (uint32_t) sizeof(struct tabguard_host_v1));
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TABGUARD_H */
