package io.tabguard.registry;

import io.tabguard.audit.AuditSink;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * How a {@link Registry} behaves: refusal policy, check mode, where its audit trail goes, which native
 * libraries its tables may point into, and whether it may run on the class path. Immutable and
 * thread-safe; build with {@link #builder()}.
 *
 * <p>Refuses (with {@link NullPointerException}) a {@code null} component; an allow-listed library that
 * cannot be loaded is refused later, by {@link Registry#open(RegistryOptions)}.
 *
 * @param refusalPolicy    what a refused call does besides returning the slot's refusal value
 * @param checkMode        how much is checked before every dispatch
 * @param auditLog         the audit log file, or empty for the default place (see the README)
 * @param auditSink        a sink the caller owns and closes, which takes precedence over {@code auditLog}
 * @param allowedLibraries the libraries whose functions tables may hold ({@code dlopen} names or paths)
 * @param classPathAllowed whether {@link Registry#open(RegistryOptions)} may run with Tabguard on the class
 *                         path, where its internals are not encapsulated (see {@link Builder#allowClassPath()})
 * @param maxNestedDispatches how many dispatches of this registry one thread may nest (a callback that
 *                         calls back in through native code) before the next is refused as
 *                         {@code DISPATCH_TOO_DEEP}; default {@value #DEFAULT_MAX_NESTED_DISPATCHES}
 * @param auditKeyFile     the audit log's signing key file, or empty for {@code <log>.key} beside the log
 * @param writableTables   every table is built as {@link TableBuilder#writable()} (for test harnesses that
 *                         play a native writer); by default tables are read-only to native code
 */
public record RegistryOptions(RefusalPolicy refusalPolicy, CheckMode checkMode, Optional<Path> auditLog,
                              Optional<AuditSink> auditSink, List<String> allowedLibraries, boolean classPathAllowed,
                              int maxNestedDispatches, Optional<Path> auditKeyFile,
                              boolean writableTables) {

    /**
     * Nesting a recursion through native code may reach before it is refused. A stack overflow at the
     * entry of an upcall is beyond any handler and ends the JVM, so the guard refuses while there is still
     * stack: at a few KB a level, 32 levels fit well inside a 1 MB Java thread stack.
     */
    public static final int DEFAULT_MAX_NESTED_DISPATCHES = 32;

    /**
     * Checks and copies the components.
     *
     * @throws NullPointerException if a component is {@code null}
     */
    public RegistryOptions {
        if (maxNestedDispatches < 1) {
            throw new IllegalArgumentException("maxNestedDispatches must be at least 1");
        }
        Objects.requireNonNull(refusalPolicy);
        Objects.requireNonNull(checkMode);
        Objects.requireNonNull(auditLog);
        Objects.requireNonNull(auditSink);
        Objects.requireNonNull(auditKeyFile);
        allowedLibraries = List.copyOf(allowedLibraries);
    }

    /**
     * The defaults: {@link RefusalPolicy#REFUSE_AND_CONTINUE}, {@link CheckMode#FAST}, the default audit
     * log, no allow-listed library, module path only.
     *
     * @return the default options
     */
    public static RegistryOptions defaults() {
        return builder().build();
    }

    /**
     * A builder starting from the {@linkplain #defaults() defaults}.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link RegistryOptions}. Not thread-safe: one builder per thread. */
    public static final class Builder {
        private RefusalPolicy refusalPolicy = RefusalPolicy.REFUSE_AND_CONTINUE;
        private CheckMode checkMode = CheckMode.FAST;
        private Path auditLog;
        private AuditSink auditSink;
        private Path auditKeyFile;
        private final List<String> allowedLibraries = new ArrayList<>();
        private boolean classPathAllowed;
        private int maxNestedDispatches = DEFAULT_MAX_NESTED_DISPATCHES;
        private boolean writableTables;

        private Builder() {}

        /**
         * Builds every table of the registry in memory native code can write (see {@link TableBuilder#writable()}):
         * tampering is then detected at the next dispatch instead of prevented. For test harnesses.
         *
         * @return this builder
         */
        public Builder writableTables() {
            this.writableTables = true;
            return this;
        }

        /**
         * What a refused call does besides returning the slot's refusal value (default
         * {@link RefusalPolicy#REFUSE_AND_CONTINUE}).
         *
         * @param policy the policy
         * @return this builder
         */
        public Builder refusalPolicy(RefusalPolicy policy) {
            this.refusalPolicy = Objects.requireNonNull(policy);
            return this;
        }

        /**
         * How much is checked before every dispatch (default {@link CheckMode#FAST}).
         *
         * @param mode the check mode
         * @return this builder
         */
        public Builder checkMode(CheckMode mode) {
            this.checkMode = Objects.requireNonNull(mode);
            return this;
        }

        /**
         * The audit log file the registry creates and writes (its verification key goes beside it, in
         * {@code file.pub}). Default: {@code ~/.tabguard/audit/registry-<time>-<pid>-<n>.jsonl}.
         *
         * @param file the log file
         * @return this builder
         */
        public Builder auditLog(Path file) {
            this.auditLog = Objects.requireNonNull(file);
            return this;
        }

        /**
         * Keeps the audit log's signing key in {@code file} (created there on first use, mode 600)
         * rather than beside the log, so that whoever can write the log's folder does not also hold
         * the key that signs it. Ignored with {@link #auditSink}.
         *
         * @param file the key file
         * @return this builder
         */
        public Builder auditKeyFile(Path file) {
            this.auditKeyFile = Objects.requireNonNull(file);
            return this;
        }

        /**
         * Events go to {@code sink}, which the caller keeps owning (the registry does not close it).
         *
         * @param sink the sink
         * @return this builder
         */
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
         *
         * @param nameOrPath the library's name or path
         * @return this builder
         */
        public Builder allowLibrary(String nameOrPath) {
            allowedLibraries.add(Objects.requireNonNull(nameOrPath));
            return this;
        }

        /**
         * Dispatches one thread may nest before the next is refused (see the record's description).
         *
         * @param levels at least 1
         * @return this builder
         * @throws IllegalArgumentException if {@code levels} is less than 1
         */
        public Builder maxNestedDispatches(int levels) {
            if (levels < 1) {
                throw new IllegalArgumentException("maxNestedDispatches must be at least 1");
            }
            this.maxNestedDispatches = levels;
            return this;
        }

        /**
         * Lets the registry open when Tabguard runs on the class path. Without this,
         * {@link Registry#open(RegistryOptions)} refuses there with an {@link IllegalStateException}: on the
         * class path JPMS does not encapsulate Tabguard's internal packages, so any code in the JVM can call
         * the table stamper and read the key ring (with {@code setAccessible}), which defeats the signature.
         * The checks before every dispatch still run. An opted-in registry logs one WARNING (logger
         * {@code io.tabguard.registry}) and records the class path in its {@code REGISTRY_OPENED} audit event.
         * Has no effect on the module path.
         *
         * @return this builder
         */
        public Builder allowClassPath() {
            this.classPathAllowed = true;
            return this;
        }

        /**
         * The options as set so far.
         *
         * @return immutable options
         */
        public RegistryOptions build() {
            return new RegistryOptions(refusalPolicy, checkMode, Optional.ofNullable(auditLog),
                    Optional.ofNullable(auditSink), allowedLibraries, classPathAllowed,
                    maxNestedDispatches, Optional.ofNullable(auditKeyFile), writableTables);
        }
    }
}
