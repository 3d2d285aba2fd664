package io.tabguard.audit;

import io.tabguard.audit.internal.Checkpoint;
import io.tabguard.audit.internal.JfrEvents;
import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.LogFormat;
import io.tabguard.audit.internal.LogRecord;
import io.tabguard.audit.internal.LogScanner;
import io.tabguard.audit.internal.Merkle;
import io.tabguard.audit.internal.NoteKey;
import io.tabguard.audit.internal.OperatorLog;
import io.tabguard.audit.internal.Text;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The append-only, hash-chained, signed audit log: one JSON line per security event, and a signed
 * C2SP checkpoint line every {@link Options#checkpointEvery()} records and on {@link #close()}, each
 * committing to the checkpoint before it. The format (v2) is described in the project's
 * {@code docs/audit-log.md}; {@link AuditVerifier} checks a log.
 *
 * <p><b>Threads.</b> Thread-safe. {@link #record} may be called from any thread, including native
 * upcall threads, concurrently with {@link #flush} and {@link #close}. One daemon thread,
 * {@code tabguard-audit-writer}, owns the file: it drains a bounded queue
 * ({@link Options#queueCapacity()}) and writes records in order.
 *
 * <p><b>Guarantees of {@link #record}.</b> It never throws and never blocks for long:
 * <ul>
 *   <li>If the queue has room and {@link Options#synchronous()} is true (the default), it waits until
 *       the writer has written the record to the operating system (and forced it to storage when
 *       {@link FsyncPolicy#EVERY_RECORD}), or until {@link Options#syncTimeout()} passed, or until the
 *       calling thread is interrupted, whichever comes first. It never waits when called from the
 *       writer thread itself.</li>
 *   <li>If the queue is full, it does not wait: the event is counted in a per-(type, serial,
 *       violation) counter, which the writer writes as one record with {@code count} N and
 *       {@code firstTime}/{@code lastTime}; its schema, schema id, offset and detail are those of the
 *       event that started the counter, and its {@code time} is {@code lastTime}.
 *       Such records follow the queued ones, so under a flood the log's order is not the call order.
 *       No event is dropped without being counted.</li>
 *   <li>If the log is closed, or writing fails, the event is counted in {@link #failures()} and
 *       reported through {@code System.Logger} {@code io.tabguard.audit}.</li>
 * </ul>
 * {@link #flush()} waits until every event recorded before the call (queued or counted) has been
 * written, and forced to storage unless {@link FsyncPolicy#NEVER}. {@link #close()} does the same,
 * writes a {@code LOG_CLOSED} record and a final checkpoint, and stops the writer.
 *
 * <p><b>Files.</b> {@code <log>.key} beside the log, or the file given by {@link Options#withKeyFile},
 * holds the Ed25519 signing key (created on first open, mode 600 where POSIX permissions exist);
 * {@code <log>.pub} beside the log, the verification key, is all a verifier needs; it is written only
 * once the log has been accepted. The log is locked while open.
 *
 * <p><b>Crash recovery.</b> {@link #open} reads and checks the existing log. A last line without its
 * newline is a torn tail (what a crash in the middle of a write leaves): its bytes are moved to
 * {@code <log>.torn-<n>}, a WARNING is logged and a {@code LOG_TORN_TAIL} record names the side file;
 * new records chain onto the last good record. Records that no checkpoint covers (a session that
 * ended without its final checkpoint) are never passed off as sealed: {@code LOG_OPENED} is followed by
 * a {@code LOG_UNSEALED} record naming their range and the last one's hash, and the verifier reports
 * the log as {@link VerificationReport.Verdict#UNSEALED} from then on.
 *
 * <p><b>Refuses</b> (in {@link #open}, with an {@link IOException}): a log that does not verify
 * except for a torn last line (a complete bad line, a checkpoint whose root or predecessor does not
 * match, a record after {@code LOG_CLOSED} are evidence, never set aside), a log path that is a
 * directory, device or FIFO, a log with content but no signing key, a key file that is not a small
 * regular file holding a signer key, a {@code .pub} that does not match the key, and a log already
 * open (locked) by this or another process. A refused open writes no {@code .pub}.
 */
public final class AuditLog implements AuditSink {

    /** When the writer forces the log to storage ({@link FileChannel#force(boolean)}). */
    public enum FsyncPolicy {
        /** After every batch of records, before any waiting {@code record()} call returns. */
        EVERY_RECORD,
        /** After every batch that holds a checkpoint, on {@link #flush()} and on {@link #close()}. */
        EVERY_CHECKPOINT,
        /** Never; records reach the operating system but durability is left to it. */
        NEVER
    }

    /**
     * How a log behaves. Immutable and thread-safe.
     *
     * <p>Refuses: {@code checkpointEvery} or {@code queueCapacity} below 1, a {@code null} policy, a
     * {@code null} or negative timeout ({@link IllegalArgumentException}, {@link NullPointerException}).
     *
     * @param checkpointEvery records between periodic checkpoints (default 256)
     * @param fsync           when to force the file to storage (default {@link FsyncPolicy#EVERY_CHECKPOINT})
     * @param queueCapacity   events that can wait for the writer before coalescing starts (default 8192)
     * @param synchronous     whether {@code record()} waits for its record to be written (default true)
     * @param syncTimeout     longest a synchronous {@code record()} waits (default 2 s)
     * @param keyFile         where the signing key is kept (default empty: {@code <log>.key} beside the log)
     */
    public record Options(int checkpointEvery, FsyncPolicy fsync, int queueCapacity, boolean synchronous,
                          Duration syncTimeout, Optional<Path> keyFile) {
        /** Validates. */
        public Options {
            if (checkpointEvery < 1) {
                throw new IllegalArgumentException("checkpointEvery must be at least 1");
            }
            if (queueCapacity < 1) {
                throw new IllegalArgumentException("queueCapacity must be at least 1");
            }
            Objects.requireNonNull(fsync, "fsync");
            Objects.requireNonNull(syncTimeout, "syncTimeout");
            if (syncTimeout.isNegative()) {
                throw new IllegalArgumentException("syncTimeout must not be negative");
            }
            Objects.requireNonNull(keyFile, "keyFile");
        }

        /**
         * 256, EVERY_CHECKPOINT, 8192, synchronous, 2 s, the key beside the log.
         *
         * @return the default options
         */
        public static Options defaults() {
            return new Options(256, FsyncPolicy.EVERY_CHECKPOINT, 8192, true, Duration.ofSeconds(2), Optional.empty());
        }

        /**
         * A copy that keeps the signing key in {@code file} instead of {@code <log>.key}, for example
         * on another volume or in a directory only the writer can read: whoever can write the log's
         * folder then does not also hold the key. Created there (mode 600) on first open.
         *
         * @param file the signing key file; a relative path is resolved against the current directory now
         * @return the copy
         * @throws NullPointerException if {@code file} is {@code null}
         */
        public Options withKeyFile(Path file) {
            return new Options(checkpointEvery, fsync, queueCapacity, synchronous, syncTimeout,
                    Optional.of(file.toAbsolutePath().normalize()));
        }

        /**
         * A copy with another {@link #checkpointEvery()}.
         *
         * @param n records between periodic checkpoints, at least 1
         * @return the copy
         */
        public Options withCheckpointEvery(int n) {
            return new Options(n, fsync, queueCapacity, synchronous, syncTimeout, keyFile);
        }

        /**
         * A copy with another {@link #fsync()} policy.
         *
         * @param policy when to force the file to storage
         * @return the copy
         */
        public Options withFsync(FsyncPolicy policy) {
            return new Options(checkpointEvery, policy, queueCapacity, synchronous, syncTimeout, keyFile);
        }

        /**
         * A copy with another {@link #queueCapacity()}.
         *
         * @param capacity events that can wait for the writer, at least 1
         * @return the copy
         */
        public Options withQueueCapacity(int capacity) {
            return new Options(checkpointEvery, fsync, capacity, synchronous, syncTimeout, keyFile);
        }

        /**
         * A copy with another {@link #synchronous()} setting.
         *
         * @param sync whether {@code record()} waits for its record to be written
         * @return the copy
         */
        public Options withSynchronous(boolean sync) {
            return new Options(checkpointEvery, fsync, queueCapacity, sync, syncTimeout, keyFile);
        }

        /**
         * A copy with another {@link #syncTimeout()}.
         *
         * @param timeout longest a synchronous {@code record()} waits, not negative
         * @return the copy
         */
        public Options withSyncTimeout(Duration timeout) {
            return new Options(checkpointEvery, fsync, queueCapacity, synchronous, timeout, keyFile);
        }
    }

    private static final int MAX_BATCH = 4096;
    private static final long WAIT_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long CLOSE_INFLIGHT_WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final Path path;
    private final Options options;
    private final NoteKey key;
    private final FileChannel channel;
    private final FileLock lock;
    private final ArrayBlockingQueue<Item> queue;
    private final ConcurrentHashMap<CoalesceKey, Counter> overflow = new ConcurrentHashMap<>();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong coalesced = new AtomicLong();
    private final AtomicLong inflight = new AtomicLong();
    private final Object closeLock = new Object();
    private volatile boolean closed;
    private final Thread writer;

    // Owned by the writer thread (and by open() before the thread starts).
    private long nextSeq;
    private byte[] prevHash;
    private Merkle.Frontier frontier;
    private long sinceCheckpoint;
    private long goodSize;
    private long lastCheckpointSize;     // the predecessor the next checkpoint commits to
    private byte[] lastCheckpointRoot;

    private AuditLog(Path path, Options options, NoteKey key, FileChannel channel, FileLock lock, LogScanner scan) {
        this.path = path;
        this.options = options;
        this.key = key;
        this.channel = channel;
        this.lock = lock;
        this.queue = new ArrayBlockingQueue<>(options.queueCapacity());
        this.nextSeq = scan.records();
        this.prevHash = scan.lastHash();
        this.frontier = scan.frontier();
        this.sinceCheckpoint = scan.records() - scan.lastCheckpointSize();
        this.lastCheckpointSize = scan.lastCheckpointSize();
        this.lastCheckpointRoot = scan.lastCheckpointRoot();
        this.goodSize = scan.goodBytes();
        this.writer = new Thread(this::writerLoop, "tabguard-audit-writer");
        this.writer.setDaemon(true);
    }

    /**
     * Opens (or creates) the log at {@code logFile} with {@link Options#defaults()}.
     *
     * @param logFile the log file; its keys go beside it
     * @return the open log, which the caller must close
     * @throws IOException if the log or its keys cannot be read, created or trusted (see the class description)
     */
    public static AuditLog open(Path logFile) throws IOException {
        return open(logFile, Options.defaults());
    }

    /**
     * Opens the log at {@code logFile}, creating it, its parent directories and its keys if needed,
     * checks what is already there, sets a torn tail aside, writes a {@code LOG_OPENED} record and
     * starts the writer thread. See the class description for what it refuses.
     *
     * @param logFile the log file; its keys go beside it
     * @param options checkpoints, fsync, queue and synchronous writing
     * @return the open log, which the caller must close
     * @throws IOException if the log or its keys cannot be read, created or trusted
     */
    public static AuditLog open(Path logFile, Options options) throws IOException {
        Objects.requireNonNull(logFile, "logFile");
        Objects.requireNonNull(options, "options");
        Path log = logFile.toAbsolutePath().normalize();
        Files.createDirectories(log.getParent());
        if (Files.exists(log)) {
            KeyFiles.requireRegularFile(log, "log file"); // never lock, scan or append to a device or FIFO
        }
        Path keyFile = options.keyFile().orElse(KeyFiles.keyPath(log));
        NoteKey key = KeyFiles.loadOrCreate(log, keyFile, new SecureRandom());
        FileChannel ch = FileChannel.open(log, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock = null;
        try {
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new IOException(log + " is already open (locked) by another AuditLog");
            }
            LogScanner scan = LogScanner.scanFile(log, key, false, null, null);
            if (scan.failed() && !scan.tornTail()) {
                VerificationReport r = scan.report();
                throw new IOException(log + " does not verify: " + r.reason() + " at record seq " + r.firstBadSeq()
                        + " (line " + r.firstBadLine() + "): " + r.message()
                        + "; refusing to append to it (keep it as evidence and start a new log)");
            }
            KeyFiles.writePublicIfAbsent(log, key);
            String tornNote = null;
            if (scan.failed()) {
                tornNote = setTornTailAside(log, ch, scan);
            }
            AuditLog audit = new AuditLog(log, options, key, ch, lock, scan);
            audit.writeOpeningRecords(scan, tornNote);
            audit.writer.start();
            OperatorLog.info("audit log " + log + " open at seq " + audit.nextSeq + ", key " + key.verifierText());
            return audit;
        } catch (IOException | RuntimeException | Error e) {
            try {
                if (lock != null) {
                    lock.release();
                }
            } catch (IOException ignored) {
                // closing anyway
            }
            ch.close();
            throw e;
        }
    }

    private static String setTornTailAside(Path log, FileChannel ch, LogScanner scan) throws IOException {
        long good = scan.goodBytes();
        long size = ch.size();
        int n = 1;
        Path side;
        do {
            side = log.resolveSibling(log.getFileName() + ".torn-" + n++);
        } while (Files.exists(side));
        try (FileChannel out = FileChannel.open(side, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long pos = good;
            while (pos < size) {
                long moved = ch.transferTo(pos, size - pos, out);
                if (moved <= 0) {
                    throw new IOException("could not copy the torn tail of " + log);
                }
                pos += moved;
            }
            out.force(true);
        }
        ch.truncate(good);
        ch.force(true);
        String reason = scan.report().reason() + ": " + scan.report().message();
        String note = "torn tail of " + (size - good) + " bytes set aside to " + side.getFileName();
        OperatorLog.warn("audit log " + log + ": " + note + " (" + reason + "); the log continues from seq "
                + scan.records(), null);
        return note;
    }

    private void writeOpeningRecords(LogScanner scan, String tornNote) throws IOException {
        StringBuilder out = new StringBuilder();
        String opened;
        if (scan.records() == 0) {
            opened = "new log, key " + key.name();
        } else if (scan.endsClosed()) {
            opened = "reopened after a clean close at seq " + (scan.records() - 1);
        } else if (scan.lastCheckpointSize() < scan.records()) {
            opened = "reopened after an unclean shutdown: records " + scan.lastCheckpointSize() + ".."
                    + (scan.records() - 1) + " were not covered by a checkpoint";
        } else {
            opened = "reopened after an unclean shutdown at seq " + (scan.records() - 1);
        }
        if (scan.records() > 0 && !scan.endsClosed()) {
            OperatorLog.warn("audit log " + path + " was not closed cleanly: " + opened, null);
        }
        String now = Instant.now().toString();
        appendRecord(out, LogRecord.create(nextSeq, now, LogRecord.LOG_OPENED, 0, null, 0, null, -1,
                Text.clean(opened, SecurityEvent.MAX_DETAIL), 1, null, null, prevHash), false);
        if (scan.lastCheckpointSize() < scan.records()) {
            // The records a crashed (or tampered-with) session left without a checkpoint: the next
            // checkpoint will cover them, but the log says here, forever, that their own session never did.
            String detail = LogRecord.unsealedDetail(scan.lastCheckpointSize(), scan.records() - 1, scan.lastHash());
            appendRecord(out, LogRecord.create(nextSeq, now, LogRecord.LOG_UNSEALED, 0, null, 0, null, -1, detail, 1,
                    null, null, prevHash), false);
        }
        if (tornNote != null) {
            appendRecord(out, LogRecord.create(nextSeq, now, LogRecord.LOG_TORN_TAIL, 0, null, 0, null, -1,
                    Text.clean(tornNote, SecurityEvent.MAX_DETAIL), 1, null, null, prevHash), false);
        }
        writeOut(out);
        channel.force(false);
    }

    /**
     * The log file.
     *
     * @return the absolute, normalized path
     */
    public Path path() {
        return path;
    }

    /**
     * The options this log was opened with.
     *
     * @return the options
     */
    public Options options() {
        return options;
    }

    /**
     * The verification key in C2SP verifier-key text form ({@code <name>+<hex id>+<base64 key>}).
     *
     * @return the public key text; never the signing key
     */
    public String verificationKey() {
        return key.verifierText();
    }

    /**
     * Writes the verification key (the content of {@code <log>.pub}) to {@code target}, replacing it.
     *
     * @param target the file to write
     * @throws IOException if it cannot be written
     */
    public void exportVerificationKey(Path target) throws IOException {
        KeyFiles.writePublic(target, key);
    }

    /**
     * Events that could not be written: recorded after close, {@code null}, or lost to an I/O error.
     *
     * @return the count so far
     */
    public long failures() {
        return failures.get();
    }

    /**
     * Events that arrived while the queue was full and were counted into coalesced records.
     *
     * @return the count so far
     */
    public long coalescedEvents() {
        return coalesced.get();
    }

    /**
     * True once {@link #close()} has been called.
     *
     * @return whether the log is closed
     */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void record(SecurityEvent event) {
        try {
            if (event == null) {
                failures.incrementAndGet();
                return;
            }
            JfrEvents.emit(event);
            EventItem item;
            inflight.incrementAndGet();
            try {
                if (closed) {
                    failures.incrementAndGet();
                    OperatorLog.warn("audit event " + event.type() + " recorded after " + path + " was closed", null);
                    return;
                }
                boolean wait = options.synchronous() && Thread.currentThread() != writer;
                item = new EventItem(event, wait ? Thread.currentThread() : null);
                if (!queue.offer(item)) {
                    coalesce(event);
                    return;
                }
                if (!wait) {
                    return;
                }
            } finally {
                inflight.decrementAndGet();
            }
            awaitWritten(item);
        } catch (Throwable t) {
            failures.incrementAndGet();
            try {
                OperatorLog.warn("audit record failed", t);
            } catch (Throwable ignored) {
                // nothing more to do: never throw to the caller
            }
        }
    }

    private void awaitWritten(EventItem item) {
        long deadline = System.nanoTime() + options.syncTimeout().toNanos();
        while (!item.done) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                return;
            }
            LockSupport.parkNanos(this, left);
        }
    }

    private void coalesce(SecurityEvent e) {
        CoalesceKey k = new CoalesceKey(e.type(), e.tableSerial(), e.violation());
        long first = epochNanos(e.count() == 1 ? e.time() : e.firstTime());
        long last = epochNanos(e.count() == 1 ? e.time() : e.lastTime());
        while (true) {
            Counter c = overflow.computeIfAbsent(k, unused -> new Counter(e));
            if (c.tryAdd(first, last, e.count())) {
                coalesced.addAndGet(e.count());
                return;
            }
            overflow.remove(k, c); // sealed by the writer: make room for a fresh counter
        }
    }

    private static long epochNanos(Instant t) {
        long s = Math.clamp(t.getEpochSecond(), -9_000_000_000L, 9_000_000_000L);
        return s * 1_000_000_000L + t.getNano();
    }

    private static String instantOf(long epochNanos) {
        return Instant.ofEpochSecond(Math.floorDiv(epochNanos, 1_000_000_000L),
                Math.floorMod(epochNanos, 1_000_000_000L)).toString();
    }

    /**
     * Waits until every event recorded before this call has been written to the log (and forced to
     * storage unless {@link FsyncPolicy#NEVER}). On a closed log, waits for the writer to finish; returns early
     * if the calling thread is interrupted (with its interrupt status set). Never throws.
     */
    public void flush() {
        if (Thread.currentThread() == writer) {
            return;
        }
        if (closed) {
            try {
                writer.join(); // close() is writing everything; wait for it to finish
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        FlushItem f = new FlushItem();
        try {
            while (!queue.offer(f, 100, TimeUnit.MILLISECONDS)) {
                if (!writer.isAlive()) {
                    return;
                }
            }
            while (!f.latch.await(100, TimeUnit.MILLISECONDS)) {
                if (!writer.isAlive()) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Writes everything recorded so far, a {@code LOG_CLOSED} record and a final signed checkpoint,
     * forces the file to storage (unless {@link FsyncPolicy#NEVER}), releases it and stops the writer.
     * Idempotent; never throws. Waits for the writer to finish unless interrupted, in which case the
     * writer still finishes on its own.
     */
    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            long deadline = System.nanoTime() + CLOSE_INFLIGHT_WAIT_NANOS;
            while (inflight.get() > 0 && System.nanoTime() < deadline) {
                LockSupport.parkNanos(100_000);
            }
            CloseItem c = new CloseItem();
            while (!queue.offer(c, 100, TimeUnit.MILLISECONDS)) {
                if (!writer.isAlive()) {
                    return;
                }
            }
            if (Thread.currentThread() != writer) {
                writer.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            failures.incrementAndGet();
            OperatorLog.warn("closing audit log " + path + " failed", t);
        }
    }

    // ---------------------------------------------------------------- writer thread

    private void writerLoop() {
        List<Item> batch = new ArrayList<>();
        boolean stop = false;
        while (!stop) {
            try {
                batch.clear();
                Item first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, MAX_BATCH - 1);
                }
                if (!batch.isEmpty() || !overflow.isEmpty()) {
                    stop = processBatch(batch);
                }
            } catch (InterruptedException e) {
                // only close() stops the writer
            } catch (Throwable t) {
                failures.incrementAndGet();
                OperatorLog.warn("audit writer error", t);
            }
        }
        // Anything left can only have come after close(): count it, release any waiter.
        List<Item> rest = new ArrayList<>();
        queue.drainTo(rest);
        for (Item i : rest) {
            i.release(failures);
        }
        try {
            lock.release();
        } catch (IOException ignored) {
            // the channel is closed next
        }
        try {
            channel.close();
        } catch (IOException e) {
            failures.incrementAndGet();
            OperatorLog.warn("closing audit log " + path + " failed", e);
        }
    }

    /** Writes one batch; returns true when it held the close request. */
    private boolean processBatch(List<Item> batch) {
        long seq0 = nextSeq;
        byte[] prev0 = prevHash;
        Merkle.Frontier frontier0 = frontier.copy();
        long since0 = sinceCheckpoint;
        long lastCheckpointSize0 = lastCheckpointSize;
        byte[] lastCheckpointRoot0 = lastCheckpointRoot;
        int checkpointsBefore = checkpointsWritten;

        StringBuilder out = new StringBuilder(batch.size() * 300 + 64);
        List<Item> toRelease = new ArrayList<>(batch.size());
        List<LogRecord> written = new ArrayList<>(batch.size());
        long eventsInBatch = 0;
        boolean close = false;
        boolean flush = false;
        for (Item item : batch) {
            if (close) {
                item.release(failures); // after the close request: cannot be written
                continue;
            }
            switch (item) {
                case EventItem ei -> {
                    SecurityEvent e = ei.event;
                    LogRecord r = LogRecord.create(nextSeq, e.time().toString(), e.type().name(), e.tableSerial(),
                            e.schemaName(), e.schemaId(), e.violation(), e.offset(), e.detail(), e.count(),
                            e.count() == 1 ? null : e.firstTime().toString(),
                            e.count() == 1 ? null : e.lastTime().toString(), prevHash);
                    appendRecord(out, r, true);
                    written.add(r);
                    eventsInBatch++;
                    toRelease.add(ei);
                }
                case FlushItem fi -> {
                    flush = true;
                    toRelease.add(fi);
                }
                case CloseItem ci -> {
                    close = true;
                    toRelease.add(ci);
                }
            }
        }
        eventsInBatch += drainOverflow(out, written);
        if (close) {
            appendRecord(out, LogRecord.create(nextSeq, Instant.now().toString(), LogRecord.LOG_CLOSED, 0, null, 0,
                    null, -1, "closed; events coalesced: " + coalesced.get() + ", failures: " + failures.get(), 1, null, null,
                    prevHash), true);
            if (sinceCheckpoint > 0) {
                appendCheckpoint(out);
            }
        }
        try {
            writeOut(out);
            FsyncPolicy p = options.fsync();
            if (p == FsyncPolicy.EVERY_RECORD
                    || (p == FsyncPolicy.EVERY_CHECKPOINT && (checkpointsWritten != checkpointsBefore || flush || close))) {
                channel.force(false);
            }
            for (LogRecord r : written) {
                OperatorLog.event(r.type(), r.serial(), r.schema(), r.violation(), r.offset(), r.detail(), r.count());
            }
        } catch (IOException | RuntimeException e) {
            // Roll back to the last good state: the next batch is written where this one should have been.
            nextSeq = seq0;
            prevHash = prev0;
            frontier = frontier0;
            sinceCheckpoint = since0;
            lastCheckpointSize = lastCheckpointSize0;
            lastCheckpointRoot = lastCheckpointRoot0;
            checkpointsWritten = checkpointsBefore;
            try {
                channel.truncate(goodSize);
            } catch (IOException | RuntimeException ignored) {
                // the next write overwrites from goodSize anyway
            }
            failures.addAndGet(eventsInBatch);
            OperatorLog.warn("writing audit log " + path + " failed; " + eventsInBatch + " events lost", e);
        } finally {
            for (Item i : toRelease) {
                i.done();
            }
        }
        return close;
    }

    private long drainOverflow(StringBuilder out, List<LogRecord> written) {
        long events = 0;
        for (Map.Entry<CoalesceKey, Counter> en : overflow.entrySet()) {
            Counter c = en.getValue();
            long n = c.seal();
            overflow.remove(en.getKey(), c);
            if (n <= 0) {
                continue;
            }
            SecurityEvent e = c.first;
            long first = c.firstNanos.get();
            long last = c.lastNanos.get();
            LogRecord r;
            if (n == 1) {
                r = LogRecord.create(nextSeq, instantOf(last), e.type().name(), e.tableSerial(), e.schemaName(),
                        e.schemaId(), e.violation(), e.offset(), e.detail(), 1, null, null, prevHash);
            } else {
                r = LogRecord.create(nextSeq, instantOf(last), e.type().name(), e.tableSerial(), e.schemaName(),
                        e.schemaId(), e.violation(), e.offset(), e.detail(), n, instantOf(first), instantOf(last),
                        prevHash);
            }
            appendRecord(out, r, true);
            written.add(r);
            events += n;
        }
        return events;
    }

    private int checkpointsWritten;

    private void appendRecord(StringBuilder out, LogRecord r, boolean periodicCheckpoints) {
        out.append(LogFormat.recordLine(r)).append('\n');
        prevHash = r.hash();
        frontier.append(r.hash());
        nextSeq++;
        sinceCheckpoint++;
        if (periodicCheckpoints && sinceCheckpoint >= options.checkpointEvery()) {
            appendCheckpoint(out);
        }
    }

    private void appendCheckpoint(StringBuilder out) {
        byte[] root = frontier.root();
        String note = new Checkpoint(key.name(), frontier.size(), root,
                new Checkpoint.Predecessor(lastCheckpointSize, lastCheckpointRoot)).sign(key);
        lastCheckpointSize = frontier.size();
        lastCheckpointRoot = root;
        out.append(LogFormat.checkpointLine(note)).append('\n');
        sinceCheckpoint = 0;
        checkpointsWritten++;
    }

    private void writeOut(StringBuilder out) throws IOException {
        if (out.isEmpty()) {
            return;
        }
        ByteBuffer b = ByteBuffer.wrap(out.toString().getBytes(StandardCharsets.US_ASCII));
        long pos = goodSize;
        while (b.hasRemaining()) {
            pos += channel.write(b, pos);
        }
        goodSize = pos;
    }

    // ---------------------------------------------------------------- queue items and counters

    private sealed interface Item permits EventItem, FlushItem, CloseItem {
        /** Marks the item handled and wakes whoever waits for it. */
        void done();

        /** Handles an item that could not be processed. */
        default void release(AtomicLong failures) {
            if (this instanceof EventItem) {
                failures.incrementAndGet();
            }
            done();
        }
    }

    private static final class EventItem implements Item {
        final SecurityEvent event;
        final Thread waiter;
        volatile boolean done;

        EventItem(SecurityEvent event, Thread waiter) {
            this.event = event;
            this.waiter = waiter;
        }

        @Override
        public void done() {
            done = true;
            if (waiter != null) {
                LockSupport.unpark(waiter);
            }
        }
    }

    private static final class FlushItem implements Item {
        final CountDownLatch latch = new CountDownLatch(1);

        @Override
        public void done() {
            latch.countDown();
        }
    }

    private static final class CloseItem implements Item {
        @Override
        public void done() {
            // close() joins the writer thread instead
        }
    }

    private record CoalesceKey(EventType type, long serial, String violation) {
    }

    /**
     * Counts events of one key while the queue is full. The writer seals it (count becomes negative)
     * before writing it; a producer that finds it sealed takes a fresh counter, so no increment is lost.
     * Times are updated before the count, so a sealed counter's times cover every event it counted.
     */
    private static final class Counter {
        final SecurityEvent first;
        final AtomicLong count = new AtomicLong();
        final AtomicLong firstNanos = new AtomicLong(Long.MAX_VALUE);
        final AtomicLong lastNanos = new AtomicLong(Long.MIN_VALUE);

        Counter(SecurityEvent first) {
            this.first = first;
        }

        boolean tryAdd(long first, long last, long n) {
            firstNanos.accumulateAndGet(first, Math::min);
            lastNanos.accumulateAndGet(last, Math::max);
            long c;
            do {
                c = count.get();
                if (c < 0) {
                    return false;
                }
            } while (!count.compareAndSet(c, c + n));
            return true;
        }

        long seal() {
            return count.getAndSet(Long.MIN_VALUE);
        }
    }
}
