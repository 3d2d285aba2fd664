#!/usr/bin/env bash
# The cost of SQLite allocating through a verified Tabguard table, against SQLite's own allocator.
#
#   examples/sqlite-cost.sh [RUNS] [ROUNDS] [-- extra SqliteWorkload options, e.g. --memstatus=off]
#
# Runs io.tabguard.examples.SqliteWorkload honest (100k inserts + 100k point queries + aggregates on an
# in-memory database) RUNS times (default 5) per allocator, each run a fresh JVM (SQLite's allocator is
# process-global) doing ROUNDS rounds (default 5) of which only the last, JIT-warm one is counted; the
# allocators take turns so that machine noise spreads evenly. Prints every run and the medians:
#   sqlite-default   SQLite's own allocator (the baseline)
#   tabguard         the verified table, CheckMode.FAST (a state read + a 192-byte compare per call)
#   tabguard-full    the verified table, CheckMode.FULL (every check, HMAC included, on every call);
#                    slow, so only when asked: ALLOCATORS="sqlite-default tabguard tabguard-full" examples/sqlite-cost.sh
#   java-unguarded   the same Java allocator behind plain FFM upcall stubs, no Tabguard (what FFM costs alone)
# Needs the modules compiled (it runs ./mvnw -q -o -pl examples -am compile first; MVN_OFFLINE= to go online).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POSITIONAL=(); EXTRA=()
while (($#)); do
  case "$1" in
    --) shift; EXTRA=("$@"); break ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
RUNS="${POSITIONAL[0]:-5}"; ROUNDS="${POSITIONAL[1]:-5}"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
"$ROOT/mvnw" -B -ntp -q ${MVN_OFFLINE--o} -f "$ROOT/pom.xml" -pl examples -am compile >/dev/null

BC_VERSION="$(sed -n 's:.*<bouncycastle.version>\(.*\)</bouncycastle.version>.*:\1:p' "$ROOT/pom.xml" | head -1)"
BC_JAR="${TABGUARD_M2_REPO:-$HOME/.m2/repository}/org/bouncycastle/bcprov-jdk18on/$BC_VERSION/bcprov-jdk18on-$BC_VERSION.jar"
[[ -f "$BC_JAR" ]] || { echo "sqlite-cost: $BC_JAR not found (set TABGUARD_M2_REPO)" >&2; exit 1; }
MODULE_PATH="$BC_JAR"
for m in guard audit native registry examples; do MODULE_PATH="$MODULE_PATH:$ROOT/$m/target/classes"; done

WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
read -r -a ALLOCATORS <<<"${ALLOCATORS:-sqlite-default tabguard java-unguarded}"
echo "sqlite-cost: $RUNS runs x $ROUNDS rounds, last round counted; $("$JAVA" -version 2>&1 | head -1); $(nproc) cores; extra: ${EXTRA[*]:-none}"
for ((run = 1; run <= RUNS; run++)); do
  for a in "${ALLOCATORS[@]}"; do
    args=(honest "${a%-full}" "$WORK/audit-$a-$run.jsonl" "--rounds=$ROUNDS" "${EXTRA[@]}")
    [[ "$a" == tabguard-full ]] && args+=(--check=full)
    line="$("$JAVA" --illegal-native-access=deny --enable-native-access=io.tabguard.ffm,io.tabguard.examples \
              -p "$MODULE_PATH" -m io.tabguard.examples/io.tabguard.examples.SqliteWorkload "${args[@]}" 2>/dev/null \
            | grep '^result ')" || { echo "sqlite-cost: $a run $run failed" >&2; exit 1; }
    [[ "$line" == *"ok=true"* ]] || { echo "sqlite-cost: $a run $run gave wrong results: $line" >&2; exit 1; }
    echo "$a $line" | tee -a "$WORK/results"
  done
done

echo
awk '
  { a = $1; for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "elapsed_ms") ms = kv[2]; if (kv[1] == "calls") calls[a] = kv[2] }
    n[a]++; v[a, n[a]] = ms; order[a] = order[a] ? order[a] : ++k; name[order[a]] = a }
  function median(a,   i, j, t, m) {
    m = n[a]; for (i = 1; i <= m; i++) s[i] = v[a, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
    return m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
  }
  END {
    base = median("sqlite-default")
    printf "%-15s %10s %8s %14s %22s\n", "allocator", "median_ms", "vs_sqlite", "calls/round", "ns/call over sqlite"
    for (i = 1; i <= k; i++) {
      a = name[i]; m = median(a)
      per = (a in calls && calls[a] > 0) ? sprintf("%.1f", (m - base) * 1e6 / calls[a]) : "-"
      printf "%-15s %10.1f %7.2fx %14s %22s\n", a, m, m / base, (a in calls ? calls[a] : "-"), per
    }
  }' "$WORK/results"
