package io.tabguard.audit.internal;

import io.tabguard.audit.VerificationReport;
import io.tabguard.audit.VerificationReport.Reason;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a log line by line and checks it, in one linear pass: syntax and canonical form, sequence
 * numbers, the hash chain, each record's hash, each checkpoint's signature, size and Merkle root. It
 * stops at the first bad line. Used by the verifier, and by {@code AuditLog.open} to resume a log.
 * Not thread-safe; one instance per scan.
 */
public final class LogScanner {
    private final NoteKey key;          // null: do not check signatures (tools that hold no key)
    private final boolean collectLeaves;

    // running state
    private long records;
    private long checkpoints;
    private byte[] lastHash = new byte[32];
    private String lastType;
    private final Merkle.Frontier frontier = new Merkle.Frontier();
    private long lastCheckpointSize;
    private String lastCheckpointCoveredType;
    private long firstUncoveredLine = -1;
    private long lines;
    private long goodBytes;
    private final List<byte[]> leaves = new ArrayList<>();
    private final List<byte[]> recordHashes = new ArrayList<>();
    private final List<CheckpointAt> checkpointList = new ArrayList<>();

    // first failure
    private Reason reason;
    private long badSeq = -1;
    private long badLine = -1;
    private String message;
    private boolean failureOnLastLine;
    private long totalBytes;

    /** A verified checkpoint and where it was. */
    public record CheckpointAt(long treeSize, byte[] root, String note, long line) {
    }

    private LogScanner(NoteKey key, boolean collectLeaves) {
        this.key = key;
        this.collectLeaves = collectLeaves;
    }

    /**
     * Scans {@code in} to its end or to the first bad line.
     *
     * @param key           the verification key, or {@code null} to skip signature checks
     * @param collectLeaves keep every record hash (for inclusion proofs)
     */
    public static LogScanner scan(InputStream in, NoteKey key, boolean collectLeaves) throws IOException {
        LogScanner s = new LogScanner(key, collectLeaves);
        s.run(in instanceof BufferedInputStream ? in : new BufferedInputStream(in, 1 << 16));
        return s;
    }

    private void run(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(512);
        long offset = 0;
        while (true) {
            buf.reset();
            boolean tooLong = false;
            boolean nonAscii = false;
            boolean newline = false;
            int b;
            long lineStart = offset;
            while ((b = in.read()) != -1) {
                offset++;
                if (b == '\n') {
                    newline = true;
                    break;
                }
                if (b >= 0x80) {
                    nonAscii = true;
                }
                if (buf.size() <= LogFormat.MAX_LINE) {
                    buf.write(b);
                } else {
                    tooLong = true;
                }
            }
            if (!newline && offset == lineStart) {
                totalBytes = offset;
                return; // clean end of file
            }
            lines++;
            if (!newline) {
                totalBytes = offset;
                boolean uncovered = lastCheckpointSize < records;
                fail(Reason.TRUNCATED, lastCheckpointSize,
                        uncovered ? firstUncoveredLine : lines, "the last line is incomplete (no newline, "
                        + (offset - lineStart) + " bytes)" + (uncovered ? " and records " + lastCheckpointSize
                        + ".." + (records - 1) + " are not covered by a signed checkpoint" : ""), true);
                return;
            }
            if (tooLong || nonAscii) {
                fail(Reason.MALFORMED, records, lines, tooLong ? "line too long" : "line has a non-ASCII byte",
                        in.read() == -1);
                totalBytes = offset;
                return;
            }
            if (!check(buf.toString(StandardCharsets.US_ASCII))) {
                int next = in.read();
                failureOnLastLine = next == -1;
                totalBytes = offset;
                return;
            }
            goodBytes = offset;
        }
    }

    private boolean check(String line) {
        LogFormat.Line parsed;
        try {
            parsed = LogFormat.parse(line);
        } catch (LogFormatException e) {
            return fail(Reason.MALFORMED, records, lines, e.getMessage(), false);
        }
        if (parsed.record() != null) {
            LogRecord r = parsed.record();
            if (r.seq() != records) {
                String what = r.seq() < records ? " (a duplicate or an earlier record moved here)"
                        : " (records " + records + ".." + (r.seq() - 1) + " are missing here)";
                return fail(Reason.SEQUENCE_GAP, records, lines, "expected seq " + records + " but found "
                        + r.seq() + what, false);
            }
            if (!MessageDigest.isEqual(r.prev(), lastHash)) {
                return fail(Reason.CHAIN_BROKEN, records, lines,
                        "prev is not the hash of the record before it", false);
            }
            if (!r.hashMatches()) {
                return fail(Reason.HASH_MISMATCH, records, lines,
                        "the hash does not match the record's fields (a field was changed)", false);
            }
            if (records == lastCheckpointSize) {
                firstUncoveredLine = lines;
            }
            lastHash = r.hash();
            lastType = r.type();
            frontier.append(r.hash());
            if (collectLeaves) {
                leaves.add(Merkle.leafHash(r.hash()));
                recordHashes.add(r.hash());
            }
            records++;
            return true;
        }
        Checkpoint cp;
        try {
            cp = key != null ? Checkpoint.open(parsed.checkpointNote(), key)
                    : Checkpoint.parseUnverified(parsed.checkpointNote());
        } catch (IllegalArgumentException e) {
            return fail(Reason.BAD_CHECKPOINT_SIGNATURE, records, lines, "checkpoint refused: " + e.getMessage(), false);
        }
        if (cp.treeSize() == lastCheckpointSize) {
            return fail(Reason.CHECKPOINT_SIZE_MISMATCH, records, lines,
                    "a checkpoint that covers no new record (tree size " + cp.treeSize() + ": duplicated or empty)", false);
        }
        if (cp.treeSize() != records) {
            return fail(Reason.CHECKPOINT_SIZE_MISMATCH, Math.min(cp.treeSize(), records), lines,
                    "the checkpoint covers " + cp.treeSize() + " records but " + records + " precede it", false);
        }
        if (!MessageDigest.isEqual(cp.root(), frontier.root())) {
            return fail(Reason.ROOT_MISMATCH, lastCheckpointSize, lines,
                    "the signed root does not match records " + lastCheckpointSize + ".." + (records - 1)
                            + " (some record in that range was rewritten)", false);
        }
        checkpoints++;
        lastCheckpointSize = records;
        lastCheckpointCoveredType = lastType;
        checkpointList.add(new CheckpointAt(cp.treeSize(), cp.root(), parsed.checkpointNote(), lines));
        return true;
    }

    private boolean fail(Reason r, long seq, long line, String msg, boolean lastLine) {
        reason = r;
        badSeq = seq;
        badLine = line;
        message = msg;
        failureOnLastLine = lastLine;
        return false;
    }

    /** The verdict, applying the end-of-log rule: a log must end with a final checkpoint covering every record. */
    public VerificationReport report() {
        if (reason != null) {
            return new VerificationReport(false, records, checkpoints, badSeq, badLine, reason, message);
        }
        if (records == 0) {
            return new VerificationReport(false, 0, 0, 0, 1, Reason.TRUNCATED, "the log has no records");
        }
        if (lastCheckpointSize < records) {
            return new VerificationReport(false, records, checkpoints, lastCheckpointSize, firstUncoveredLine,
                    Reason.TRUNCATED, "records " + lastCheckpointSize + ".." + (records - 1)
                    + " are not covered by a signed checkpoint (the end of the log was cut, or it was not closed)");
        }
        if (!LogRecord.LOG_CLOSED.equals(lastCheckpointCoveredType)) {
            return new VerificationReport(false, records, checkpoints, records, lines + 1, Reason.TRUNCATED,
                    "the log ends at a periodic checkpoint, not at a final one: records from seq " + records
                            + " on were cut, or the log was not closed");
        }
        return new VerificationReport(true, records, checkpoints, -1, -1, null,
                key != null ? "signed by " + key.verifierText() : "signatures not checked");
    }

    /** True if a line failed. */
    public boolean failed() {
        return reason != null;
    }

    /** True if the failing line is the last line of the file (a torn tail). */
    public boolean failureOnLastLine() {
        return failureOnLastLine;
    }

    public long records() {
        return records;
    }

    public byte[] lastHash() {
        return Arrays.copyOf(lastHash, 32);
    }

    public Merkle.Frontier frontier() {
        return frontier.copy();
    }

    public long lastCheckpointSize() {
        return lastCheckpointSize;
    }

    /** True if the good part of the log ends with a final checkpoint (the last session closed cleanly). */
    public boolean endsClosed() {
        return records > 0 && lastCheckpointSize == records && LogRecord.LOG_CLOSED.equals(lastCheckpointCoveredType);
    }

    /** Byte length of the good prefix (every line before the first bad one). */
    public long goodBytes() {
        return goodBytes;
    }

    /** Bytes read in total. */
    public long totalBytes() {
        return totalBytes;
    }

    /** The leaf hashes (only when collected). */
    public List<byte[]> leaves() {
        return leaves;
    }

    /** The record hashes (only when collected). */
    public List<byte[]> recordHashes() {
        return recordHashes;
    }

    public List<CheckpointAt> checkpointList() {
        return checkpointList;
    }
}
