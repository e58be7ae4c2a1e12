#!/usr/bin/env bash
# The search benchmark (issue 5, "Measured, in bench/"); see bench/README.md,
# section "Search benchmark".
#
#   bench/run_search_bench.sh [--quick] [--corpora LIST] [--gen-messages N] [--serial]
#                             [--runs N] [--cli-runs N] [--no-build] [--keep] [--corpus-dir DIR]
#   (CORPUS: --corpus-dir, else $MAILVAULT_CORPUS, else ../shared/corpus next to the repo)
#
# For each corpus, on the same files: `mailvault import` (not measured here; the
# archive benchmark does), then `mailvault reindex` against `notmuch new` (its own
# config, no hooks) — indexing wall time, user+sys CPU and peak RSS from wait4:
# side by side, each pinned to its own CPU (ours CPU 0, notmuch CPU 1), or with
# --serial one after the other, each free to use both CPUs (mailvault's indexer
# builds documents in a second thread; notmuch uses one) — and the index size on
# disk, as written and after xapian-compact.
# Then query latency p50/p99 for a word, a sender, a phrase, a date range, a
# combination and a facet count: in-process as the web UI runs them
# (search_bench query: a warm IndexSearcher, Refresh + Search) and as whole
# processes, `mailvault search` against `notmuch search` / `notmuch count`.
#
# Corpora (LIST is comma separated; default corpus,gen):
#   corpus  every single-message file of CORPUS (mbox files left out: notmuch
#           reads an mbox as one message)
#   gen     bench/generate_corpus --profile realistic (100,000 messages by default)
# --quick: gen with 10,000 messages, 50 in-process and 10 process runs per query
#          (about 3 minutes uncontended).
# --keep: keep the temporary directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/bench/bench_lib.sh"
corpus_dir=${MAILVAULT_CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}
corpora="corpus,gen"
gen_messages=100000
runs=200
cli_runs=20
serial=0
build=1
keep=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) gen_messages=10000; runs=50; cli_runs=10 ;;
    --corpora) corpora="$2"; shift ;;
    --gen-messages) gen_messages="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --cli-runs) cli_runs="$2"; shift ;;
    --serial) serial=1 ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --corpus-dir) corpus_dir="$2"; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run_search_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

for tool in cmake notmuch xapian-compact taskset awk; do
  command -v "$tool" >/dev/null || {
    echo "run_search_bench.sh: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
if [[ ,$corpora, == *,corpus,* && ! -d $corpus_dir ]]; then
  echo "run_search_bench.sh: no corpus at $corpus_dir (use --corpus-dir or MAILVAULT_CORPUS)" >&2; exit 1
fi

build_dir="$repo/build-bench"
if [[ $build == 1 ]]; then
  bench_build run_search_bench.sh "$build_dir" mailvault archive_bench search_bench generate_corpus
fi
mailvault="$build_dir/app/mailvault"
spawn="$build_dir/bench/archive_bench"
sbench="$build_dir/bench/search_bench"
generate="$build_dir/bench/generate_corpus"

bench_workdir mailvault-search-bench
field() { sed -n "s/.*label=$2 .*$3=\([0-9.]*\).*/\1/p" "$1" | sed -n 1p; }
results="$work/results"
mkdir -p "$results"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# The queries, as "label|ours|notmuch" (notmuch: the same meaning in its language).
corpus_queries() {
  cat <<'EOF'
word|energy|energy
sender|from:skilling|from:skilling
phrase|"natural gas"|"natural gas"
date|date:2001-05-01..2001-05-31|date:2001-05-01..2001-05-31
combo|from:enron.com meeting date:2001 -lunch|from:enron.com AND meeting AND date:2001-01-01..2001-12-31 AND NOT lunch
count|meeting|meeting
EOF
}
gen_queries() {  # $1: the generated corpus (a sender and a month taken from its first message)
  local first sender month
  first=$(find "$1" -name '*.eml' | sort | sed -n 1p)
  sender=$(sed -n 's/^From: .*<\([^@>]*\)@.*/\1/p' "$first" | sed -n 1p)
  month=$(date -u -d "$(sed -n 's/^Date: //p' "$first" | sed -n 1p | tr -d '\r')" +%Y-%m)
  local last_day
  last_day=$(date -u -d "$month-01 +1 month -1 day" +%Y-%m-%d)
  echo "word|contract|contract"
  echo "sender|from:$sender|from:$sender"
  echo "phrase|\"contract services\"|\"contract services\""
  echo "date|date:$month-01..$last_day|date:$month-01..$last_day"
  echo "combo|contract date:$month -services|contract AND date:$month-01..$last_day AND NOT services"
  echo "count|contract|contract"
}

run_corpus() {  # name, mail directory (files only), queries file
  local name=$1 mail=$2 queries=$3
  local r="$results/$name" data="$work/data-$name" nm="$work/notmuch-$name"
  mkdir -p "$r" "$nm/db" "$nm/hooks"
  find "$mail" -type f -printf '%s\n' | awk '{ s += $1; n++ } END { print "files=" n "\nbytes=" s }' >"$r/input"
  log "$name: import $(get "$r/input" files) files into the archive"
  local rc=0
  "$mailvault" --data "$data" import "$mail" >"$r/import.out" 2>"$r/import.err" || rc=$?
  if [[ $rc != 0 && $rc != 2 ]]; then
    echo "run_search_bench.sh: import of $name failed (exit $rc)" >&2; tail -5 "$r/import.err" >&2; exit 1
  fi
  printf '[database]\npath=%s\nmail_root=%s\nhook_dir=%s\n[new]\ntags=inbox;\nignore=\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n' \
    "$nm/db" "$mail" "$nm/hooks" >"$nm/config"
  export NOTMUCH_CONFIG="$nm/config"
  sync
  log "$name: indexing: mailvault reindex and notmuch new, $pinning"
  "$spawn" spawn "$r/ours.rusage" -- taskset -c "$ours_cpus" "$mailvault" --data "$data" reindex >"$r/reindex.out" 2>"$r/reindex.err" &
  local ours_pid=$!
  if [[ $serial == 1 ]]; then wait "$ours_pid"; fi
  "$spawn" spawn "$r/notmuch.rusage" -- taskset -c "$notmuch_cpus" notmuch new --quiet >"$r/notmuch-new.out" 2>"$r/notmuch-new.err" &
  local nm_pid=$!
  wait "$ours_pid" || { echo "run_search_bench.sh: reindex failed" >&2; tail -5 "$r/reindex.err" >&2; exit 1; }
  wait "$nm_pid" || { echo "run_search_bench.sh: notmuch new failed" >&2; tail -5 "$r/notmuch-new.err" >&2; exit 1; }
  sed -n 's/^reindex: \([0-9]*\) messages indexed.*/indexed=\1/p' "$r/reindex.out" >"$r/counts"
  echo "notmuch_messages=$(notmuch count '*')" >>"$r/counts"
  log "$name: index sizes (and xapian-compact of each)"
  {
    echo "ours_bytes=$(du -sb "$data/index" | cut -f1)"
    echo "notmuch_bytes=$(du -sb "$nm/db" | cut -f1)"
    xapian-compact "$data/index" "$work/compact-ours" >/dev/null
    xapian-compact "$nm/db/xapian" "$work/compact-notmuch" >/dev/null
    echo "ours_compact_bytes=$(du -sb "$work/compact-ours" | cut -f1)"
    echo "notmuch_compact_bytes=$(du -sb "$work/compact-notmuch" | cut -f1)"
    rm -rf "$work/compact-ours" "$work/compact-notmuch"
  } >"$r/sizes"

  log "$name: query latency in-process ($runs runs per query)"
  local args=()
  while IFS='|' read -r label ours _; do
    if [[ $label == count ]]; then args+=(--count "$label" "$ours"); else args+=(--query "$label" "$ours"); fi
  done <"$queries"
  "$sbench" query --index "$data/index" --runs "$runs" "${args[@]}" >"$r/inprocess"
  log "$name: query latency as processes ($cli_runs runs per query, mailvault search and notmuch)"
  : >"$r/cli-ours"; : >"$r/cli-notmuch"; : >"$r/notmuch-matches"
  while IFS='|' read -r label ours theirs; do
    if [[ $label == count ]]; then
      "$sbench" exec --runs "$cli_runs" --label "$label" -- "$mailvault" --data "$data" search --json --limit 0 "$ours" </dev/null >>"$r/cli-ours"
      "$sbench" exec --runs "$cli_runs" --label "$label" -- notmuch count "$theirs" </dev/null >>"$r/cli-notmuch"
    else
      "$sbench" exec --runs "$cli_runs" --label "$label" -- "$mailvault" --data "$data" search --limit 20 "$ours" </dev/null >>"$r/cli-ours"
      "$sbench" exec --runs "$cli_runs" --label "$label" -- notmuch search --limit=20 "$theirs" </dev/null >>"$r/cli-notmuch"
    fi
    echo "$label=$(notmuch count "$theirs" </dev/null)" >>"$r/notmuch-matches"
  done <"$queries"
  unset NOTMUCH_CONFIG
  rm -rf "$data" "$nm"
}

if [[ $serial == 1 ]]; then
  ours_cpus=0,1 notmuch_cpus=0,1 pinning="one after the other, each on CPUs 0 and 1"
else
  ours_cpus=0 notmuch_cpus=1 pinning="side by side, mailvault on CPU 0, notmuch on CPU 1"
fi

IFS=, read -r -a list <<<"$corpora"
for name in "${list[@]}"; do
  case "$name" in
    corpus)
      # Single-message files only, hard-linked (or copied) into one tree.
      log "corpus: collecting single-message files of $corpus_dir"
      mkdir -p "$work/corpus-mail"
      n=0
      while IFS= read -r -d '' f; do
        case "$f" in *.mbox|*.mbx|*.json|*/README.md|*/MANIFEST.tsv) continue ;; esac
        head -c 5 "$f" | grep -q '^From ' && continue
        n=$((n + 1))
        ln "$f" "$work/corpus-mail/$n.eml" 2>/dev/null || cp "$f" "$work/corpus-mail/$n.eml"
      done < <(find "$corpus_dir" -mindepth 2 -type f -print0 | sort -z)
      corpus_queries >"$work/corpus.queries"
      run_corpus corpus "$work/corpus-mail" "$work/corpus.queries"
      rm -rf "$work/corpus-mail" ;;
    gen)
      log "gen: generating $gen_messages messages"
      "$generate" --out "$work/gen" --messages "$gen_messages" --profile realistic >/dev/null
      gen_queries "$work/gen" >"$work/gen.queries"
      run_corpus gen "$work/gen" "$work/gen.queries"
      rm -rf "$work/gen" "$work/gen.figures" ;;
    *) echo "run_search_bench.sh: unknown corpus $name (corpus, gen)" >&2; exit 2 ;;
  esac
done

# ---- Report ----
mb() { calc "%.1f" "${1:-0} / 1000000"; }
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$repo" status --porcelain -- search app base archive 2>/dev/null | grep -q . && echo " + uncommitted changes" || true)
echo
echo "mailvault search benchmark — $(date -u +%Y-%m-%dT%H:%MZ), commit $commit$dirty; $(notmuch --version)"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p)), $(uname -r)"
echo "load average at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the CPUs)"
echo "indexing: $pinning"
echo
echo "Indexing (files = input files; msgs = documents: mailvault one per distinct message, notmuch one per Message-ID)"
printf '| %-6s | %-9s | %7s | %8s | %8s | %7s | %7s | %8s | %6s | %9s | %8s | %8s | %10s |\n' \
  corpus tool files msgs "input MB" "wall s" "CPU s" "files/s" "MB/s" "files/CPU-s" "peak RSS" "index MB" "compact MB"
printf "|%s|\n" "--------|-----------|---------|----------|----------|---------|---------|----------|--------|-------------|----------|----------|------------"
for name in "${list[@]}"; do
  r="$results/$name"
  for tool in ours notmuch; do
    ru="$r/$tool.rusage"
    wall=$(get "$ru" wall_s); cpu=$(calc "%.2f" "$(get "$ru" user_s) + $(get "$ru" sys_s)")
    files=$(get "$r/input" files); bytes=$(get "$r/input" bytes)
    msgs=$([[ $tool == ours ]] && get "$r/counts" indexed || get "$r/counts" notmuch_messages)
    printf '| %-6s | %-9s | %7s | %8s | %8s | %7s | %7s | %8s | %6s | %11s | %5s MB | %8s | %10s |\n' "$name" \
      "$([[ $tool == ours ]] && echo mailvault || echo notmuch)" "$files" "$msgs" "$(mb "$bytes")" "$wall" "$cpu" \
      "$(calc "%.0f" "$files / $wall")" "$(calc "%.2f" "$bytes / 1000000 / $wall")" "$(calc "%.0f" "$files / $cpu")" \
      "$(calc "%.0f" "$(get "$ru" maxrss_kib) / 1024")" "$(mb "$(get "$r/sizes" "${tool}_bytes")")" \
      "$(mb "$(get "$r/sizes" "${tool}_compact_bytes")")"
  done
done
echo
echo "Query latency in ms, p50 / p99 (in-process: warm searcher, Refresh + Search, as the web UI; process: whole command)"
printf '| %-6s | %-7s | %-44s | %8s | %8s | %17s | %17s | %17s |\n' \
  corpus query "mailvault query" matches "notmuch" "in-process" "mailvault search" "notmuch"
printf '|%s|\n' "--------|---------|----------------------------------------------|----------|----------|-------------------|-------------------|-------------------"
for name in "${list[@]}"; do
  r="$results/$name"
  while IFS='|' read -r label ours _; do
    printf '| %-6s | %-7s | %-44s | %8s | %8s | %7s / %7s | %7s / %7s | %7s / %7s |\n' "$name" "$label" "$ours" \
      "$(field "$r/inprocess" "$label" matches)" "$(get "$r/notmuch-matches" "$label")" \
      "$(field "$r/inprocess" "$label" p50_ms)" "$(field "$r/inprocess" "$label" p99_ms)" \
      "$(field "$r/cli-ours" "$label" p50_ms)" "$(field "$r/cli-ours" "$label" p99_ms)" \
      "$(field "$r/cli-notmuch" "$label" p50_ms)" "$(field "$r/cli-notmuch" "$label" p99_ms)"
  done <"$work/$name.queries"
done

echo
echo "Targets (issue 5)"
verdict() { awk "BEGIN { exit !($1) }" && echo "MET" || echo "MISSED"; }
for name in "${list[@]}"; do
  r="$results/$name"
  ow=$(get "$r/ours.rusage" wall_s); nw=$(get "$r/notmuch.rusage" wall_s)
  oc=$(calc "%.3f" "$(get "$r/ours.rusage" user_s) + $(get "$r/ours.rusage" sys_s)")
  nc=$(calc "%.3f" "$(get "$r/notmuch.rusage" user_s) + $(get "$r/notmuch.rusage" sys_s)")
  echo "- $name: indexing ≥ 2× notmuch's files/s: $(calc "%.2f" "$nw / $ow")× by wall time," \
    "$(calc "%.2f" "$nc / $oc")× by CPU time → $(verdict "$nw / $ow >= 2") (wall), $(verdict "$nc / $oc >= 2") (CPU)"
  os=$(get "$r/sizes" ours_bytes); ns=$(get "$r/sizes" notmuch_bytes)
  echo "- $name: index no larger than notmuch's: $(mb "$os") MB vs $(mb "$ns") MB" \
    "($(calc "%.2f" "$os / $ns")×) → $(verdict "$os <= $ns")"
  worst=$(awk -F'p99_ms=' '{ split($2, a, " "); if (a[1] > m) m = a[1] } END { print m + 0 }' "$r/inprocess")
  echo "- $name: query p99 < 50 ms (in-process, worst query): $worst ms → $(verdict "$worst < 50")" \
    "$([[ $name == gen ]] && echo "(on $(get "$r/counts" indexed) messages)")"
done
