package io.tabguard.testkit.archfixture.registry.internal;

import io.tabguard.testkit.archfixture.guard.internal.TableStamper;

/** Allowed: key rotation re-stamps. */
public final class TableImpl {
    public void resign(byte[] snapshot) {
        TableStamper.resign(snapshot);
    }
}
