package io.tabguard.registry;

import io.tabguard.audit.AuditSink;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * How a {@link Registry} behaves: refusal policy, check mode, where its audit trail goes, and which
 * native libraries its tables may point into. Immutable and thread-safe; build with {@link #builder()}.
 *
 * @param auditLog  the audit log file, or empty for the default place (see the README)
 * @param auditSink a sink the caller owns and closes, which takes precedence over {@code auditLog}
 * @param writableTables every table is built as {@link TableBuilder#writable()} (for test harnesses that
 *                       play a native writer); by default tables are read-only to native code
 */
public record RegistryOptions(RefusalPolicy refusalPolicy, CheckMode checkMode, Optional<Path> auditLog,
                              Optional<AuditSink> auditSink, List<String> allowedLibraries, boolean writableTables) {

    public RegistryOptions {
        Objects.requireNonNull(refusalPolicy);
        Objects.requireNonNull(checkMode);
        Objects.requireNonNull(auditLog);
        Objects.requireNonNull(auditSink);
        allowedLibraries = List.copyOf(allowedLibraries);
    }

    public static RegistryOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Not thread-safe. */
    public static final class Builder {
        private RefusalPolicy refusalPolicy = RefusalPolicy.REFUSE_AND_CONTINUE;
        private CheckMode checkMode = CheckMode.FAST;
        private Path auditLog;
        private AuditSink auditSink;
        private final List<String> allowedLibraries = new ArrayList<>();
        private boolean writableTables;

        private Builder() {}

        /**
         * Builds every table of the registry in memory native code can write (see {@link TableBuilder#writable()}):
         * tampering is then detected at the next dispatch instead of prevented. For test harnesses.
         */
        public Builder writableTables() {
            this.writableTables = true;
            return this;
        }

        public Builder refusalPolicy(RefusalPolicy policy) {
            this.refusalPolicy = Objects.requireNonNull(policy);
            return this;
        }

        public Builder checkMode(CheckMode mode) {
            this.checkMode = Objects.requireNonNull(mode);
            return this;
        }

        public Builder auditLog(Path file) {
            this.auditLog = Objects.requireNonNull(file);
            return this;
        }

        /** Events go to {@code sink}, which the caller keeps owning (the registry does not close it). */
        public Builder auditSink(AuditSink sink) {
            this.auditSink = Objects.requireNonNull(sink);
            return this;
        }

        /** Lets tables bind slots to functions of this library ({@code dlopen} name or path, e.g. {@code libz.so.1}). */
        public Builder allowLibrary(String nameOrPath) {
            allowedLibraries.add(Objects.requireNonNull(nameOrPath));
            return this;
        }

        public RegistryOptions build() {
            return new RegistryOptions(refusalPolicy, checkMode, Optional.ofNullable(auditLog),
                    Optional.ofNullable(auditSink), allowedLibraries, writableTables);
        }
    }
}
