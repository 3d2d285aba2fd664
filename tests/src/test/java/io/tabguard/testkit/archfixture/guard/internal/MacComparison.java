package io.tabguard.testkit.archfixture.guard.internal;

import java.security.MessageDigest;

/** Allowed: the one constant-time comparison. */
public final class MacComparison {
    private MacComparison() {}

    public static boolean equal(byte[] expected, byte[] actual) {
        return MessageDigest.isEqual(expected, actual);
    }
}
