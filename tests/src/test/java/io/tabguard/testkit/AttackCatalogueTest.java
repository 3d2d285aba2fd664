package io.tabguard.testkit;

import io.tabguard.audit.EventType;
import io.tabguard.guard.AbiV1;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import io.tabguard.registry.TableStatus;
import io.tabguard.testkit.Fixtures.Audit;
import io.tabguard.testkit.Fixtures.Targets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntUnaryOperator;

import static io.tabguard.testkit.Fixtures.CALC;
import static io.tabguard.testkit.Fixtures.REFUSED;
import static io.tabguard.testkit.Fixtures.callNative;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The attack catalogue: for each class of attack, every instance the test kit makes (or, for attacks
 * that need more than the bytes, one written out here) is refused with the violation the design's
 * check order names, through both doors — import of the bytes, and the bytes planted in a live table
 * then called from native code — and its valid twin is accepted and dispatches.
 */
class AttackCatalogueTest {
    private final Audit audit = new Audit();
    private Registry registry;

    @BeforeEach
    void open() {
        registry = Fixtures.openWritable(audit);
    }

    @AfterEach
    void close() {
        registry.close();
    }

    private static Violation refused(Executable e) {
        return assertThrows(TableRejectedException.class, e).violation();
    }

    /**
     * The violation the full checks must name for a variant of a {@link Fixtures#CALC} table (minor 0,
     * 32-byte payload, three slots). Written from the design's check order: structure (magic, abi,
     * header size, flags, reserved, sizes, slot count), version (major, schema id, minor rule), checksum,
     * signature, state, slots.
     */
    static Violation expected(TableVariant v) {
        String field = v.name().split(" ")[0];
        boolean crcFixed = v.name().contains("checksum rewritten");
        return switch (v.attack()) {
            case WRONG_MAGIC -> Violation.BAD_MAGIC;
            case FIELD_TOO_SMALL, FIELD_TOO_LARGE, FIELD_OVERFLOW -> switch (field) {
                case "abi_version" -> Violation.ABI_VERSION;
                case "header_size" -> Violation.HEADER_SIZE;
                case "slot_count" -> Violation.SLOT_COUNT;
                case "schema_major" -> Violation.SCHEMA_MAJOR;
                default -> Violation.TABLE_SIZE;          // table_size, payload_size, and the wrapping pair
            };
            case RESERVED_BITS -> field.equals("flags") ? Violation.FLAGS : Violation.RESERVED;
            case SIZE_CLAIMS_LESS, EXTENDED -> Violation.TABLE_SIZE;
            case SIZE_CLAIMS_MORE, TRUNCATED -> Violation.TRUNCATED;
            case NEWER_MINOR_NONZERO -> Violation.UNKNOWN_MEMBER_NONZERO;
            case VERSION_DOWNGRADE -> switch (field) {
                case "schema_major" -> Violation.SCHEMA_MAJOR;
                case "abi_version" -> Violation.ABI_VERSION;
                default -> Violation.SIGNATURE;      // minor 0xffff: a "newer" minor with zero tail, then the MAC
            };
            case STAMP_EDITED -> switch (field) {
                case "schema_id" -> Violation.SCHEMA_ID;
                case "layout_id" -> Violation.LAYOUT_MISMATCH;   // a version check: before checksum and signature
                default -> crcFixed ? Violation.SIGNATURE : Violation.CHECKSUM;
            };
            case CHECKSUM_EDITED -> Violation.CHECKSUM;
            case NEWER_MINOR_ZERO, SIGNATURE_EDITED, SLOTS_SWAPPED, SLOT_DUPLICATED, NULL_SLOT, FOREIGN_POINTER ->
                    Violation.SIGNATURE;
            case PAYLOAD_EDITED -> crcFixed ? Violation.SIGNATURE : Violation.CHECKSUM;
        };
    }

    /**
     * One test per attack class of the test kit: each variant is refused on import and, when it fits,
     * in a live table (the caller gets the refusal value, the target does not run, the table is
     * quarantined for that violation); the valid twin adopts and dispatches.
     */
    @ParameterizedTest
    @EnumSource(Attack.class)
    void everyVariantOfTheClassIsRefusedAndTheValidTwinAccepted(Attack attack) throws Throwable {
        CallbackTable reference = Fixtures.calcTable(registry, new Targets());
        List<TableVariant> variants = MalformedTables.variants(reference).stream().filter(v -> v.attack() == attack).toList();
        assertFalse(variants.isEmpty(), "the kit makes no " + attack + " variant of a CALC table");
        List<String> wrong = new ArrayList<>();
        for (TableVariant v : variants) {
            Violation want = expected(v);
            try {
                registry.adopt(v.bytes(), CALC);
                wrong.add("import accepted " + v);
            } catch (TableRejectedException e) {
                if (e.violation() != want) {
                    wrong.add("import of " + v + ": " + e.violation() + ", expected " + want);
                }
            }
            if (v.fitsLiveTable(reference)) {
                Targets targets = new Targets();
                CallbackTable live = Fixtures.calcTable(registry, targets);
                // the same edit of this table's own bytes (a variant's name does not depend on the table)
                TableVariant same = MalformedTables.variants(live).stream().filter(x -> x.name().equals(v.name()))
                        .findFirst().orElseThrow(() -> new AssertionError("no twin of " + v + " for another table"));
                same.writeTo(live);
                int result = callNative(live, "inc", 41);
                List<String> named = audit.violations(live, EventType.TABLE_QUARANTINED);
                if (result != REFUSED || targets.total() != 0 || live.status() != TableStatus.QUARANTINED
                        || !named.equals(List.of(want.name()))) {
                    wrong.add("live " + v + ": result " + result + ", runs " + targets.total() + ", " + live.status()
                            + ", quarantined for " + named + ", expected " + want);
                }
                live.close();
            }
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " of " + variants.size() + " " + attack + " variants:\n" + String.join("\n", wrong));
        validTwin(reference);
    }

    /** The honest table: adopted as itself, and its slots answer. */
    private void validTwin(CallbackTable table) throws Throwable {
        assertSame(table, registry.adopt(table.verifiedBytes(), CALC));
        assertSame(table, registry.adopt(MemorySegment.ofAddress(table.payload().address()), table.payload().byteSize(), CALC));
        assertEquals(42, callNative(table, "inc", 41));
        assertEquals(42, callNative(table, "dbl", 21));
        assertEquals(-5, callNative(table, "neg", 5));
        assertEquals(TableStatus.OPEN, table.status());
    }

    @Test
    void aNewerMinorIsAcceptedOnlyWhileTheMembersTheCallerCannotKnowAreZero() {
        Schema v = BuilderRefusalTest.VERSIONED;
        Schema oldCaller = v.atMinor(0);
        Targets t = new Targets();
        CallbackTable zero = registry.builder(v).bind("inc", t.incHandle()).build();
        CallbackTable set = registry.builder(v).bind("inc", t.incHandle()).bind("extra", t.dblHandle()).build();
        assertEquals(Violation.UNKNOWN_MEMBER_NONZERO, refused(() -> registry.adopt(set.verifiedBytes(), oldCaller)));
        CallbackTable adoptedByOldCaller = registry.adopt(zero.verifiedBytes(), oldCaller);
        assertEquals(zero.serial(), adoptedByOldCaller.serial(), "the valid twin: new member zero");
        assertEquals(oldCaller, adoptedByOldCaller.schema(), "seen as the old caller's schema");
        assertSame(set, registry.adopt(set.verifiedBytes(), v), "a caller that knows the member");
    }

    @Test
    void aVersionDowngradeFailsTheSignatureAndTheGenuineOlderTableIsAccepted() {
        Schema v = BuilderRefusalTest.VERSIONED;
        Targets t = new Targets();
        CallbackTable newer = registry.builder(v).bind("inc", t.incHandle()).bind("extra", t.dblHandle()).build();
        TableVariant downgrade = MalformedTables.variants(newer).stream()
                .filter(x -> x.attack() == Attack.VERSION_DOWNGRADE && x.name().startsWith("claims minor 0")).findFirst().orElseThrow();
        assertEquals(v.payloadSize(0) + AbiV1.HEADER_SIZE, downgrade.length(), "shrunk to minor 0's size");
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(downgrade.bytes(), v)));
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(downgrade.bytes(), v.atMinor(0))));
        TableVariant keptLayout = MalformedTables.variants(newer).stream()
                .filter(x -> x.attack() == Attack.VERSION_DOWNGRADE && x.name().contains("layout_id kept")).findFirst().orElseThrow();
        assertEquals(Violation.LAYOUT_MISMATCH, refused(() -> registry.adopt(keptLayout.bytes(), v)),
                "a downgrade that keeps minor 1's layout_id is a version error, found before the MAC");
        CallbackTable older = registry.builder(v).minor(0).bind("inc", t.incHandle()).build();
        assertSame(older, registry.adopt(older.verifiedBytes(), v), "the genuine minor-0 table, for a newer caller");
    }

    @Test
    void aChecksumFixedUpAfterATamperStillFailsTheSignature() throws Throwable {
        Targets t = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, t);
        long version = AbiV1.HEADER_SIZE + CALC.member("version").orElseThrow().offset();
        NativeTamper.flipByte(table, version);
        NativeTamper.fixChecksum(table);
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(NativeTamper.liveBytes(table), CALC)));
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(List.of("SIGNATURE"), audit.violations(table, EventType.TABLE_QUARANTINED));
        assertEquals(0, t.total());
        validTwin(Fixtures.calcTable(registry, new Targets()));
    }

    @Test
    void aSignatureFromAnotherRegistryIsRefusedLiveAndOnImport() throws Throwable {
        Targets t = new Targets();
        CallbackTable ours = Fixtures.calcTable(registry, t);
        try (Registry other = Fixtures.open(new Audit())) {
            CallbackTable theirs = Fixtures.calcTable(other, new Targets());
            byte[] foreign = theirs.verifiedBytes();
            assertEquals(ours.serial(), theirs.serial());
            assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(foreign, CALC)));
            // their bytes (their trampolines, their MAC) planted in our table's memory
            NativeTamper.writeBytes(ours, foreign);
            assertEquals(REFUSED, callNative(ours, "inc", 41));
            assertEquals(List.of("SIGNATURE"), audit.violations(ours, EventType.TABLE_QUARANTINED));
            assertSame(theirs, other.adopt(foreign, CALC), "the valid twin, in its own registry");
        }
        assertEquals(0, t.total());
        validTwin(Fixtures.calcTable(registry, new Targets()));
    }

    @Test
    void aSignatureFromARotatedOutKeyIsRefusedLiveAndOnImport() throws Throwable {
        Targets t = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, t);
        byte[] stale = table.verifiedBytes();
        registry.rotateKey();
        registry.rotateKey();   // two rotations: the stale epoch is not even the previous one
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(stale, CALC)));
        validTwin(table);       // re-signed under the current key, so the honest table still works
        NativeTamper.writeBytes(table, stale);   // replay the old bytes into the live table
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(List.of("SIGNATURE"), audit.violations(table, EventType.TABLE_QUARANTINED));
        assertEquals(1, t.inc.get(), "only the twin's call ran");
    }

    @Test
    void aValidTrampolineOfAnotherTableIsRefusedInEverySlot() throws Throwable {
        Targets donorTargets = new Targets();
        CallbackTable donor = Fixtures.calcTable(registry, donorTargets);
        for (String slot : List.of("inc", "dbl", "neg")) {
            for (boolean fixChecksum : new boolean[]{false, true}) {
                Targets t = new Targets();
                CallbackTable victim = Fixtures.calcTable(registry, t);
                NativeTamper.writeSlot(victim, slot, donor.function(slot));   // same slot, same type, valid stub
                if (fixChecksum) {
                    NativeTamper.fixChecksum(victim);
                }
                assertEquals(REFUSED, callNative(victim, "inc", 41), slot);
                assertEquals(REFUSED, callNative(victim, slot, 41), "the victim's own trampoline for " + slot);
                assertEquals(List.of(fixChecksum ? "SIGNATURE" : "CHECKSUM"), audit.violations(victim, EventType.TABLE_QUARANTINED));
                assertEquals(0, t.total());
            }
        }
        // Native code that follows the planted pointer reaches the donor's trampoline, which checks and
        // answers for the donor (whose table is intact), never for the victim. That a valid stub of one
        // table can be called through another struct is what context arguments stop (ContextBindingTest).
        long before = donorTargets.total();
        assertEquals(42, callNative(donor.function("inc"), 41));
        assertEquals(before + 1, donorTargets.total());
        assertEquals(0, before, "no call made through a victim reached the donor's targets");
        validTwin(donor);
    }

    @Test
    void aPointerToAnArbitraryNativeFunctionIsRefusedBeforeAnyoneCallsIt() throws Throwable {
        Targets t = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, t);
        MemorySegment abort = MemorySegment.ofAddress(MalformedTables.abortAddress());
        assertNotEquals(0, abort.address());
        NativeTamper.writeSlot(table, "neg", abort);
        NativeTamper.fixChecksum(table);
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(NativeTamper.liveBytes(table), CALC)));
        // native code calling another slot of the table: refused (a Java caller of "neg" itself, which
        // would reach abort() if the guard failed, runs in a forked JVM: CrashSurvivalForkTest)
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(TableStatus.QUARANTINED, table.status());
        assertEquals(List.of("SIGNATURE"), audit.violations(table, EventType.TABLE_QUARANTINED));
        assertEquals(0, t.total());
        validTwin(Fixtures.calcTable(registry, new Targets()));
    }

    @Test
    void tableBytesCopiedToAnotherAddressAreRefused() throws Throwable {
        Targets a = new Targets();
        Targets b = new Targets();
        CallbackTable original = Fixtures.calcTable(registry, a);
        CallbackTable elsewhere = Fixtures.calcTable(registry, b);
        // a byte-exact copy at an address the registry does not own: refused unread
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment copy = arena.allocate(NativeTamper.tableSize(original), 16);
            MemorySegment.copy(MemorySegment.ofArray(original.verifiedBytes()), 0, copy, 0, copy.byteSize());
            assertEquals(Violation.UNKNOWN_TABLE, refused(() ->
                    registry.adopt(copy.asSlice(AbiV1.HEADER_SIZE), original.payload().byteSize(), CALC)));
        }
        // a byte-exact copy over another table of the registry: the MAC is bound to the original's address
        NativeTamper.writeBytes(elsewhere, original.verifiedBytes());
        assertEquals(REFUSED, callNative(elsewhere, "inc", 41));
        assertEquals(List.of("SIGNATURE"), audit.violations(elsewhere, EventType.TABLE_QUARANTINED));
        // importing it by pointer re-checks the live bytes in the design's order: the signature fails before the state
        assertEquals(Violation.SIGNATURE, refused(() -> registry.adopt(
                MemorySegment.ofAddress(elsewhere.payload().address()), elsewhere.payload().byteSize(), CALC)));
        assertEquals(Violation.QUARANTINED, refused(() -> registry.adopt(elsewhere.verifiedBytes(), CALC)));
        assertEquals(0, a.total() + b.total());
        validTwin(original);
    }

    @Test
    void aNullRequiredSlotIsRefusedAndANullOptionalSlotIsNot() throws Throwable {
        Targets t = new Targets();
        CallbackTable table = Fixtures.calcTable(registry, t);
        NativeTamper.writeSlot(table, "dbl", MemorySegment.NULL);
        NativeTamper.fixChecksum(table);
        assertEquals(REFUSED, callNative(table, "inc", 41));
        assertEquals(List.of("SIGNATURE"), audit.violations(table, EventType.TABLE_QUARANTINED),
                "without the key a null slot cannot be signed, so the MAC refuses it first");
        assertThrows(IllegalStateException.class, () -> registry.builder(CALC).bind("inc", t.incHandle()).build(),
                "and the builder never makes one");
        // the valid twin: an optional slot without a default is null in an honest table
        Schema v = BuilderRefusalTest.VERSIONED;
        CallbackTable optionalNull = registry.builder(v).bind("inc", t.incHandle()).build();
        assertEquals(0, NativeTamper.readSlot(optionalNull, "extra").address());
        assertSame(optionalNull, registry.adopt(optionalNull.verifiedBytes(), v));
        assertEquals(42, callNative(optionalNull, "inc", 41));
    }

    @Test
    void dispatchAfterRevokeAfterCloseAndAfterRegistryCloseIsRefused() throws Throwable {
        Targets t = new Targets();
        CallbackTable revoked = Fixtures.calcTable(registry, t);
        CallbackTable closed = Fixtures.calcTable(registry, t);
        CallbackTable open = Fixtures.calcTable(registry, t);
        byte[] revokedBytes = revoked.verifiedBytes();
        registry.revoke(revoked);
        closed.close();
        assertEquals(REFUSED, callNative(revoked, "inc", 41));
        assertEquals(REFUSED, callNative(closed, "inc", 41));
        assertEquals(Violation.REVOKED, refused(() -> registry.adopt(revokedBytes, CALC)));
        validTwin(open);
        var handle = open.slotHandle("dbl");
        registry.close();
        // after the registry closes its trampolines are freed: only Java callers may still try
        TableRejectedException e = assertThrows(TableRejectedException.class, () -> {
            int ignored = (int) handle.invokeExact(21);
        });
        assertEquals(Violation.REGISTRY_CLOSED, e.violation());
        assertEquals(TableStatus.REGISTRY_CLOSED, open.status());
        assertEquals(2, t.total(), "only the twin's inc and dbl ran");
    }

    @Test
    void aCallbackThatThrowsReturnsTheRefusalValueAndItsTwinAnswers() throws Throwable {
        CallbackTable table = registry.builder(CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    if (x < 0) {
                        throw new IllegalArgumentException("negative");
                    }
                    return x + 1;
                })
                .bind("dbl", IntUnaryOperator.class, x -> {
                    throw new OutOfMemoryError("simulated");
                })
                .build();
        assertEquals(REFUSED, callNative(table, "inc", -5));
        assertEquals(REFUSED, callNative(table, "dbl", 1));
        assertEquals(42, callNative(table, "inc", 41), "the valid twin: same slot, an argument it accepts");
        assertEquals(TableStatus.OPEN, table.status());
        assertEquals(1, audit.count(table, EventType.CALLBACK_THREW), "the first throw is a record at once");
        registry.flushAudit();
        assertEquals(2, audit.calls(table, EventType.CALLBACK_THREW), "the second is counted: " + audit);
    }

    @Test
    void aCallbackThatRecursesIntoTheRegistryIsServedOrRefusedButNeverDeadlocks() throws Throwable {
        AtomicReference<CallbackTable> self = new AtomicReference<>();
        AtomicReference<String> seen = new AtomicReference<>("");
        CallbackTable table = registry.builder(CALC)
                .bind("inc", IntUnaryOperator.class, x -> {
                    CallbackTable me = self.get();
                    assertSame(me, registry.adopt(me.verifiedBytes(), CALC));                  // import from inside
                    CallbackTable inner = Fixtures.calcTable(registry, new Targets());          // build from inside
                    registry.rotateKey();                                                        // rotate from inside
                    try {
                        registry.close();                                                        // refused from inside
                    } catch (IllegalStateException expected) {
                        seen.set("close refused");
                    }
                    try {
                        return x + callNative(inner, "inc", 0) + (x > 0 ? callNative(me, "inc", x - 1) - x : 0);
                    } catch (Throwable e) {
                        throw new AssertionError(e);
                    }
                })
                .bind("dbl", new Targets().dblHandle())
                .build();
        self.set(table);
        int result = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> callNative(table, "inc", 3));
        assertEquals(4, result);
        assertEquals("close refused", seen.get());
        assertEquals(0, audit.count(table, EventType.CALLBACK_THREW), audit.toString());
        assertEquals(TableStatus.OPEN, table.status());
        assertSame(table, registry.adopt(table.verifiedBytes(), CALC), "still valid under the newest key");
    }

    @Test
    void theKitsVariantsAllDifferFromTheValidTableAndFromEachOther() {
        CallbackTable table = Fixtures.calcTable(registry, new Targets());
        List<TableVariant> variants = MalformedTables.variants(table);
        byte[] valid = table.verifiedBytes();
        assertTrue(variants.size() > 80, "variants: " + variants.size());
        assertTrue(variants.stream().noneMatch(v -> Arrays.equals(v.bytes(), valid)));
        assertEquals(variants.size(), variants.stream().map(v -> Arrays.toString(v.bytes())).distinct().count());
        for (Attack a : Attack.values()) {
            assertTrue(variants.stream().anyMatch(v -> v.attack() == a), "no variant of " + a);
        }
        assertThrows(IllegalArgumentException.class, () -> MalformedTables.variants(CALC, Arrays.copyOf(valid, 100)));
        assertThrows(IllegalArgumentException.class, () -> MalformedTables.variants(BuilderRefusalTest.VERSIONED, valid));
        // the mutator: deterministic, the empty script is the identity, and "flip then restore" too
        assertArrayEquals(valid, TableMutator.mutate(CALC, valid, new byte[0], true));
        byte[] script = {1, (byte) 130, 0, 3, 10, (byte) 130, 0, 8, 0};
        assertArrayEquals(valid, TableMutator.mutate(CALC, valid, script, true));
        byte[] flip = {1, (byte) 130, 0, 3};
        assertFalse(Arrays.equals(valid, TableMutator.mutate(CALC, valid, flip, true)));
        assertArrayEquals(TableMutator.mutate(CALC, valid, flip, false), TableMutator.mutate(CALC, valid, flip, false));
    }
}
