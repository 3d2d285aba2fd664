package io.tabguard.testkit;

/**
 * The classes of malformed table that {@link MalformedTables} makes from a valid one. Every variant of
 * every class differs from the valid table, so a guard must refuse it; the class says how it differs.
 *
 * <p>An enum: immutable and thread-safe.
 */
public enum Attack {
    /** The magic number changed. */
    WRONG_MAGIC,
    /** A header field (named in the variant) set below its valid value: zero, or one less. */
    FIELD_TOO_SMALL,
    /** A header field set above its valid value: one more, or its maximum. */
    FIELD_TOO_LARGE,
    /** Sizes chosen so that {@code header_size + payload_size} wraps around in 32-bit (or 16-bit) arithmetic. */
    FIELD_OVERFLOW,
    /** A flag bit or a reserved byte set. */
    RESERVED_BITS,
    /** {@code table_size} and {@code payload_size} both claim less than the bytes given (consistently). */
    SIZE_CLAIMS_LESS,
    /** {@code table_size} and {@code payload_size} both claim more than the bytes given (consistently). */
    SIZE_CLAIMS_MORE,
    /** The bytes cut short (inside the header, at its end, inside the payload). */
    TRUNCATED,
    /** Bytes appended after the table. */
    EXTENDED,
    /** Claims the next minor, with a member the caller cannot know set non-zero. */
    NEWER_MINOR_NONZERO,
    /** Claims the next minor, its new member zero: passes the version rule, so only the signature can refuse it. */
    NEWER_MINOR_ZERO,
    /** Claims an older minor (shrunk to that minor's size), an older major, or ABI version 0. */
    VERSION_DOWNGRADE,
    /** A header field the builder stamps (schema id, serial, key epoch, layout id) edited, with the CRC32C rewritten to match (or not). */
    STAMP_EDITED,
    /** A signature byte changed. */
    SIGNATURE_EDITED,
    /** The checksum itself edited. */
    CHECKSUM_EDITED,
    /** Two slots' pointers exchanged, checksum rewritten. */
    SLOTS_SWAPPED,
    /** A slot's pointer replaced by another slot's pointer of the same table, checksum rewritten. */
    SLOT_DUPLICATED,
    /** A slot set to null, checksum rewritten. */
    NULL_SLOT,
    /** A slot pointing into the middle of its own trampoline, or at a C library function (abort), checksum rewritten. */
    FOREIGN_POINTER,
    /** A byte of the payload that is not a slot (a data member, padding) changed, checksum rewritten. */
    PAYLOAD_EDITED
}
