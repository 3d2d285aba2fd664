/**
 * Real consumers of Tabguard tables — glibc's qsort and fopencookie, zlib's allocator hooks, SQLite's
 * {@code sqlite3_mem_methods} — and the demo. This module plays the embedding application: it makes its own downcalls into those C
 * libraries, so it is granted native access besides Tabguard's native module.
 */
module io.tabguard.examples {
    requires transitive io.tabguard.registry;   // the examples' API takes and returns Registry, CallbackTable, Schema

    exports io.tabguard.examples;
}
