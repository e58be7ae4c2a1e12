# Sourced by the bench/run_*.sh scripts: configures BUILD_DIR for the benchmarks
# (RelWithDebInfo, tests off, Ninja when there is one) and builds TARGETS, -j 2.
# On failure prints the errors and exits.
#
#   build_bench_targets SCRIPT_NAME REPO BUILD_DIR LOG_NAME TARGET...
build_bench_targets() {
  local name=$1 repo=$2 build_dir=$3 log_name=$4
  shift 4
  local generator=()
  if command -v ninja >/dev/null && [[ ! -f "$build_dir/CMakeCache.txt" ]]; then generator=(-G Ninja); fi
  mkdir -p "$build_dir"
  if ! { cmake -S "$repo" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
           -DMAILVAULT_BUILD_TESTS=OFF -DMAILVAULT_BUILD_BENCH=ON &&
         cmake --build "$build_dir" --target "$@" -j 2; } >"$build_dir/$log_name" 2>&1; then
    echo "$name: build failed in $build_dir (log: $build_dir/$log_name):" >&2
    grep -E 'error|FAILED' "$build_dir/$log_name" | head -n 20 >&2
    exit 1
  fi
}
