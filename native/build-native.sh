#!/usr/bin/env bash
# Builds libtabguard.so from native/src/main/c and, unless told to skip, compiles and runs the C
# self-test (native/src/test/c). Called by the native module's Maven build (exec-maven-plugin):
#   build-native.sh <output .so> <test work dir> <skip tests: true|false>
# Linux x86-64 only; gcc must be on PATH (.ci/run installs it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1" work="$2" skip="${3:-false}"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "libtabguard: only Linux x86-64 is supported, this is $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
src=("$here"/src/main/c/*.c "$here"/src/main/c/*.S)
# -Werror with -Wall -Wextra: a warning is a build failure.
# Hardening: -fstack-protector-strong and _FORTIFY_SOURCE=2 (bounds-checked libc calls) cost nothing
# measurable here (the thunks are generated code, not compiled); -fcf-protection=full puts endbr64 at every
# entry (the linked .so carries no CET property note: the distribution's crt objects lack it);
# -z relro -z now makes the GOT read-only after load;
# -z noexecstack keeps the stack non-executable (the .S file says so too); -z defs forbids undefined
# symbols; -fvisibility=hidden exports only TG_API functions.
cflags=(-std=c11 -Wall -Wextra -Werror -O2 -fPIC -fvisibility=hidden -fstack-protector-strong
        -D_FORTIFY_SOURCE=2 -fcf-protection=full)
ldflags=(-shared -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -Wl,-z,defs)
mkdir -p "$(dirname "$out")" "$work"
gcc "${cflags[@]}" "${ldflags[@]}" -o "$out" "${src[@]}"
if [[ "$skip" != "true" ]]; then
  gcc "${cflags[@]}" -fvisibility=default -I"$here/src/main/c" -o "$work/tg_selftest" \
      "$here"/src/test/c/tg_selftest.c "${src[@]}" -Wl,-z,noexecstack -lpthread
  "$work/tg_selftest"
  # the same checks with the thunks' rseq critical section compiled out: the revocation-window check
  # must then see a target start after revocation returned (what rseq is there to prevent)
  gcc "${cflags[@]}" -fvisibility=default -DTG_TEST_WITHOUT_RSEQ -I"$here/src/main/c" -o "$work/tg_selftest_without_rseq" \
      "$here"/src/test/c/tg_selftest.c "${src[@]}" -Wl,-z,noexecstack -lpthread
  "$work/tg_selftest_without_rseq"
fi
