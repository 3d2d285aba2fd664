package io.tabguard.audit.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * The log's signing key ({@code <log>.key}, C2SP signer-key text, created with mode 600 where the
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

    /**
     * Loads the log's signing key, or creates one if neither key nor log content exists.
     *
     * @throws IOException if the key file is unreadable or malformed, if the log has content but no
     *                     key (a new key could never verify the old records), or if the .pub beside it
     *                     is not this key's verification key
     */
    public static NoteKey loadOrCreate(Path log, SecureRandom random) throws IOException {
        Path keyFile = keyPath(log);
        NoteKey key;
        if (Files.exists(keyFile)) {
            try {
                key = NoteKey.parseSigner(Files.readString(keyFile, StandardCharsets.US_ASCII));
            } catch (IllegalArgumentException e) {
                throw new IOException(keyFile + " is not a Tabguard audit signing key: " + e.getMessage());
            }
            warnIfOpen(keyFile);
        } else {
            if (Files.exists(log) && Files.size(log) > 0) {
                throw new IOException(log + " has records but its signing key " + keyFile + " is missing;"
                        + " refusing to sign it with a new key (restore the key, or move the log aside)");
            }
            byte[] id = new byte[8];
            random.nextBytes(id);
            key = NoteKey.generate(NAME_PREFIX + HexFormat.of().formatHex(id), random);
            writeSecret(keyFile, key.signerText() + "\n");
            OperatorLog.info("created audit signing key " + key.verifierText() + " in " + keyFile);
        }
        Path pub = pubPath(log);
        if (Files.exists(pub)) {
            String text = Files.readString(pub, StandardCharsets.US_ASCII).strip();
            if (!text.equals(key.verifierText())) {
                throw new IOException(pub + " is not the verification key of " + keyFile
                        + "; refusing to write a log that it would not verify");
            }
        } else {
            writePublic(pub, key);
        }
        return key;
    }

    /** Writes {@code key}'s verification key to {@code target}, replacing any file there. */
    public static void writePublic(Path target, NoteKey key) throws IOException {
        Files.writeString(target, key.verifierText() + "\n", StandardCharsets.US_ASCII);
    }

    /** Reads a verification key file. */
    public static NoteKey readPublic(Path pub) throws IOException {
        try {
            return NoteKey.parseVerifier(Files.readString(pub, StandardCharsets.US_ASCII));
        } catch (IllegalArgumentException e) {
            throw new IOException(pub + " is not a verification key: " + e.getMessage());
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
