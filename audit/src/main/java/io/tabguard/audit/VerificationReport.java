package io.tabguard.audit;

import java.util.Objects;

/**
 * The outcome of {@link AuditVerifier#verify(java.nio.file.Path, java.nio.file.Path) verifying} an
 * audit log. Immutable and thread-safe.
 *
 * <p>For a log that is not intact, {@code firstBadSeq} is the position of the first bad record: the
 * number of records that verified before the failure, which is the seq the record at that place
 * should have had (so for a deleted record it is the deleted record's seq, for a duplicated or
 * inserted one the seq of the place it was put in). {@code firstBadLine} is the 1-based line number
 * where the failure was found (one past the last line when a record is missing at the end).
 *
 * <p>Refuses (constructor): an intact report with a reason or bad position, or a failed report
 * without a reason ({@link IllegalArgumentException}).
 *
 * @param intact       true only if every check passed and the log ends with a final checkpoint
 * @param records      records that verified (all of them when intact)
 * @param checkpoints  checkpoints whose signature and root verified
 * @param firstBadSeq  position of the first bad record, or -1 when intact
 * @param firstBadLine 1-based line of the failure, or -1 when intact
 * @param reason       why the log is not intact, or {@code null} when intact
 * @param message      a one-line explanation
 */
public record VerificationReport(boolean intact, long records, long checkpoints, long firstBadSeq, long firstBadLine,
                                 Reason reason, String message) {

    /** Why a log is not intact. */
    public enum Reason {
        /** A line is not exactly what the writer produces (syntax, keys, key order, value ranges, escapes). */
        MALFORMED,
        /** A record's seq is not the next one: a record was deleted, inserted, duplicated or moved. */
        SEQUENCE_GAP,
        /** A record's {@code prev} is not the hash of the record before it. */
        CHAIN_BROKEN,
        /** A record's {@code hash} does not match its fields: a field was edited. */
        HASH_MISMATCH,
        /** A checkpoint is not signed by the verification key, or its signed note or origin is malformed. */
        BAD_CHECKPOINT_SIGNATURE,
        /** A checkpoint's tree size is not the number of records before it: records or the checkpoint moved. */
        CHECKPOINT_SIZE_MISMATCH,
        /** A checkpoint's signed root is not the Merkle root of the records before it: they were rewritten. */
        ROOT_MISMATCH,
        /** The log does not end with a final checkpoint covering every record: it was cut, or not closed. */
        TRUNCATED
    }

    /** Validates the combination of fields. */
    public VerificationReport {
        Objects.requireNonNull(message, "message");
        if (intact && (reason != null || firstBadSeq != -1 || firstBadLine != -1)) {
            throw new IllegalArgumentException("an intact report has no reason and no bad position");
        }
        if (!intact && reason == null) {
            throw new IllegalArgumentException("a failed report needs a reason");
        }
    }

    /**
     * A multi-line, human-readable account, as the command line prints it.
     *
     * @return the account
     */
    public String describe() {
        if (intact) {
            return "INTACT: " + records + " records, " + checkpoints + " signed checkpoints; " + message;
        }
        return "NOT INTACT: " + reason + " at record seq " + firstBadSeq + " (line " + firstBadLine + ")\n"
                + "  " + message + "\n"
                + "  verified before it: " + records + " records, " + checkpoints + " signed checkpoints";
    }
}
