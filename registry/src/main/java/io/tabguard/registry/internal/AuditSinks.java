package io.tabguard.registry.internal;

import io.tabguard.audit.AuditSink;
import io.tabguard.audit.SecurityEvent;

import java.nio.file.Path;
import java.util.Optional;

/** Opens the audit sink a registry writes to when the caller did not supply one. */
public final class AuditSinks {
    private AuditSinks() {}

    public static AuditSink open(Optional<Path> logFile) {
        System.Logger logger = System.getLogger("io.tabguard.registry");
        return new AuditSink() {
            @Override
            public void record(SecurityEvent event) {
                logger.log(System.Logger.Level.DEBUG, event::toString);
            }

            @Override
            public void close() {
            }
        };
    }
}
