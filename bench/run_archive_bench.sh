#!/usr/bin/env bash
# The archive benchmark (issue 2, "Measured, in bench/"); see bench/README.md.
#
#   bench/run_archive_bench.sh [--quick] [--corpora LIST] [--gen-messages N]
#                              [--no-solid] [--no-build] [--keep] [--corpus-dir DIR]
#   (CORPUS: --corpus-dir, else $MAILVAULT_CORPUS, else ../shared/corpus next to the repo)
#
# For each corpus: imports it with the real `mailvault import` (a child process,
# durable commits every 1,000 messages, pinned to one CPU with taskset) and takes
# wall time and peak RSS from wait4; reads `stats --json`; times random single
# message reads in-process (Archive::ReadMessage); and computes the baselines over
# the same messages the archive holds: per-message `zstd -3` (libzstd) and
# `tar | zstd -19 --long=27` (the CLI). Then compacts it with the real
# `mailvault compact` (pinned the same way), and takes the stats and the reads
# again: the archive at rest. Prints the tables on stdout.
#
# Corpora (LIST is comma separated; default enron,all,gen,10k):
#   enron  CORPUS/enron (4,139 files, 12.1 MB)
#   all    every folder of CORPUS
#   gen    bench/generate_corpus --profile realistic (50,000 messages by default)
#   10k    bench/generate_corpus --profile 10k (20,000 messages of ~10 KB)
# --quick: enron,10k and gen with 10,000 messages, no solid baseline for gen
#          (about a minute; for iterating on the storage format).
# --no-solid: skip every `zstd -19` baseline (the slow part: ~2 MB/s).
# --keep: keep the temporary directory (data dirs, generated corpora).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/bench/bench_lib.sh"
corpus_dir=${MAILVAULT_CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
corpora="enron,all,gen,10k"
gen_messages=50000
tenk_messages=20000
solid=1
solid_gen=1
build=1
keep=0
samples=2000

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) corpora="enron,gen,10k"; gen_messages=10000; solid_gen=0 ;;
    --corpora) corpora="$2"; shift ;;
    --gen-messages) gen_messages="$2"; shift ;;
    --no-solid) solid=0 ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --corpus-dir) corpus_dir="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run_archive_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [[ ! -d $corpus_dir/enron ]]; then
  echo "run_archive_bench.sh: no corpus at $corpus_dir (use --corpus-dir or MAILVAULT_CORPUS)" >&2; exit 1
fi
for tool in cmake zstd tar taskset awk; do
  command -v "$tool" >/dev/null || { echo "run_archive_bench.sh: $tool is missing" >&2; exit 1; }
done

build_dir="$repo/build-bench"
if [[ $build == 1 ]]; then
  bench_build run_archive_bench.sh "$build_dir" mailvault archive_bench generate_corpus
fi
mailvault="$build_dir/app/mailvault"
bench="$build_dir/bench/archive_bench"
generate="$build_dir/bench/generate_corpus"

bench_workdir mailvault-bench
json() { sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p" "$1"; }

results="$work/results"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$results"

run_corpus() {  # name, input paths...
  local name=$1; shift
  local data="$work/data-$name" r="$results/$name"
  mkdir -p "$r"
  find "$@" -type f -printf '%s\n' | awk '{ s += $1; n++ } END { print "input_files=" n "\ninput_bytes=" s }' >"$r/input"
  log "$name: import ($(get "$r/input" input_files) files)"
  sync
  local rc=0
  "$bench" spawn "$r/rusage" -- taskset -c 0 "$mailvault" --data "$data" import "$@" \
    >"$r/import.out" 2>"$r/import.err" || rc=$?
  # Exit 2 means some inputs were refused (listed in import.err); anything else failed.
  if [[ $rc != 0 && $rc != 2 ]]; then
    echo "run_archive_bench.sh: import of $name failed (exit $rc):" >&2; tail -5 "$r/import.err" >&2; exit 1
  fi
  sed -n 's/^import: read \([0-9]*\), new \([0-9]*\), duplicate \([0-9]*\), refused \([0-9]*\).*/read=\1\nnew=\2\nduplicate=\3\nrefused=\4/p' \
    "$r/import.out" >"$r/summary"
  "$mailvault" --data "$data" stats --json >"$r/stats.json"
  log "$name: random reads"
  "$bench" read --data "$data" --samples "$samples" >"$r/read"
  if [[ $solid == 1 && ( $name != gen || $solid_gen == 1 ) && $name != 10k ]]; then
    log "$name: baselines (per-message zstd -3, tar | zstd -19 --long=27)"
    "$bench" baseline --data "$data" --tar 2>"$r/baseline" | zstd -19 --long=27 -T1 -q -c | wc -c \
      | awk '{ print "solid_bytes=" $1 }' >"$r/solid"
  else
    log "$name: baseline (per-message zstd -3)"
    "$bench" baseline --data "$data" 2>"$r/baseline"
    : >"$r/solid"
  fi
  log "$name: compact"
  sync
  rc=0
  "$bench" spawn "$r/compact.rusage" -- taskset -c 0 "$mailvault" --data "$data" compact \
    >"$r/compact.out" 2>"$r/compact.err" || rc=$?
  if [[ $rc != 0 ]]; then
    echo "run_archive_bench.sh: compaction of $name failed (exit $rc):" >&2; tail -5 "$r/compact.err" >&2; exit 1
  fi
  "$mailvault" --data "$data" stats --json >"$r/stats-compacted.json"
  log "$name: random reads after compaction"
  "$bench" read --data "$data" --samples "$samples" >"$r/read-compacted"
  rm -rf "$data"
}

IFS=, read -r -a list <<<"$corpora"
for name in "${list[@]}"; do
  case "$name" in
    enron) run_corpus enron "$corpus_dir/enron" ;;
    all) run_corpus all "$corpus_dir"/*/ ;;
    gen)
      log "gen: generating $gen_messages messages"
      "$generate" --out "$work/gen" --messages "$gen_messages" --profile realistic >/dev/null
      mkdir -p "$results/gen"; cp "$work/gen.figures" "$results/gen/figures"
      run_corpus gen "$work/gen"; rm -rf "$work/gen" ;;
    10k)
      log "10k: generating $tenk_messages messages"
      "$generate" --out "$work/10k" --messages "$tenk_messages" --profile 10k >/dev/null
      mkdir -p "$results/10k"; cp "$work/10k.figures" "$results/10k/figures"
      run_corpus 10k "$work/10k"; rm -rf "$work/10k" ;;
    *) echo "run_archive_bench.sh: unknown corpus $name (enron, all, gen, 10k)" >&2; exit 2 ;;
  esac
done

# ---- Report ----
mb() { calc "%.2f" "${1:-0} / 1000000"; }
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$repo" status --porcelain -- archive app base 2>/dev/null | grep -q . && echo " + uncommitted changes in archive/app/base" || true)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "mailvault archive benchmark — $(date -u +%Y-%m-%dT%H:%MZ), commit $commit$dirty"
echo "machine: $(nproc) CPUs ($cpu), $(uname -r); imports pinned to CPU 0 (taskset -c 0)"
echo "load average at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the CPUs)"
echo
echo "Import (durable: fsync + catalog commit every 1,000 messages) and random reads"
printf '| %-6s | %7s | %7s | %8s | %7s | %7s | %8s | %6s | %9s | %8s | %17s | %17s |\n' \
  corpus read new "input MB" "wall s" "CPU s" "msg/s" "MB/s" "msg/CPU-s" "peak RSS" "read p50/p99 warm" "read p50/p99 cold"
printf '|%s|\n' "--------|---------|---------|----------|---------|---------|----------|--------|-----------|----------|-------------------|-------------------"
for name in "${list[@]}"; do
  r="$results/$name"
  wall=$(get "$r/rusage" wall_s)
  cpu_s=$(calc "%.2f" "$(get "$r/rusage" user_s) + $(get "$r/rusage" sys_s)")
  printf '| %-6s | %7s | %7s | %8s | %7s | %7s | %8s | %6s | %9s | %5s MB | %7s/%7s µs | %7s/%7s µs |\n' "$name" \
    "$(get "$r/summary" read)" "$(get "$r/summary" new)" "$(mb "$(get "$r/input" input_bytes)")" "$wall" "$cpu_s" \
    "$(calc "%.0f" "$(get "$r/summary" read) / $wall")" "$(calc "%.1f" "$(get "$r/input" input_bytes) / 1000000 / $wall")" \
    "$(calc "%.0f" "$(get "$r/summary" read) / $cpu_s")" \
    "$(calc "%.0f" "$(get "$r/rusage" maxrss_kib) / 1024")" \
    "$(get "$r/read" warm_p50_us)" "$(get "$r/read" warm_p99_us)" "$(get "$r/read" cold_p50_us)" "$(get "$r/read" cold_p99_us)"
done
echo
echo "Storage (MB = 10^6 bytes; baselines over the distinct canonical messages the archive holds)"
printf '| %-6s | %8s | %9s | %9s | %9s | %8s | %9s | %9s | %11s | %11s |\n' \
  corpus messages "raw MB" "packs MB" "catalog" "zstd-3" "solid -19" "packs/z3" "packs/solid" "dedup share"
printf '|%s|\n' "--------|----------|-----------|-----------|-----------|----------|-----------|-----------|-------------|-------------"
for name in "${list[@]}"; do
  r="$results/$name"
  stored=$(json "$r/stats.json" stored_bytes)
  z3=$(get "$r/baseline" zstd3_bytes)
  sb=$(get "$r/solid" solid_bytes)
  share=$( [[ -f $r/figures ]] && get "$r/figures" dup_share || echo "")
  printf '| %-6s | %8s | %9s | %9s | %9s | %8s | %9s | %9s | %11s | %11s |\n' "$name" \
    "$(json "$r/stats.json" messages)" "$(mb "$(json "$r/stats.json" raw_bytes)")" "$(mb "$stored")" \
    "$(mb "$(json "$r/stats.json" catalog_bytes)")" "$(mb "$z3")" "$( [[ -n $sb ]] && mb "$sb" || echo -)" \
    "$(calc "%.3f" "$stored / $z3")" "$( [[ -n $sb ]] && calc "%.2f" "$stored / $sb" || echo -)" \
    "$( [[ -n $share ]] && calc "%.1f%%" "$share * 100" || echo -)"
done

echo
echo "Compaction (\`mailvault compact\` after the import, pinned to CPU 0; the archive at rest)"
printf '| %-6s | %9s | %7s | %7s | %6s | %8s | %9s | %8s | %11s | %17s | %17s |\n' \
  corpus "packs MB" "wall s" "CPU s" "MB/s" "peak RSS" "after MB" "after/z3" "after/solid" "read p50/p99 warm" "read p50/p99 cold"
printf '|%s|\n' "--------|-----------|---------|---------|--------|----------|-----------|----------|-------------|-------------------|-------------------"
for name in "${list[@]}"; do
  r="$results/$name"
  after=$(json "$r/stats-compacted.json" stored_bytes)
  z3=$(get "$r/baseline" zstd3_bytes)
  sb=$(get "$r/solid" solid_bytes)
  wall=$(get "$r/compact.rusage" wall_s)
  printf '| %-6s | %9s | %7s | %7s | %6s | %5s MB | %9s | %8s | %11s | %7s/%7s µs | %7s/%7s µs |\n' "$name" \
    "$(mb "$(json "$r/stats.json" stored_bytes)")" "$wall" \
    "$(calc "%.2f" "$(get "$r/compact.rusage" user_s) + $(get "$r/compact.rusage" sys_s)")" \
    "$(calc "%.1f" "$(json "$r/stats.json" raw_bytes) / 1000000 / $wall")" \
    "$(calc "%.0f" "$(get "$r/compact.rusage" maxrss_kib) / 1024")" "$(mb "$after")" \
    "$(calc "%.3f" "$after / $z3")" "$( [[ -n $sb ]] && calc "%.2f" "$after / $sb" || echo -)" \
    "$(get "$r/read-compacted" warm_p50_us)" "$(get "$r/read-compacted" warm_p99_us)" \
    "$(get "$r/read-compacted" cold_p50_us)" "$(get "$r/read-compacted" cold_p99_us)"
done

for name in gen 10k; do
  f="$results/$name/figures"
  [[ -f $f ]] || continue
  echo
  echo "Generated corpus '$name' (seed $(get "$f" seed)): $(get "$f" messages) messages from $(get "$f" mails) mails," \
    "$(mb "$(get "$f" bytes)") MB, largest $(mb "$(get "$f" largest)") MB; duplicated bodies" \
    "$(mb "$(get "$f" dup_body_bytes)") MB + forwarded attachments $(mb "$(get "$f" dup_attachment_bytes)") MB" \
    "= $(calc "%.1f%%" "$(get "$f" dup_share) * 100") of the bytes" \
    "($(get "$f" attachments_new) attachments, $(get "$f" attachments_forwarded) forwards)"
done

echo
echo "Targets (issue 2)"
verdict() { awk "BEGIN { exit !($1) }" && echo "MET" || echo "MISSED"; }
if [[ -d $results/10k ]]; then
  r=$results/10k; rate=$(calc "%.0f" "$(get "$r/summary" read) / $(get "$r/rusage" wall_s)")
  echo "- import ≥ 5,000 msg/s of 10 KB, durable, one core: $rate msg/s" \
    "(CPU $(calc "%.2f" "$(get "$r/rusage" user_s) + $(get "$r/rusage" sys_s)") s of $(get "$r/rusage" wall_s) s wall)" \
    "→ $(verdict "$rate >= 5000"); CPU-bound limit $(calc "%.0f" "$(get "$r/summary" read) / ($(get "$r/rusage" user_s) + $(get "$r/rusage" sys_s))") msg/CPU-s"
fi
# Storage targets for the archive at rest (compacted), with the figure right
# after the import beside it.
for stage in compacted imported; do
  stats_file=stats-compacted.json; [[ $stage == imported ]] && stats_file=stats.json
  if [[ -d $results/enron ]]; then
    r=$results/enron; stored=$(json "$r/$stats_file" stored_bytes); z3=$(get "$r/baseline" zstd3_bytes)
    echo "- Enron packs ($stage) ≤ ½ per-message zstd -3: $(mb "$stored") MB vs limit $(mb "$(calc "%.0f" "$z3 / 2")") MB" \
      "(= $(calc "%.3f" "$stored / $z3")× zstd-3) → $(verdict "$stored <= $z3 / 2")"
    sb=$(get "$r/solid" solid_bytes)
    if [[ -n $sb ]]; then
      echo "- Enron packs ($stage) ≤ 1.5× solid: $(mb "$stored") MB vs limit $(mb "$(calc "%.0f" "$sb * 1.5")") MB" \
        "(= $(calc "%.2f" "$stored / $sb")× solid) → $(verdict "$stored <= $sb * 1.5")"
    fi
  fi
  if [[ -d $results/gen ]]; then
    r=$results/gen; stored=$(json "$r/$stats_file" stored_bytes); z3=$(get "$r/baseline" zstd3_bytes)
    share=$(get "$r/figures" dup_share)
    echo "- generated packs ($stage) ≤ zstd-3 × (1 − duplicated share $(calc "%.1f%%" "$share * 100")):" \
      "$(mb "$stored") MB vs limit $(mb "$(calc "%.0f" "$z3 * (1 - $share)")") MB" \
      "(saves $(calc "%.1f%%" "(1 - $stored / $z3) * 100") vs zstd-3) → $(verdict "$stored <= $z3 * (1 - $share)")"
  fi
done
