# Shared by the bench/run_*_bench.sh scripts (sourced; sets nothing by itself).

# bench_build SCRIPT BUILD_DIR TARGET...: builds TARGETs in BUILD_DIR. A fresh
# BUILD_DIR is configured RelWithDebInfo, tests off, benchmarks on (Ninja and
# ccache when installed); an existing one is reused as configured, so a
# developer's build directory can be passed. On failure prints the errors and
# exits. $repo is the repository root.
bench_build() {
  local script=$1 dir=$2; shift 2
  local options=() log="$dir/$script-build.log"
  if [[ ! -f $dir/CMakeCache.txt ]]; then
    options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILVAULT_BUILD_TESTS=OFF -DMAILVAULT_BUILD_BENCH=ON)
    if command -v ninja >/dev/null; then options+=(-G Ninja); fi
    if command -v ccache >/dev/null; then
      options+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    fi
  fi
  mkdir -p "$dir"
  if ! { cmake -S "$repo" -B "$dir" "${options[@]}" && cmake --build "$dir" --target "$@" -j 2; } \
       >"$log" 2>&1; then
    echo "$script: build failed in $dir (log: $log):" >&2
    grep -E 'error|FAILED' "$log" | head -n 20 >&2
    exit 1
  fi
}

# A temporary work directory in $work, removed at exit unless $keep is 1.
bench_workdir() {  # prefix
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  trap 'if [[ $keep == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
}

# key=value files → value of one key (empty when absent).
get() { sed -n "s/^$2=//p" "$1" | sed -n 1p; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
