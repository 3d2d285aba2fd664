package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Plugin;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * Forked by {@link PluginTest}: the TAMPER plugin ({@code args[0]}) has its table sealed by a default
 * registry, then swaps two slots of the sealed (read-only) copy. Expected: the process dies at the write;
 * "TAMPER-RETURNED" never appears.
 */
@SuppressWarnings("restricted")
public final class PluginTamperMain {
    private PluginTamperMain() {}

    public static void main(String[] args) throws Throwable {
        Path library = Path.of(args[0]);
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(new FuzzWorld.CountingSink()).build());
             Plugin p = registry.loadPlugin(library, PluginTest.PLUGIN)) {
            CallbackTable t = p.table();
            System.out.println("SEALED " + (int) t.slotHandle("add").invokeExact(2, 3));
            System.out.flush();
            MethodHandle tamper = Linker.nativeLinker().downcallHandle(
                    SymbolLookup.libraryLookup(library, Arena.global()).find("plugin_tamper").orElseThrow(), FunctionDescriptor.ofVoid());
            tamper.invokeExact();
            System.out.println("TAMPER-RETURNED");
            System.out.flush();
        }
    }
}
