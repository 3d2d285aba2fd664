package io.tabguard.audit.internal;

import java.util.Arrays;
import java.util.Set;

/**
 * One record of the log as written: the event fields plus its place in the hash chain. Internal;
 * immutable by convention (the arrays are never modified after construction).
 *
 * @param seq       0-based position in the log
 * @param time      ISO-8601 instant as written ({@link java.time.Instant#toString()})
 * @param type      an {@link io.tabguard.audit.EventType} name or one of the {@code LOG_*} kinds
 * @param serial    table serial
 * @param schema    schema name or null
 * @param schemaId  schema id
 * @param violation violation name or null
 * @param offset    offset or -1
 * @param detail    detail or null
 * @param count     number of events this record stands for (1, or N when coalesced)
 * @param firstTime time of the first coalesced event, or null when count is 1
 * @param lastTime  time of the last coalesced event, or null when count is 1
 * @param prev      32-byte hash of the previous record (zeros for the first)
 * @param hash      32-byte SHA-256 of the canonical encoding of every other field
 */
public record LogRecord(long seq, String time, String type, long serial, String schema, long schemaId,
                        String violation, long offset, String detail, long count, String firstTime,
                        String lastTime, byte[] prev, byte[] hash) {

    /** Written first by every {@code AuditLog.open}. */
    public static final String LOG_OPENED = "LOG_OPENED";
    /** Written by {@code AuditLog.open} when a torn last line was set aside. */
    public static final String LOG_TORN_TAIL = "LOG_TORN_TAIL";
    /** Written by {@code AuditLog.close}, just before the final checkpoint. */
    public static final String LOG_CLOSED = "LOG_CLOSED";
    /**
     * Written by {@code AuditLog.open} right after {@code LOG_OPENED} when the records at the end of
     * the log were not covered by a checkpoint (format v2); its detail is {@link #unsealedDetail}.
     */
    public static final String LOG_UNSEALED = "LOG_UNSEALED";

    private static final Set<String> INTERNAL = Set.of(LOG_OPENED, LOG_TORN_TAIL, LOG_CLOSED, LOG_UNSEALED);

    /**
     * The exact detail of a {@code LOG_UNSEALED} record for records {@code first..last} whose last
     * record has hash {@code lastHash}; the verifier recomputes it and refuses any other text.
     */
    public static String unsealedDetail(long first, long last, byte[] lastHash) {
        return "records " + first + ".." + last + " were not covered by a signed checkpoint at reopen; last hash "
                + java.util.HexFormat.of().formatHex(lastHash);
    }

    /** A record whose hash is computed from the other fields. */
    public static LogRecord create(long seq, String time, String type, long serial, String schema, long schemaId,
                                   String violation, long offset, String detail, long count, String firstTime,
                                   String lastTime, byte[] prev) {
        LogRecord unhashed = new LogRecord(seq, time, type, serial, schema, schemaId, violation, offset, detail,
                count, firstTime, lastTime, prev.clone(), null);
        return unhashed.withHash(CanonicalEncoding.hash(unhashed));
    }

    LogRecord withHash(byte[] h) {
        return new LogRecord(seq, time, type, serial, schema, schemaId, violation, offset, detail, count, firstTime,
                lastTime, prev, h);
    }

    /** True for the internal record kinds the log itself writes. */
    public static boolean isInternalType(String type) {
        return INTERNAL.contains(type);
    }

    /** The hash recomputed from the other fields (compare with {@link #hash()}). */
    public byte[] computeHash() {
        return CanonicalEncoding.hash(this);
    }

    /** True if the stored hash equals the recomputed one. */
    public boolean hashMatches() {
        return hash != null && Arrays.equals(hash, computeHash());
    }
}
