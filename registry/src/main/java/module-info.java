/**
 * Tabguard's public API: build verified callback tables with {@link io.tabguard.registry.Registry},
 * hand their payload to native code, and every call through them is checked first.
 */
module io.tabguard.registry {
    requires transitive io.tabguard.guard;
    requires transitive io.tabguard.audit;
    requires io.tabguard.ffm;

    exports io.tabguard.registry;
}
