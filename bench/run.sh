#!/usr/bin/env bash
# Tabguard's benchmark suite: builds the library and the JMH jar, runs every benchmark, and writes
#   bench/results/results-<date>.json   all JMH results (one JSON array)
#   bench/results/results-<date>.txt    JMH's human-readable output, then the summary
#   bench/results/results-<date>.md     the summary table (benchmark, baseline, Tabguard, ratio, target, met)
#
# usage: bench/run.sh [--quick] [--diag] [--no-build] [--only REGEX] [--repo DIR]
#   --quick     1 fork, 2x1s warmup, 3x1s measurement: a sanity check in ~4 minutes, NOT for numbers
#   --diag      also run the diagnosis benchmarks (GateCostBench, SharedStubCostBench)
#   --no-build  use bench/target/benchmarks.jar as it is
#   --only RE   run only the groups whose name or JMH regex matches RE (e.g. --only Adopt,
#               --only 'NativeToJava|Spread|Downcall|FirstCall')
#   --repo DIR  build against the Maven repository DIR (-Dmaven.repo.local) instead of ~/.m2, e.g. a
#               private one in a git worktree (default: $TABGUARD_M2_REPO if set, else Maven's own)
#
# The full run takes about 20 minutes on 2 cores (ScaleBench builds 1,000,000 tables per fork).
# Run it on an idle machine: with 2 cores, anything else running (a build, a test suite) shows up
# in every score and ruins the 2-thread benchmark.
# Registries in the benchmarks write their audit events to a no-op sink (NoOpAuditSink): the audit
# log's I/O is not what is measured.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
if [[ -z "${JAVA_HOME:-}" && -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]]; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
[[ -n "${JAVA_HOME:-}" ]] && export PATH="$JAVA_HOME/bin:$PATH"

QUICK=0 DIAG=0 BUILD=1 ONLY="" REPO="${TABGUARD_M2_REPO:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --diag) DIAG=1 ;;
    --no-build) BUILD=0 ;;
    --only) ONLY="$2"; shift ;;
    --repo) REPO="$2"; shift ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

java_version="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [[ -z "$java_version" || "$java_version" -lt 25 ]]; then
  echo "bench/run.sh needs a JDK 25 (JAVA_HOME=${JAVA_HOME:-unset})" >&2
  exit 3
fi

if [[ $BUILD -eq 1 ]]; then
  echo "== building the library (install registry, examples and what they need) and bench/target/benchmarks.jar"
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  MVN=(./mvnw -B -ntp)
  [[ -n "$REPO" ]] && MVN+=("-Dmaven.repo.local=$(mkdir -p "$REPO" && cd "$REPO" && pwd)")
  (cd "$ROOT" && { "${MVN[@]}" -o -q install -DskipTests -pl registry,examples -am \
                   || "${MVN[@]}" -q install -DskipTests -pl registry,examples -am; })
  (cd "$ROOT" && { "${MVN[@]}" -o -q -f bench/pom.xml package \
                   || "${MVN[@]}" -q -f bench/pom.xml package; })
fi
JAR="$BENCH/target/benchmarks.jar"
[[ -f "$JAR" ]] || { echo "$JAR is missing: run without --no-build" >&2; exit 1; }
[[ -f "$BENCH/target/native/libtgbench.so" ]] || { echo "bench/target/native/libtgbench.so is missing" >&2; exit 1; }

STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="$BENCH/results"
mkdir -p "$OUT"
PARTS="$(mktemp -d "${TMPDIR:-/tmp}/tabguard-bench.XXXXXX")"
trap 'rm -rf "$PARTS"' EXIT
JSON="$OUT/results-$STAMP.json"
TXT="$OUT/results-$STAMP.txt"
MD="$OUT/results-$STAMP.md"

# The JMH host JVM; the forks get their flags from each benchmark's @Fork (native access, code cache).
# -jvmArgsPrepend adds to them (-jvmArgsAppend on the command line would replace them).
JMH=(java --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED -jar "$JAR"
     -jvmArgsPrepend "--sun-misc-unsafe-memory-access=allow")

{
  echo "# Tabguard benchmarks, $STAMP"
  echo "# $(java -version 2>&1 | tail -1)"
  echo "# $(uname -srm), $(nproc) CPUs: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "# git: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet 2>/dev/null || echo ' (work tree has changes)')"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)$(awk '$1 > 0.5 {print "  <-- the machine is busy: scores will be noisy"}' /proc/loadavg)"
  echo "# mode: $([[ $QUICK -eq 1 ]] && echo 'QUICK (sanity only, not for numbers)' || echo full)"
} | tee "$TXT"

n=0
run() {   # run NAME REGEX [JMH options...]
  local name="$1" regex="$2"; shift 2
  if [[ -n "$ONLY" ]] && ! [[ "$regex" =~ $ONLY || "$name" =~ $ONLY ]]; then
    return 0
  fi
  n=$((n + 1))
  local opts=()
  if [[ $QUICK -eq 1 ]]; then   # replace forks/warmup/measurement, keep the rest (e.g. -prof gc)
    opts=(-f 1 -wi 2 -w 1s -i 3 -r 1s)
    while [[ $# -gt 0 ]]; do
      case "$1" in -f|-wi|-w|-i|-r) shift 2 ;; *) opts+=("$1"); shift ;; esac
    done
  else
    opts=("$@")
  fi
  echo | tee -a "$TXT"
  echo "== [$name] $regex ${opts[*]}" | tee -a "$TXT"
  if ! "${JMH[@]}" "$regex" "${opts[@]}" -rf json -rff "$PARTS/$(printf %02d $n)-$name.json" 2>&1 \
      | { grep -v -e '^WARNING: ' -e '^# Warmup Iteration' -e '^Iteration ' || true; } \
      | tee -a "$TXT"; then
    echo "!! [$name] failed: see above; the summary marks its rows 'not run'" | tee -a "$TXT"
  fi
}

# Fast, ns-scale benchmarks: 2 forks x 5 measured seconds each.
FAST=(-f 2 -wi 3 -w 1s -i 5 -r 1s)
run dispatch  'io.tabguard.bench.(NativeToJavaBench|NativeSlotBench|JnaCallbackBench|DowncallBench)\.' "${FAST[@]}"
# qsort: ~0.5-1 s per sort, so longer iterations.
run qsort     'io.tabguard.bench.QsortBench\.' -f 2 -wi 2 -w 3s -i 4 -r 3s
run adopt     'io.tabguard.bench.AdoptBench\.' "${FAST[@]}"
run build     'io.tabguard.bench.BuildBench\.' -f 2 -wi 2 -w 2s -i 4 -r 2s
# 10 .. 1,000,000 live tables: building the million takes ~30-60 s per fork (trial setup, not measured).
run scale     'io.tabguard.bench.ScaleBench\.' "${FAST[@]}"
run threads   'io.tabguard.bench.ThreadsBench\.' "${FAST[@]}"
# Refusing a call on a retired table, with the default file audit log (issue 12).
run refusal   'io.tabguard.bench.RefusalBench\.' "${FAST[@]}"
run rotation  'io.tabguard.bench.RotationBench\.' -f 2 -wi 2 -w 2s -i 4 -r 2s
run spread    'io.tabguard.bench.SpreadBench\.' -f 2 -wi 2 -w 2s -i 4 -r 2s
# The first call through a new slot vs a warmed one (each invocation builds a fresh table, untimed).
run firstcall 'io.tabguard.bench.FirstCallBench\.' -f 2 -wi 3 -w 1s -i 5 -r 1s
# LLVM MCJIT compiling 100 functions (~20 ms per op): verified memory manager vs raw upcall stubs.
run jit       'io.tabguard.bench.JitCompileBench\.' -f 2 -wi 3 -w 2s -i 5 -r 2s
# Allocation on the accept path: the same dispatch benchmark under -prof gc (1 fork is enough for B/op).
run gc        'io.tabguard.bench.NativeToJavaBench\.' -f 1 -wi 3 -w 1s -i 5 -r 1s -prof gc
if [[ $DIAG -eq 1 ]]; then
  run diag    'io.tabguard.bench.(GateCostBench|SharedStubCostBench)\.' -f 1 -wi 3 -w 1s -i 5 -r 1s
fi

java -cp "$JAR" io.tabguard.bench.Report merge "$JSON" "$PARTS"/*.json

FOOT="$PARTS/footprint.md"
if [[ -z "$ONLY" || "footprint" =~ $ONLY ]]; then
  echo | tee -a "$TXT"
  echo "== [footprint] heap and native bytes per live 8-slot table (NMT on, default code cache)" | tee -a "$TXT"
  counts=(10000 100000 1000000)
  [[ $QUICK -eq 1 ]] && counts=(10000)
  java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
       -XX:NativeMemoryTracking=summary \
       -cp "$JAR" io.tabguard.bench.MemoryFootprint "${counts[@]}" | tee "$FOOT" | tee -a "$TXT"
fi

java -cp "$JAR" io.tabguard.bench.Report markdown "$JSON" "$FOOT" > "$MD"
{ echo; echo "== summary"; cat "$MD"; } | tee -a "$TXT"
echo
echo "results: $JSON"
echo "         $TXT"
echo "         $MD"
