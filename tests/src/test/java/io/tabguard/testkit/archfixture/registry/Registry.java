package io.tabguard.testkit.archfixture.registry;

import io.tabguard.testkit.archfixture.guard.internal.TableStamper;
import io.tabguard.testkit.archfixture.registry.internal.TableImpl;

/** Allowed: seal() is the builder's back end; it constructs and stamps the table. */
public final class Registry {
    Object seal(byte[] table) {
        TableStamper.stamp(table);
        return new TableImpl();
    }
}
