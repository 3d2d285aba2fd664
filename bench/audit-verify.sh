#!/usr/bin/env bash
# Audit-log verification throughput (issue 13: >= 100 MB/s of log). Not JMH: one long linear pass is
# what is measured, so a timed program is the honest tool. Compiles the audit module, writes a log of
# SIZE_MB megabytes and verifies it ROUNDS times, printing wall-clock and CPU-time MB/s per round.
#   bench/audit-verify.sh [SIZE_MB (default 200)] [ROUNDS (default 6)]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB="${1:-200}"
ROUNDS="${2:-6}"
if [[ -z "${JAVA_HOME:-}" || ! -x "$JAVA_HOME/bin/javac" ]]; then
  JAVA_HOME="$(ls -d /usr/lib/jvm/temurin-25* 2>/dev/null | head -1)"
fi
export JAVA_HOME
CP_FILE="$ROOT/audit/target/bench-classpath.txt"
"$ROOT/mvnw" -B -ntp -q -f "$ROOT/pom.xml" -pl audit compile dependency:build-classpath \
  -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=runtime
"$JAVA_HOME/bin/java" -cp "$ROOT/audit/target/classes:$(cat "$CP_FILE")" \
  "$ROOT/bench/audit/AuditVerifyThroughput.java" "$SIZE_MB" "$ROUNDS"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
