package io.tabguard.audit.internal;

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * RFC 9162 (Certificate Transparency v2) Merkle Tree Hash, inclusion and consistency proofs and their
 * verification.
 * The static methods are stateless and thread-safe; a {@link Frontier} is not thread-safe.
 *
 * <p>Leaf hash = SHA-256(0x00 || leaf data); node hash = SHA-256(0x01 || left || right); a tree of
 * n &gt; 1 leaves splits at k, the largest power of two smaller than n (RFC 9162 §2.1.1). The root of
 * the empty tree is SHA-256 of the empty string. In the audit log the leaf data of record i is its
 * 32-byte record hash.
 */
public final class Merkle {
    private Merkle() {
    }

    /** SHA-256(0x00 || data). */
    public static byte[] leafHash(byte[] data) {
        MessageDigest d = CanonicalEncoding.sha256();
        d.update((byte) 0);
        d.update(data);
        return d.digest();
    }

    /** SHA-256(0x01 || left || right). */
    public static byte[] nodeHash(byte[] left, byte[] right) {
        MessageDigest d = CanonicalEncoding.sha256();
        d.update((byte) 1);
        d.update(left);
        d.update(right);
        return d.digest();
    }

    /** The largest power of two strictly smaller than {@code n} (n &gt; 1). */
    static long split(long n) {
        return Long.highestOneBit(n - 1);
    }

    /** MTH of {@code leafHashes[from, to)} (already leaf-hashed). */
    public static byte[] root(List<byte[]> leafHashes, int from, int to) {
        int n = to - from;
        if (n == 0) {
            return CanonicalEncoding.sha256().digest();
        }
        if (n == 1) {
            return leafHashes.get(from);
        }
        int k = (int) split(n);
        return nodeHash(root(leafHashes, from, from + k), root(leafHashes, from + k, to));
    }

    /** RFC 9162 §2.1.3.1 PATH(m, D[0:n]) over leaf hashes. */
    public static List<byte[]> inclusionPath(List<byte[]> leafHashes, int m, int n) {
        if (m < 0 || m >= n || n > leafHashes.size()) {
            throw new IllegalArgumentException("leaf " + m + " is not in a tree of size " + n);
        }
        List<byte[]> path = new ArrayList<>();
        path(leafHashes, m, 0, n, path);
        return path;
    }

    private static void path(List<byte[]> leaves, int m, int from, int to, List<byte[]> out) {
        int n = to - from;
        if (n == 1) {
            return;
        }
        int k = (int) split(n);
        if (m < k) {
            path(leaves, m, from, from + k, out);
            out.add(root(leaves, from + k, to));
        } else {
            path(leaves, m - k, from + k, to, out);
            out.add(root(leaves, from, from + k));
        }
    }

    /**
     * RFC 9162 §2.1.3.2: true if {@code path} proves that the leaf with data {@code leafData} is leaf
     * {@code index} of a tree of {@code size} leaves with root {@code root}.
     */
    public static boolean verifyInclusion(long index, long size, byte[] leafData, List<byte[]> path, byte[] root) {
        if (index < 0 || index >= size || leafData == null || root == null || root.length != 32) {
            return false;
        }
        long fn = index;
        long sn = size - 1;
        byte[] r = leafHash(leafData);
        for (byte[] p : path) {
            if (p == null || p.length != 32 || sn == 0) {
                return false;
            }
            if ((fn & 1) == 1 || fn == sn) {
                r = nodeHash(p, r);
                if ((fn & 1) == 0) {
                    while ((fn & 1) == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = nodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && MessageDigest.isEqual(r, root);
    }

    /** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) over leaf hashes: a consistency proof from size m to size n. */
    public static List<byte[]> consistencyPath(List<byte[]> leafHashes, int m, int n) {
        if (m < 0 || m > n || n > leafHashes.size()) {
            throw new IllegalArgumentException("no consistency proof from size " + m + " to size " + n);
        }
        List<byte[]> out = new ArrayList<>();
        if (m > 0 && m < n) {
            subproof(leafHashes, m, 0, n, true, out);
        }
        return out;
    }

    private static void subproof(List<byte[]> leaves, int m, int from, int to, boolean whole, List<byte[]> out) {
        int n = to - from;
        if (m == n) {
            if (!whole) {
                out.add(root(leaves, from, to));
            }
            return;
        }
        int k = (int) split(n);
        if (m <= k) {
            subproof(leaves, m, from, from + k, whole, out);
            out.add(root(leaves, from + k, to));
        } else {
            subproof(leaves, m - k, from + k, to, false, out);
            out.add(root(leaves, from, from + k));
        }
    }

    /**
     * RFC 9162 §2.1.4.2: true if {@code path} proves that the tree of {@code first} leaves with root
     * {@code firstRoot} is a prefix of the tree of {@code second} leaves with root {@code secondRoot}.
     * Equal sizes need an empty path and equal roots; size 0 is a prefix of every tree. Never throws.
     */
    public static boolean verifyConsistency(long first, long second, byte[] firstRoot, byte[] secondRoot,
                                            List<byte[]> path) {
        if (first < 0 || second < first || firstRoot == null || secondRoot == null || path == null
                || firstRoot.length != 32 || secondRoot.length != 32) {
            return false;
        }
        for (byte[] p : path) {
            if (p == null || p.length != 32) {
                return false;
            }
        }
        if (first == second) {
            return path.isEmpty() && MessageDigest.isEqual(firstRoot, secondRoot);
        }
        if (first == 0) {
            return path.isEmpty();
        }
        if (path.isEmpty()) {
            return false;
        }
        List<byte[]> c = new ArrayList<>(path.size() + 1);
        if (Long.bitCount(first) == 1) {
            c.add(firstRoot);
        }
        c.addAll(path);
        long fn = first - 1;
        long sn = second - 1;
        while ((fn & 1) == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        byte[] fr = c.getFirst();
        byte[] sr = c.getFirst();
        for (int i = 1; i < c.size(); i++) {
            if (sn == 0) {
                return false;
            }
            byte[] x = c.get(i);
            if ((fn & 1) == 1 || fn == sn) {
                fr = nodeHash(x, fr);
                sr = nodeHash(x, sr);
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = nodeHash(sr, x);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && MessageDigest.isEqual(fr, firstRoot) && MessageDigest.isEqual(sr, secondRoot);
    }

    /**
     * The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending is
     * O(log n) and the root of the current tree is computed from it in O(log n) without keeping the
     * leaves. Not thread-safe.
     */
    public static final class Frontier {
        private final List<byte[]> stack = new ArrayList<>();
        private long size;

        /** Adds a leaf whose data is {@code leafData}. */
        public void append(byte[] leafData) {
            byte[] h = leafHash(leafData);
            long s = size;
            while ((s & 1) == 1) {
                h = nodeHash(stack.removeLast(), h);
                s >>= 1;
            }
            stack.add(h);
            size++;
        }

        /** Number of leaves. */
        public long size() {
            return size;
        }

        /** MTH of the leaves appended so far. */
        public byte[] root() {
            if (stack.isEmpty()) {
                return CanonicalEncoding.sha256().digest();
            }
            byte[] h = stack.getLast();
            for (int i = stack.size() - 2; i >= 0; i--) {
                h = nodeHash(stack.get(i), h);
            }
            return h;
        }

        /** An independent copy. */
        public Frontier copy() {
            Frontier f = new Frontier();
            for (byte[] h : stack) {
                f.stack.add(Arrays.copyOf(h, h.length));
            }
            f.size = size;
            return f;
        }
    }
}
