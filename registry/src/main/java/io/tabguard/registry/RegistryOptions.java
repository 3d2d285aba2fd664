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
 * @param maxNestedDispatches how many dispatches of this registry one thread may nest (a callback that
 *                  calls back in through native code) before the next is refused as
 *                  {@code DISPATCH_TOO_DEEP}; default {@value #DEFAULT_MAX_NESTED_DISPATCHES}
 */
public record RegistryOptions(RefusalPolicy refusalPolicy, CheckMode checkMode, Optional<Path> auditLog,
                              Optional<AuditSink> auditSink, List<String> allowedLibraries, int maxNestedDispatches) {

    /**
     * Nesting a recursion through native code may reach before it is refused. A stack overflow at the
     * entry of an upcall is beyond any handler and ends the JVM, so the guard refuses while there is still
     * stack: at a few KB a level, 32 levels fit well inside a 1 MB Java thread stack.
     */
    public static final int DEFAULT_MAX_NESTED_DISPATCHES = 32;

    public RegistryOptions {
        if (maxNestedDispatches < 1) {
            throw new IllegalArgumentException("maxNestedDispatches must be at least 1");
        }
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
        private int maxNestedDispatches = DEFAULT_MAX_NESTED_DISPATCHES;

        private Builder() {}

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

        /** Dispatches one thread may nest before the next is refused (at least 1; see the record's description). */
        public Builder maxNestedDispatches(int levels) {
            if (levels < 1) {
                throw new IllegalArgumentException("maxNestedDispatches must be at least 1");
            }
            this.maxNestedDispatches = levels;
            return this;
        }

        public RegistryOptions build() {
            return new RegistryOptions(refusalPolicy, checkMode, Optional.ofNullable(auditLog),
                    Optional.ofNullable(auditSink), allowedLibraries, maxNestedDispatches);
        }
    }
}
