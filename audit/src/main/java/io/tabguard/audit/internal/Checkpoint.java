package io.tabguard.audit.internal;

import java.util.Base64;

/**
 * A C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) body: origin line, decimal tree size,
 * base64 root hash, and (format v2) one extension line that commits to the checkpoint before it,
 * each line ending in a newline. The log signs it as a signed note whose key name equals the origin.
 * Immutable and thread-safe.
 *
 * <p>The extension line is {@code tabguard-audit-v2 prev <size> <base64 root>}: the tree size and
 * root of the previous checkpoint of the same log ({@code 0} and the empty-tree root for the first).
 * A verifier that knows the previous checkpoint therefore notices when one was deleted. Format v1
 * checkpoints (written before the extension existed) have no extension line; {@link #predecessor()}
 * is then {@code null}.
 *
 * @param origin      the log's identity (the signing key's name)
 * @param treeSize    number of records covered
 * @param root        the RFC 9162 Merkle Tree Hash of those records' hashes
 * @param predecessor the previous checkpoint's size and root, or {@code null} for a v1 checkpoint
 */
public record Checkpoint(String origin, long treeSize, byte[] root, Predecessor predecessor) {
    /** The first word of the v2 extension line. */
    public static final String EXTENSION_V2 = "tabguard-audit-v2";
    private static final Base64.Encoder B64 = Base64.getEncoder();

    /**
     * The checkpoint a v2 checkpoint commits to.
     *
     * @param treeSize its tree size (0 before the first checkpoint)
     * @param root     its root (the empty-tree root before the first checkpoint)
     */
    public record Predecessor(long treeSize, byte[] root) {
        /** The predecessor of a log's first checkpoint. */
        public static Predecessor none() {
            return new Predecessor(0, CanonicalEncoding.sha256().digest());
        }

        /** True if this names the checkpoint of {@code size} records with root {@code r}. */
        public boolean is(long size, byte[] r) {
            return treeSize == size && java.security.MessageDigest.isEqual(root, r);
        }
    }

    /** The note text: {@code origin\nsize\nbase64(root)\n}, then the extension line if v2. */
    public String text() {
        String body = origin + "\n" + treeSize + "\n" + B64.encodeToString(root) + "\n";
        if (predecessor == null) {
            return body;
        }
        return body + EXTENSION_V2 + " prev " + predecessor.treeSize() + " " + B64.encodeToString(predecessor.root())
                + "\n";
    }

    /** Signs the text with {@code key}: the checkpoint's signed-note form. */
    public String sign(NoteKey key) {
        return key.signNote(text());
    }

    /**
     * Verifies {@code note} with {@code key} and parses its text.
     *
     * @throws IllegalArgumentException if the signature does not verify, the origin is not the key's
     *                                  name, or the text is not exactly a checkpoint of format v1 or v2
     */
    public static Checkpoint open(String note, NoteKey key) {
        String text = key.openNote(note);
        return parseText(text, key.name());
    }

    /**
     * Parses a checkpoint body without checking any signature (for tools, never for trust).
     *
     * @throws IllegalArgumentException if the note or its text is malformed
     */
    public static Checkpoint parseUnverified(String note) {
        return parseText(NoteKey.noteText(note), null);
    }

    private static Checkpoint parseText(String text, String expectedOrigin) {
        if (text.isEmpty() || !text.endsWith("\n")) {
            throw new IllegalArgumentException("a checkpoint's text ends in a newline");
        }
        String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
        if (lines.length != 3 && lines.length != 4) {
            throw new IllegalArgumentException(
                    "a checkpoint has three lines (origin, size, root) and at most one extension line");
        }
        if (lines[0].isEmpty() || (expectedOrigin != null && !lines[0].equals(expectedOrigin))) {
            throw new IllegalArgumentException("the checkpoint's origin is not this log's key name");
        }
        long n = parseSize(lines[1], "tree size");
        byte[] root = parseRoot(lines[2], "root hash");
        Predecessor prev = null;
        if (lines.length == 4) {
            String[] ext = lines[3].split(" ", -1);
            if (ext.length != 4 || !ext[0].equals(EXTENSION_V2) || !ext[1].equals("prev")) {
                throw new IllegalArgumentException("the extension line is not '" + EXTENSION_V2
                        + " prev <size> <base64 root>'");
            }
            prev = new Predecessor(parseSize(ext[2], "predecessor size"), parseRoot(ext[3], "predecessor root"));
            if (prev.treeSize() >= n) {
                throw new IllegalArgumentException("the predecessor is not smaller than the checkpoint");
            }
        }
        return new Checkpoint(lines[0], n, root, prev);
    }

    private static long parseSize(String size, String what) {
        if (size.isEmpty() || size.length() > 18 || !size.chars().allMatch(c -> c >= '0' && c <= '9')
                || (size.length() > 1 && size.charAt(0) == '0')) {
            throw new IllegalArgumentException("the " + what + " is not a canonical decimal number below 10^18");
        }
        return Long.parseLong(size);
    }

    private static byte[] parseRoot(String b64, String what) {
        byte[] root;
        try {
            root = Base64.getDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the " + what + " is not base64");
        }
        if (root.length != 32 || !B64.encodeToString(root).equals(b64)) {
            throw new IllegalArgumentException("the " + what + " is not 32 bytes in canonical base64");
        }
        return root;
    }
}
