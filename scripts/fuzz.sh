#!/usr/bin/env bash
# Builds the MIME decoder fuzz target with clang (libFuzzer, ASan, UBSan) in its
# own build directory and runs it for a bounded time on the seed corpus.
#
#   scripts/fuzz.sh [SECONDS]      default 60
#
# MAILVAULT_FUZZ_BUILD_DIR overrides the build directory (default build-fuzz).
# New inputs go to $BUILD/corpus (the seeds in tests/data/mime are only read);
# a crash is written to $BUILD/crash-* and makes the script exit non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${MAILVAULT_FUZZ_BUILD_DIR:-$root/build-fuzz}
cxx=${MAILVAULT_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
if [ -z "$cxx" ]; then
  echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang-14)" >&2
  exit 1
fi
cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 >/dev/null
mkdir -p "$build/corpus"
echo "fuzz.sh: running mime_decoder_fuzz for ${seconds}s"
"$build/mime_decoder_fuzz" "$build/corpus" "$root/tests/data/mime" \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=262144 \
  -artifact_prefix="$build/" -print_final_stats=1 2>&1 | tail -n 25
exit "${PIPESTATUS[0]}"
