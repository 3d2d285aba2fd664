package io.tabguard.testkit.archfixture.guard.internal;

/** Allowed: computes MACs and compares them through the helper. */
public final class TableVerifier {
    private TableVerifier() {}

    static byte[] signature(byte[] table, SigningKey key) {
        return key.mac(table);
    }

    public static boolean check(byte[] table, byte[] claimed, SigningKey key) {
        return MacComparison.equal(signature(table, key), claimed);
    }
}
