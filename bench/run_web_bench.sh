#!/usr/bin/env bash
# The web UI's search load benchmark (issue 6, "Load"); see bench/README.md.
#
#   bench/run_web_bench.sh [--quick] [--messages N] [--seed S] [--duration S]
#                          [--connections C] [--wrk-threads T] [--cache-dir DIR]
#                          [--build-dir DIR] [--no-build] [--fresh]
#                          [--mix mixed|selective|floor|cold]
#
# 1. Builds mailvault, generate_corpus and web_bench_server (bench/web_bench_server.cc:
#    the Daemon with the WebApp mounted, what `mailvault serve` runs).
# 2. Unless cached: generates N messages (generate_corpus --profile realistic,
#    default 100,000), `mailvault import`s them, `mailvault reindex`es, adds the
#    user `bench` (auditor: searches all mail), and keeps the data directory in
#    CACHE/SEED-N (default /tmp/mailvault-web-bench-cache) with a pristine copy
#    of the catalog, restored before every run so each run starts from the same
#    audit log. Setup times are printed and kept there (setup.times).
# 3. Starts the server on a free loopback port, logs in (POST /api/login), warms
#    up for 5 s, then runs `wrk` with C connections (default 64) for S seconds
#    (default 30) cycling through mixed GET /api/search requests (bench/web_bench.lua).
#    Reports requests/s, latency percentiles, errors (any non-2xx counts), the
#    server's CPU time per request (from /proc/PID/stat around the run), and
#    checks afterwards that the audit log verifies and holds one entry per search.
# --mix selective: only the 5 queries that match few messages (senders, a phrase, a
#    rare subject word, a recipient in a month): what the server costs around a
#    cheap search (HTTP, session, audit, JSON), for comparison with the mix.
# --mix floor: one search that matches nothing (an id no message has): the
#    server's own cost per search without Xapian's (still audited).
# --mix cold: 2,000 different searches built from the index's own words,
#    senders and days (words, pairs, senders, weeks, days, attachments, NOT,
#    phrases), each asked rarely enough that the server's count cache (256
#    entries, least recently used first) never holds it: every search counts
#    its total and facets anew.
# --quick: 20,000 messages, 10 s (about 2 minutes from nothing; for iterating).
# --fresh: rebuild the cached archive. Every run stops by itself: wrk after its
# duration, the server after at most 30 minutes even if this script dies.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
messages=100000
seed=20240501
duration=30
connections=64
wrk_threads=2
cache_root=/tmp/mailvault-web-bench-cache
build_dir="$repo/build-bench"
build=1
fresh=0
mix=mixed

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) messages=20000; duration=10 ;;
    --messages) messages="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --wrk-threads) wrk_threads="$2"; shift ;;
    --cache-dir) cache_root="$2"; shift ;;
    --build-dir) build_dir="$2"; shift ;;
    --no-build) build=0 ;;
    --fresh) fresh=1 ;;
    --mix) mix="$2"; shift ;;
    -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0"; exit 0 ;;
    *) echo "run_web_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

source "$repo/bench/bench_lib.sh"  # log, get, calc, bench_build

if ! command -v wrk >/dev/null; then
  log "wrk is missing: installing the Debian package"
  apt-get install -y wrk >/dev/null || { echo "run_web_bench.sh: apt-get install wrk failed" >&2; exit 1; }
fi
for tool in cmake curl awk; do
  command -v "$tool" >/dev/null || { echo "run_web_bench.sh: $tool is missing" >&2; exit 1; }
done

if [[ $build == 1 ]]; then
  log "building in $build_dir"
  bench_build run_web_bench.sh "$build_dir" mailvault generate_corpus web_bench_server
fi
mailvault="$build_dir/app/mailvault"
generate="$build_dir/bench/generate_corpus"
server="$build_dir/bench/web_bench_server"

urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [a-zA-Z0-9.~_-]) out+="$c" ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# ---- The archive, cached by seed and size ----
cache="$cache_root/$seed-$messages"
data="$cache/data"
password="bench-password-not-secret"
if [[ $fresh == 1 ]]; then rm -rf "$cache"; fi
mkdir -p "$cache"
# Each step leaves a mark in $cache/steps, so an interrupted setup resumes.
if [[ ! -f $cache/ready ]]; then
  mkdir -p "$cache/steps"
  now() { date +%s.%N; }
  step() { [[ -f $cache/steps/$1 ]]; }
  mark() { echo "$1_s=$2" >"$cache/steps/$1"; }
  if ! step generate; then
    log "generating $messages messages (seed $seed)"
    rm -rf "$cache/corpus" "$cache/data"
    t0=$(now)
    "$generate" --out "$cache/corpus" --messages "$messages" --seed "$seed" --profile realistic >/dev/null
    mark generate "$(calc %.1f "$(now) - $t0")"
  fi
  if ! step import; then
    log "importing"
    rm -rf "$data"
    t0=$(now)
    "$mailvault" --data "$data" import "$cache/corpus" >"$cache/import.out" 2>"$cache/import.err"
    mark import "$(calc %.1f "$(now) - $t0")"
  fi
  if ! step index; then
    log "indexing (mailvault reindex; about 200 messages/s per core)"
    t0=$(now)
    "$mailvault" --data "$data" reindex >"$cache/reindex.out" 2>"$cache/reindex.err"
    mark index "$(calc %.1f "$(now) - $t0")"
  fi
  if ! step user; then
    printf '%s\n' "$password" >"$cache/password"
    "$mailvault" --data "$data" user add bench --role auditor --password-file "$cache/password" \
      >/dev/null 2>"$cache/user.err"
    mark user 0
  fi
  {
    cat "$cache/steps/generate" "$cache/steps/import" "$cache/steps/index"
    echo "corpus_bytes=$(du -sb "$cache/corpus" | cut -f1)"
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$cache/setup.times"

  # Queries from the corpus itself (deterministic for a seed): senders and a
  # phrase from messages spread over the archive, plus words of the generator's
  # common vocabulary. One request path per line, URL-encoded.
  sample() { find "$cache/corpus" -name '*.eml' | sort | awk -v n="$1" 'NR % n == 1' | head -n "$2"; }
  mapfile -t files < <(sample $((messages / 8)) 8)
  senders=() ; phrase="" ; rare=""
  for f in "${files[@]}"; do
    senders+=("$(sed -n 's/^From: .*<\([^>]*\)>.*/\1/p' "$f" | head -n1)")
  done
  # A phrase: three words from the middle of the first body line of a sample.
  phrase=$(awk 'body && NF >= 5 { print tolower($2 " " $3 " " $4); exit } /^\r?$/ { body = 1 }' \
             "${files[3]}" | tr -d '.\r')
  rare=$(sed -n 's/^Subject: //p' "${files[5]}" | head -n1 | tr -d '\r' | awk '{ print tolower($NF) }')
  recipient=$(sed -n 's/^To: .*<\([^>]*\)>.*/\1/p' "${files[6]}" | head -n1)
  # Dates as the archive holds them: a week from the middle, the month of a sample.
  day() { date -u -d "$(sed -n 's/^Date: //p' "$1" | head -n1 | tr -d '\r')" +%Y-%m-%d; }
  week_start=$(day "${files[4]}")
  week_end=$(date -u -d "$week_start + 6 days" +%Y-%m-%d)
  month=$(day "${files[2]}" | cut -c1-7)
  q() { printf '/api/search?q=%s%s\n' "$(urlencode "$1")" "${2:+&$2}"; }
  {
    q "budget"                                  # a word
    q "contract price"                          # two words
    q "from:${senders[0]}"                      # a sender
    q "\"$phrase\""                             # a phrase
    q "date:$week_start..$week_end"             # a date range
    q "meeting from:corp.example date:$month"   # a combination
    q "has:attachment"                          # a filter
    q "*"                                       # everything: facets over every message
    q "forecast" "offset=200"                   # paging
    q "from:${senders[1]}"
    q "report -draft" "sort=relevance"          # relevance, NOT
    q "subject:$rare"                           # a rare word in one field
    q "the" "offset=1000&limit=50"              # a word in nearly every message, deep page
    q "from:corp.example has:attachment"
    q "schedule OR agreement" "facets=0"
    q "to:$recipient date:$month"
  } >"$cache/queries"
  rm -rf "$cache/corpus"  # ~1 GB at 100,000 messages; the archive holds it now
  cp "$data/catalog.sqlite" "$cache/catalog.pristine"
  touch "$cache/ready"
fi
# A cached index written by an earlier mailvault under another schema version
# is refused ("run `mailvault reindex`"): rebuilt here rather than by the
# server's index worker during the run.
if ! "$mailvault" --data "$data" search --limit 1 schemacheck >/dev/null 2>"$cache/schema.err" &&
  grep -q reindex "$cache/schema.err"; then
  log "the cached index has another schema version: mailvault reindex"
  t0=$(date +%s.%N)
  "$mailvault" --data "$data" reindex >"$cache/reindex.out" 2>"$cache/reindex.err"
  echo "index_s=$(calc %.1f "$(date +%s.%N) - $t0")" >"$cache/steps/index"
  sed -i "s/^index_s=.*/$(cat "$cache/steps/index")/" "$cache/setup.times"
fi

# The selective subset: lines of the mix that match few messages.
sed -n '3p;4p;10p;12p;16p' "$cache/queries" >"$cache/queries.selective"
echo "/api/search?q=id%3A000000000000" >"$cache/queries.floor"
if [[ $mix == cold && ! -s $cache/queries.cold ]]; then
  # Every 97th word of the index (lowercase letters, 4 or more) and of the
  # sender terms, every day: the same list for the same archive.
  command -v xapian-delve >/dev/null || apt-get install -y xapian-tools >/dev/null
  xapian-delve -1 -a "$data/index" | grep -E '^[a-z]{4,}$' | awk 'NR % 97 == 1' >"$cache/words"
  xapian-delve -1 -A XFROM "$data/index" | sed 's/^XFROM//' | grep -E '^[a-z]{3,}$' |
    awk 'NR % 7 == 1' >"$cache/senders"
  xapian-delve -1 -A XDAY "$data/index" |
    sed -n 's/^XDAY\([0-9]\{4\}\)\([0-9]\{2\}\)\([0-9]\{2\}\)$/\1-\2-\3/p' >"$cache/days"
  awk -v n=2000 '
    FILENAME ~ /words$/ { w[nw++] = $0; next }
    FILENAME ~ /senders$/ { s[ns++] = $0; next }
    { d[nd++] = $0 }
    END {
      for (i = 0; i < n; i++) {
        a = w[(i * 7919) % nw]; b = w[(i * 104729 + 13) % nw]
        di = (i * 31) % nd; day = d[di]; week_end = d[di + 6 < nd ? di + 6 : nd - 1]
        t = i % 8
        if (t == 0) q = a
        else if (t == 1) q = a " " b
        else if (t == 2) q = "from:" s[(i * 17) % ns]
        else if (t == 3) q = a " date:" day ".." week_end
        else if (t == 4) q = "date:" day
        else if (t == 5) q = a " has:attachment"
        else if (t == 6) q = a " -" b "\tsort=relevance"
        else q = "\"" a " " b "\""
        print q
      }
    }' "$cache/words" "$cache/senders" "$cache/days" |
  while IFS=$'\t' read -r text extra; do
    printf '/api/search?q=%s%s\n' "$(urlencode "$text")" "${extra:+&$extra}"
  done >"$cache/queries.cold"
fi
case "$mix" in
  mixed|selective|floor|cold) queries="$cache/queries" ;;
  *) echo "run_web_bench.sh: --mix is mixed, selective, floor or cold" >&2; exit 2 ;;
esac
if [[ $mix != mixed ]]; then queries="$cache/queries.$mix"; fi

# ---- One run ----
work=$(mktemp -d /tmp/mailvault-web-bench.XXXXXX)
server_pid=""
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

# Every run starts from the catalog as set up (audit log included).
rm -f "$data/catalog.sqlite-wal" "$data/catalog.sqlite-shm"
cp "$cache/catalog.pristine" "$data/catalog.sqlite"
audit_before=$("$mailvault" --data "$data" audit verify 2>&1 | sed -n 's/.*entries[^0-9]*\([0-9]*\).*/\1/p' | head -n1)

log "starting the server"
"$server" --data "$data" --port-file "$work/port" --max-seconds 1800 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
  [[ -s $work/port ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "run_web_bench.sh: the server failed:" >&2; cat "$work/server.err" >&2; exit 1; }
  sleep 0.1
done
[[ -s $work/port ]] || { echo "run_web_bench.sh: the server did not start" >&2; exit 1; }
base="http://127.0.0.1:$(cat "$work/port")"

curl -sS -o "$work/login.json" -D "$work/login.headers" -H 'Content-Type: application/json' \
  --data "{\"user\":\"bench\",\"password\":\"$password\"}" "$base/api/login"
cookie=$(sed -n 's/^Set-Cookie: \(mv_session=[^;]*\).*/\1/Ip' "$work/login.headers" | head -n1)
[[ -n $cookie ]] || { echo "run_web_bench.sh: login failed: $(cat "$work/login.json")" >&2; exit 1; }

# Every query alone, three times: each must answer 200; the best of three is
# its latency without concurrency (what one user sees on an idle server).
while read -r path; do
  best=""
  for _ in 1 2 3; do
    out=$(curl -sS -o "$work/one.json" -w '%{http_code} %{time_total}' -H "Cookie: $cookie" "$base$path")
    code=${out%% *}
    [[ $code == 200 ]] || { echo "run_web_bench.sh: $path answered $code: $(head -c 300 "$work/one.json")" >&2; exit 1; }
    ms=$(calc %.1f "${out#* } * 1000")
    if [[ -z $best ]] || awk "BEGIN { exit !($ms < $best) }"; then best=$ms; fi
  done
  total=$(sed -n 's/.*"total":\([0-9]*\).*/\1/p' "$work/one.json" | head -n1)
  printf '| %s | %s | %s |\n' "$path" "${total:-?}" "$best" >>"$work/queries.checked"
done < <(head -n 16 "$queries")  # the cold mix's first 16 stand for its 2,000

export WEB_BENCH_QUERIES="$queries" WEB_BENCH_COOKIE="$cookie"
log "warm-up: 5 s"
wrk -t "$wrk_threads" -c "$connections" -d 5s --timeout 5s -s "$repo/bench/web_bench.lua" "$base" >"$work/warmup.out" 2>&1
sleep 1  # the warm-up's last requests finish before the measured connections arrive

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
ticks_per_s=$(getconf CLK_TCK)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
ticks0=$(cpu_ticks)
log "measuring: $connections connections, $duration s"
wrk -t "$wrk_threads" -c "$connections" -d "${duration}s" --timeout 5s --latency \
  -s "$repo/bench/web_bench.lua" "$base" >"$work/wrk.out" 2>"$work/wrk.err"
ticks1=$(cpu_ticks)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
uptime_end=$(uptime)
stop_server
audit_after=$("$mailvault" --data "$data" audit verify 2>&1 | tee "$work/audit.verify" |
              sed -n 's/.*entries[^0-9]*\([0-9]*\).*/\1/p' | head -n1)

# ---- Report ----
r="$work/wrk.out"
requests=$(get "$r" requests)
rps=$(get "$r" rps)
cpu_s=$(calc %.2f "($ticks1 - $ticks0) / $ticks_per_s")
errors=$(( $(get "$r" non2xx) + $(get "$r" errors_connect) + $(get "$r" errors_read) + $(get "$r" errors_write) + $(get "$r" errors_timeout) ))
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$repo" status --porcelain -- archive base search webui daemon bench 2>/dev/null | grep -q . && echo " + uncommitted changes" || true)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "mailvault web search load benchmark — $(date -u +%Y-%m-%dT%H:%MZ), commit $commit$dirty"
echo "machine: $(nproc) CPUs ($cpu), $(uname -r); server and wrk share them"
echo "load average at start: $load_start; at end: $load_end"
echo "archive: $messages generated messages (seed $seed); setup $(cat "$cache/setup.times" | tr '\n' ' ')"
echo "wrk: $connections connections, $wrk_threads threads, ${duration} s, $mix mix: $(wc -l <"$queries") queries in rotation"
echo
echo "| requests | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors (non-2xx, socket, timeout) | server CPU s | CPU ms/request |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '| %s | %s | %s | %s | %s | %s | %s | %s (%s, %s, %s) | %s | %s |\n' "$requests" "$rps" \
  "$(get "$r" p50_ms)" "$(get "$r" p90_ms)" "$(get "$r" p99_ms)" "$(get "$r" p99_9_ms)" "$(get "$r" max_ms)" \
  "$errors" "$(get "$r" non2xx)" "$(( $(get "$r" errors_connect) + $(get "$r" errors_read) + $(get "$r" errors_write) ))" \
  "$(get "$r" errors_timeout)" "$cpu_s" "$(calc %.3f "$cpu_s * 1000 / $requests")"
echo
echo "Queries in rotation, each alone (best of 3, curl, idle server):"
echo "| request | matches | ms |"
echo "|---|---|---|"
cat "$work/queries.checked"
echo
audited=$(( ${audit_after:-0} - ${audit_before:-0} ))
echo "audit log: $(head -n1 "$work/audit.verify"); $audited entries added for $requests measured requests (plus warm-up and checks)"
echo
verdict() { awk "BEGIN { exit !($1) }" && echo "MET" || echo "MISSED"; }
echo "Targets (issue 6)"
echo "- no errors: $errors → $(verdict "$errors == 0")"
echo "- ≥ 1,000 searches/s: $rps → $(verdict "$rps >= 1000")"
echo "- p99 < 100 ms: $(get "$r" p99_ms) ms → $(verdict "$(get "$r" p99_ms) < 100")"
echo
echo "wrk's own summary:"
sed -n '1,/^requests=/p' "$r" | grep -v '^requests=' | sed 's/^/  /'
if [[ -s $work/wrk.err ]]; then echo "wrk stderr:"; head -n 5 "$work/wrk.err" | sed 's/^/  /'; fi
if [[ -s $work/server.err ]]; then echo "server stderr (first lines):"; head -n 5 "$work/server.err" | sed 's/^/  /'; fi
echo "uptime at end: $uptime_end"
