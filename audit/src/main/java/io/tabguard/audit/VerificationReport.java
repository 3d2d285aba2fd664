package io.tabguard.audit;

import java.util.List;
import java.util.Objects;

/**
 * The outcome of {@link AuditVerifier#verify(java.nio.file.Path, java.nio.file.Path) verifying} an
 * audit log. Immutable and thread-safe.
 *
 * <p>Three {@link Verdict verdicts}: {@link Verdict#INTACT} (every check passed, every record is
 * covered by a signed checkpoint written by the session that wrote it, and the log ends with a final
 * checkpoint), {@link Verdict#UNSEALED} (every check passed, but some records were not covered by any
 * checkpoint when the log was reopened, see {@link #unsealed()}: a crash, or an edit hidden by a
 * restart; the log cannot vouch for them), and {@link Verdict#NOT_INTACT}.
 *
 * <p>For a log that is not intact, {@code firstBadSeq} is the position of the first bad record: the
 * number of records that verified before the failure, which is the seq the record at that place
 * should have had (so for a deleted record it is the deleted record's seq, for a duplicated or
 * inserted one the seq of the place it was put in). {@code firstBadLine} is the 1-based line number
 * where the failure was found (one past the last line when a record is missing at the end). For an
 * {@link Verdict#UNSEALED} log they name the first unsealed record.
 *
 * <p>Refuses (constructor): an intact report with a reason, a bad position or unsealed ranges, a
 * failed report without a reason, a {@link Reason#UNSEALED} report without unsealed ranges
 * ({@link IllegalArgumentException}).
 *
 * @param intact       true only if every check passed, no record is unsealed, and the log ends with a
 *                     final checkpoint
 * @param records      records that verified (all of them when intact)
 * @param checkpoints  checkpoints whose signature and root verified
 * @param firstBadSeq  position of the first bad (or first unsealed) record, or -1 when intact
 * @param firstBadLine 1-based line of the failure, or -1 when intact
 * @param reason       why the log is not intact, or {@code null} when intact
 * @param message      a one-line explanation
 * @param unsealed     the unsealed ranges found before the first failure, in log order
 */
public record VerificationReport(boolean intact, long records, long checkpoints, long firstBadSeq, long firstBadLine,
                                 Reason reason, String message, List<UnsealedRange> unsealed) {

    /** The three outcomes, as the command line reports them in its exit status. */
    public enum Verdict {
        /** Every record verified and is sealed; the log ends with a final checkpoint. */
        INTACT,
        /** Everything verified, but the log holds records no checkpoint covered at a reopen. */
        UNSEALED,
        /** A check failed; {@link VerificationReport#reason()} says which. */
        NOT_INTACT
    }

    /**
     * Records {@code firstSeq..lastSeq} that no signed checkpoint covered when the log was reopened:
     * the session that wrote them never sealed them, so the later checkpoints that cover them vouch
     * only that they were not changed since the reopen.
     *
     * @param firstSeq  first unsealed record
     * @param lastSeq   last unsealed record
     * @param firstLine 1-based line of {@code firstSeq}
     */
    public record UnsealedRange(long firstSeq, long lastSeq, long firstLine) {
        @Override
        public String toString() {
            return firstSeq + ".." + lastSeq;
        }
    }

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
        /**
         * A checkpoint does not commit to the checkpoint before it (format v2): a checkpoint was
         * deleted, or checkpoints were swapped.
         */
        CHECKPOINT_MISSING,
        /**
         * A record is where an honest writer never puts one: a record right after {@code LOG_CLOSED}
         * (before its final checkpoint), a record other than {@code LOG_OPENED} after a final
         * checkpoint or at the start of the log, or a {@code LOG_UNSEALED} record that misstates the
         * unsealed range.
         */
        OUT_OF_PLACE,
        /**
         * The log does not extend the checkpoint it was checked against ({@code --since}): it has
         * fewer records (it was cut back), or its first records have another Merkle root (rewritten).
         */
        INCONSISTENT,
        /** The log does not end with a final checkpoint covering every record: it was cut, or not closed. */
        TRUNCATED,
        /** Everything verified, but records were left unsealed at a reopen (see {@link #unsealed()}). */
        UNSEALED
    }

    /** Validates the combination of fields and copies the list. */
    public VerificationReport {
        Objects.requireNonNull(message, "message");
        unsealed = List.copyOf(Objects.requireNonNull(unsealed, "unsealed"));
        if (intact && (reason != null || firstBadSeq != -1 || firstBadLine != -1 || !unsealed.isEmpty())) {
            throw new IllegalArgumentException("an intact report has no reason, no bad position and nothing unsealed");
        }
        if (!intact && reason == null) {
            throw new IllegalArgumentException("a failed report needs a reason");
        }
        if (reason == Reason.UNSEALED && unsealed.isEmpty()) {
            throw new IllegalArgumentException("an UNSEALED report names its unsealed ranges");
        }
    }

    /**
     * A report without unsealed ranges.
     *
     * @param intact       true only if every check passed and the log ends with a final checkpoint
     * @param records      records that verified (all of them when intact)
     * @param checkpoints  checkpoints whose signature and root verified
     * @param firstBadSeq  position of the first bad record, or -1 when intact
     * @param firstBadLine 1-based line of the failure, or -1 when intact
     * @param reason       why the log is not intact, or {@code null} when intact; never {@link Reason#UNSEALED}
     * @param message      a one-line explanation
     * @throws NullPointerException     if {@code message} is {@code null}
     * @throws IllegalArgumentException as the canonical constructor (see the class description)
     */
    public VerificationReport(boolean intact, long records, long checkpoints, long firstBadSeq, long firstBadLine,
                              Reason reason, String message) {
        this(intact, records, checkpoints, firstBadSeq, firstBadLine, reason, message, List.of());
    }

    /**
     * The report's verdict, derived from {@link #intact()} and {@link #reason()}.
     *
     * @return {@link Verdict#INTACT}, {@link Verdict#UNSEALED} (reason {@link Reason#UNSEALED}) or
     *         {@link Verdict#NOT_INTACT}
     */
    public Verdict verdict() {
        if (intact) {
            return Verdict.INTACT;
        }
        return reason == Reason.UNSEALED ? Verdict.UNSEALED : Verdict.NOT_INTACT;
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
        String ranges = unsealed.isEmpty() ? "" : "\n  unsealed at a reopen (no checkpoint of the session that wrote"
                + " them covers them): records " + String.join(", ", unsealed.stream().map(UnsealedRange::toString).toList());
        if (reason == Reason.UNSEALED) {
            return "UNSEALED: records " + firstBadSeq + ".. (line " + firstBadLine + ") were never sealed by their session\n"
                    + "  " + message + ranges + "\n"
                    + "  verified: " + records + " records, " + checkpoints + " signed checkpoints";
        }
        return "NOT INTACT: " + reason + " at record seq " + firstBadSeq + " (line " + firstBadLine + ")\n"
                + "  " + message + ranges + "\n"
                + "  verified before it: " + records + " records, " + checkpoints + " signed checkpoints";
    }
}
