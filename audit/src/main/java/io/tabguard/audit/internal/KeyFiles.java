package io.tabguard.audit.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * The log's signing key ({@code <log>.key} unless the log was given a key file elsewhere, C2SP signer-key text, created with mode 600 where the
 * file system is POSIX) and its verification key ({@code <log>.pub}, C2SP verifier-key text).
 * Stateless and thread-safe. Never logs key material.
 */
public final class KeyFiles {
    /** Key names are {@code tabguard.io/audit/} followed by 16 random hex digits. */
    public static final String NAME_PREFIX = "tabguard.io/audit/";

    private KeyFiles() {
    }

    public static Path keyPath(Path log) {
        return log.resolveSibling(log.getFileName() + ".key");
    }

    public static Path pubPath(Path log) {
        return log.resolveSibling(log.getFileName() + ".pub");
    }

    /** Longest key file read, in bytes: a key is one short line; anything longer is refused unread. */
    public static final int MAX_KEY_FILE = 4096;

    /**
     * Loads the signing key from {@code keyFile}, or creates one there if neither the key nor log
     * content exists. Writes nothing else: the caller writes the {@code .pub} once the log is accepted.
     *
     * @throws IOException if the key file is unreadable, not a regular file, too long or malformed, if
     *                     the log has content but no key (a new key could never verify the old records),
     *                     or if the .pub beside the log is not this key's verification key
     */
    public static NoteKey loadOrCreate(Path log, Path keyFile, SecureRandom random) throws IOException {
        NoteKey key;
        if (Files.exists(keyFile)) {
            try {
                key = NoteKey.parseSigner(readSmall(keyFile, "signing key"));
            } catch (IllegalArgumentException e) {
                throw new IOException(keyFile + " is not a Tabguard audit signing key: " + e.getMessage());
            }
            warnIfOpen(keyFile);
        } else {
            if (Files.exists(log) && Files.size(log) > 0) {
                throw new IOException(log + " has records but its signing key " + keyFile + " is missing;"
                        + " refusing to sign it with a new key (restore the key, or move the log aside)");
            }
            Path parent = keyFile.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            byte[] id = new byte[8];
            random.nextBytes(id);
            key = NoteKey.generate(NAME_PREFIX + HexFormat.of().formatHex(id), random);
            writeSecret(keyFile, key.signerText() + "\n");
            OperatorLog.info("created audit signing key " + key.verifierText() + " in " + keyFile);
        }
        Path pub = pubPath(log);
        if (Files.exists(pub)) {
            String text = readSmall(pub, "verification key").strip();
            if (!text.equals(key.verifierText())) {
                throw new IOException(pub + " is not the verification key of " + keyFile
                        + "; refusing to write a log that it would not verify");
            }
        }
        return key;
    }

    /** Writes {@code key}'s verification key to {@code target}, replacing any file there. */
    public static void writePublic(Path target, NoteKey key) throws IOException {
        Files.writeString(target, key.verifierText() + "\n", StandardCharsets.US_ASCII);
    }

    /** Writes the .pub beside {@code log} unless it exists (loadOrCreate checked that it matches). */
    public static void writePublicIfAbsent(Path log, NoteKey key) throws IOException {
        Path pub = pubPath(log);
        if (!Files.exists(pub)) {
            writePublic(pub, key);
        }
    }

    /**
     * Reads a verification key file.
     *
     * @throws IOException if it is not a regular file, is longer than {@value #MAX_KEY_FILE} bytes, or
     *                     is not a C2SP Ed25519 verifier key
     */
    public static NoteKey readPublic(Path pub) throws IOException {
        try {
            return NoteKey.parseVerifier(readSmall(pub, "verification key"));
        } catch (IllegalArgumentException e) {
            throw new IOException(pub + " is not a verification key: " + e.getMessage());
        }
    }

    /**
     * The UTF-8 content of a small regular file, read with a bound: a directory, a device such as
     * {@code /dev/zero}, a FIFO or a file over {@value #MAX_KEY_FILE} bytes is refused, never read
     * to its end.
     */
    public static String readSmall(Path file, String what) throws IOException {
        requireRegularFile(file, what);
        byte[] b;
        try (InputStream in = Files.newInputStream(file)) {
            b = in.readNBytes(MAX_KEY_FILE + 1);
        }
        if (b.length > MAX_KEY_FILE) {
            throw new IOException(file + " is longer than " + MAX_KEY_FILE + " bytes: not a " + what);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IOException(file + " is not UTF-8 text: not a " + what);
        }
    }

    /**
     * Refuses anything but an existing regular file (following links): a missing file, a directory,
     * {@code /dev/null}, {@code /dev/zero}, a FIFO or a socket, each with its own message.
     */
    public static void requireRegularFile(Path file, String what) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no such " + what);
        }
        if (a.isDirectory()) {
            throw new IOException(file + " is a directory, not a " + what);
        }
        if (!a.isRegularFile()) {
            throw new IOException(file + " is not a regular file (a device, FIFO or socket), not a " + what);
        }
    }

    private static void writeSecret(Path file, String text) throws IOException {
        boolean posix = Files.getFileStore(file.toAbsolutePath().getParent())
                .supportsFileAttributeView(PosixFileAttributeView.class);
        FileAttribute<?>[] attrs = posix
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
                : new FileAttribute<?>[0];
        try (FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                attrs)) {
            ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        } catch (FileAlreadyExistsException e) {
            throw new IOException(file + " appeared while creating it; another process is opening this log", e);
        }
    }

    private static void warnIfOpen(Path keyFile) {
        try {
            if (Files.getFileStore(keyFile).supportsFileAttributeView(PosixFileAttributeView.class)) {
                Set<PosixFilePermission> p = Files.getPosixFilePermissions(keyFile);
                p.retainAll(Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                        PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE));
                if (!p.isEmpty()) {
                    OperatorLog.warn("audit signing key " + keyFile + " is accessible to group or others "
                            + PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))
                            + "; it should be mode 600", null);
                }
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }
}
