package io.tabguard.testkit;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.CheckMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Writes the committed seed corpus of the fuzz targets into {@code src/test/resources}, where Jazzer's
 * regression mode reads it ({@code <package path>/<TestClass>Inputs/<method>/}). Off unless asked:
 * {@code ./mvnw -pl tests -am verify -Dtest=SeedCorpusWriter -Dsurefire.failIfNoSpecifiedTests=false
 * -Dtabguard.writeSeeds=true}. The seeds are tables of this run's registry (their signatures are
 * worthless in any other run, which is the point: they are structurally valid starting points), every
 * variant of {@link MalformedTables}, edit scripts of every {@link TableMutator} kind, and pointer and
 * log-edit choices. Each seed is checked to decode as intended with Jazzer's own data provider.
 */
@EnabledIfSystemProperty(named = "tabguard.writeSeeds", matches = "true")
class SeedCorpusWriter {
    private static final Path RESOURCES = Path.of(System.getProperty("tabguard.seedRoot", "src/test/resources"))
            .resolve("io/tabguard/testkit");

    /** Builds FuzzedDataProvider input: integers are read from the end, byte runs from the start. */
    static final class Seed {
        private final ByteArrayOutputStream head = new ByteArrayOutputStream();
        private final List<Byte> tailInConsumptionOrder = new ArrayList<>();

        Seed intInRange(int value, int min, int max) {
            long range = (long) max - min;
            long v = (long) value - min;
            int bytes = 0;
            while (bytes < 8 && (range >>> (8 * bytes)) > 0) {
                bytes++;
            }
            for (int i = bytes - 1; i >= 0; i--) {
                tailInConsumptionOrder.add((byte) (v >>> (8 * i)));
            }
            return this;
        }

        Seed bool(boolean b) {
            tailInConsumptionOrder.add((byte) (b ? 1 : 0));
            return this;
        }

        Seed anyInt(int value) {
            long v = value;              // the full range: the raw bytes, big-endian in consumption order
            for (int i = 3; i >= 0; i--) {
                tailInConsumptionOrder.add((byte) (v >>> (8 * i)));
            }
            return this;
        }

        Seed anyLong(long value) {
            long v = value;
            for (int i = 7; i >= 0; i--) {
                tailInConsumptionOrder.add((byte) (v >>> (8 * i)));
            }
            return this;
        }

        Seed bytes(byte[] b) {
            head.writeBytes(b);
            return this;
        }

        byte[] build() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(head.toByteArray());
            for (int i = tailInConsumptionOrder.size() - 1; i >= 0; i--) {
                out.write(tailInConsumptionOrder.get(i));
            }
            return out.toByteArray();
        }
    }

    private static void write(String testClass, String method, String name, byte[] data) throws IOException {
        Path dir = RESOURCES.resolve(testClass + "Inputs").resolve(method);
        Files.createDirectories(dir);
        Files.write(dir.resolve(name + "-" + sha(data)), data);
    }

    private static String sha(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data), 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Jazzer's own provider over {@code data}, to check a seed decodes as intended; it needs Jazzer's
     * agent, which a fuzz test run earlier in this JVM installs ({@code -Dtest='SeedCorpusWriter,*FuzzTest'}
     * runs them in an order that may or may not do so). Null when it cannot be had: the check is skipped.
     */
    private static FuzzedDataProvider decode(byte[] data) {
        try {
            Class<?> impl = Class.forName("com.code_intelligence.jazzer.driver.FuzzedDataProviderImpl");
            return (FuzzedDataProvider) impl.getMethod("withJavaData", byte[].class).invoke(null, (Object) data);
        } catch (ReflectiveOperationException | LinkageError e) {
            return null;
        }
    }

    private static void check(byte[] seed, java.util.function.Consumer<FuzzedDataProvider> expectations) {
        FuzzedDataProvider d = decode(seed);
        if (d != null) {
            expectations.accept(d);
            checked++;
        }
    }

    private static int checked;

    @Test
    void writeSeeds() throws Exception {
        try (FuzzWorld w = new FuzzWorld(CheckMode.FAST)) {
            // adoptArbitraryBytes: each table and every variant of each, with and without a rewritten CRC
            int n = 0;
            for (CallbackTable t : w.tables) {
                List<TableVariant> variants = new ArrayList<>(MalformedTables.variants(t));
                variants.addFirst(new TableVariant("valid", Attack.PAYLOAD_EDITED, t.verifiedBytes()));
                for (TableVariant v : variants) {
                    if (t != w.calc && t != w.v1set && n > 0 && !v.name().equals("valid")) {
                        continue;   // all variants of two tables, the valid bytes of every table
                    }
                    for (boolean fix : new boolean[]{false, true}) {
                        byte[] seed = new Seed().bool(fix).bytes(v.bytes()).build();
                        check(seed, d -> {
                            assertEquals(fix, d.consumeBoolean());
                            assertArrayEquals(v.bytes(), d.consumeRemainingAsBytes());
                        });
                        write("TableImportFuzzTest", "adoptArbitraryBytes", v.attack().name().toLowerCase(), seed);
                    }
                }
                n++;
            }
            // adoptMutatedTable: every edit kind on every table, and the empty script (the honest twin)
            Random random = new Random(20261125);
            List<byte[]> scripts = new ArrayList<>();
            scripts.add(new byte[0]);
            scripts.add(new byte[]{5});                               // rewrite an already right CRC: unchanged
            scripts.add(new byte[]{1, 40, 0, 0, 1, 40, 0, 0});        // flip a bit of the serial twice: unchanged
            scripts.add(new byte[]{1, (byte) 130, 0, 3, 10, (byte) 130, 0, 8, 0});   // flip, then restore
            for (int kind = 0; kind < 11; kind++) {
                for (int k = 0; k < 3; k++) {
                    byte[] s = new byte[12];
                    random.nextBytes(s);
                    s[0] = (byte) kind;
                    scripts.add(s);
                }
            }
            for (int v = 0; v < 120; v += 3) {
                scripts.add(new byte[]{8, (byte) v, 0});              // the catalogue's variants
            }
            for (int i = 0; i < scripts.size(); i++) {
                int table = i % w.tables.size();
                byte[] script = scripts.get(i);
                byte[] seed = new Seed().intInRange(table, 0, w.tables.size() - 1).bytes(script).build();
                check(seed, d -> {
                    assertEquals(table, d.consumeInt(0, w.tables.size() - 1));
                    assertArrayEquals(script, d.consumeRemainingAsBytes());
                });
                write("TableImportFuzzTest", "adoptMutatedTable", "script", seed);
            }
            // adoptPointer: every table x pointer kind x length kind, some tampered
            for (int table = 0; table < w.tables.size(); table++) {
                for (int kind = 0; kind < 5; kind++) {
                    for (int lengthKind = 0; lengthKind < 4; lengthKind++) {
                        Seed s = new Seed().intInRange(table, 0, w.tables.size() - 1)
                                .intInRange((table + kind) % 3, 0, FuzzWorld.CALLERS.size() - 1).intInRange(kind, 0, 4);
                        if (kind == 2) {
                            s.intInRange(8 * (lengthKind - 2), -512, 512);
                        } else if (kind == 4) {
                            s.anyLong(kind * 0x1000L + lengthKind);
                        }
                        s.intInRange(lengthKind, 0, 3);
                        if (lengthKind == 1) {
                            s.intInRange(-8, -64, 64);
                        } else if (lengthKind == 2) {
                            s.anyLong(Long.MAX_VALUE - lengthKind);
                        }
                        boolean tamper = (table + kind + lengthKind) % 4 == 0;
                        s.bool(tamper).bytes(tamper ? new byte[]{1, (byte) (table * 7), 0, 1} : new byte[0]);
                        write("TableImportFuzzTest", "adoptPointer", "pointer", s.build());
                    }
                }
            }
            // dispatchMutatedTable: both modes, every slot, untouched and edited
            for (boolean full : new boolean[]{false, true}) {
                for (int slot = 0; slot < 3; slot++) {
                    for (byte[] script : scripts.subList(0, Math.min(scripts.size(), full ? 20 : scripts.size()))) {
                        int s = slot;
                        boolean f = full;
                        byte[] seed = new Seed().bool(full).intInRange(slot, 0, 2).anyInt(41 + slot).bytes(script).build();
                        check(seed, d -> {
                            assertEquals(f, d.consumeBoolean());
                            assertEquals(s, d.consumeInt(0, 2));
                            assertEquals(41 + s, d.consumeInt());
                            assertArrayEquals(script, d.consumeRemainingAsBytes());
                        });
                        write("DispatchFuzzTest", "dispatchMutatedTable", full ? "full" : "fast", seed);
                    }
                }
            }
        }
        System.out.println("seed corpus written under " + RESOURCES.toAbsolutePath() + "; " + checked
                + " seeds decoded by Jazzer's own provider as intended");
        // verifyMutatedLog: no edit, then one edit of every kind, then random edit sequences
        write("AuditLogFuzzTest", "verifyMutatedLog", "untouched", new Seed().intInRange(0, 0, 8).build());
        Random random = new Random(7);
        for (int op = 0; op < 10; op++) {
            for (int k = 0; k < 3; k++) {
                byte[] args = new byte[24];
                random.nextBytes(args);
                write("AuditLogFuzzTest", "verifyMutatedLog", "edit" + op,
                        new Seed().intInRange(1, 0, 8).intInRange(op, 0, 9).bytes(args).build());
            }
        }
        for (int k = 0; k < 20; k++) {
            byte[] blob = new byte[16 + random.nextInt(48)];
            random.nextBytes(blob);
            write("AuditLogFuzzTest", "verifyMutatedLog", "random", blob);
        }
    }
}
