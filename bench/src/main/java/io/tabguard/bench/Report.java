package io.tabguard.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Turns JMH JSON results into the markdown summary: benchmark, baseline, Tabguard, ratio, target, met.
 *
 * <pre>
 *   java -cp bench/target/benchmarks.jar io.tabguard.bench.Report merge OUT.json PART.json...
 *   java -cp bench/target/benchmarks.jar io.tabguard.bench.Report markdown RESULTS.json [FOOTPRINT.md]
 * </pre>
 *
 * A ratio's error is the two scores' JMH 99.9% errors combined (relative errors in quadrature).
 * "met" is judged on the scores; "unclear" when the ratio's error interval contains the target.
 * Scores from runs with a profiler attached (-prof gc) are used only for the allocation row.
 */
public final class Report {
    private Report() {}

    public static void main(String[] args) throws IOException {
        if (args.length >= 2 && args[0].equals("merge")) {
            merge(Path.of(args[1]), args);
        } else if (args.length >= 2 && args[0].equals("markdown")) {
            String footprint = args.length > 2 && Files.exists(Path.of(args[2])) ? Files.readString(Path.of(args[2])) : null;
            System.out.print(markdown(load(Path.of(args[1])), footprint));
        } else {
            System.err.println("usage: Report merge OUT.json PART.json... | Report markdown RESULTS.json [FOOTPRINT.md]");
            System.exit(2);
        }
    }

    /** Concatenates JMH result arrays (each file a JSON array) into one array. */
    private static void merge(Path out, String[] args) throws IOException {
        List<String> parts = new ArrayList<>();
        for (int k = 2; k < args.length; k++) {
            Path p = Path.of(args[k]);
            if (!Files.exists(p)) {
                continue;
            }
            String t = Files.readString(p).strip();
            if (t.length() < 2 || t.charAt(0) != '[' || t.charAt(t.length() - 1) != ']') {
                throw new IOException(p + " is not a JMH JSON result array");
            }
            String inner = t.substring(1, t.length() - 1).strip();
            if (!inner.isEmpty()) {
                parts.add(inner);
            }
        }
        Files.writeString(out, "[\n" + String.join(",\n", parts) + "\n]\n", StandardCharsets.UTF_8);
        Json.parse(Files.readString(out));   // fail here, not later, if the merge is broken
    }

    // ---------------------------------------------------------------------------------------------

    record Score(double value, double error, String unit, Map<String, Object> raw) {
        boolean known() {
            return !Double.isNaN(value);
        }

        double percentile(String p) {
            Object ps = raw.get("scorePercentiles");
            if (ps instanceof Map<?, ?> m && m.get(p) instanceof Double d) {
                return d;
            }
            return Double.NaN;
        }
    }

    private static final Score MISSING = new Score(Double.NaN, Double.NaN, "", Map.of());

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> load(Path json) throws IOException {
        return (List<Map<String, Object>>) (List<?>) Json.parse(Files.readString(json));
    }

    @SuppressWarnings("unchecked")
    private static boolean profiled(Map<String, Object> run) {
        Object sec = run.get("secondaryMetrics");
        return sec instanceof Map<?, ?> m && m.keySet().stream().anyMatch(k -> k.toString().contains("gc.alloc"));
    }

    /** The score of {@code Class.method} (with {@code param=value}, or any), from an unprofiled run if there is one. */
    @SuppressWarnings("unchecked")
    static Score score(List<Map<String, Object>> runs, String benchmark, String param, String secondary, boolean wantProfiled) {
        Map<String, Object> found = null;
        for (Map<String, Object> run : runs) {
            String name = Objects.toString(run.get("benchmark"), "");
            if (!name.endsWith("." + benchmark)) {
                continue;
            }
            if (param != null) {
                String[] kv = param.split("=", 2);
                Object params = run.get("params");
                if (!(params instanceof Map<?, ?> pm) || !kv[1].equals(Objects.toString(pm.get(kv[0]), null))) {
                    continue;
                }
            }
            if (profiled(run) != wantProfiled && found != null) {
                continue;
            }
            if (found == null || profiled(found) != wantProfiled) {
                found = run;
            }
        }
        if (found == null) {
            return MISSING;
        }
        Map<String, Object> metric = (Map<String, Object>) found.get("primaryMetric");
        if (secondary != null) {
            Map<String, Object> sec = (Map<String, Object>) found.get("secondaryMetrics");
            metric = null;
            if (sec != null) {
                for (Map.Entry<String, Object> e : sec.entrySet()) {
                    if (e.getKey().equals(secondary) || e.getKey().endsWith(secondary)) {
                        metric = (Map<String, Object>) e.getValue();
                        break;
                    }
                }
            }
            if (metric == null) {
                return MISSING;
            }
        }
        return new Score(number(metric.get("score")), number(metric.get("scoreError")),
                Objects.toString(metric.get("scoreUnit"), ""), metric);
    }

    private static double number(Object o) {
        if (o instanceof Double d) {
            return d;
        }
        try {
            return Double.parseDouble(Objects.toString(o));
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    // ---------------------------------------------------------------------------------------------

    private enum Kind { AT_MOST, AT_LEAST, REPORT }

    /** One line of the table; its ratio is always subject / baseline. */
    private record Row(String what, String baselineName, Score baseline, String subjectName, Score subject,
                       Kind kind, double target, String targetText) {}

    static String markdown(List<Map<String, Object>> runs, String footprint) {
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("1 native→Java, glibc qsort 1M ints (time/sort)",
                "raw upcall comparator", score(runs, "QsortBench.qsort1M_rawUpcall", null, null, false),
                "table slot comparator", score(runs, "QsortBench.qsort1M_tabguard", null, null, false),
                Kind.AT_MOST, 1.2, "≤ 1.2"));
        rows.add(new Row("1 native→Java, C call_n loop (time/call)",
                "raw upcallStub", score(runs, "NativeToJavaBench.callN_rawUpcall", null, null, false),
                "slot: entry thunk + shared stub", score(runs, "NativeToJavaBench.callN_tabguard", null, null, false),
                Kind.AT_MOST, 1.1, "≤ 1.1"));
        rows.add(new Row("1‴ C→native slot through its entry thunk, call_n loop (time/call; target: raw + 3 ns)",
                "raw indirect call", score(runs, "NativeSlotBench.callN_rawIndirect", null, null, false),
                "entry thunk", score(runs, "NativeSlotBench.callN_thunk", null, null, false),
                Kind.REPORT, Double.NaN, "≤ raw + 3 ns"));
        rows.add(new Row("2 native→Java vs JNA Callback, call_n (time/call)",
                "JNA Callback", score(runs, "JnaCallbackBench.callN_jnaCallback", null, null, false),
                "slot: entry thunk + shared stub", score(runs, "NativeToJavaBench.callN_tabguard", null, null, false),
                Kind.AT_MOST, 1.0, "< 1 (faster than JNA)"));
        rows.add(new Row("3 Java→native, add_ints (time/call; static final handles)",
                "raw downcall", score(runs, "DowncallBench.rawDowncall", null, null, false),
                "slotHandle(\"add\")", score(runs, "DowncallBench.validatedDowncall", null, null, false),
                Kind.AT_MOST, 1.5, "≤ 1.5"));
        rows.add(new Row("3′ Java→native, handles in instance fields (info)",
                "raw downcall", score(runs, "DowncallBench.rawDowncall_field", null, null, false),
                "slotHandle(\"add\")", score(runs, "DowncallBench.validatedDowncall_field", null, null, false),
                Kind.REPORT, Double.NaN, "info"));
        rows.add(new Row("4 import: adopt(bytes) of an 8-slot table (ops/s; ratio = Tabguard/floor)",
                "floor: copy+CRC32C+BC HMAC, keyed once", score(runs, "AdoptBench.floor_bcHmacSha256", null, null, false),
                "registry.adopt(bytes, schema)", score(runs, "AdoptBench.adoptBytes", null, null, false),
                Kind.AT_LEAST, 500_000, "≥ 500,000/s (absolute)"));
        rows.add(new Row("4′ import: adopt(pointer, length) (ops/s; info)",
                "floor: JDK HmacSHA256 (SHA-NI)", score(runs, "AdoptBench.floor_jdkHmacSha256", null, null, false),
                "registry.adopt(payload, len, schema)", score(runs, "AdoptBench.adoptPointer", null, null, false),
                Kind.AT_LEAST, 500_000, "≥ 500,000/s (absolute)"));
        rows.add(new Row("4″ HMAC cost of keying Bouncy Castle's HMac for every MAC, as SigningKey.mac does (ops/s; info)",
                "BC HMac keyed once", score(runs, "AdoptBench.floor_bcHmacSha256", null, null, false),
                "BC HMac keyed per call", score(runs, "AdoptBench.floor_bcHmacSha256_keyedPerCall", null, null, false),
                Kind.REPORT, Double.NaN, "info"));
        rows.add(new Row("1″ LLVM MCJIT compiles 100 functions, Java memory manager (time/compile)",
                "4 raw upcallStubs", score(runs, "JitCompileBench.baseline_compile100_rawStubs", null, null, false),
                "verified table", score(runs, "JitCompileBench.compile100_tabguard", null, null, false),
                Kind.AT_MOST, 1.05, "≤ 1.05"));
        rows.add(new Row("5 build + stamp 8-slot tables (tables/s; ratio = Tabguard/raw)",
                "8 raw upcallStubs + struct", score(runs, "BuildBench.baseline_raw8Stubs", null, null, false),
                "builder: 8 Java slots", score(runs, "BuildBench.build8_javaSlots", null, null, false),
                Kind.REPORT, Double.NaN, "report"));
        rows.add(new Row("5′ build without stubs (tables/s; info)",
                "8 raw upcallStubs + struct", score(runs, "BuildBench.baseline_raw8Stubs", null, null, false),
                "builder: 8 native slots", score(runs, "BuildBench.build8_nativeSlots", null, null, false),
                Kind.REPORT, Double.NaN, "info"));
        for (String n : new String[]{"1000", "100000", "1000000"}) {
            rows.add(new Row("6 scale: call_n dispatch, " + n + " live tables vs 10 (time/call)",
                    "10 tables", score(runs, "ScaleBench.dispatchOne", "liveTables=10", null, false),
                    n + " tables", score(runs, "ScaleBench.dispatchOne", "liveTables=" + n, null, false),
                    Kind.AT_MOST, 1.10, "≤ 1.10 (flat within 10%)"));
        }
        rows.add(new Row("6′ many distinct hot slots: 8000 pointers in turn, call_n each (time/call)",
                "8000 raw upcallStubs", score(runs, "SpreadBench.rawUpcall_spread", "pointers=8000", null, false),
                "8000 slots (1000 tables)", score(runs, "SpreadBench.tabguard_spread", "pointers=8000", null, false),
                Kind.AT_MOST, 1.2, "≤ 1.2"));
        rows.add(new Row("6′ the same with 8 pointers (time/call; info)",
                "8 raw upcallStubs", score(runs, "SpreadBench.rawUpcall_spread", "pointers=8", null, false),
                "8 slots (1 table)", score(runs, "SpreadBench.tabguard_spread", "pointers=8", null, false),
                Kind.REPORT, Double.NaN, "info"));
        Score firstCall = score(runs, "FirstCallBench.firstCall", null, null, false);
        Score warmCall = score(runs, "FirstCallBench.warmCall", null, null, false);
        Score harness = score(runs, "FirstCallBench.harness", null, null, false);
        Score steadyCall = score(runs, "FirstCallBench.steadyCall", null, null, false);
        rows.add(new Row("6″ first call through a new slot (its table just built) vs steady state, call_ii (time/call)",
                "steady state: warmed slots", steadyCall,
                "new slot − harness", minus(firstCall, harness),
                Kind.AT_MOST, 2.0, "≤ 2.0"));
        rows.add(new Row("6″ the slot's newness alone: vs warmed slots after the same table-building setup, both net of harness (info)",
                "warmed slot − harness", minus(warmCall, harness),
                "new slot − harness", minus(firstCall, harness),
                Kind.REPORT, Double.NaN, "info"));
        rows.add(new Row("6″ the same, timer overhead included (info; harness: " + cell("", harness) + ")",
                "warmed slot", warmCall, "new slot", firstCall, Kind.REPORT, Double.NaN, "info"));
        rows.add(new Row("6″ a new slot's second call vs its first, both net of harness (info)",
                "first call − harness", minus(firstCall, harness),
                "second call − harness", minus(score(runs, "FirstCallBench.secondCall", null, null, false), harness),
                Kind.REPORT, Double.NaN, "info"));
        rows.add(new Row("6″ first call: new raw upcallStub vs new slot (info)",
                "new raw upcallStub", score(runs, "FirstCallBench.rawFirstCall", null, null, false),
                "new slot", firstCall, Kind.REPORT, Double.NaN, "info"));
        rows.add(new Row("7 threads: dispatch throughput, 2 threads vs 1 (calls/µs)",
                "1 thread", score(runs, "ThreadsBench.tabguard_1thread", null, null, false),
                "2 threads", score(runs, "ThreadsBench.tabguard_2threads", null, null, false),
                Kind.AT_LEAST, 1.8, "≥ 1.8"));
        rows.add(new Row("7′ threads, raw upcall stub: what the machine allows (calls/µs; info)",
                "1 thread", score(runs, "ThreadsBench.rawUpcall_1thread", null, null, false),
                "2 threads", score(runs, "ThreadsBench.rawUpcall_2threads", null, null, false),
                Kind.REPORT, Double.NaN, "info"));

        StringBuilder sb = new StringBuilder();
        sb.append("| benchmark | baseline | Tabguard | ratio | target | met |\n");
        sb.append("|---|---|---|---:|---|---|\n");
        for (Row r : rows) {
            sb.append("| ").append(r.what()).append(" | ")
                    .append(cell(r.baselineName(), r.baseline())).append(" | ")
                    .append(cell(r.subjectName(), r.subject())).append(" | ");
            double[] ratio = ratio(r);
            sb.append(Double.isNaN(ratio[0]) ? "n/a" : String.format(Locale.ROOT, "%.2f ± %.2f", ratio[0], ratio[1])).append(" | ")
                    .append(r.targetText()).append(" | ").append(verdict(r, ratio)).append(" |\n");
        }
        // Benchmark 8: key rotation.
        Score rotate = score(runs, "RotationBench.rotateKey", null, null, false);
        Score rotator = score(runs, "RotationBench.rotating", null, "rotator", false);
        Score quiet = score(runs, "RotationBench.dispatchQuiet", null, null, false);
        Score during = score(runs, "RotationBench.rotating", null, "dispatchWhileRotating", false);
        sb.append("| 8 key rotation, 10,000 live tables: time per rotateKey() | — | ")
                .append(cell("alone", rotate)).append("; under dispatch ").append(cell("", inMillis(rotator)))
                .append(" | n/a | report | — |\n");
        sb.append("| 8 dispatch latency (call_ii, µs) p50 / p99 / p99.9 / p99.99 / max | ")
                .append(percentiles("no rotation", quiet)).append(" | ")
                .append(percentiles("rotating meanwhile", during)).append(" | ")
                .append(ratioOfPercentile(quiet, during, "99.9")).append(" (p99.9) | report | — |\n");
        // Allocation on the accept path.
        Score alloc = score(runs, "NativeToJavaBench.callN_tabguard", null, "gc.alloc.rate.norm", true);
        Score allocRaw = score(runs, "NativeToJavaBench.callN_rawUpcall", null, "gc.alloc.rate.norm", true);
        // Any allocation per call would show as >= 16 B/call; JMH's own allocation spread over 1000 calls is ~0.001.
        sb.append("| accept path allocation, -prof gc on call_n (B/call) | ").append(cell("raw upcall", allocRaw))
                .append(" | ").append(cell("slot", alloc)).append(" | n/a | 0 B/call (< 1) | ")
                .append(!alloc.known() ? "not run" : alloc.value() < 1.0 ? "yes" : "**no**").append(" |\n");
        sb.append('\n');
        sb.append("Scores are JMH means ± 99.9% confidence half-width; a ratio's error combines both. ")
                .append("Time ratios are Tabguard / baseline (lower is better); throughput ratios (ops/s, tables/s, calls/µs) ")
                .append("are Tabguard / baseline, or 2 threads / 1 thread (higher is better). ")
                .append("\"unclear\" means the error interval contains the target.\n");
        if (footprint != null) {
            sb.append('\n').append(footprint.strip()).append('\n');
        }
        return sb.toString();
    }

    /** {@code a - b}, errors combined in quadrature (the two runs are independent). */
    private static Score minus(Score a, Score b) {
        if (!a.known() || !b.known()) {
            return MISSING;
        }
        double error = Double.isNaN(a.error()) || Double.isNaN(b.error()) ? Double.NaN : Math.hypot(a.error(), b.error());
        return new Score(a.value() - b.value(), error, a.unit(), a.raw());
    }

    /** A SampleTime score in us/op shown in ms/op (rotation takes milliseconds). */
    private static Score inMillis(Score s) {
        if (!s.known() || !s.unit().startsWith("us")) {
            return s;
        }
        return new Score(s.value() / 1000, s.error() / 1000, "ms" + s.unit().substring(2), s.raw());
    }

    private static String cell(String name, Score s) {
        String label = name.isEmpty() ? "" : name + ": ";
        if (!s.known()) {
            return label + "not run";
        }
        return label + fmt(s.value()) + (Double.isNaN(s.error()) ? "" : " ± " + fmt(s.error())) + " " + s.unit();
    }

    private static String percentiles(String name, Score s) {
        if (!s.known()) {
            return name + ": not run";
        }
        return name + ": " + fmt(s.percentile("50.0")) + " / " + fmt(s.percentile("99.0")) + " / "
                + fmt(s.percentile("99.9")) + " / " + fmt(s.percentile("99.99")) + " / " + fmt(s.percentile("100.0"));
    }

    private static String ratioOfPercentile(Score base, Score subject, String p) {
        double a = base.percentile(p);
        double b = subject.percentile(p);
        return Double.isNaN(a) || Double.isNaN(b) || a == 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", b / a);
    }

    private static double[] ratio(Row r) {
        Score a = r.subject();
        Score b = r.baseline();
        if (!a.known() || !b.known() || b.value() == 0) {
            return new double[]{Double.NaN, Double.NaN};
        }
        double ratio = a.value() / b.value();
        double rel = Math.hypot(relative(a), relative(b));
        return new double[]{ratio, ratio * rel};
    }

    private static double relative(Score s) {
        return Double.isNaN(s.error()) || s.value() == 0 ? 0 : s.error() / s.value();
    }

    private static String verdict(Row r, double[] ratio) {
        if (r.kind() == Kind.REPORT) {
            return "—";
        }
        // Absolute target (benchmark 4): judged on the Tabguard score itself.
        boolean absolute = r.targetText().contains("absolute");
        double value = absolute ? r.subject().value() : ratio[0];
        double error = absolute ? r.subject().error() : ratio[1];
        if (Double.isNaN(value)) {
            return "not run";
        }
        if (Double.isNaN(error)) {
            error = 0;
        }
        boolean met = r.kind() == Kind.AT_MOST ? value <= r.target() : value >= r.target();
        boolean clear = r.kind() == Kind.AT_MOST
                ? (met ? value + error <= r.target() : value - error > r.target())
                : (met ? value - error >= r.target() : value + error < r.target());
        if (!clear) {
            return met ? "yes (unclear)" : "**no** (unclear)";
        }
        return met ? "yes" : "**no**";
    }

    private static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        double a = Math.abs(v);
        if (a >= 10_000) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 1) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3g", v);
    }
}
