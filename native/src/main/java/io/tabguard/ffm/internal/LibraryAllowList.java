package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The native libraries a registry lets tables point into, loaded once for the registry's lifetime.
 * A slot may hold a native function only if it was resolved here by name. Thread-safe after construction.
 */
public final class LibraryAllowList {
    private final Map<String, SymbolLookup> libraries = new LinkedHashMap<>();

    /**
     * @param names library names or paths as {@code dlopen} takes them (e.g. {@code libz.so.1})
     * @throws IllegalArgumentException naming the first library that cannot be loaded
     */
    public LibraryAllowList(List<String> names, Arena arena) {
        for (String name : names) {
            try {
                libraries.put(name, NativeAccess.library(name, arena));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("allow-listed library " + name + " cannot be loaded: " + e.getMessage(), e);
            }
        }
    }

    /** The address of {@code symbol} in the first allow-listed library that exports it. */
    public Optional<MemorySegment> find(String symbol) {
        for (SymbolLookup lookup : libraries.values()) {
            Optional<MemorySegment> found = lookup.find(symbol);
            if (found.isPresent()) {
                return found;
            }
        }
        return Optional.empty();
    }
}
