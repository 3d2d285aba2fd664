package io.tabguard.bench;

import io.tabguard.guard.Schema;
import io.tabguard.registry.CallbackTable;
import io.tabguard.registry.Registry;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Benchmark 4, full verification on import: {@code registry.adopt(bytes, schema)} of an 8-slot table's
 * verified bytes (copy, structure, version, CRC32C, HMAC-SHA-256, state, slots, snapshot compare),
 * single thread. Target: >= 500,000 adopts/s.
 *
 * <p>For scale, the floor any implementation pays: copy + CRC32C + one HMAC-SHA-256 over the same
 * bytes and address, with a MAC object keyed once and reused, with the JDK's HmacSHA256 (SHA-NI
 * intrinsics where the CPU has them) and with Bouncy Castle's HMac (what Tabguard uses); and Bouncy
 * Castle's HMac created and keyed for every MAC, as {@code SigningKey.mac} does today.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class AdoptBench {
    private static final byte[] DOMAIN = "tabguard.table.v1\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private Registry registry;
    private CallbackTable table;
    private Schema schema;
    private byte[] bytes;
    private MemorySegment payload;
    private long payloadSize;
    private long address;

    private byte[] key;
    private Mac jdkMac;
    private HMac bcMac;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        registry = Fixtures.registry();
        table = Fixtures.eightSlotTable(registry);
        schema = Fixtures.EIGHT;
        bytes = table.verifiedBytes();
        payload = table.payload();
        payloadSize = payload.byteSize();
        address = payload.address() - io.tabguard.guard.AbiV1.HEADER_SIZE;
        if (registry.adopt(bytes, schema) != table || registry.adopt(payload, payloadSize, schema) != table) {
            throw new IllegalStateException("adopt did not return the table");
        }
        key = new byte[32];
        new java.security.SecureRandom().nextBytes(key);
        jdkMac = Mac.getInstance("HmacSHA256");
        jdkMac.init(new SecretKeySpec(key, "HmacSHA256"));
        bcMac = new HMac(new SHA256Digest());
        bcMac.init(new KeyParameter(key));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        registry.close();
    }

    @Benchmark
    public CallbackTable adoptBytes() {
        return registry.adopt(bytes, schema);
    }

    @Benchmark
    public CallbackTable adoptPointer() {
        return registry.adopt(payload, payloadSize, schema);
    }

    @Benchmark
    public byte[] floor_jdkHmacSha256() {
        byte[] copy = bytes.clone();
        CRC32C crc = new CRC32C();
        crc.update(copy, 0, copy.length);
        jdkMac.update(DOMAIN);
        jdkMac.update(copy);
        for (int i = 0; i < 8; i++) {
            jdkMac.update((byte) ((address + crc.getValue()) >>> (8 * i)));
        }
        return jdkMac.doFinal();
    }

    /** As {@link #floor_bcHmacSha256}, but a new HMac keyed for every MAC, as SigningKey.mac does. */
    @Benchmark
    public byte[] floor_bcHmacSha256_keyedPerCall() {
        byte[] copy = bytes.clone();
        CRC32C crc = new CRC32C();
        crc.update(copy, 0, copy.length);
        HMac mac = new HMac(new SHA256Digest());
        mac.init(new KeyParameter(key));
        mac.update(DOMAIN, 0, DOMAIN.length);
        mac.update(copy, 0, copy.length);
        for (int i = 0; i < 8; i++) {
            mac.update((byte) ((address + crc.getValue()) >>> (8 * i)));
        }
        byte[] out = new byte[32];
        mac.doFinal(out, 0);
        return out;
    }

    @Benchmark
    public byte[] floor_bcHmacSha256() {
        byte[] copy = bytes.clone();
        CRC32C crc = new CRC32C();
        crc.update(copy, 0, copy.length);
        bcMac.update(DOMAIN, 0, DOMAIN.length);
        bcMac.update(copy, 0, copy.length);
        for (int i = 0; i < 8; i++) {
            bcMac.update((byte) ((address + crc.getValue()) >>> (8 * i)));
        }
        byte[] out = new byte[32];
        bcMac.doFinal(out, 0);
        return out;
    }
}
