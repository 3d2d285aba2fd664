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
 */
public record RegistryOptions(RefusalPolicy refusalPolicy, CheckMode checkMode, Optional<Path> auditLog,
                              Optional<AuditSink> auditSink, List<String> allowedLibraries) {

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

        /**
         * Lets tables bind slots ({@link TableBuilder#bindNative}) to functions of this library ({@code dlopen}
         * name or path, e.g. {@code libz.so.1}), loaded when the registry opens and kept loaded until it closes.
         *
         * <p>A listed library contributes exactly the functions <em>defined in that very file</em>: the names
         * whose {@code .dynsym} entry is a defined {@code STT_FUNC} of non-zero size, at whose exact start the
         * name resolves, lying in the file's executable code outside {@code .plt}, {@code .plt.sec},
         * {@code .plt.got}, {@code .iplt}, {@code .got} and {@code .got.plt}, and not inside another exported
         * function. Nothing of its dependencies: with only {@code libz.so.1} listed, {@code deflate},
         * {@code inflate} or {@code crc32} bind, while {@code system}, {@code execve}, {@code mprotect} and
         * {@code dlopen} (found through libz's dependency libc) are refused; list {@code libc.so.6} to bind
         * those. Also refused: data objects, labels, IFUNCs (their resolved address is no symbol's start),
         * and symbol versions other than the default one {@code dlsym} returns.
         */
        public Builder allowLibrary(String nameOrPath) {
            allowedLibraries.add(Objects.requireNonNull(nameOrPath));
            return this;
        }

        public RegistryOptions build() {
            return new RegistryOptions(refusalPolicy, checkMode, Optional.ofNullable(auditLog),
                    Optional.ofNullable(auditSink), allowedLibraries);
        }
    }
}
