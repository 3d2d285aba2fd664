#!/usr/bin/env bash
# Runs one of Tabguard's Jazzer fuzz targets as a real coverage-guided campaign, then reports what it did.
#
#   scripts/fuzz.sh TARGET [DURATION]
#   scripts/fuzz.sh list
#
# TARGET is Class#method of a @FuzzTest in tests/ (package io.tabguard.testkit), e.g.
# TableImportFuzzTest#adoptArbitraryBytes; DURATION is Jazzer's max_duration (30s, 10m, 1h; default 10m).
# Without this script (and without JAZZER_FUZZ) the same tests run in regression mode, on the committed
# seeds only, as part of ./tabguard test.
#
# The corpus a campaign grows is kept in tests/.cifuzz-corpus/<Class>/<method>/ (not committed) and
# reused by the next campaign of the same target. A finding (a false accept, a false refusal, any
# exception other than the refusal, a crash) fails the run; Jazzer stores its input as
# tests/src/test/resources/io/tabguard/testkit/<Class>Inputs/<method>/crash-<sha1>, where it becomes a
# regression test once committed. No JaCoCo or other coverage agent: with one, Jazzer crashes on JDK 25.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TESTS="$ROOT/tests/src/test/java/io/tabguard/testkit"
if [[ "${1:-}" == "list" || -z "${1:-}" ]]; then
  echo "fuzz targets (Class#method):"
  grep -l '@FuzzTest' "$TESTS"/*.java | while read -r f; do
    cls="$(basename "$f" .java)"
    awk -v c="$cls" '/@FuzzTest/{getline; if (match($0, /void [A-Za-z0-9_]+\(/)) print "  " c "#" substr($0, RSTART+5, RLENGTH-6)}' "$f"
  done
  [[ -z "${1:-}" ]] && { echo "usage: scripts/fuzz.sh TARGET [DURATION]" >&2; exit 2; }
  exit 0
fi

TARGET="$1"
DURATION="${2:-10m}"
[[ "$TARGET" == *#* ]] || { echo "fuzz.sh: TARGET must be Class#method (see scripts/fuzz.sh list)" >&2; exit 2; }
CLASS="${TARGET%%#*}"
METHOD="${TARGET##*#}"

if [[ -z "${JAVA_HOME:-}" || ! -x "${JAVA_HOME}/bin/javac" ]]; then
  for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25*; do
    [[ -x "$candidate/bin/javac" ]] && { export JAVA_HOME="$candidate"; break; }
  done
fi
export PATH="$JAVA_HOME/bin:$PATH"

LOG_DIR="$ROOT/tests/target/fuzz"
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/$CLASS-$METHOD-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "fuzz.sh: fuzzing $TARGET for $DURATION; libFuzzer output in $LOG"

set +e
JAZZER_FUZZ=1 "$ROOT/mvnw" -B -ntp -pl tests -am verify \
  -Dtest="io.tabguard.testkit.$TARGET" -Dsurefire.failIfNoSpecifiedTests=false \
  -Djazzer.max_duration="$DURATION" -Djazzer.instrument="${JAZZER_INSTRUMENT:-io.tabguard.**}" >"$LOG" 2>&1
STATUS=$?
set -e

CORPUS="$ROOT/tests/.cifuzz-corpus/io.tabguard.testkit.$CLASS/$METHOD"
[[ -d "$CORPUS" ]] || CORPUS="$(find "$ROOT/tests/.cifuzz-corpus" -type d -path "*$CLASS*/$METHOD" 2>/dev/null | head -1)"
LAST="$(grep -aE '^#[0-9]+' "$LOG" | grep -a 'cov:' | tail -1 || true)"
FIRST="$(grep -aE '^#[0-9]+' "$LOG" | grep -a 'cov:' | head -1 || true)"
echo "fuzz.sh: first stats line: ${FIRST:-none}"
echo "fuzz.sh: last stats line:  ${LAST:-none}"
if [[ -n "$LAST" ]]; then
  runs="$(sed -E 's/^#([0-9]+).*/\1/' <<<"$LAST")"
  cov="$(grep -oE 'cov: [0-9]+' <<<"$LAST" | awk '{print $2}')"
  ft="$(grep -oE 'ft: [0-9]+' <<<"$LAST" | awk '{print $2}')"
  corp="$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$LAST" | awk '{print $2}')"
  execs="$(grep -oE 'exec/s: [0-9]+' <<<"$LAST" | awk '{print $2}')"
  echo "fuzz.sh: $TARGET: $runs executions, ${execs:-?} exec/s at the end, coverage $cov edges ($ft features), corpus $corp (entries/size)"
fi
[[ -n "$CORPUS" && -d "$CORPUS" ]] && echo "fuzz.sh: corpus directory $CORPUS holds $(find "$CORPUS" -type f | wc -l) files"
CRASHES="$(find "$ROOT/tests/src/test/resources/io/tabguard/testkit/${CLASS}Inputs" "$ROOT/tests" -maxdepth 3 -name 'crash-*' 2>/dev/null | sort -u || true)"
[[ -n "$CRASHES" ]] && { echo "fuzz.sh: findings:"; echo "$CRASHES" | sed 's/^/  /'; }
if grep -aqE 'Tests run: .*Failures: [1-9]|Tests run: .*Errors: [1-9]|BUILD FAILURE' "$LOG"; then
  echo "fuzz.sh: the campaign FAILED (a finding, or a build error): see $LOG" >&2
  exit 1
fi
echo "fuzz.sh: no finding"
exit "$STATUS"
