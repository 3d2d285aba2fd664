package io.tabguard.testkit.archfixture.registry.internal;

import io.tabguard.testkit.archfixture.guard.internal.TableStamper;

/** Breaks "the table implementation is constructed only by the builder" and "stamped only by builder and rotation". */
public final class ForgesTables {
    private ForgesTables() {}

    public static Object forge() {
        return new TableImpl();
    }

    public static byte[] restamp(byte[] tampered) {
        return TableStamper.stamp(tampered);
    }
}
