package io.tabguard.audit;

import io.tabguard.audit.internal.KeyFiles;
import io.tabguard.audit.internal.LogScanner;
import io.tabguard.audit.internal.NoteKey;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Shared helpers: a mixed event stream, and verification of in-memory variants of a log. */
final class Fixtures {
    private Fixtures() {
    }

    static final String[] VIOLATIONS = {"SIGNATURE", "CHECKSUM", "FOREIGN_SLOT", null, "TRUNCATED"};

    /** Event {@code i} of a deterministic mix of every type, with awkward strings now and then. */
    static SecurityEvent event(int i) {
        EventType[] types = EventType.values();
        EventType t = types[i % types.length];
        String schema = i % 7 == 0 ? null : "schema-" + (i % 5);
        String violation = t == EventType.TABLE_REFUSED ? VIOLATIONS[i % VIOLATIONS.length] : null;
        String detail = switch (i % 6) {
            case 0 -> null;
            case 1 -> "quote \" backslash \\ slash / tab\t newline\n";
            case 2 -> "unicode \u00e9\u4e2d\ud83d\ude00 em dash \u2014";
            case 3 -> "bidi \u202e override and \u0007 bell";
            default -> "event " + i;
        };
        return SecurityEvent.of(t, 1000 + i, schema, 0xABCD_0000_0000L + i, violation,
                violation != null ? i * 8L : -1, detail);
    }

    /** Writes {@code events} events and closes the log. */
    static Path writeLog(Path dir, String name, int events, int checkpointEvery) throws IOException {
        Path log = dir.resolve(name);
        AuditLog.Options o = AuditLog.Options.defaults().withCheckpointEvery(checkpointEvery)
                .withFsync(AuditLog.FsyncPolicy.NEVER);
        try (AuditLog a = AuditLog.open(log, o)) {
            for (int i = 0; i < events; i++) {
                a.record(event(i));
            }
        }
        return log;
    }

    static List<String> lines(Path log) {
        try {
            return Files.readAllLines(log, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static NoteKey pub(Path log) throws IOException {
        return KeyFiles.readPublic(KeyFiles.pubPath(log));
    }

    /** Verifies lines (each followed by a newline) in memory. */
    static VerificationReport verify(List<String> lines, NoteKey key) {
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append(l).append('\n');
        }
        return verifyBytes(b.toString().getBytes(StandardCharsets.UTF_8), key);
    }

    static VerificationReport verifyBytes(byte[] content, NoteKey key) {
        try {
            return LogScanner.scan(new ByteArrayInputStream(content), key, false).report();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean isRecord(String line) {
        return line.startsWith("{\"seq\":");
    }

    static boolean isCheckpoint(String line) {
        return line.startsWith("{\"checkpoint\":");
    }
}
