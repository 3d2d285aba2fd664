/**
 * Tabguard's guard: the table format (ABI v1), schemas, and every check that does not need native
 * access — structure, version, checksum and signature — over untrusted bytes.
 *
 * <p>Exports {@code io.tabguard.guard} (schemas, the ABI v1 layout, violations). The verifier and the
 * stamping function live in {@code io.tabguard.guard.internal}, exported only to Tabguard's own
 * modules: a user cannot stamp a table except through the registry's sealed builder.
 */
module io.tabguard.guard {
    requires org.bouncycastle.provider;

    exports io.tabguard.guard;
    exports io.tabguard.guard.internal to io.tabguard.ffm, io.tabguard.registry;
}
