package io.tabguard.examples;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableBuilder;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The {@code sqlite3_vfs} schema made from jextract-style layouts ({@link Sqlite3Vfs}): every member of
 * sqlite3.h's struct, in its order and kind and minor, with the layout's own offsets; and a table of it
 * built through the registry. (gcc's offsets: {@link NativeLayoutTest}.)
 */
class Sqlite3VfsTest {
    private static final List<String> DATA = List.of("iVersion", "szOsFile", "mxPathname", "pNext", "zName", "pAppData");
    private static final List<String> VERSION_1_SLOTS = List.of("xOpen", "xDelete", "xAccess", "xFullPathname", "xDlOpen",
            "xDlError", "xDlSym", "xDlClose", "xRandomness", "xSleep", "xCurrentTime", "xGetLastError");

    @Test
    void everyMemberOfTheLayoutIsAMemberOfTheSchemaAtTheLayoutsOffset() {
        Schema s = Sqlite3Vfs.SCHEMA;
        List<String> layoutNames = Sqlite3Vfs.LAYOUT.memberLayouts().stream().flatMap(m -> m.name().stream()).toList();
        assertEquals(layoutNames, s.members().stream().map(Schema.Member::name).toList());
        for (Schema.Member m : s.members()) {
            assertEquals(Sqlite3Vfs.LAYOUT.byteOffset(PathElement.groupElement(m.name())), m.offset(), m.name());
        }
        assertEquals(Sqlite3Vfs.LAYOUT.byteSize(), s.payloadSize(2));
        assertEquals(DATA, s.members().stream().filter(Schema.Data.class::isInstance).map(Schema.Member::name).toList());
        assertEquals(16, s.slots().size());
    }

    @Test
    void iVersions1To3AreMinors0To2() {
        Schema s = Sqlite3Vfs.SCHEMA;
        assertEquals(2, s.minor());
        assertEquals(VERSION_1_SLOTS, s.slots().stream().filter(x -> x.sinceMinor() == 0).map(Schema.Slot::name).toList());
        assertEquals(List.of("xCurrentTimeInt64"), s.slots().stream().filter(x -> x.sinceMinor() == 1).map(Schema.Slot::name).toList());
        assertEquals(List.of("xSetSystemCall", "xGetSystemCall", "xNextSystemCall"),
                s.slots().stream().filter(x -> x.sinceMinor() == 2).map(Schema.Slot::name).toList());
        assertEquals(s.member("xCurrentTimeInt64").orElseThrow().offset(), s.payloadSize(0), "iVersion 1 ends where version 2 begins");
        assertEquals(s.member("xSetSystemCall").orElseThrow().offset(), s.payloadSize(1));
    }

    @Test
    void theSlotsKeepJextractsDescriptorsAndTheirTargetLayoutsCountInTheSignature() {
        Schema s = Sqlite3Vfs.SCHEMA;
        for (Schema.Slot slot : s.slots()) {
            assertEquals(Sqlite3Vfs.SLOTS.get(slot.name()), slot.descriptor(), slot.name());
            assertEquals(Schema.ContextBinding.PAYLOAD_ADDRESS, slot.contextBinding(), slot.name());
        }
        assertEquals("ptr>[9223372036854775807]i8", Schema.cSignature(s.member("zName").orElseThrow()));
        assertEquals("i32", Schema.cSignature(s.member("iVersion").orElseThrow()));
    }

    @Test
    void aTableOfItIsBuiltWithItsDataAndEverySlotBound() {
        try (Registry registry = Registry.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom("tabguard");
            TableBuilder b = registry.builder(Sqlite3Vfs.SCHEMA)
                    .data("iVersion", 3).data("szOsFile", 16).data("mxPathname", 512).data("zName", name);
            for (Schema.Slot slot : Sqlite3Vfs.SCHEMA.slots()) {
                b.bind(slot.name(), MethodHandles.empty(slot.descriptor().toMethodType()));
            }
            CallbackTable t = b.build();
            MemorySegment p = t.payload();
            assertAll(
                    () -> assertEquals(3, p.get(ValueLayout.JAVA_INT, 0)),
                    () -> assertEquals(512, p.get(ValueLayout.JAVA_INT, 8)),
                    () -> assertEquals(name.address(), p.get(ValueLayout.JAVA_LONG, 24), "zName"),
                    () -> assertEquals(0, p.get(ValueLayout.JAVA_LONG, 16), "pNext"),
                    () -> assertNotEquals(0, t.function("xNextSystemCall").address()),
                    () -> assertEquals(2, t.minor()));
        }
    }
}
