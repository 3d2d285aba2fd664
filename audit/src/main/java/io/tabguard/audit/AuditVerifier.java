package io.tabguard.audit;

import io.tabguard.audit.internal.Checkpoint;
import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.LogScanner;
import io.tabguard.audit.internal.Merkle;
import io.tabguard.audit.internal.NoteKey;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Checks audit logs written by {@link AuditLog}, and inclusion proofs of their records. Stateless and
 * thread-safe; each call reads the log once, in one linear pass.
 *
 * <p>{@link #verify(Path, Path)} checks, line by line: that each line is exactly in the writer's
 * canonical form; that seq numbers run 0, 1, 2, ...; that each {@code prev} is the previous record's
 * {@code hash}; that each {@code hash} matches its record's fields; that each checkpoint is signed by
 * the verification key (with the key's name as origin), covers exactly the records before it and
 * signs their Merkle root; and that the log ends with a final checkpoint (one covering a
 * {@code LOG_CLOSED} record and every record). It stops at the first failure and names that record.
 * So any edit of any field, deletion, insertion, duplication, reordering, or truncation (at a record
 * boundary or inside a line) is detected, as is a log signed by another key.
 *
 * <p>Limits: a log cut exactly after an earlier clean close (a previous session's final checkpoint)
 * is indistinguishable from a log that was never reopened; keep the latest checkpoint elsewhere to
 * detect that. Removing a periodic checkpoint line is not detected (later checkpoints sign the same
 * records again).
 *
 * <p>Refuses: unreadable files ({@link IOException}); a verification key file that is not a C2SP
 * Ed25519 verifier key ({@link IOException}).
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
     * @throws IOException if either file cannot be read, or the key file is malformed
     * @param log             the log file
     * @param verificationKey the verification key file
     */
    public static VerificationReport verify(Path log, Path verificationKey) throws IOException {
        Objects.requireNonNull(log, "log");
        NoteKey key = KeyFiles.readPublic(Objects.requireNonNull(verificationKey, "verificationKey"));
        try (InputStream in = Files.newInputStream(log)) {
            return LogScanner.scan(in, key, false).report();
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

    private static InclusionProof proof(Path log, long seq, NoteKey key) throws IOException {
        if (seq < 0) {
            throw new IllegalArgumentException("seq must not be negative");
        }
        LogScanner scan;
        try (InputStream in = Files.newInputStream(log)) {
            scan = LogScanner.scan(in, key, true);
        }
        List<LogScanner.CheckpointAt> cps = scan.checkpointList();
        for (int i = cps.size() - 1; i >= 0; i--) {
            LogScanner.CheckpointAt cp = cps.get(i);
            if (cp.treeSize() > seq) {
                if (cp.treeSize() > Integer.MAX_VALUE) {
                    throw new IOException("log too large for in-memory proofs");
                }
                int n = (int) cp.treeSize();
                List<byte[]> path = Merkle.inclusionPath(scan.leaves(), (int) seq, n);
                return new InclusionProof(seq, n, scan.recordHashes().get((int) seq), path, cp.note());
            }
        }
        throw new IOException("no good checkpoint in " + log + " covers record " + seq);
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
     * tree size, and the proof verifies against its root.
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
