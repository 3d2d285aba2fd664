package io.tabguard.guard;

/**
 * Why a table was refused. Each refusal names exactly one violation. The constants, their
 * {@link #code() codes} and their meaning are stable across releases: new ones may be added, none is
 * renamed, renumbered or removed.
 *
 * <p>Listed by check: extent, structure, version, checksum, signature, state, slots, then the
 * per-call context check.
 *
 * <p>An enum: immutable and thread-safe. Within the version check the major is compared before the schema id (the
 * id hashes the major, so the other order would never name {@link #SCHEMA_MAJOR}).
 */
public enum Violation {
    /** A raw address that no table of this registry starts at; it was not read. */
    UNKNOWN_TABLE(1, "the address is not a table this registry owns"),
    /** Fewer bytes than the header, or than the table claims. */
    TRUNCATED(2, "the bytes end before the table does"),
    /** The magic number is not TABGUARD. */
    BAD_MAGIC(3, "the magic number is not TABGUARD"),
    /** The ABI version is not one this library reads. */
    ABI_VERSION(4, "the ABI version is not one this library reads"),
    /** Header_size is not the ABI v1 header size. */
    HEADER_SIZE(5, "header_size is not the ABI v1 header size"),
    /** table_size is not header_size + payload_size, exceeds the hard maximum, or is less than the bytes given. */
    TABLE_SIZE(6, "table_size disagrees with the header, the payload or the bytes given"),
    /** A flag bit is set that ABI v1 does not define. */
    FLAGS(7, "a flag bit is set that ABI v1 does not define"),
    /** A reserved byte is not zero. */
    RESERVED(8, "a reserved byte is not zero"),
    /** Slot_count does not fit the payload or the schema at this minor. */
    SLOT_COUNT(9, "slot_count does not fit the payload or the schema at this minor"),
    /** The table was made for another schema. */
    SCHEMA_ID(10, "the table was made for another schema"),
    /** The schema's major version differs from the caller's. */
    SCHEMA_MAJOR(11, "the schema's major version differs from the caller's"),
    /** payload_size is not exactly the size the table's own minor defines. */
    PAYLOAD_SIZE(12, "payload_size is not the size the table's minor defines"),
    /** A newer minor whose members unknown to the caller are not all zero (copy_struct_from_user). */
    UNKNOWN_MEMBER_NONZERO(13, "a member the caller's minor does not know is not zero"),
    /**
     * The schema id matches but the members at the table's minor are not the caller's: the header's
     * {@code layout_id} differs from the caller's layout id at that minor, or (a table newer than the
     * caller) the schema the registry built it with differs from the caller's up to the caller's minor.
     */
    LAYOUT_MISMATCH(30, "the table's members at its minor are not those of the caller's schema"),
    /** The CRC32C does not match the table. */
    CHECKSUM(14, "the CRC32C does not match the table"),
    /** One uniform answer for a wrong key, epoch, address or MAC: the guard is never a forging oracle. */
    SIGNATURE(15, "the signature does not match this registry, key and address"),
    /** The table was revoked. */
    REVOKED(16, "the table was revoked"),
    /** The table was closed. */
    CLOSED(17, "the table was closed"),
    /** The table was quarantined after a failed check. */
    QUARANTINED(18, "the table was quarantined after a failed check"),
    /** The registry that owned the table is closed. */
    REGISTRY_CLOSED(19, "the registry that owned the table is closed"),
    /** A required slot is null. */
    NULL_REQUIRED_SLOT(20, "a required slot is null"),
    /** Not a trampoline minted for this table, member and signature, nor an allow-listed symbol. */
    FOREIGN_SLOT(21, "a slot holds a pointer this registry did not mint for that place"),
    /** A context-bound argument of a call is not the table's payload or registered context. */
    CONTEXT_MISMATCH(22, "the call's context argument is not the one bound to the table"),
    /** The live table differs from its verified snapshot, yet every check passed (a race with a writer). */
    SNAPSHOT_MISMATCH(23, "the live table differs from its verified snapshot"),
    /** A C plugin's slot pointer is not the exact start of a symbol (a gadget, the heap, the stack). */
    SLOT_NOT_A_SYMBOL_START(24, "a slot's function pointer is not the exact start of a symbol"),
    /** A C plugin's slot pointer is a symbol of a library not on the allow-list (libc, another plugin). */
    SLOT_OUTSIDE_ALLOW_LIST(25, "a slot's function is in a library that is not allow-listed"),
    /** A raw struct, not a table the host sealed, was given where a sealed table is expected. */
    UNSEALED_TABLE(26, "the pointer is not a table the host sealed"),
    /** A C plugin sealed a buffer that table_init did not prepare, or that was sealed already. */
    BUFFER_NOT_INITIALIZED(27, "the buffer was not prepared by table_init, or was sealed already"),
    /**
     * A slot's pointer is the exact start of a symbol of an allowed file, but not of a function: a data
     * object, a label (no type or size), a symbol inside another function, or a stub of the PLT or GOT.
     */
    SLOT_NOT_A_FUNCTION(28, "a slot's pointer is not the start of a function: data, a label or a PLT/GOT stub"),
    /** A pointer native code handed the host is NULL or cannot be read or written (unmapped, protected). */
    BAD_POINTER(29, "a pointer handed to the host is NULL or its memory cannot be read or written"),
    /**
     * The call would nest more dispatches of one registry on one thread than it allows (a callback that
     * recurses through native code): refused before the thread's stack runs out, since a stack overflow
     * at the entry of an upcall is beyond any handler and ends the JVM.
     */
    DISPATCH_TOO_DEEP(31, "the call would nest more dispatches on one thread than the registry allows");

    private final int code;
    private final String meaning;

    Violation(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    /**
     * A stable number for logs and C code ({@code TABGUARD_V_*} in {@code tabguard.h}); never reused.
     *
     * @return the code
     */
    public int code() {
        return code;
    }

    /**
     * One sentence a user can act on.
     *
     * @return the meaning, in English
     */
    public String meaning() {
        return meaning;
    }
}
