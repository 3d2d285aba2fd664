package io.tabguard.audit.internal;

import io.tabguard.audit.VerificationReport;
import io.tabguard.audit.VerificationReport.Reason;
import io.tabguard.audit.VerificationReport.UnsealedRange;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Reads a log line by line and checks it, in one linear pass: syntax and canonical form, sequence
 * numbers, the hash chain, each record's hash, each checkpoint's signature, size, Merkle root and
 * predecessor, and where the records the log writes itself stand (session structure). It stops at
 * the first bad line. Used by the verifier, and by {@code AuditLog.open} to resume a log. Not
 * thread-safe; one instance per scan.
 *
 * <p>Session rules (an honest writer never breaks them): the first record and every record after a
 * {@code LOG_CLOSED} are {@code LOG_OPENED}; a {@code LOG_OPENED} that finds records no checkpoint
 * covers starts an <em>unsealed range</em>, which stays in the verdict forever; a
 * {@code LOG_UNSEALED} record may only follow such a {@code LOG_OPENED} and must state its range.
 */
public final class LogScanner {
    private static final int CHUNK = 1 << 20;
    private static final byte[] EMPTY_ROOT = CanonicalEncoding.sha256().digest();

    private final NoteKey key;          // null: do not check signatures (tools that hold no key)
    private final boolean collectLeaves;
    private final Checkpoint since;     // null: no --since check
    private final LongConsumer progress;

    // running state
    private long records;
    private long checkpoints;
    private long v1Checkpoints;
    private boolean v2Seen;
    private byte[] lastHash = new byte[32];
    private String lastType;
    private final Merkle.Frontier frontier = new Merkle.Frontier();
    private long lastCheckpointSize;
    private byte[] lastCheckpointRoot = EMPTY_ROOT;
    private String lastCheckpointCoveredType;
    private long firstUncoveredLine = -1;
    private UnsealedRange statementDue;  // the range a LOG_UNSEALED right after this LOG_OPENED must state
    private byte[] statementDueHash;     // and the hash of its last record
    private final List<UnsealedRange> unsealed = new ArrayList<>();
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
    private boolean tornTail;
    private long totalBytes;

    /** A verified checkpoint and where it was. */
    public record CheckpointAt(long treeSize, byte[] root, String note, long line) {
    }

    private LogScanner(NoteKey key, boolean collectLeaves, Checkpoint since, LongConsumer progress) {
        this.key = key;
        this.collectLeaves = collectLeaves;
        this.since = since;
        this.progress = progress;
    }

    /**
     * Scans {@code in} to its end or to the first bad line.
     *
     * @param key           the verification key, or {@code null} to skip signature checks
     * @param collectLeaves keep every record hash (for inclusion proofs)
     */
    public static LogScanner scan(InputStream in, NoteKey key, boolean collectLeaves) throws IOException {
        return scan(in, key, collectLeaves, null, null);
    }

    /**
     * Scans {@code in} to its end or to the first bad line.
     *
     * @param since    a verified checkpoint the log must extend, or {@code null}
     * @param progress told the number of bytes read after each chunk, or {@code null}
     */
    public static LogScanner scan(InputStream in, NoteKey key, boolean collectLeaves, Checkpoint since,
                                  LongConsumer progress) throws IOException {
        LogScanner s = new LogScanner(key, collectLeaves, since, progress);
        s.run(in);
        return s;
    }

    /**
     * Scans the regular file {@code log}, reading no more than the size it had when opened (a file
     * that keeps growing is read to that size). Refuses (IOException) anything but a regular file.
     */
    public static LogScanner scanFile(Path log, NoteKey key, boolean collectLeaves, Checkpoint since,
                                      LongConsumer progress) throws IOException {
        KeyFiles.requireRegularFile(log, "log file");
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.READ)) {
            long size = ch.size();
            InputStream bounded = new InputStream() {
                private long left = size;

                @Override
                public int read() {
                    throw new UnsupportedOperationException("read in chunks");
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int n = ch.read(ByteBuffer.wrap(b, off, (int) Math.min(len, left)));
                    if (n > 0) {
                        left -= n;
                    }
                    return n;
                }
            };
            return scan(bounded, key, collectLeaves, since, progress);
        }
    }

    private void run(InputStream in) throws IOException {
        byte[] buf = new byte[CHUNK];
        int start = 0;
        int end = 0;
        long bufOffset = 0;            // file offset of buf[0]
        boolean eof = false;
        long skipped = 0;              // bytes of the current line dropped because it is too long
        int ascii = 0;                 // OR of the current line's bytes scanned so far: negative if one is not ASCII
        int scanned = start;           // bytes of the current line scanned for its newline
        while (true) {
            int nl = -1;
            for (int i = scanned; i < end; i++) {
                byte c = buf[i];
                if (c == '\n') {
                    nl = i;
                    break;
                }
                ascii |= c;
            }
            if (nl < 0) {
                if (eof) {
                    totalBytes = bufOffset + end;
                    if (end > start || skipped > 0) {
                        lines++;
                        tornLine(end - start + skipped);
                    }
                    return;
                }
                if (end - start > LogFormat.MAX_LINE) {
                    skipped += end - start;
                    start = end;
                }
                if (start > 0) {
                    System.arraycopy(buf, start, buf, 0, end - start);
                    bufOffset += start;
                    end -= start;
                    start = 0;
                }
                scanned = end;
                int n = in.read(buf, end, buf.length - end);
                if (n < 0) {
                    eof = true;
                } else {
                    end += n;
                    if (progress != null) {
                        progress.accept(bufOffset + end);
                    }
                }
                continue;
            }
            lines++;
            int len = nl - start;
            boolean ok;
            if (skipped > 0 || len > LogFormat.MAX_LINE) {
                ok = fail(Reason.MALFORMED, records, lines, "line too long");
            } else if (ascii < 0) {
                ok = fail(Reason.MALFORMED, records, lines, "line has a non-ASCII byte");
            } else {
                LogRecord fast = LogFormat.parseCanonicalRecord(buf, start, nl);
                ok = fast != null ? checkRecord(fast) : check(new String(buf, start, len, StandardCharsets.ISO_8859_1));
            }
            skipped = 0;
            ascii = 0;
            start = nl + 1;
            scanned = start;
            if (!ok) {
                totalBytes = bufOffset + start;
                return;
            }
            goodBytes = bufOffset + start;
        }
    }

    /** The last line has no newline: what a crash in the middle of a write leaves. */
    private void tornLine(long bytes) {
        boolean uncovered = lastCheckpointSize < records;
        fail(Reason.TRUNCATED, lastCheckpointSize, uncovered ? firstUncoveredLine : lines,
                "the last line is incomplete (no newline, " + bytes + " bytes)" + (uncovered ? " and records "
                        + lastCheckpointSize + ".." + (records - 1) + " are not covered by a signed checkpoint" : ""));
        tornTail = true;
    }

    private boolean check(String line) {
        LogFormat.Line parsed;
        try {
            parsed = LogFormat.parse(line);
        } catch (LogFormatException e) {
            return fail(Reason.MALFORMED, records, lines, e.getMessage());
        }
        return parsed.record() != null ? checkRecord(parsed.record()) : checkCheckpoint(parsed.checkpointNote());
    }

    private boolean checkRecord(LogRecord r) {
        if (r.seq() != records) {
            String what = r.seq() < records ? " (a duplicate or an earlier record moved here)"
                    : " (records " + records + ".." + (r.seq() - 1) + " are missing here)";
            return fail(Reason.SEQUENCE_GAP, records, lines, "expected seq " + records + " but found "
                    + r.seq() + what);
        }
        if (!MessageDigest.isEqual(r.prev(), lastHash)) {
            return fail(Reason.CHAIN_BROKEN, records, lines, "prev is not the hash of the record before it");
        }
        if (!r.hashMatches()) {
            return fail(Reason.HASH_MISMATCH, records, lines,
                    "the hash does not match the record's fields (a field was changed)");
        }
        boolean opened = LogRecord.LOG_OPENED.equals(r.type());
        if ((records == 0 || LogRecord.LOG_CLOSED.equals(lastType)) && !opened) {
            return fail(Reason.OUT_OF_PLACE, records, lines, records == 0
                    ? "the first record is " + r.type() + ", not LOG_OPENED"
                    : "a " + r.type() + " record follows LOG_CLOSED: only LOG_OPENED may (records after a close"
                    + " were added by someone other than the writer)");
        }
        UnsealedRange due = statementDue;
        statementDue = null;
        if (LogRecord.LOG_UNSEALED.equals(r.type())) {
            if (due == null) {
                return fail(Reason.OUT_OF_PLACE, records, lines,
                        "a LOG_UNSEALED record that does not follow a LOG_OPENED with unsealed records before it");
            }
            String expected = LogRecord.unsealedDetail(due.firstSeq(), due.lastSeq(), statementDueHash);
            if (!expected.equals(r.detail())) {
                return fail(Reason.OUT_OF_PLACE, records, lines,
                        "the LOG_UNSEALED record misstates the unsealed range: expected \"" + expected + "\"");
            }
        }
        if (opened && lastCheckpointSize < records) {
            UnsealedRange u = new UnsealedRange(lastCheckpointSize, records - 1, firstUncoveredLine);
            unsealed.add(u);
            statementDue = u;
            statementDueHash = r.prev();
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
        if (since != null && records == since.treeSize() && !MessageDigest.isEqual(frontier.root(), since.root())) {
            return fail(Reason.INCONSISTENT, 0, lines, "records 0.." + (records - 1) + " do not have the Merkle root"
                    + " of the --since checkpoint (size " + since.treeSize() + "): the log was rewritten");
        }
        return true;
    }

    private boolean checkCheckpoint(String note) {
        statementDue = null;
        Checkpoint cp;
        try {
            cp = key != null ? Checkpoint.open(note, key) : Checkpoint.parseUnverified(note);
        } catch (IllegalArgumentException e) {
            return fail(Reason.BAD_CHECKPOINT_SIGNATURE, records, lines, "checkpoint refused: " + e.getMessage());
        }
        if (cp.treeSize() == lastCheckpointSize) {
            return fail(Reason.CHECKPOINT_SIZE_MISMATCH, records, lines,
                    "a checkpoint that covers no new record (tree size " + cp.treeSize() + ": duplicated or empty)");
        }
        if (cp.treeSize() != records) {
            return fail(Reason.CHECKPOINT_SIZE_MISMATCH, Math.min(cp.treeSize(), records), lines,
                    "the checkpoint covers " + cp.treeSize() + " records but " + records + " precede it");
        }
        byte[] root = frontier.root();
        if (!MessageDigest.isEqual(cp.root(), root)) {
            return fail(Reason.ROOT_MISMATCH, lastCheckpointSize, lines,
                    "the signed root does not match records " + lastCheckpointSize + ".." + (records - 1)
                            + " (some record in that range was rewritten)");
        }
        Checkpoint.Predecessor p = cp.predecessor();
        if (p == null) {
            if (v2Seen) {
                return fail(Reason.CHECKPOINT_MISSING, lastCheckpointSize, lines,
                        "a format v1 checkpoint (no predecessor line) after format v2 ones");
            }
            v1Checkpoints++;
        } else {
            v2Seen = true;
            if (!p.is(lastCheckpointSize, lastCheckpointRoot)) {
                return fail(Reason.CHECKPOINT_MISSING, Math.max(lastCheckpointSize, Math.min(p.treeSize(), records)), lines,
                        "the checkpoint commits to a predecessor of " + p.treeSize() + " records, but the checkpoint"
                                + " before it covers " + lastCheckpointSize + " (a checkpoint was deleted or moved)");
            }
        }
        checkpoints++;
        lastCheckpointSize = records;
        lastCheckpointRoot = root;
        lastCheckpointCoveredType = lastType;
        checkpointList.add(new CheckpointAt(cp.treeSize(), cp.root(), note, lines));
        return true;
    }

    private boolean fail(Reason r, long seq, long line, String msg) {
        reason = r;
        badSeq = seq;
        badLine = line;
        message = msg;
        return false;
    }

    /**
     * The verdict, applying the end-of-log rules: a log must end with a final checkpoint covering every
     * record, must extend the {@code since} checkpoint, and is {@code UNSEALED} if a reopen found
     * records no checkpoint covered.
     */
    public VerificationReport report() {
        if (reason != null) {
            return new VerificationReport(false, records, checkpoints, badSeq, badLine, reason, message, unsealed);
        }
        if (since != null && records < since.treeSize()) {
            return new VerificationReport(false, records, checkpoints, records, lines + 1, Reason.INCONSISTENT,
                    "the log has " + records + " records but the --since checkpoint covers " + since.treeSize()
                            + ": it was cut back (rolled back)", unsealed);
        }
        if (records == 0) {
            return new VerificationReport(false, 0, 0, 0, 1, Reason.TRUNCATED, "the log has no records");
        }
        if (lastCheckpointSize < records) {
            return new VerificationReport(false, records, checkpoints, lastCheckpointSize, firstUncoveredLine,
                    Reason.TRUNCATED, "records " + lastCheckpointSize + ".." + (records - 1)
                    + " are not covered by a signed checkpoint (the end of the log was cut, or it was not closed)",
                    unsealed);
        }
        if (!LogRecord.LOG_CLOSED.equals(lastCheckpointCoveredType)) {
            return new VerificationReport(false, records, checkpoints, records, lines + 1, Reason.TRUNCATED,
                    "the log ends at a periodic checkpoint, not at a final one: records from seq " + records
                            + " on were cut, or the log was not closed", unsealed);
        }
        String signed = (key != null ? "signed by " + key.verifierText() : "signatures not checked")
                + (since != null ? "; extends the --since checkpoint of " + since.treeSize() + " records" : "")
                + (v1Checkpoints > 0 ? "; " + v1Checkpoints + " checkpoints of format v1 (they do not commit to"
                + " their predecessor, so a deleted v1 checkpoint would not show)" : "");
        if (!unsealed.isEmpty()) {
            UnsealedRange u = unsealed.getFirst();
            return new VerificationReport(false, records, checkpoints, u.firstSeq(), u.firstLine(), Reason.UNSEALED,
                    "every check passed, but " + unsealed.size() + " range(s) of records were not covered by a"
                            + " checkpoint of the session that wrote them (found unsealed at a reopen: a crash, or an"
                            + " edit hidden by a restart); " + signed, unsealed);
        }
        return new VerificationReport(true, records, checkpoints, -1, -1, null, signed);
    }

    /** True if a line failed. */
    public boolean failed() {
        return reason != null;
    }

    /**
     * True if the only failure is a last line without its newline: what a crash in the middle of a
     * write leaves, and the only failure a reopen may set aside.
     */
    public boolean tornTail() {
        return tornTail;
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

    /** The root of the last verified checkpoint (the empty-tree root when there is none). */
    public byte[] lastCheckpointRoot() {
        return lastCheckpointRoot.clone();
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
