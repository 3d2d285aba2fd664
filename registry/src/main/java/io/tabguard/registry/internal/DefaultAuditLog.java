package io.tabguard.registry.internal;

import io.tabguard.audit.AuditLog;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Opens the audit log a registry writes to when the caller supplied no sink: the given file, else a new
 * file in the default directory — the system property {@code tabguard.audit.dir}, else the environment
 * variable {@code TABGUARD_AUDIT_DIR}, else {@code ~/.tabguard/audit}.
 */
public final class DefaultAuditLog {
    private static final AtomicInteger OPENED = new AtomicInteger();

    private DefaultAuditLog() {}

    /** Opens {@code logFile} (or a new default file), signing with {@code keyFile} if given, else {@code <log>.key}. */
    public static AuditLog open(Optional<Path> logFile, Optional<Path> keyFile) {
        Path file = logFile.orElseGet(DefaultAuditLog::defaultFile);
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            AuditLog.Options options = AuditLog.Options.defaults();
            return AuditLog.open(file, keyFile.map(options::withKeyFile).orElse(options));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the audit log " + file, e);
        }
    }

    public static Path defaultDirectory() {
        String configured = System.getProperty("tabguard.audit.dir");
        if (configured == null || configured.isBlank()) {
            configured = System.getenv("TABGUARD_AUDIT_DIR");
        }
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        return Path.of(System.getProperty("user.home"), ".tabguard", "audit");
    }

    private static Path defaultFile() {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        return defaultDirectory().resolve("registry-" + stamp + "-" + ProcessHandle.current().pid()
                + "-" + OPENED.incrementAndGet() + ".jsonl");
    }
}
