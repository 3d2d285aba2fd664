package io.tabguard.audit;

import io.tabguard.audit.internal.Checkpoint;
import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.LogFormatException;
import io.tabguard.audit.internal.LogScanner;
import io.tabguard.audit.internal.Merkle;
import io.tabguard.audit.internal.NoteKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.LongConsumer;

/**
 * Checks audit logs written by {@link AuditLog}, and inclusion and consistency proofs of them.
 * Stateless and thread-safe; each call reads the log once, in one linear pass, never past the size
 * the file had when it was opened.
 *
 * <p>{@link #verify(Path, Path)} checks, line by line: that each line is exactly in the writer's
 * canonical form; that seq numbers run 0, 1, 2, ...; that each {@code prev} is the previous record's
 * {@code hash}; that each {@code hash} matches its record's fields; that each checkpoint is signed by
 * the verification key (with the key's name as origin), covers exactly the records before it, signs
 * their Merkle root and commits to the checkpoint before it; that records the log writes itself stand
 * where an honest writer puts them (only {@code LOG_OPENED} after {@code LOG_CLOSED}); and that the
 * log ends with a final checkpoint (one covering a {@code LOG_CLOSED} record and every record). It
 * stops at the first failure and names that record. So any edit of any field, deletion, insertion,
 * duplication, reordering, or truncation (at a record boundary or inside a line), any deleted
 * checkpoint, and any record appended after a close are detected, as is a log signed by another key.
 * Records that a reopen found without a checkpoint make the verdict
 * {@link VerificationReport.Verdict#UNSEALED}, never intact.
 *
 * <p>Limits: a log cut exactly after an earlier session's final checkpoint is a validly closed log
 * of its own; keep a later checkpoint elsewhere and verify with
 * {@link #verify(Path, Path, Path) the since checkpoint} to detect that rollback.
 *
 * <p>Proofs hold every record hash in memory: logs over 256 MiB are refused for proofs
 * ({@link IOException}), never verified into an {@link OutOfMemoryError}.
 *
 * <p>Refuses, with an {@link IOException}: a log or key path that is missing, a directory, a device,
 * a FIFO or a socket (nothing but a regular file is opened); a key or checkpoint file over 4 KiB (not
 * read beyond that); a key file that is not a C2SP Ed25519 verifier key; a {@code since} file that is
 * not a checkpoint signed by the key. Malformed log content is never an exception: it is a report.
 */
public final class AuditVerifier {
    private AuditVerifier() {
    }

    /**
     * Verifies {@code log} with the verification key beside it, {@code <log>.pub}.
     *
     * @param log the log file
     * @return the report; {@link VerificationReport#intact()} is true only for an untouched, closed log
     * @throws IOException if either file cannot be read, or the key file is malformed
     */
    public static VerificationReport verify(Path log) throws IOException {
        return verify(log, KeyFiles.pubPath(log.toAbsolutePath().normalize()));
    }

    /**
     * Verifies {@code log} with the verification key in {@code verificationKey} (C2SP verifier-key
     * text, as in {@code <log>.pub}).
     *
     * @return the report; {@link VerificationReport#intact()} is true only for an untouched, closed log
     *         whose every record was sealed by the session that wrote it
     * @throws IOException if a file cannot be read or is not a regular file, or the key file is malformed
     * @param log             the log file
     * @param verificationKey the verification key file
     */
    public static VerificationReport verify(Path log, Path verificationKey) throws IOException {
        return verify(log, verificationKey, null, null);
    }

    /**
     * Verifies {@code log} as {@link #verify(Path, Path)} does and also that it extends the checkpoint
     * in {@code sinceCheckpoint} (a checkpoint the operator kept elsewhere: the signed note, as
     * {@code jq -r 'select(.checkpoint) | .checkpoint'} prints it, or its JSON line from the log). A log
     * with fewer records than that checkpoint, or whose first records have another root, is
     * {@link VerificationReport.Reason#INCONSISTENT}.
     *
     * @param log             the log file
     * @param verificationKey the verification key file
     * @param sinceCheckpoint a file holding the earlier checkpoint (signed note or JSON checkpoint line)
     * @return the report; {@link VerificationReport#intact()} is true only if it would be for
     *         {@link #verify(Path, Path)} and the log extends {@code sinceCheckpoint}
     * @throws IOException          as {@link #verify(Path, Path)}, and if {@code sinceCheckpoint} is not a
     *                              checkpoint signed by the key
     * @throws NullPointerException if {@code sinceCheckpoint} is {@code null}
     */
    public static VerificationReport verify(Path log, Path verificationKey, Path sinceCheckpoint) throws IOException {
        return verify(log, verificationKey, Objects.requireNonNull(sinceCheckpoint, "sinceCheckpoint"), null);
    }

    /** The command line's entry: {@code progress} is told the bytes read so far after each chunk. */
    static VerificationReport verify(Path log, Path verificationKey, Path sinceCheckpoint, LongConsumer progress)
            throws IOException {
        KeyFiles.requireRegularFile(Objects.requireNonNull(log, "log"), "log file");
        NoteKey key = KeyFiles.readPublic(Objects.requireNonNull(verificationKey, "verificationKey"));
        Checkpoint since = sinceCheckpoint == null ? null : readCheckpoint(sinceCheckpoint, key);
        return LogScanner.scanFile(log, key, false, since, progress).report();
    }

    /** Reads a saved checkpoint: a signed note, or a log's checkpoint line. */
    private static Checkpoint readCheckpoint(Path file, NoteKey key) throws IOException {
        String text = KeyFiles.readSmall(file, "checkpoint file");
        String note = text;
        if (text.startsWith("{")) {
            try {
                note = LogFormat.parse(text.strip()).checkpointNote();
            } catch (LogFormatException e) {
                throw new IOException(file + " is not a checkpoint line: " + e.getMessage());
            }
            if (note == null) {
                throw new IOException(file + " holds a record, not a checkpoint");
            }
        } else if (text.endsWith("\n\n")) {
            note = text.substring(0, text.length() - 1); // jq -r adds a newline after the note's own
        }
        try {
            return Checkpoint.open(note, key);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + " is not a checkpoint signed by " + key.verifierText() + ": " + e.getMessage());
        }
    }

    /**
     * An inclusion proof for record {@code seq} against the last checkpoint in the log that covers it
     * and whose signature verifies with {@code verificationKey}.
     *
     * @throws IOException              if a file cannot be read, or no verified checkpoint covers {@code seq}
     *                                  (the log is bad before it, or it is not yet signed)
     * @throws IllegalArgumentException if {@code seq} is negative
     * @param log             the log file
     * @param seq             the record's seq
     * @param verificationKey the verification key file
     * @return the proof, with its signed checkpoint
     */
    public static InclusionProof inclusionProof(Path log, long seq, Path verificationKey) throws IOException {
        return proof(log, seq, KeyFiles.readPublic(verificationKey));
    }

    /**
     * An inclusion proof for record {@code seq} against the last checkpoint in the log that covers it,
     * without checking signatures here: check the result with
     * {@link #verifyInclusion(InclusionProof, Path)}.
     *
     * @throws IOException              if the log cannot be read, or no good checkpoint covers {@code seq}
     * @throws IllegalArgumentException if {@code seq} is negative
     * @param log the log file
     * @param seq the record's seq
     * @return the proof, with its (unverified) checkpoint
     */
    public static InclusionProof inclusionProof(Path log, long seq) throws IOException {
        return proof(log, seq, null);
    }

    /** Proofs keep every record hash in memory: logs above this size are refused rather than exhaust the heap. */
    static final long MAX_PROOF_LOG_BYTES = 256L << 20;

    private static LogScanner scanForProofs(Path log, NoteKey key) throws IOException {
        KeyFiles.requireRegularFile(log, "log file");
        if (Files.size(log) > MAX_PROOF_LOG_BYTES) {
            throw new IOException(log + " is larger than " + (MAX_PROOF_LOG_BYTES >> 20)
                    + " MiB: too large for in-memory proofs");
        }
        return LogScanner.scanFile(log, key, true, null, null);
    }

    private static InclusionProof proof(Path log, long seq, NoteKey key) throws IOException {
        if (seq < 0) {
            throw new IllegalArgumentException("seq must not be negative");
        }
        LogScanner scan = scanForProofs(log, key);
        List<LogScanner.CheckpointAt> cps = scan.checkpointList();
        for (int i = cps.size() - 1; i >= 0; i--) {
            LogScanner.CheckpointAt cp = cps.get(i);
            if (cp.treeSize() > seq) {
                int n = (int) cp.treeSize(); // a list of leaves holds fewer than 2^31
                List<byte[]> path = Merkle.inclusionPath(scan.leaves(), (int) seq, n);
                return new InclusionProof(seq, n, scan.recordHashes().get((int) seq), path, cp.note());
            }
        }
        throw new IOException("no good checkpoint in " + log + " covers record " + seq);
    }

    /**
     * A consistency proof from the tree of the log's first {@code oldSize} records to the last
     * checkpoint of the log whose signature verifies with {@code verificationKey}.
     *
     * @param log             the log file, at most 256 MiB
     * @param oldSize         the number of records of the older tree (the older checkpoint's size)
     * @param verificationKey the verification key file
     * @return the proof from {@code oldSize} to that checkpoint's size, carrying its signed note
     * @throws IOException              if a file cannot be read, the log is over 256 MiB, or the log has no
     *                                  verified checkpoint of at least {@code oldSize} records
     * @throws IllegalArgumentException if {@code oldSize} is negative
     */
    public static ConsistencyProof consistencyProof(Path log, long oldSize, Path verificationKey) throws IOException {
        if (oldSize < 0) {
            throw new IllegalArgumentException("oldSize must not be negative");
        }
        LogScanner scan = scanForProofs(log, KeyFiles.readPublic(verificationKey));
        List<LogScanner.CheckpointAt> cps = scan.checkpointList();
        if (cps.isEmpty() || cps.getLast().treeSize() < oldSize) {
            throw new IOException("no good checkpoint in " + log + " covers " + oldSize + " records");
        }
        LogScanner.CheckpointAt last = cps.getLast();
        int n = (int) last.treeSize();
        return new ConsistencyProof(oldSize, n, Merkle.consistencyPath(scan.leaves(), (int) oldSize, n), last.note());
    }

    /**
     * True if {@code oldCheckpoint} (a signed note) and the proof's checkpoint are both signed by the
     * key in {@code verificationKey}, are for the proof's sizes, and the proof shows the older tree is
     * a prefix of the newer one. Never throws for bad proof or note content: returns false.
     *
     * @param proof           the proof, or {@code null} (false)
     * @param oldCheckpoint   the signed checkpoint note of the older tree, as kept by the operator, or
     *                        {@code null} (false)
     * @param verificationKey the verification key file
     * @return whether both checkpoints are genuine and the log only grew between them
     * @throws IOException if the key file cannot be read or is malformed
     */
    public static boolean verifyConsistency(ConsistencyProof proof, String oldCheckpoint, Path verificationKey)
            throws IOException {
        NoteKey key = KeyFiles.readPublic(verificationKey);
        if (proof == null || oldCheckpoint == null || proof.newCheckpoint() == null) {
            return false;
        }
        Checkpoint older;
        Checkpoint newer;
        try {
            older = Checkpoint.open(oldCheckpoint, key);
            newer = Checkpoint.open(proof.newCheckpoint(), key);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return older.treeSize() == proof.oldSize() && newer.treeSize() == proof.newSize()
                && Merkle.verifyConsistency(proof.oldSize(), proof.newSize(), older.root(), newer.root(), proof.path());
    }

    /**
     * True if {@code proof} shows its record is in the Merkle tree of {@code proof.treeSize()} records
     * whose root is {@code rootHash} (RFC 9162 §2.1.3.2). Never throws for bad input: returns false.
     *
     * @param proof    the proof
     * @param rootHash the 32-byte Merkle root
     * @return whether the proof holds
     */
    public static boolean verifyInclusion(InclusionProof proof, byte[] rootHash) {
        if (proof == null || rootHash == null) {
            return false;
        }
        return Merkle.verifyInclusion(proof.leafIndex(), proof.treeSize(), proof.recordHash(), proof.path(), rootHash);
    }

    /**
     * True if the proof's checkpoint is signed by the key in {@code verificationKey}, is for the proof's
     * tree size, and the proof verifies against its root. Never throws for a malformed checkpoint.
     *
     * @throws IOException if the key file cannot be read or is malformed
     * @param proof           the proof
     * @param verificationKey the verification key file
     * @return whether the checkpoint is genuine and the proof holds
     */
    public static boolean verifyInclusion(InclusionProof proof, Path verificationKey) throws IOException {
        NoteKey key = KeyFiles.readPublic(verificationKey);
        if (proof == null || proof.checkpoint() == null) {
            return false;
        }
        Checkpoint cp;
        try {
            cp = Checkpoint.open(proof.checkpoint(), key);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return cp.treeSize() == proof.treeSize() && verifyInclusion(proof, cp.root());
    }
}
