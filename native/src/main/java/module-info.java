/**
 * Everything of Tabguard that touches the native linker: upcall trampolines, validated downcalls,
 * library allow-lists and views of native memory. The only Tabguard module granted native access
 * ({@code --enable-native-access=io.tabguard.ffm}); every restricted method is called from
 * {@code NativeAccess} alone. Nothing here is public API: the package is exported to the registry only.
 */
module io.tabguard.ffm {
    requires transitive io.tabguard.guard;
    requires transitive io.tabguard.audit;

    exports io.tabguard.ffm.internal to io.tabguard.registry;
}
