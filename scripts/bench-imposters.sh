#!/usr/bin/env bash
# Benchmark an hmt imposter against nginx and mountebank serving the same
# bytes, then check that an imposter recording requests keeps flat memory.
# Prints a Markdown table.
#
#   scripts/bench-imposters.sh [--quick] [--no-pin]      (make bench-imposters)
#
#   --quick    3 s measured runs and 1 s warm-ups (default: 10 s and 2 s), and
#              1 million requests in the memory run instead of 10 million
#   --no-pin   don't pin processes to CPUs (see scripts/bench-mock.sh)
#
# The imposter is mountebank's simplest useful one: one stub, one `equals`
# predicate on method and path, and an `is` response with a ~1 KB JSON body
# (the body of scripts/bench-mock.sh) and `Connection: keep-alive` (mountebank
# closes connections by default; both servers are told to keep them, as nginx
# does). One server at a time, each with the server CPU to itself:
#   1. nginx: GET /users/1 answered with the body from memory (the baseline);
#   2. hmt mock -a A (no specs: an imposters server), the imposter POSTed to
#      its admin API, GET /users/1 on the imposter's port;
#   3. mountebank (npm, pinned, installed once into ~/.cache/hmt-bench/mountebank),
#      the same imposter POSTed to its admin API.
# Each answer is checked byte for byte before it is measured. Targets (issue
# 10): hmt at least 0.5 x nginx and at least 10 x mountebank.
#
# Memory: an imposter with `recordRequests: true` (hmt keeps the last 10,000
# requests, by default) gets N requests (10 million; 1 million with --quick;
# sent by ab, which counts requests where wrk counts time) and hmt's resident
# memory is read after the first 5% and at the end: it must not grow by more
# than 64 MiB.
#
# Works on a fresh Debian machine as root with Rust installed: nginx, wrk,
# npm, curl and ab (apache2-utils) are apt-get installed when missing. Shared helpers are in
# scripts/bench-lib.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench_name=bench-imposters
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"

parse_bench_args "$@"
ensure_tools npm curl
if ! command -v ab >/dev/null; then
    log "installing apache2-utils (ab) with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null ||
        die "cannot install apache2-utils (ab)"
fi
build_hmt
setup_pinning
make_tmp
check_load

printf '%s' "$bench_body" >"$tmp/body.json"
body_bytes=$(wc -c <"$tmp/body.json")
if ((quick)); then memory_requests=1000000; else memory_requests=10000000; fi

# imposter_json PORT RECORD: the imposter both servers are given.
imposter_json() {
    local body=${bench_body//\\/\\\\}
    body=${body//\"/\\\"}
    printf '{"protocol": "http", "port": %s, "recordRequests": %s, "stubs": [{"predicates": [{"equals": {"method": "GET", "path": "/users/1"}}], "responses": [{"is": {"statusCode": 200, "headers": {"Content-Type": "application/json", "Connection": "keep-alive"}, "body": "%s"}}]}]}' \
        "$1" "$2" "$body"
}

# post_imposter ADMIN_PORT PORT RECORD: creates the imposter, checks the 201.
post_imposter() {
    local status
    status=$(curl -s -o "$tmp/post.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "$(imposter_json "$2" "$3")" "http://127.0.0.1:$1/imposters")
    [[ $status == 201 ]] || { cat "$tmp/post.out" >&2; die "POST /imposters on port $1 answered $status, not 201"; }
}

# probe SLUG PORT: GET /users/1 answers 200 with exactly the body.
probe() {
    local raw=$tmp/probe-$1
    curl -s -o "$raw" "http://127.0.0.1:$2/users/1" || die "$1: GET /users/1 failed"
    cmp -s "$raw" "$tmp/body.json" || { cat "$raw" >&2; die "$1: GET /users/1 did not answer the body byte for byte"; }
    log "$1: GET /users/1 -> the body, $body_bytes B"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --------------------------------------------------------------------- nginx

nginx_port=$(free_port)
write_body_nginx nginx "$nginx_port"
start_nginx nginx
nginx_pid=$last_pid
wait_ready nginx "$nginx_pid" "$nginx_port" "$tmp/nginx/error.log"
probe nginx "$nginx_port"
bench nginx "http://127.0.0.1:$nginx_port/users/1" "$nginx_pid"
stop_server "$nginx_pid"

# --------------------------------------------------------------------- hmt

admin=$(free_port)
port=$(free_port)
log "hmt: hmt mock -a $admin, imposter on $port"
HMT_HOME=$tmp RUST_LOG=warn "${server_pin[@]}" "$hmt_bin" mock -a "$admin" 2>"$tmp/hmt.log" &
hmt_pid=$!
pids+=("$hmt_pid")
wait_ready "hmt mock" "$hmt_pid" "$admin" "$tmp/hmt.log" /imposters
post_imposter "$admin" "$port" false
probe hmt "$port"
bench hmt "http://127.0.0.1:$port/users/1" "$hmt_pid"

# Memory with recordRequests on: N requests, RSS after 5% and at the end.
record_port=$(free_port)
post_imposter "$admin" "$record_port" true
early=$((memory_requests / 20))
# wrk runs for a time, not a number of requests: ab (apache2-utils) sends
# exactly N, over 50 keep-alive connections.
log "hmt: $early requests with recordRequests on, then RSS"
"${wrk_pin[@]}" ab -q -k -c "$connections" -n "$early" "http://127.0.0.1:$record_port/users/1" >"$tmp/ab-memory-early.txt" ||
    die "ab failed: $(tail -5 "$tmp/ab-memory-early.txt")"
rss_early=$(rss_kib "$hmt_pid")
log "hmt: $((memory_requests - early)) more requests"
"${wrk_pin[@]}" ab -q -k -c "$connections" -n "$((memory_requests - early))" "http://127.0.0.1:$record_port/users/1" >"$tmp/ab-memory.txt" ||
    die "ab failed: $(tail -5 "$tmp/ab-memory.txt")"
memory_rps=$(awk '/^Requests per second:/ { printf "%.0f", $4 }' "$tmp/ab-memory.txt")
rss_end=$(rss_kib "$hmt_pid")
served=$(curl -s "http://127.0.0.1:$admin/imposters/$record_port" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["numberOfRequests"], len(d["requests"]))')
stop_server "$hmt_pid"
check $((stopped_rc == 0)) "hmt mock exited with status $stopped_rc after SIGTERM"

# --------------------------------------------------------------------- mountebank

mb_package=mountebank@2.9.1
mb_dir=${XDG_CACHE_HOME:-$HOME/.cache}/hmt-bench/mountebank
mb_bin=$mb_dir/node_modules/.bin/mb
if [[ ! -x $mb_bin ]] || ! grep -q '"version": "2.9.1"' "$mb_dir/node_modules/mountebank/package.json" 2>/dev/null; then
    log "installing $mb_package into $mb_dir (npm, once)"
    mkdir -p "$mb_dir"
    npm install --prefix "$mb_dir" --no-audit --no-fund --loglevel=error "$mb_package" >&2 ||
        die "npm install $mb_package failed"
fi
mb_admin=$(free_port)
mb_port=$(free_port)
log "mountebank: mb start --port $mb_admin --loglevel warn"
"${server_pin[@]}" "$mb_bin" start --port "$mb_admin" --loglevel warn --logfile "$tmp/mb-file.log" >"$tmp/mb.log" 2>&1 &
mb_pid=$!
pids+=("$mb_pid")
wait_ready mountebank "$mb_pid" "$mb_admin" "$tmp/mb.log" /imposters 60
post_imposter "$mb_admin" "$mb_port" false
probe mountebank "$mb_port"
bench mountebank "http://127.0.0.1:$mb_port/users/1" "$mb_pid"
stop_server "$mb_pid"

# --------------------------------------------------------------------- report

run_notes nginx hmt
if [[ -n ${errors[mountebank]} ]]; then
    notes+=("- note: wrk against mountebank: ${errors[mountebank]}")
fi
read -r served_count saved_count <<<"$served"
growth=$(((rss_end - rss_early) / 1024))
check $((served_count >= memory_requests)) "memory run: the imposter counted $served_count requests (asked for $memory_requests)"
check $((saved_count <= 10000)) "memory run: $saved_count requests kept (the bound is 10,000)"
check $((growth <= 64)) "memory run: RSS $((rss_early / 1024)) MiB after $early requests, $((rss_end / 1024)) MiB after $memory_requests (grew $growth MiB; at most 64), ab at ${memory_rps:-?} req/s"
nginx_ratio=$(awk -v h="${rps[hmt]}" -v n="${rps[nginx]}" 'BEGIN { printf "%.2f", h / n }')
mb_ratio=$(awk -v h="${rps[hmt]}" -v m="${rps[mountebank]}" 'BEGIN { printf "%.1f", h / m }')
check "$(awk -v r="$nginx_ratio" 'BEGIN { print (r >= 0.5) }')" "hmt is ${nginx_ratio} x nginx (target at least 0.5)"
check "$(awk -v r="$mb_ratio" 'BEGIN { print (r >= 10) }')" "hmt is ${mb_ratio} x mountebank (target at least 10)"

row() { # row SLUG LABEL
    awk -v l="$2" -v s="$1" -v r="${rps[$1]}" -v a="${p50[$1]}" -v b="${p99[$1]}" \
        -v nr="${rps[nginx]}" -v c="${cpu_us[$1]}" -v wb="${wrk_busy[$1]}" -v sb="${srv_busy[$1]}" 'BEGIN {
        vs = (s == "nginx") ? "100% (baseline)" : sprintf("%.1f%%", r / nr * 100)
        printf "| %s | %.0f | %.2f ms | %.2f ms | %s | %s | %s%% / %s%% |\n", l, r, a, b, vs, c, wb, sb
    }'
}

describe_machine
echo "imposters benchmark: $started, git $rev, $cpu, $ncpu CPUs, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "wrk -t$threads -c$connections -d${duration}s --latency, ${warmup}s warm-up each; one imposter, one equals predicate, GET /users/1 ($body_bytes B JSON)"
echo "CPU: $fairness"
echo
echo "| target | req/s | p50 | p99 | % of nginx req/s | servers CPU µs/req | core busy wrk / server |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row nginx "nginx, fixed body"
row hmt "hmt imposter"
row mountebank "mountebank 2.9.1 imposter"
echo
printf '%s\n' "${notes[@]}"
exit "$failed"
