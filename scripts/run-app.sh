#!/usr/bin/env bash
# Runs Tabguard's applications for the root launcher (./tabguard demo | ./tabguard audit ...).
# Builds the modules first when their jars are missing or older than their sources, then starts the
# JVM on the module path examples/target/<examples jar>:examples/target/lib with native access for
# the native module (and, for the demo, the examples module, which plays the application calling C).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JAR_TOOL="${JAVA_HOME:+$JAVA_HOME/bin/}jar"
MODULES=(guard audit native registry examples)   # examples depends on all the others
TARGET="$ROOT/examples/target"
LIB="$TARGET/lib"
STAMP="$LIB/.tabguard-built"                      # when the jars and lib/ were last made

usage() {
  echo "usage: scripts/run-app.sh demo | audit <arguments>" >&2
  exit 2
}

# The module's main jar (not -tests/-sources/-javadoc), or nothing.
module_jar() {
  local jar
  for jar in "$ROOT/$1/target/tabguard-$1-"*.jar; do
    [[ -f "$jar" ]] || continue
    case "$jar" in *-tests.jar|*-sources.jar|*-javadoc.jar) continue ;; esac
    echo "$jar"
    return 0
  done
}

needs_build() {
  [[ -f "$STAMP" ]] || return 0
  [[ "$ROOT/pom.xml" -nt "$STAMP" ]] && return 0
  local m
  for m in "${MODULES[@]}"; do
    [[ -n "$(module_jar "$m")" ]] || return 0
    if [[ -n "$(find "$ROOT/$m/src/main" "$ROOT/$m/pom.xml" -newer "$STAMP" -print -quit 2>/dev/null)" ]]; then
      return 0
    fi
  done
  return 1
}

# Fallback when maven-dependency-plugin cannot run (offline and not in the local repository): the
# examples jar's manifest lists its runtime dependencies in repository layout (see examples/pom.xml).
# Tabguard's own jars come from the modules' target/ folders (they are never installed), the rest from
# the local repository.
copy_dependencies_from_manifest() {
  local repo="${TABGUARD_M2_REPO:-$HOME/.m2/repository}" tmp entry jar artifact
  tmp="$(mktemp -d)"
  (cd "$tmp" && "$JAR_TOOL" xf "$(module_jar examples)" META-INF/MANIFEST.MF)
  for entry in $(awk '/^ /{line=line substr($0,2); next} {if (line!="") print line; line=$0} END{print line}' \
                   "$tmp/META-INF/MANIFEST.MF" | tr -d '\r' | sed -n 's/^Class-Path: //p'); do
    case "$entry" in
      io/tabguard/tabguard-*)
        artifact="${entry#io/tabguard/tabguard-}"
        jar="$(module_jar "${artifact%%/*}")" ;;
      *) jar="$repo/$entry" ;;
    esac
    if [[ -z "$jar" || ! -f "$jar" ]]; then
      echo "tabguard: dependency $entry is neither built nor in $repo" >&2
      rm -rf "$tmp"
      return 1
    fi
    cp "$jar" "$LIB/"
  done
  rm -rf "$tmp"
}

# Packages the modules in place and copies the demo's module path into examples/target/lib. Nothing
# is installed: the local Maven repository (~/.m2) only gains third-party downloads.
build() {
  echo "building Tabguard (first run only)…" >&2
  local started="$TARGET/.tabguard-build-started"
  mkdir -p "$TARGET"
  : >"$started"   # its time becomes the stamp's: sources edited during the build make the next run build again
  rm -rf "$LIB"
  mkdir -p "$LIB"
  # One reactor run, so that Tabguard's modules resolve to the jars just packaged, never to a repository.
  if ! "$ROOT/mvnw" -B -ntp -q -f "$ROOT/pom.xml" -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -pl examples -am package dependency:copy-dependencies \
         -DincludeScope=runtime -DoutputDirectory="$LIB" >"$TARGET/copy-dependencies.log" 2>&1; then
    rm -f "$LIB"/*.jar
    "$ROOT/mvnw" -B -ntp -q -f "$ROOT/pom.xml" -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -pl examples -am package
    if ! copy_dependencies_from_manifest; then
      cat "$TARGET/copy-dependencies.log" >&2
      return 1
    fi
  fi
  mv "$started" "$STAMP"
}

cmd="${1:-}"
[[ -n "$cmd" ]] || usage
shift

case "$cmd" in
  demo|audit) ;;
  *) usage ;;
esac

if needs_build; then
  build
fi
MODULE_PATH="$(module_jar examples):$LIB"

case "$cmd" in
  demo)
    exec "$JAVA" --illegal-native-access=deny --enable-native-access=io.tabguard.ffm,io.tabguard.examples \
      -Djava.util.logging.config.file="$ROOT/scripts/demo-logging.properties" \
      -Dtabguard.root="$ROOT" \
      --module-path "$MODULE_PATH" -m io.tabguard.examples/io.tabguard.examples.Demo "$@"
    ;;
  audit)
    audit_jar="$(ls "$LIB"/tabguard-audit-*.jar 2>/dev/null | head -n 1 || true)"
    if [[ -z "$audit_jar" ]] || ! "$JAR_TOOL" tf "$audit_jar" | grep -qx 'io/tabguard/audit/AuditCommand.class'; then
      echo "tabguard: the audit command (io.tabguard.audit.AuditCommand) is not part of this build yet" >&2
      exit 2
    fi
    exec "$JAVA" --illegal-native-access=deny \
      --module-path "$MODULE_PATH" -m io.tabguard.audit/io.tabguard.audit.AuditCommand audit "$@"
    ;;
esac
