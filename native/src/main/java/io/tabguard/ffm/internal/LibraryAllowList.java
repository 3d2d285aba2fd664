package io.tabguard.ffm.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The native libraries a registry lets tables point into, loaded once for the registry's lifetime.
 * A slot may hold a native function only if it was resolved here by name.
 *
 * <p>A listed library contributes only the functions <em>defined in that very file</em>: a name is looked
 * up in the library ({@code dlsym} searches the library first, then its dependencies), and the address found
 * is accepted only if {@link AllowedObject#check} finds it to be the exact start of a defined, sized
 * {@code STT_FUNC} symbol of the listed file itself, in its executable code and not in a PLT or GOT stub.
 * So with only {@code libz.so.1} listed, {@code deflate} is found and {@code system} (defined in libc, which
 * libz depends on) is not. Thread-safe after construction.
 */
public final class LibraryAllowList {
    private record Listed(String name, SymbolLookup lookup, AllowedObject object) {}

    /** A name resolved in a listed library, or why no listed library contributes it. */
    public record Resolution(Optional<MemorySegment> function, String refusal) {}

    private final List<Listed> libraries = new ArrayList<>();

    /**
     * @param names library names or paths as {@code dlopen} takes them (e.g. {@code libz.so.1})
     * @throws IllegalArgumentException naming the first library that cannot be loaded or read as ELF
     */
    public LibraryAllowList(List<String> names, Arena arena) {
        for (String name : names) {
            try {
                SymbolLookup lookup = NativeAccess.library(name, arena);
                libraries.add(new Listed(name, lookup, AllowedObject.loaded(name)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("allow-listed library " + name + " cannot be loaded: " + e.getMessage(), e);
            }
        }
    }

    /** The address of {@code symbol} in the first allow-listed library that defines it as a function. */
    public Optional<MemorySegment> find(String symbol) {
        return resolve(symbol).function();
    }

    /**
     * As {@link #find}, and when no listed library contributes {@code symbol}, a sentence saying why (not
     * found, or found where and refused for what) for the caller's exception message.
     */
    public Resolution resolve(String symbol) {
        List<String> reasons = new ArrayList<>();
        for (Listed l : libraries) {
            Optional<MemorySegment> found = l.lookup().find(symbol);
            if (found.isEmpty()) {
                continue;
            }
            AllowedObject.Check check = l.object().check(found.get().address());
            if (check.accepted()) {
                return new Resolution(found, null);
            }
            reasons.add(l.name() + " resolves it to " + check.detail() + " (" + check.verdict() + ")");
        }
        return new Resolution(Optional.empty(), reasons.isEmpty() ? "no allow-listed library has it"
                : "no allow-listed library defines it as a function: " + String.join("; ", reasons));
    }
}
