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

target_dir=${CARGO_TARGET_DIR:-target}
hmt_bin=$target_dir/release/hmt

die() { echo "bench-record: $*" >&2; exit 1; }
log() { echo "bench-record: $*" >&2; }

quick=0
pin=1
while (($#)); do
    case "$1" in
        --quick) quick=1 ;;
        --no-pin) pin=0 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

threads=2
connections=50
if ((quick)); then
    duration=3
    warmup=1
else
    duration=10
    warmup=2
fi

# --------------------------------------------------------------------- tools

ensure_tools() {
    local pkgs=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx)
    command -v wrk >/dev/null || pkgs+=(wrk)
    command -v taskset >/dev/null || pkgs+=(util-linux)
    if ((${#pkgs[@]})); then
        [[ $EUID -eq 0 ]] || die "missing ${pkgs[*]}; run as root or: sudo apt-get install ${pkgs[*]}"
        command -v apt-get >/dev/null || die "missing ${pkgs[*]} and no apt-get to install them"
        log "installing ${pkgs[*]} with apt-get"
        # Only refresh the package lists when something has to be installed.
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
}

ensure_tools
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
# stub_status counts the requests the upstream served (for the recording check).
"$nginx_bin" -V 2>&1 | grep -- '--with-http_stub_status_module' >/dev/null ||
    die "$nginx_bin lacks the stub_status module"

command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs)"
log "cargo build --release -p hmt"
cargo build --release -p hmt || die "cargo build failed"
[[ -x $hmt_bin ]] || die "$hmt_bin missing after build"

ncpu=$(nproc)
if ((pin)) && ((ncpu < 2)); then
    log "only $ncpu CPU: not pinning"
    pin=0
fi
if ((pin)); then
    wrk_cpus=0
    server_cpus=1
    wrk_pin=(taskset -c "$wrk_cpus")
    server_pin=(taskset -c "$server_cpus")
    fairness="wrk pinned to CPU $wrk_cpus, all servers (upstream + proxy under test) to CPU $server_cpus"
    workers=1
else
    wrk_pin=()
    server_pin=()
    fairness="no pinning: wrk and all servers float over $ncpu CPUs"
    workers=$ncpu
fi

# --------------------------------------------------------------------- processes

tmp="$(mktemp -d -t hmt-bench-record.XXXXXX)"
# nginx workers drop root privileges (to nobody) and must reach their files.
chmod 755 "$tmp"
pids=()
wrk_pid=""

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local pid
    [[ -z $wrk_pid ]] || kill -TERM "$wrk_pid" 2>/dev/null || true
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Log tails help when something fails to start.
show_log() {
    [[ -s $1 ]] || return 0
    echo "--- $1" >&2
    tail -n 20 -- "$1" >&2
}

used_ports=" "
# free_port: a port nothing listens on (below the ephemeral range, so no
# outgoing connection takes it meanwhile).
free_port() {
    local port tries
    for ((tries = 0; tries < 200; tries++)); do
        port=$((20000 + RANDOM % 12000))
        [[ $used_ports == *" $port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            used_ports+="$port "
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# http_get PORT PATH: the raw HTTP/1.0 response (empty on failure).
http_get() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
        cat <&3' _ "$1" "$2" 2>/dev/null || true
}

# wait_ready NAME PID PORT LOG: until GET /users/1 through PORT answers 200.
wait_ready() {
    local name=$1 pid=$2 port=$3 logfile=$4 i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log "$logfile"
            die "$name exited at start"
        fi
        if http_get "$port" /users/1 | head -n 1 | grep -q '^HTTP/1\.[01] 200'; then
            return 0
        fi
        sleep 0.1
    done
    show_log "$logfile"
    die "$name did not answer on port $port within 10 s"
}

# A fixed ~1 KB JSON document (no single quotes: it goes into nginx's return).
body='{"id":1,"username":"ada.lovelace","name":"Ada Lovelace","email":"ada@example.com",'
body+='"phone":"+44 20 7946 0958","website":"https://example.com/~ada","active":true,'
body+='"created_at":"2024-01-15T09:30:00Z","updated_at":"2024-06-01T17:45:12Z",'
body+='"address":{"street":"12 St James Square","suite":"Apt. 3","city":"London",'
body+='"zipcode":"SW1Y 4JH","country":"GB","geo":{"lat":51.5074,"lng":-0.1357}},'
body+='"company":{"name":"Analytical Engines Ltd","catch_phrase":"Numbers that weave patterns",'
body+='"bs":"harness difference engines"},"roles":["admin","author","reviewer"],'
body+='"preferences":{"language":"en-GB","timezone":"Europe/London","newsletter":false,'
body+='"theme":"dark","notifications":{"email":true,"sms":false,"push":true}},'
body+='"stats":{"posts":42,"followers":1815,"following":27,"likes":3120},'
body+='"bio":"Mathematician and writer, chiefly known for her work on the proposed '
body+='mechanical general-purpose computer, the Analytical Engine. She was the first '
body+='to recognise that the machine had applications beyond pure calculation.",'
body+='"tags":["math","computing","poetry","engines","notes"]}'

# Shared nginx settings. keepalive_requests is raised everywhere so that no
# connection is recycled during a run (nginx's default is 1000 requests).
nginx_common() {
    local name=$1
    cat <<EOF
worker_processes $workers;
pid $tmp/$name/nginx.pid;
error_log $tmp/$name/error.log warn;
events { worker_connections 4096; }
EOF
}

nginx_http_common() {
    local name=$1
    cat <<EOF
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $tmp/$name/client_body;
    proxy_temp_path $tmp/$name/proxy;
    fastcgi_temp_path $tmp/$name/fastcgi;
    uwsgi_temp_path $tmp/$name/uwsgi;
    scgi_temp_path $tmp/$name/scgi;
EOF
}

# start_nginx NAME: runs $tmp/NAME/nginx.conf in the foreground, as a child.
start_nginx() {
    local name=$1
    "${server_pin[@]}" "$nginx_bin" -p "$tmp/$name" -c "$tmp/$name/nginx.conf" \
        -e "$tmp/$name/error.log" -g 'daemon off;' >"$tmp/$name/stdout.log" 2>&1 &
    pids+=($!)
    last_pid=$!
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
busy_machine=0
if awk -v l="${load_start%% *}" -v n="$ncpu" 'BEGIN { exit !(l > n / 2) }'; then
    busy_machine=1
    log "warning: load average $load_start on $ncpu CPUs; other processes will skew the results"
fi

up_port=$(free_port)
px_port=$(free_port)
hmt_port=$(free_port)

mkdir -p "$tmp/upstream"
{
    nginx_common upstream
    echo "http {"
    nginx_http_common upstream
    cat <<EOF
    server {
        listen 127.0.0.1:$up_port backlog=4096;
        location = /users/1 {
            default_type application/json;
            return 200 '$body';
        }
        location = /nginx_status {
            stub_status;
        }
    }
}
EOF
} >"$tmp/upstream/nginx.conf"

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

clk_tck=$(getconf CLK_TCK)

# tree_ticks PID...: CPU ticks (user + system) used so far by these processes
# and their children (nginx workers).
tree_ticks() {
    local total=0 pid stat fields children
    for pid in "$@"; do
        read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
        read -r -a fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
        children=()
        read -r -a children 2>/dev/null <"/proc/$pid/task/$pid/children" || true
        if ((${#children[@]})); then
            total=$((total + $(tree_ticks "${children[@]}")))
        fi
    done
    echo "$total"
}

# ms VALUE: wrk's "812.00us" / "1.23ms" / "2.00s" in milliseconds.
ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
        if (f < 0) { print "nan"; exit }
        printf "%.3f", n * f
    }'
}

declare -A rps p50 p99 total cpu_us wrk_busy srv_busy errors

# bench SLUG PORT SERVER_PIDS...: warm-up, then the measured wrk run.
bench() {
    local slug=$1 port=$2
    shift 2
    local url="http://127.0.0.1:$port/users/1" out="$tmp/wrk-$slug.txt"
    log "$slug: warm-up ${warmup}s"
    "${wrk_pin[@]}" wrk -t"$threads" -c"$connections" -d"${warmup}s" "$url" >"$tmp/wrk-$slug-warmup.txt"
    # hmt's recording of the warm-up must be done before the measured run.
    [[ $slug != hmt ]] || settle_recording
    lines_before=$(count_lines "$rec")

    log "$slug: wrk -t$threads -c$connections -d${duration}s --latency $url"
    local t0 w0 s0 t1 w1 s1
    t0=$(date +%s%N)
    s0=$(tree_ticks "$@")
    "${wrk_pin[@]}" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$url" >"$out" &
    wrk_pid=$!
    w0=$(tree_ticks "$wrk_pid")
    # Read wrk's ticks just before it exits: poll its state.
    w1=$w0
    while kill -0 "$wrk_pid" 2>/dev/null; do
        w1=$(tree_ticks "$wrk_pid")
        [[ -n $w1 && $w1 != 0 ]] || w1=$w0
        sleep 0.2
    done
    wait "$wrk_pid" || die "wrk failed against $slug: $(cat "$out")"
    wrk_pid=""
    s1=$(tree_ticks "$@")
    t1=$(date +%s%N)

    rps[$slug]=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    total[$slug]=$(awk '/ requests in / { print $1 }' "$out")
    p50[$slug]=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99[$slug]=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    [[ -n ${rps[$slug]} && -n ${total[$slug]} ]] || die "cannot parse wrk output for $slug: $(cat "$out")"
    local wall=$(((t1 - t0) / 1000000))
    cpu_us[$slug]=$(awk -v s=$((s1 - s0)) -v hz="$clk_tck" -v n="${total[$slug]}" \
        'BEGIN { printf "%.1f", s / hz * 1e6 / n }')
    wrk_busy[$slug]=$(awk -v t=$((w1 - w0)) -v hz="$clk_tck" -v ms="$wall" \
        'BEGIN { printf "%.0f", t / hz * 100000 / ms }')
    srv_busy[$slug]=$(awk -v t=$((s1 - s0)) -v hz="$clk_tck" -v ms="$wall" \
        'BEGIN { printf "%.0f", t / hz * 100000 / ms }')
    errors[$slug]=$(awk '/^ *Socket errors:|^ *Non-2xx or 3xx responses:/ { sub(/^ */, ""); printf "%s%s", sep, $0; sep = "; " }' "$out")
}

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

bench upstream "$up_port" "$up_pid"
bench nginx "$px_port" "$up_pid" "$px_pid"

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

bench hmt "$hmt_port" "$up_pid" "$hmt_pid"
lines_main_start=$lines_before

log "stopping hmt record (SIGTERM)"
kill -TERM "$hmt_pid"
hmt_rc=0
wait "$hmt_pid" || hmt_rc=$?
served_after=$(upstream_requests)
# The last stub_status read counts itself.
served_via_hmt=$((served_after - served_before - 1))
lines_total=$(count_lines "$rec")
lines_main=$((lines_total - lines_main_start))
incomplete_main=$(tail -n +"$((lines_main_start + 1))" -- "$rec" | grep -c '"responseIncomplete":true' || true)

# --------------------------------------------------------------------- report

failed=0
notes=()
check() { # check OK MESSAGE
    if (($1)); then
        notes+=("- ok: $2")
    else
        notes+=("- FAILED: $2")
        failed=1
    fi
}

for slug in upstream nginx hmt; do
    if [[ -n ${errors[$slug]} ]]; then
        notes+=("- FAILED: wrk against $slug: ${errors[$slug]}")
        failed=1
    fi
done
if ((busy_machine)); then
    notes+=("- warning: load average $load_start at the start on $ncpu CPUs: other processes competed for the CPUs")
fi
for slug in upstream nginx hmt; do
    if ((wrk_busy[$slug] >= 90)); then
        notes+=("- note: wrk used ${wrk_busy[$slug]}% of its core against $slug: that row is limited by the load generator, and its tail latency includes wrk's own queueing")
    fi
done
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
        ok = (h / n >= 0.70 && hp - np <= 1.0)
        printf "%s (%.0f%% of nginx req/s, target >= 70%%; %+.2f ms p99, target <= 1 ms)",
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

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')
wrk_version=$({ wrk -v 2>&1 || true; } | awk 'NR == 1' | awk '{ print $1, $2 }')
echo "hmt record benchmark: $started, git $rev, ${cpu:-unknown CPU}, $ncpu CPUs, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
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
