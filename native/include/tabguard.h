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
 *                  check or make it.
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
/** Length of the trailing reserved field. */
#define TABGUARD_RESERVED1_SIZE 32

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
    TABGUARD_V_SNAPSHOT_MISMATCH = 23       /* the live table differs from its verified snapshot */
};

/**
 * The header of the table whose payload native code was handed: it sits TABGUARD_HEADER_SIZE bytes
 * before the payload. Only meaningful for a pointer that really is a Tabguard table's payload; the
 * header's fields still have to be checked before anything in it is trusted.
 */
static inline const struct tabguard_header_v1 *tabguard_header_of(const void *payload) {
    return (const struct tabguard_header_v1 *) (const void *) ((const unsigned char *) payload - TABGUARD_HEADER_SIZE);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TABGUARD_H */
