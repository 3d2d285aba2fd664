package io.tabguard.audit.internal;

import java.util.Base64;

/**
 * A C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) body: origin line, decimal tree size,
 * base64 root hash, each ending in a newline, with no extension lines. The log signs it as a signed
 * note whose key name equals the origin. Immutable and thread-safe.
 *
 * @param origin   the log's identity (the signing key's name)
 * @param treeSize number of records covered
 * @param root     the RFC 9162 Merkle Tree Hash of those records' hashes
 */
public record Checkpoint(String origin, long treeSize, byte[] root) {

    /** The note text: {@code origin\nsize\nbase64(root)\n}. */
    public String text() {
        return origin + "\n" + treeSize + "\n" + Base64.getEncoder().encodeToString(root) + "\n";
    }

    /** Signs the text with {@code key}: the checkpoint's signed-note form. */
    public String sign(NoteKey key) {
        return key.signNote(text());
    }

    /**
     * Verifies {@code note} with {@code key} and parses its text.
     *
     * @throws IllegalArgumentException if the signature does not verify, the origin is not the key's
     *                                  name, or the text is not exactly a three-line checkpoint
     */
    public static Checkpoint open(String note, NoteKey key) {
        String text = key.openNote(note);
        return parseText(text, key.name());
    }

    /** Parses a checkpoint body without checking any signature (for tools, never for trust). */
    public static Checkpoint parseUnverified(String note) {
        int split = note.lastIndexOf("\n\n");
        if (split < 0) {
            throw new IllegalArgumentException("the note has no blank line before its signatures");
        }
        return parseText(note.substring(0, split + 1), null);
    }

    private static Checkpoint parseText(String text, String expectedOrigin) {
        String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
        if (lines.length != 3) {
            throw new IllegalArgumentException("a checkpoint has exactly three lines: origin, size, root");
        }
        if (expectedOrigin != null && !lines[0].equals(expectedOrigin)) {
            throw new IllegalArgumentException("the checkpoint's origin is not this log's key name");
        }
        String size = lines[1];
        if (size.isEmpty() || size.length() > 19 || !size.chars().allMatch(c -> c >= '0' && c <= '9')
                || (size.length() > 1 && size.charAt(0) == '0')) {
            throw new IllegalArgumentException("the tree size is not a canonical decimal number");
        }
        long n;
        try {
            n = Long.parseLong(size);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the tree size is out of range");
        }
        byte[] root;
        try {
            root = Base64.getDecoder().decode(lines[2]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the root hash is not base64");
        }
        if (root.length != 32 || !Base64.getEncoder().encodeToString(root).equals(lines[2])) {
            throw new IllegalArgumentException("the root hash is not 32 bytes in canonical base64");
        }
        return new Checkpoint(lines[0], n, root);
    }
}
