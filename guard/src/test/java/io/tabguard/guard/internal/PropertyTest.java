package io.tabguard.guard.internal;

import io.tabguard.guard.RandomSchemas;
import io.tabguard.guard.Schema;
import io.tabguard.guard.TableRejectedException;
import io.tabguard.guard.Violation;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static io.tabguard.guard.AbiV1.HEADER_SIZE;
import static io.tabguard.guard.internal.TestTables.*;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Seeded random tables and random bytes. A failure message names the seed and the iteration to replay. */
class PropertyTest {

    private static final long SEED = 0x7AB6_0A2D_2013_0501L;
    private static final SigningKey[] KEYS = {key(11), key(12), key(13), key(14)};

    /** A random valid table, and how the caller that checks it was chosen. */
    private record Sample(Schema schema, int tableMinor, int callerMinor, long serial, long epoch, SigningKey key,
                          long bound, byte[] bytes) {
        @Override
        public String toString() {
            return schema + " table minor " + tableMinor + " caller minor " + callerMinor + " serial " + serial
                    + " epoch " + epoch + " bound 0x" + Long.toHexString(bound);
        }
    }

    /**
     * A random schema, a table of a random minor of it, checked by a caller of a random minor. If the
     * caller is older than the table, the members it does not know are left zero; every other member
     * holds random non-zero bytes.
     */
    private static Sample sample(SplittableRandom random, int i) {
        Schema schema = RandomSchemas.next(random, "prop.s" + i);
        int t = random.nextInt(schema.minor() + 1);
        int c = random.nextInt(schema.minor() + 1);
        byte[] bytes = blank(schema, t);
        MemorySegment segment = MemorySegment.ofArray(bytes);
        for (Schema.Member m : schema.members(Math.min(t, c))) {
            writeRandomNonZero(segment, m, random);
        }
        long serial = random.nextLong();
        long epoch = random.nextLong();
        SigningKey key = KEYS[random.nextInt(KEYS.length)];
        long bound = random.nextLong() & ~7L;
        stamp(bytes, schema, t, serial, epoch, key, bound);
        return new Sample(schema, t, c, serial, epoch, key, bound, bytes);
    }

    private static VerifiedTable verify(Sample s) {
        return TableVerifier.verify(MemorySegment.ofArray(s.bytes()), s.bound(), s.schema().atMinor(s.callerMinor()),
                lookup(s.epoch(), s.key()));
    }

    @Test
    void randomValidTablesPassAndReportTheirMinorSerialAndEpoch() {
        SplittableRandom random = new SplittableRandom(SEED);
        int olderCallers = 0;
        int newerCallers = 0;
        for (int i = 0; i < 2_000; i++) {
            Sample s = sample(random, i);
            String where = "seed " + SEED + ", iteration " + i + ": " + s;
            VerifiedTable v;
            try {
                v = verify(s);
            } catch (TableRejectedException e) {
                throw new AssertionError(where + " was refused: " + e.getMessage(), e);
            }
            assertAll(where,
                    () -> assertEquals(s.tableMinor(), v.minor()),
                    () -> assertEquals(s.serial(), v.serial()),
                    () -> assertEquals(s.epoch(), v.keyEpoch()),
                    () -> assertEquals(s.schema().payloadSize(s.tableMinor()), v.payloadSize()));
            if (s.callerMinor() < s.tableMinor()) {
                olderCallers++;
            } else if (s.callerMinor() > s.tableMinor()) {
                newerCallers++;
            }
        }
        assertTrue(olderCallers > 100 && newerCallers > 100,
                "seed " + SEED + " exercises both sides of the minor rule: " + olderCallers + " older, " + newerCallers + " newer callers");
    }

    @Test
    void randomNewerTablesWithAnUnknownMemberSetAreRefusedAtItsFirstNonZeroByte() {
        SplittableRandom random = new SplittableRandom(SEED ^ 1);
        int checked = 0;
        for (int i = 0; checked < 500 && i < 100_000; i++) {
            Sample s = sample(random, i);
            List<Schema.Member> unknown = new ArrayList<>();
            for (Schema.Member m : s.schema().members(s.tableMinor())) {
                if (m.sinceMinor() > s.callerMinor()) {
                    unknown.add(m);
                }
            }
            if (unknown.isEmpty()) {
                continue;
            }
            checked++;
            Schema.Member set = unknown.get(random.nextInt(unknown.size()));
            writeRandomNonZero(MemorySegment.ofArray(s.bytes()), set, random);
            reseal(s.bytes(), s.key(), s.bound());
            String where = "seed " + SEED + ", iteration " + i + ": " + s + ", member " + set.name() + " set";
            TableRejectedException e = org.junit.jupiter.api.Assertions.assertThrows(TableRejectedException.class,
                    () -> verify(s), where);
            assertAll(where,
                    () -> assertEquals(Violation.UNKNOWN_MEMBER_NONZERO, e.violation(), e.getMessage()),
                    () -> assertEquals(HEADER_SIZE + set.offset(), e.offset(), e.getMessage()));
        }
        assertEquals(500, checked, "seed " + SEED + " makes enough newer tables");
    }

    @Test
    void randomBytesNeverPassAndOnlyEverRaiseTableRejectedException() {
        SplittableRandom random = new SplittableRandom(SEED ^ 2);
        Schema schema = smallSchema();
        byte[] real = valid(schema, 0);
        int pastMagic = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] bytes = new byte[random.nextInt(601)];
            random.nextBytes(bytes);
            int mode = i % 4;
            if (mode >= 2) {
                // a real header's prefix, to get past magic (and often further), then random bytes
                int prefix = Math.min(bytes.length, 8 + random.nextInt(real.length - 7));
                System.arraycopy(real, 0, bytes, 0, prefix);
            }
            if (mode == 3 && bytes.length >= HEADER_SIZE + 1) {
                // sizes that agree with the bytes given, to reach the version, checksum and signature checks
                putSizes(bytes, bytes.length - HEADER_SIZE);
            }
            String where = "seed " + SEED + ", iteration " + i + ", " + bytes.length + " bytes";
            boolean accepted = false;
            try {
                TableVerifier.verify(MemorySegment.ofArray(bytes), BOUND, schema, keys());
                accepted = true;
            } catch (TableRejectedException e) {
                if (e.violation() != Violation.TRUNCATED && e.violation() != Violation.BAD_MAGIC) {
                    pastMagic++;
                }
            } catch (RuntimeException | Error e) {
                throw new AssertionError(where + ": threw " + e, e);
            }
            if (accepted) {
                fail(where + ": random bytes were accepted");
            }
        }
        assertTrue(pastMagic > 5_000, "seed " + SEED + ": only " + pastMagic + " inputs got past the magic check");
    }
}
