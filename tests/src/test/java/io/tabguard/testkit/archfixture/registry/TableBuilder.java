package io.tabguard.testkit.archfixture.registry;

/** Allowed: the builder calls seal(). */
public final class TableBuilder {
    private final Registry registry = new Registry();

    public Object build() {
        return registry.seal(new byte[8]);
    }
}
