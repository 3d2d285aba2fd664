package io.tabguard.testkit.archfixture.ffm.internal;

import io.tabguard.testkit.archfixture.registry.internal.TableImpl;

/** Breaks "native does not depend on registry". */
public final class NativeUsesRegistry {
    private NativeUsesRegistry() {}

    public static Class<?> owner() {
        return TableImpl.class;
    }
}
