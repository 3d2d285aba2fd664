/**
 * Tabguard's test kit: helpers for end-to-end tests that play hostile native code against live
 * tables, and the malformed-table generator for an embedder's own tests and fuzzing
 * ({@link io.tabguard.testkit.MalformedTables}, {@link io.tabguard.testkit.TableMutator}). This module
 * is granted native access ({@code --enable-native-access=io.tabguard.testkit}) because it plays native
 * code: it writes into registry-owned table memory and calls slot pointers directly, as a C caller
 * would. Never put it on an application's module path with that grant.
 */
module io.tabguard.testkit {
    requires transitive io.tabguard.registry;   // NativeTamper takes CallbackTable

    exports io.tabguard.testkit;
}
