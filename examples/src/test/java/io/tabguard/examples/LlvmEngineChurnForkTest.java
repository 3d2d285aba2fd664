package io.tabguard.examples;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * 10,000 MCJIT engines created and disposed in a row, each with a fresh {@link GuardedJitMemoryManager}
 * that is closed and released after its engine ({@link LlvmEngineChurnMain}, in a forked JVM): every
 * engine's JIT-compiled function returns the right value, and resident memory and the code cache after
 * 10,000 engines are within 10% of what they were after 1,000. Without release, every manager's table
 * would keep its four slot records (and through them its memory manager) until the registry closed.
 *
 * <p>Robustness: the first 1,000 engines are the warm-up (class loading, the JIT compiling the call paths,
 * LLVM's one-time initialisation, the first thunk region), so the levels compared are both after it; the
 * heap is fixed and pre-touched ({@code -Xms = -Xmx}, {@code AlwaysPreTouch}) so that RSS does not follow
 * G1 growing or shrinking the heap, and garbage is collected before each measurement. Since a fixed heap
 * hides Java-side growth from RSS, the heap's live set after a full collection is compared as well.
 */
class LlvmEngineChurnForkTest {
    static final int ENGINES = 10_000;
    static final int WARM_UP = 1_000;

    private static final Pattern MEASURE = Pattern.compile(
            "measure (\\d+) rss=(\\d+) codeCache=(\\d+) heapUsed=(\\d+) thunkViews=(\\d+) ms=(\\d+)");

    record Measure(long rssKb, long codeCache, long heapUsed, long thunkViews, long millis) {}

    @Test
    void tenThousandEnginesStayFlatAndAllComputeRight() throws Exception {
        if (LlvmJit.find().isEmpty()) {
            fail("no libLLVM on this machine: " + LlvmJit.candidates());
        }
        ForkedJvm.Result r = ForkedJvm.run(300, null,
                List.of("--add-modules=java.management", "-Xms192m", "-Xmx192m", "-XX:+AlwaysPreTouch"),
                LlvmEngineChurnMain.class.getName(), String.valueOf(ENGINES), String.valueOf(WARM_UP),
                String.valueOf(ENGINES / 2), String.valueOf(ENGINES));
        String out = r.output();
        assertEquals(0, r.exitCode(), out);
        List<String> lines = out.lines().toList();
        lines.stream().filter(l -> l.startsWith("measure ") || l.startsWith("audit TABLE_")).forEach(System.out::println);
        assertTrue(lines.contains("done"), out);
        assertTrue(lines.contains("wrong=0"), "every engine's function returned the right value:\n" + out);
        assertTrue(lines.contains("audit TABLE_RELEASED " + ENGINES), "every manager's table was released:\n" + out);
        assertTrue(lines.contains("audit TABLE_REFUSED 0"), "LLVM's calls were all accepted:\n" + out);
        assertTrue(lines.contains("open tables 0"), out);

        Map<Integer, Measure> m = lines.stream().map(MEASURE::matcher).filter(Matcher::matches).collect(Collectors.toMap(
                x -> Integer.parseInt(x.group(1)), x -> new Measure(Long.parseLong(x.group(2)), Long.parseLong(x.group(3)),
                        Long.parseLong(x.group(4)), Long.parseLong(x.group(5)), Long.parseLong(x.group(6)))));
        Measure warm = m.get(WARM_UP), end = m.get(ENGINES);
        assertNotNull(warm, out);
        assertNotNull(end, out);
        assertWithinTenPercent("RSS (KB)", warm.rssKb(), end.rssKb(), out);
        assertWithinTenPercent("code cache used (bytes)", warm.codeCache(), end.codeCache(), out);
        // RSS cannot see the Java heap (fixed and pre-touched); the live set after a full collection can
        assertWithinTenPercent("heap used after GC (bytes)", warm.heapUsed(), end.heapUsed(), out);
        assertTrue(end.thunkViews() <= warm.thunkViews() + 1, "thunk regions grew:\n" + out);
        // Sharper than 10% of an RSS that is mostly the pre-touched heap: over the second half, less than 2 KB
        // an engine. What remains by design is each released table's bytes (header and payload, ~100 B seen
        // through both mappings of the registry's table memory), kept until the registry closes.
        Measure mid = m.get(ENGINES / 2);
        assertNotNull(mid, out);
        long perEngineBytes = (end.rssKb() - mid.rssKb()) * 1024 / (ENGINES - ENGINES / 2);
        assertTrue(perEngineBytes < 2048, "RSS grew " + perEngineBytes + " B an engine from " + ENGINES / 2 + " to " + ENGINES + ":\n" + out);
    }

    private static void assertWithinTenPercent(String what, long warm, long end, String out) {
        assertTrue(Math.abs(end - warm) <= warm / 10, what + " after " + WARM_UP + " engines " + warm + ", after " + ENGINES
                + " " + end + ": more than 10% apart\n" + out);
    }
}
