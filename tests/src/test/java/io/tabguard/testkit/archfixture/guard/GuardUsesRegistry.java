package io.tabguard.testkit.archfixture.guard;

import io.tabguard.testkit.archfixture.registry.Registry;

/** Breaks "guard depends on nothing of ours". */
public final class GuardUsesRegistry {
    private GuardUsesRegistry() {}

    public static Object reachUp() {
        return new Registry();
    }
}
