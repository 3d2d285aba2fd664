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
 * the attacker's marker never appear. With {@code args[1] = twin} the attacker writes instead into the
 * registry's private second mapping of the same page, found the way an attacker would, through
 * {@code /proc/self/maps} (same memfd inode); with no build running it is inaccessible and faults as well.
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
            MemorySegment target = args.length > 1 && args[1].equals("twin") ? twinOf(slot.address()) : slot;
            System.out.println("BEFORE-WRITE" + (target == slot ? "" : " twin " + Long.toHexString(target.address())));
            System.out.flush();
            write.invokeExact(target, (MemorySegment) attackerAddress.invokeExact());
            System.out.println("WRITE-RETURNED");
            System.out.println("HIJACKED-CALL " + (int) callSlot.invokeExact(slot, 41));
            System.out.flush();
        }
    }

    /** The same byte in the other mapping of the memfd the read-only {@code address} is in (same inode). */
    static MemorySegment twinOf(long address) throws java.io.IOException {
        java.util.List<String[]> maps = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/maps")).stream()
                .map(l -> l.trim().split("\\s+")).filter(f -> f.length >= 6 && f[5].startsWith("/memfd:tabguard-tables")).toList();
        for (String[] view : maps) {
            String[] range = view[0].split("-");
            long start = Long.parseUnsignedLong(range[0], 16);
            long end = Long.parseUnsignedLong(range[1], 16);
            if (address < start || address >= end) {
                continue;
            }
            long fileOffset = Long.parseUnsignedLong(view[2], 16) + (address - start);
            for (String[] twin : maps) {
                if (twin != view && twin[4].equals(view[4])) {
                    long twinStart = Long.parseUnsignedLong(twin[0].split("-")[0], 16);
                    System.out.println("TWIN " + String.join(" ", twin[0], twin[1]));
                    return MemorySegment.ofAddress(twinStart + fileOffset - Long.parseUnsignedLong(twin[2], 16));
                }
            }
        }
        throw new IllegalStateException("no second mapping of the table's memfd");
    }
}
