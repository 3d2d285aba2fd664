package io.tabguard.testkit;

import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.RegistryOptions;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Forked by {@link ReadOnlyTableAttackTest}: C code (the compiled {@code slot_writer.c}, path in
 * {@code args[0]}) writes its own function's address into slot {@code inc} of a live, read-only table,
 * then calls through the slot. Expected: the process dies of SIGSEGV at the write; "WRITE-RETURNED" and
 * the attacker's marker never appear.
 */
@SuppressWarnings("restricted")
public final class ReadOnlyAttackMain {
    private ReadOnlyAttackMain() {}

    public static void main(String[] args) throws Throwable {
        Linker linker = Linker.nativeLinker();
        SymbolLookup attack = SymbolLookup.libraryLookup(java.nio.file.Path.of(args[0]), Arena.global());
        MethodHandle attackerAddress = linker.downcallHandle(attack.find("attacker_address").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        MethodHandle write = linker.downcallHandle(attack.find("write_pointer").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        MethodHandle callSlot = linker.downcallHandle(attack.find("call_slot").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        try (Registry registry = Registry.open(RegistryOptions.builder().auditSink(new FuzzWorld.CountingSink()).build())) {
            Fixtures.Targets targets = new Fixtures.Targets();
            CallbackTable table = Fixtures.calcTable(registry, targets);
            MemorySegment slot = MemorySegment.ofAddress(table.payload().address() + table.schema().member("inc").orElseThrow().offset());
            System.out.println("HONEST-CALL " + (int) callSlot.invokeExact(slot, 41));
            System.out.println("BEFORE-WRITE");
            System.out.flush();
            write.invokeExact(slot, (MemorySegment) attackerAddress.invokeExact());
            System.out.println("WRITE-RETURNED");
            System.out.println("HIJACKED-CALL " + (int) callSlot.invokeExact(slot, 41));
            System.out.flush();
        }
    }
}
