package io.tabguard.audit;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An RFC 9162 §2.1.4 consistency proof: that the log's Merkle tree of {@link #oldSize()} records is a
 * prefix of its tree of {@link #newSize()} records, so between the two checkpoints the log only grew.
 * Carries the signed checkpoint (C2SP signed note) of the new size. Check it with
 * {@link AuditVerifier#verifyConsistency(ConsistencyProof, String, java.nio.file.Path)}.
 *
 * <p>Immutable and thread-safe: arrays are copied in and out.
 *
 * <p>Refuses (constructor): sizes with {@code oldSize < 0} or {@code newSize < oldSize}, a path element
 * that is {@code null} or not 32 bytes ({@link IllegalArgumentException}), a {@code null} path
 * ({@link NullPointerException}).
 */
public final class ConsistencyProof {
    private final long oldSize;
    private final long newSize;
    private final List<byte[]> path;
    private final String newCheckpoint;

    /**
     * A proof from a tree of {@code oldSize} records to one of {@code newSize}; the path is copied.
     *
     * @param oldSize       the size of the older tree
     * @param newSize       the size of the newer tree
     * @param path          the consistency path, as RFC 9162 §2.1.4.1 orders it
     * @param newCheckpoint the signed checkpoint note for {@code newSize}, or {@code null}
     * @throws NullPointerException     if {@code path} is {@code null}
     * @throws IllegalArgumentException if {@code oldSize < 0} or {@code newSize < oldSize}, or a path
     *                                  element is {@code null} or not 32 bytes
     */
    public ConsistencyProof(long oldSize, long newSize, List<byte[]> path, String newCheckpoint) {
        Objects.requireNonNull(path, "path");
        if (oldSize < 0 || newSize < oldSize) {
            throw new IllegalArgumentException("need 0 <= oldSize <= newSize");
        }
        List<byte[]> copy = new ArrayList<>(path.size());
        for (byte[] p : path) {
            if (p == null || p.length != 32) {
                throw new IllegalArgumentException("every path element must be 32 bytes");
            }
            copy.add(p.clone());
        }
        this.oldSize = oldSize;
        this.newSize = newSize;
        this.path = copy;
        this.newCheckpoint = newCheckpoint;
    }

    /**
     * The number of records of the older tree.
     *
     * @return the older size, at least 0
     */
    public long oldSize() {
        return oldSize;
    }

    /**
     * The number of records of the newer tree.
     *
     * @return the newer size, at least {@link #oldSize()}
     */
    public long newSize() {
        return newSize;
    }

    /**
     * The consistency path, in RFC 9162 §2.1.4.1 order.
     *
     * @return a fresh, mutable copy: a list of copied 32-byte hashes
     */
    public List<byte[]> path() {
        List<byte[]> out = new ArrayList<>(path.size());
        for (byte[] p : path) {
            out.add(p.clone());
        }
        return out;
    }

    /**
     * The signed checkpoint note for {@link #newSize()}.
     *
     * @return the note, or {@code null} if the proof carries none
     */
    public String newCheckpoint() {
        return newCheckpoint;
    }

    @Override
    public String toString() {
        return "ConsistencyProof[" + oldSize + " -> " + newSize + ", " + path.size() + " hashes]";
    }
}
