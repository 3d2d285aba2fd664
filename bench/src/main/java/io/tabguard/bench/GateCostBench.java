package io.tabguard.bench;

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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

/**
 * Diagnosis, not a target: the parts of the trampoline's accept path
 * ({@code DispatchGate.enter}/{@code exit} with {@code DispatchTracker}), rebuilt from JDK API only, so
 * their costs can be told apart and a cheaper form measured. Not run by run.sh by default
 * ({@code bench/run.sh --diag} runs it).
 *
 * <ul>
 *   <li>{@code part_*}: one ingredient each;</li>
 *   <li>{@code model_current}: the accept path as DispatchGate/DispatchTracker do it today: ThreadLocal
 *       lookup, gate pushed, volatile depth store (a full StoreLoad fence on x86), volatile state read,
 *       MemorySegment.mismatch of the 192-byte table against its snapshot; then on exit a second
 *       ThreadLocal lookup and a second volatile store;</li>
 *   <li>{@code model_proposed}: one ThreadLocal lookup whose record is handed from enter to exit, a
 *       release store on exit (no fence), and the 192-byte compare as 24 long compares against a
 *       long[] snapshot.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class GateCostBench {
    static final int TABLE = 192;
    static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

    static final class Record {
        Object[] gates = new Object[8];
        volatile int depth;
    }

    private static final VarHandle DEPTH;

    static {
        try {
            DEPTH = MethodHandles.lookup().findVarHandle(Record.class, "depth", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ThreadLocal<Record> current = ThreadLocal.withInitial(Record::new);
    private Arena arena;
    private MemorySegment live;
    private byte[] snapshotBytes;
    private MemorySegment snapshot;
    private long[] snapshotWords;
    private long liveAddress;
    private volatile int state = 1;
    private Record record;
    private int value;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        live = arena.allocate(TABLE, 16);
        for (int i = 0; i < TABLE; i++) {
            live.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
        }
        snapshotBytes = live.toArray(ValueLayout.JAVA_BYTE);
        snapshot = MemorySegment.ofArray(snapshotBytes);
        snapshotWords = live.toArray(ValueLayout.JAVA_LONG);
        liveAddress = live.address();
        record = new Record();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public Record part_threadLocalGet() {
        return current.get();
    }

    @Benchmark
    public void part_volatileStore() {
        record.depth = ++value;
    }

    @Benchmark
    public void part_releaseStore() {
        DEPTH.setRelease(record, ++value);
    }

    @Benchmark
    public long part_mismatch192() {
        return MemorySegment.mismatch(live, 0, live.byteSize(), snapshot, 0, snapshotBytes.length);
    }

    @Benchmark
    public boolean part_compare24Words() {
        return wordsMatch();
    }

    private boolean wordsMatch() {
        long[] w = snapshotWords;
        MemorySegment l = live;
        long diff = 0;
        for (int i = 0; i < w.length; i++) {
            diff |= l.get(WORD, (long) i * 8) ^ w[i];
        }
        return diff == 0;
    }

    @Benchmark
    public boolean part_compare24WordsConstantBound() {
        long[] w = snapshotWords;
        MemorySegment l = live;
        long diff = 0;
        for (int i = 0; i < TABLE / 8; i++) {
            diff |= l.get(WORD, (long) i * 8) ^ w[i];
        }
        return diff == 0;
    }

    @Benchmark
    public boolean part_compareWordsFromAddress() {
        // the gate knows its table's address and size; a view of exactly that size, made here, lets
        // the JIT see the bound as a constant
        MemorySegment l = MemorySegment.ofAddress(liveAddress).reinterpret(TABLE);
        long[] w = snapshotWords;
        long diff = 0;
        for (int i = 0; i < TABLE / 8; i++) {
            diff |= l.get(WORD, (long) i * 8) ^ w[i];
        }
        return diff == 0;
    }

    @Benchmark
    public boolean model_current() {
        Record r = current.get();
        int d = r.depth;
        r.gates[d] = this;
        r.depth = d + 1;
        boolean ok = state == 1 && MemorySegment.mismatch(live, 0, live.byteSize(), snapshot, 0, snapshotBytes.length) == -1;
        Record r2 = current.get();
        int e = r2.depth - 1;
        r2.gates[e] = null;
        r2.depth = e;
        return ok;
    }

    @Benchmark
    public boolean model_proposed() {
        Record r = current.get();
        int d = r.depth;
        r.gates[d] = this;
        r.depth = d + 1;                 // still a volatile store: the Dekker pair with retire() needs it
        boolean ok = state == 1 && wordsMatch();
        r.gates[d] = null;
        DEPTH.setRelease(r, d);          // leaving needs no fence
        return ok;
    }
}
