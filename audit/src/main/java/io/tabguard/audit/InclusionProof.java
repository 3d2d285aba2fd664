package io.tabguard.audit;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * An RFC 9162 §2.1.3 inclusion proof: that the record with hash {@link #recordHash()} is record
 * {@link #leafIndex()} (its seq) of the log's Merkle tree of {@link #treeSize()} records, together
 * with the signed checkpoint (C2SP signed note) for that tree size when known. Check it with
 * {@link AuditVerifier#verifyInclusion(InclusionProof, java.nio.file.Path)} or
 * {@link AuditVerifier#verifyInclusion(InclusionProof, byte[])}.
 *
 * <p>Immutable and thread-safe: arrays are copied in and out.
 *
 * <p>Refuses (constructor): a {@code null} hash or path, a hash or path element that is not 32 bytes,
 * an index outside {@code [0, treeSize)} ({@link IllegalArgumentException}, {@link NullPointerException}).
 */
public final class InclusionProof {
    private final long leafIndex;
    private final long treeSize;
    private final byte[] recordHash;
    private final List<byte[]> path;
    private final String checkpoint;

    /**
     * A proof, as {@link AuditVerifier#inclusionProof(java.nio.file.Path, long)} makes one or as read back
     * from elsewhere; every array is copied.
     *
     * @param leafIndex  the record's seq
     * @param treeSize   the number of records of the tree the proof is for
     * @param recordHash the record's {@code hash} (the leaf data; the leaf hash is SHA-256(0x00 || it))
     * @param path       the audit path, bottom to top
     * @param checkpoint the signed checkpoint note for {@code treeSize}, or {@code null}
     * @throws IllegalArgumentException if {@code leafIndex} is outside {@code [0, treeSize)} or a hash is not 32 bytes
     */
    public InclusionProof(long leafIndex, long treeSize, byte[] recordHash, List<byte[]> path, String checkpoint) {
        Objects.requireNonNull(recordHash, "recordHash");
        Objects.requireNonNull(path, "path");
        if (leafIndex < 0 || leafIndex >= treeSize) {
            throw new IllegalArgumentException("leafIndex must be in [0, treeSize)");
        }
        if (recordHash.length != 32) {
            throw new IllegalArgumentException("recordHash must be 32 bytes");
        }
        List<byte[]> copy = new ArrayList<>(path.size());
        for (byte[] p : path) {
            if (p == null || p.length != 32) {
                throw new IllegalArgumentException("every path element must be 32 bytes");
            }
            copy.add(p.clone());
        }
        this.leafIndex = leafIndex;
        this.treeSize = treeSize;
        this.recordHash = recordHash.clone();
        this.path = copy;
        this.checkpoint = checkpoint;
    }

    /**
     * The record's seq: its leaf index in the tree.
     *
     * @return the leaf index
     */
    public long leafIndex() {
        return leafIndex;
    }

    /**
     * The number of records in the tree the proof is for.
     *
     * @return the tree size
     */
    public long treeSize() {
        return treeSize;
    }

    /**
     * A copy of the record's hash.
     *
     * @return 32 bytes
     */
    public byte[] recordHash() {
        return recordHash.clone();
    }

    /**
     * A copy of the audit path, bottom to top.
     *
     * @return the path's 32-byte hashes
     */
    public List<byte[]> path() {
        List<byte[]> out = new ArrayList<>(path.size());
        for (byte[] p : path) {
            out.add(p.clone());
        }
        return out;
    }

    /**
     * The signed checkpoint note for {@link #treeSize()}, or {@code null}.
     *
     * @return the note text
     */
    public String checkpoint() {
        return checkpoint;
    }

    @Override
    public String toString() {
        HexFormat hex = HexFormat.of();
        StringBuilder b = new StringBuilder("InclusionProof[seq=").append(leafIndex).append(", treeSize=")
                .append(treeSize).append(", recordHash=").append(hex.formatHex(recordHash)).append(", path=[");
        for (int i = 0; i < path.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(hex.formatHex(path.get(i)));
        }
        return b.append("]]").toString();
    }
}
