#!/usr/bin/env bash
# Builds a fuzz target with clang (libFuzzer, ASan, UBSan) in its own build
# directory and runs it for a bounded time on its seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET]      default 60 mime_decoder_fuzz
#
# TARGET: mime_decoder_fuzz (seeds tests/data/mime) or query_parser_fuzz (seeds
# tests/data/queries). MAILVAULT_FUZZ_BUILD_DIR overrides the build directory
# (default build-fuzz); run different targets at once in different ones.
# New inputs go to $BUILD/corpus (the seeds are only read);
# a crash is written to $BUILD/crash-* (also leak-*, timeout-*, oom-*) and makes the
# script exit non-zero; its last lines then name that file (and hold it as base64
# when small) and the command that reproduces it. The full output is $BUILD/fuzz.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
target=${2:-mime_decoder_fuzz}
case "$target" in
  mime_decoder_fuzz) seeds=$root/tests/data/mime; max_len=262144 ;;
  query_parser_fuzz) seeds=$root/tests/data/queries; max_len=8192 ;;
  *) echo "fuzz.sh: unknown target $target (mime_decoder_fuzz, query_parser_fuzz)" >&2; exit 2 ;;
esac
build=${MAILVAULT_FUZZ_BUILD_DIR:-$root/build-fuzz}
cxx=${MAILVAULT_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
if [ -z "$cxx" ]; then
  echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang-14)" >&2
  exit 1
fi
cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target "$target" >/dev/null
mkdir -p "$build/corpus"
log="$build/fuzz.log"
echo "fuzz.sh: running $target for ${seconds}s (full output: $log)"
status=0
"$build/$target" "$build/corpus" "$seeds" \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len="$max_len" \
  -artifact_prefix="$build/" -print_final_stats=1 >"$log" 2>&1 || status=$?
tail -n 25 "$log"
if [ "$status" -ne 0 ]; then
  # The last lines say what failed and where the input is, so that a CI log that
  # shows only its tail is enough to reproduce (the input inline when small).
  echo "fuzz.sh: FAILED (exit $status); full output: $log"
  grep -m 3 -E '^(SUMMARY|==[0-9]+==ERROR|invalid UTF-8 in|problem: internal|bad error for|a parsed query failed)' "$log" |
    sed 's/^/fuzz.sh: /' || true
  found=0
  while read -r artifact; do
    found=1
    echo "fuzz.sh: crashing input: $artifact ($(wc -c <"$artifact") bytes)"
    if [ "$(wc -c <"$artifact")" -le 4096 ]; then
      echo "fuzz.sh: input as base64: $(base64 -w0 "$artifact")"
    fi
    echo "fuzz.sh: reproduce: $build/$target $artifact"
  done < <(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
  if [ "$found" -eq 0 ]; then
    echo "fuzz.sh: no crashing input was written (see $log)"
  fi
fi
exit "$status"
