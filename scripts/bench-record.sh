#!/usr/bin/env bash
# Benchmark `hmt record` as a reverse proxy against nginx and print a Markdown table.
#
#   scripts/bench-record.sh [--quick] [--no-pin]      (make bench-record)
#
#   --quick    3 s measured runs and 1 s warm-ups (default: 10 s and 2 s)
#   --no-pin   don't pin processes to CPUs (see "CPU fairness" below)
#
# Everything listens on 127.0.0.1, on free ports, and lives in a private temp
# directory that is removed on exit; no system nginx configuration or service
# is used. Three servers run as children of this script:
#   * upstream: nginx answering GET /users/1 with a fixed ~1 KB JSON body
#     (from memory, keep-alive on);
#   * baseline: nginx reverse proxy to it (proxy_pass over a keep-alive
#     upstream pool, default proxy_buffering, access_log off);
#   * hmt record --target http://127.0.0.1:UP --output DIR/rec.jsonl
#     with HMT_HOME=DIR/hmt-home: every exchange recorded to one file.
# Then, one after the other, `wrk -t2 -c50 -d10s --latency` (after a warm-up
# with the same settings) against (1) the upstream directly, (2) nginx
# proxying, (3) hmt recording.
#
# Every request must be recorded: after hmt gets SIGTERM and exits, the lines
# in rec.jsonl must equal the requests the upstream
# served through hmt (nginx stub_status, exact), and the lines written during
# the measured run must cover wrk's total requests. wrk counts only the
# responses it read, so requests still in flight when its timer ends (at most
# one per connection) are recorded but not counted by wrk: the script prints
# both numbers and fails unless wrk <= lines <= wrk + connections.
#
# CPU fairness: wrk and the servers share the machine. By default wrk (both
# threads) is pinned to CPU 0 and every server (upstream nginx, nginx proxy,
# hmt) to CPU 1, so the proxy under test and the upstream it needs share one
# core, the same for nginx and hmt, and the load generator never steals from
# them. Both proxies get the same parallelism: worker_processes 1 for nginx,
# and hmt's runtime sees one CPU (its default is one worker thread per
# available CPU; the accept loop runs on the main thread). With --no-pin
# everything floats, nginx runs one worker per CPU and hmt its default.
# Besides req/s and latency the table shows the servers' CPU time per request
# (upstream included: compare rows), which depends little on other load, and
# how busy wrk and the servers were (percent of one core, averaged over the
# run): when neither side is near 100%, something else had the CPUs. The load
# average is printed at the start and the end; results from a busy machine
# are noise.
#
# Works on a fresh Debian machine as root with Rust installed: nginx and wrk
# are apt-get installed when missing (the package's own nginx service, if
# any, is not used).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench_name=bench-record
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"

parse_bench_args "$@"
# shellcheck disable=SC2119  # no extra packages
ensure_tools
# stub_status counts the requests the upstream served (for the recording check).
"$nginx_bin" -V 2>&1 | grep -- '--with-http_stub_status_module' >/dev/null ||
    die "$nginx_bin lacks the stub_status module"
build_hmt
setup_pinning "all servers (upstream + proxy under test)" "all servers"
make_tmp
check_load

# --------------------------------------------------------------------- servers

up_port=$(free_port)
px_port=$(free_port)
hmt_port=$(free_port)

write_body_nginx upstream "$up_port" '
        location = /nginx_status {
            stub_status;
        }'

mkdir -p "$tmp/proxy"
{
    nginx_common proxy
    echo "http {"
    nginx_http_common proxy
    cat <<EOF
    upstream backend {
        server 127.0.0.1:$up_port;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$px_port backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
} >"$tmp/proxy/nginx.conf"

log "starting upstream nginx on 127.0.0.1:$up_port"
start_nginx upstream
up_pid=$last_pid
wait_ready "upstream nginx" "$up_pid" "$up_port" "$tmp/upstream/error.log"

log "starting nginx proxy on 127.0.0.1:$px_port"
start_nginx proxy
px_pid=$last_pid
wait_ready "nginx proxy" "$px_pid" "$px_port" "$tmp/proxy/error.log"

body_bytes=$(http_get "$up_port" /users/1 | sed -n 's/^Content-Length: *\([0-9]*\).*/\1/Ip')

# upstream_requests: requests the upstream has served (each call counts itself).
upstream_requests() {
    http_get "$up_port" /nginx_status | awk '/^ *[0-9]+ +[0-9]+ +[0-9]+ *$/ { print $3 }'
}

# --------------------------------------------------------------------- measuring

rec=$tmp/rec.jsonl
count_lines() {
    if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi
}

# Waits until rec.jsonl stops growing (in-flight warm-up exchanges written).
settle_recording() {
    local before after=-1 i
    before=$(count_lines "$rec")
    for ((i = 0; i < 50; i++)); do
        sleep 0.2
        after=$(count_lines "$rec")
        [[ $after != "$before" ]] || return 0
        before=$after
    done
    die "rec.jsonl kept growing after the warm-up"
}

# Called by bench between the warm-up and the measured run: hmt's recording
# of the warm-up must be done before the measured run, whose lines are
# counted from lines_before on.
# shellcheck disable=SC2317  # called by bench (bench-lib.sh)
bench_after_warmup() {
    [[ $1 != hmt ]] || settle_recording
    lines_before=$(count_lines "$rec")
}

bench upstream "http://127.0.0.1:$up_port/users/1" "$up_pid"
bench nginx "http://127.0.0.1:$px_port/users/1" "$up_pid" "$px_pid"

# hmt starts last so that the upstream's request count can be attributed to it.
served_before=$(upstream_requests)
[[ -n $served_before ]] || die "cannot read the upstream's stub_status"
mkdir -p "$tmp/hmt-home"
log "starting hmt record on 127.0.0.1:$hmt_port"
HMT_HOME=$tmp/hmt-home RUST_LOG=info "${server_pin[@]}" "$hmt_bin" record \
    --target "http://127.0.0.1:$up_port" -p "$hmt_port" \
    --output "$rec" 2>"$tmp/hmt.log" &
hmt_pid=$!
pids+=("$hmt_pid")
wait_ready "hmt record" "$hmt_pid" "$hmt_port" "$tmp/hmt.log"
hmt_tasks=("/proc/$hmt_pid/task"/*)
hmt_threads=${#hmt_tasks[@]}

bench hmt "http://127.0.0.1:$hmt_port/users/1" "$up_pid" "$hmt_pid"
lines_main_start=$lines_before

log "stopping hmt record (SIGTERM)"
stop_server "$hmt_pid"
hmt_rc=$stopped_rc
served_after=$(upstream_requests)
# The last stub_status read counts itself.
served_via_hmt=$((served_after - served_before - 1))
lines_total=$(count_lines "$rec")
lines_main=$((lines_total - lines_main_start))
incomplete_main=$(tail -n +"$((lines_main_start + 1))" -- "$rec" | grep -c '"responseIncomplete":true' || true)

# --------------------------------------------------------------------- report

run_notes upstream nginx hmt
check $((hmt_rc == 0)) "hmt record exited with status $hmt_rc after SIGTERM"
check $((lines_total == served_via_hmt)) \
    "rec.jsonl has $lines_total lines for the $served_via_hmt requests the upstream served through hmt (warm-up and probes included)"
if ((lines_total < served_via_hmt)); then
    notes+=("  $((served_via_hmt - lines_total)) request(s) reached the upstream through hmt but were not recorded. \
Requests whose client left early are recorded with meta.clientAborted, so this is a bug.")
fi
check $((lines_main >= total[hmt] && lines_main <= total[hmt] + connections)) \
    "measured run: wrk counted ${total[hmt]} requests, rec.jsonl got $lines_main lines, $incomplete_main of them marked responseIncomplete \
(wrk does not count the up to $connections requests in flight when it stops)"

verdict() {
    awk -v h="${rps[hmt]}" -v n="${rps[nginx]}" -v hp="${p99[hmt]}" -v np="${p99[nginx]}" 'BEGIN {
        ok = (h / n >= 0.75 && hp - np <= 1.0)
        printf "%s (%.0f%% of nginx req/s, target >= 75%%; %+.2f ms p99, target <= 1 ms)",
            ok ? "met" : "NOT met", h / n * 100, hp - np
    }'
}

row() { # row SLUG LABEL
    local slug=$1 label=$2
    awk -v l="$label" -v s="$slug" -v r="${rps[$slug]}" -v a="${p50[$slug]}" -v b="${p99[$slug]}" \
        -v nr="${rps[nginx]}" -v nb="${p99[nginx]}" -v c="${cpu_us[$slug]}" \
        -v wb="${wrk_busy[$slug]}" -v sb="${srv_busy[$slug]}" 'BEGIN {
        if (s == "hmt") { vs = sprintf("%.0f%%", r / nr * 100); add = sprintf("%+.2f ms", b - nb) }
        else if (s == "nginx") { vs = "100% (baseline)"; add = "0 (baseline)" }
        else { vs = "–"; add = "–" }
        printf "| %s | %.0f | %.2f ms | %.2f ms | %s | %s | %s | %s%% / %s%% |\n",
            l, r, a, b, vs, add, c, wb, sb
    }'
}

describe_machine
echo "hmt record benchmark: $started, git $rev, $cpu, $ncpu CPUs, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "wrk -t$threads -c$connections -d${duration}s --latency GET /users/1 (${body_bytes:-?} B JSON), ${warmup}s warm-up each; $wrk_version, $nginx_version (worker_processes $workers), hmt with $hmt_threads threads"
echo "CPU: $fairness"
echo
echo "| target | req/s | p50 | p99 | hmt vs nginx (req/s %) | added p99 vs nginx | servers CPU µs/req | core busy wrk / servers |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row upstream "upstream nginx (direct)"
row nginx "nginx proxy_pass"
row hmt "hmt record"
echo
echo "hmt target: $(verdict)"
echo
printf '%s\n' "${notes[@]}"
if ((failed)); then
    show_log "$tmp/hmt.log"
fi
exit "$failed"
