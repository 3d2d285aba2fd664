package io.tabguard.testkit.archfixture.guard.internal;

import java.security.MessageDigest;
import java.util.Arrays;

/** Breaks "MACs are compared only through the constant-time helper", twice. */
public final class LeakyMacCheck {
    private LeakyMacCheck() {}

    public static boolean earlyExit(byte[] expected, byte[] actual) {
        return Arrays.equals(expected, actual);            // returns at the first differing byte
    }

    public static boolean bypassesTheHelper(byte[] expected, byte[] actual) {
        return MessageDigest.isEqual(expected, actual);    // constant time, but not the one audited place
    }

    public static byte[] macsOnItsOwn(byte[] table) {
        return new SigningKey().mac(table);               // breaks "only the verifier computes MACs"
    }
}
