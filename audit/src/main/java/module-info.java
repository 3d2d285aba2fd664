/**
 * Tabguard's audit trail: every security event goes to an append-only, hash-chained JSON Lines log
 * with Ed25519-signed C2SP checkpoints, and out as a JFR event; a verifier names the first bad
 * record of a tampered or truncated log.
 *
 * <p>Exports only {@code io.tabguard.audit}: the {@link io.tabguard.audit.AuditSink sink} other
 * modules call, the {@link io.tabguard.audit.AuditLog log}, the
 * {@link io.tabguard.audit.AuditVerifier verifier} and its command-line entry point. The encoding,
 * Merkle tree, note signing and JFR event classes live in {@code io.tabguard.audit.internal}, which
 * is not exported.
 */
module io.tabguard.audit {
    requires org.bouncycastle.provider;
    requires jdk.jfr;

    exports io.tabguard.audit;
}
