package io.tabguard.testkit.archfixture.guard.internal;

public final class SigningKey {
    public byte[] mac(byte[] table) {
        return table.clone();
    }
}
