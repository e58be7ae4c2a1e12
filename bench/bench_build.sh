# Sourced by the bench/run_*.sh scripts: builds the benchmark's targets.
#
#   bench_build REPO BUILD_DIR LOG_NAME TARGET...
#
# A fresh BUILD_DIR is configured RelWithDebInfo without tests (Ninja when
# installed, ccache when installed); an existing one is reused as configured,
# so a developer's build directory can be passed. Output goes to
# BUILD_DIR/LOG_NAME; on failure its errors are printed and the caller exits.
bench_build() {
  local repo=$1 dir=$2 log_name=$3
  shift 3
  local options=()
  if [[ ! -f $dir/CMakeCache.txt ]]; then
    options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILVAULT_BUILD_TESTS=OFF -DMAILVAULT_BUILD_BENCH=ON)
    if command -v ninja >/dev/null; then options+=(-G Ninja); fi
    if command -v ccache >/dev/null; then
      options+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    fi
  fi
  mkdir -p "$dir"
  if ! { cmake -S "$repo" -B "$dir" "${options[@]}" && cmake --build "$dir" --target "$@" -j 2; } \
       >"$dir/$log_name" 2>&1; then
    echo "$(basename "$0"): build failed in $dir (log: $dir/$log_name):" >&2
    grep -E 'error|FAILED' "$dir/$log_name" | head -n 20 >&2
    exit 1
  fi
}
