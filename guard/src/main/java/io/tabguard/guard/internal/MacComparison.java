package io.tabguard.guard.internal;

import java.security.MessageDigest;

/** The one place MACs are compared: in time independent of where they differ. */
public final class MacComparison {
    private MacComparison() {}

    public static boolean equal(byte[] expected, byte[] actual) {
        // MessageDigest.isEqual is specified as time-constant for equal-length inputs since JDK 6u17.
        return MessageDigest.isEqual(expected, actual);
    }
}
