# shellcheck shell=bash disable=SC2034  # sets variables for the scripts that source it
# Shared helpers of the HTTP benchmarks (scripts/bench-*.sh). Source it after
# `set -euo pipefail` and after setting
#
#   bench_name   prefix of log and error messages ("bench-mock")
#
# then call, in this order:
#
#   parse_bench_args "$@"   --quick, --no-pin, --help; sets quick, pin,
#                           threads, connections, duration, warmup
#   ensure_tools            apt-get installs nginx, wrk, taskset if missing;
#                           sets nginx_bin
#   build_hmt               cargo build --release -p hmt (honours
#                           CARGO_TARGET_DIR); sets hmt_bin
#   setup_pinning           sets wrk_pin, server_pin, fairness, workers,
#                           ncpu
#   make_tmp                private temp dir $tmp, removed by cleanup on exit
#   check_load              sets started, load_start, busy_machine
#
# Processes: servers are started in the background and their pids appended
# to the array `pids` (start_nginx does it); cleanup (the EXIT trap) sends
# SIGTERM to them and to a running wrk ($wrk_pid). stop_server PID stops one
# early, so that each server can have the CPU to itself.
#
# Measuring: bench SLUG URL SERVER_PID... runs wrk (warm-up, then measured
# run) and fills the associative arrays rps, p50, p99 (ms), total, cpu_us
# (servers' CPU µs per request, children included), wrk_busy, srv_busy
# (percent of one core) and errors (wrk's socket errors and non-2xx
# responses, warm-up included) under SLUG. If a function bench_after_warmup
# is defined, bench calls it with SLUG between warm-up and measured run.
#
# Also here: the ~1 KB JSON body all benchmarks serve ($bench_body), nginx
# configuration snippets, free_port, http_get / http_status / http_body,
# wait_ready, tree_ticks, ms, describe_machine.

bench_name=${bench_name:-bench}

die() { echo "$bench_name: $*" >&2; exit 1; }
log() { echo "$bench_name: $*" >&2; }

# show_log FILE: its last lines on stderr (when something fails to start).
show_log() {
    [[ -s $1 ]] || return 0
    echo "--- $1" >&2
    tail -n 20 -- "$1" >&2
}

# --------------------------------------------------------------------- setup

# parse_bench_args ARG...: the options every HTTP benchmark takes. --help
# prints the calling script's header comment (line 2 up to `set -euo`).
parse_bench_args() {
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
}

# ensure_tools [PACKAGE...]: nginx, wrk, taskset (and these extra Debian
# packages, named as their command) installed; apt-get only when something
# is missing. Sets nginx_bin.
ensure_tools() {
    local pkgs=() extra
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx)
    command -v wrk >/dev/null || pkgs+=(wrk)
    command -v taskset >/dev/null || pkgs+=(util-linux)
    for extra in "$@"; do
        command -v "$extra" >/dev/null || pkgs+=("$extra")
    done
    if ((${#pkgs[@]})); then
        [[ $EUID -eq 0 ]] || die "missing ${pkgs[*]}; run as root or: sudo apt-get install ${pkgs[*]}"
        command -v apt-get >/dev/null || die "missing ${pkgs[*]} and no apt-get to install them"
        log "installing ${pkgs[*]} with apt-get"
        # Only refresh the package lists when something has to be installed.
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
    nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
}

# build_hmt: the release binary, built in CARGO_TARGET_DIR (default target).
build_hmt() {
    local target_dir=${CARGO_TARGET_DIR:-target}
    hmt_bin=$target_dir/release/hmt
    command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs)"
    log "cargo build --release -p hmt"
    cargo build --release -p hmt || die "cargo build failed"
    [[ -x $hmt_bin ]] || die "$hmt_bin missing after build"
}

# setup_pinning [PINNED [FLOATING]]: wrk on CPU 0, servers on CPU 1 (unless
# --no-pin or one CPU). workers is the parallelism servers get (nginx
# worker_processes). PINNED and FLOATING name the servers in $fairness, when
# pinned (default "the server under test") and when not ("the servers").
# shellcheck disable=SC2120  # both arguments are optional
setup_pinning() {
    local pinned=${1:-the server under test} floating=${2:-the servers}
    ncpu=$(nproc)
    if ((pin)) && ((ncpu < 2)); then
        log "only $ncpu CPU: not pinning"
        pin=0
    fi
    if ((pin)); then
        wrk_pin=(taskset -c 0)
        server_pin=(taskset -c 1)
        fairness="wrk pinned to CPU 0, $pinned to CPU 1"
        workers=1
    else
        wrk_pin=()
        server_pin=()
        fairness="no pinning: wrk and $floating float over $ncpu CPUs"
        workers=$ncpu
    fi
}

pids=()
wrk_pid=""
tmp=""

# make_tmp: a private temp directory, and the traps that clean up.
make_tmp() {
    tmp="$(mktemp -d -t "hmt-$bench_name.XXXXXX")"
    # nginx workers drop root privileges (to nobody) and must reach their files.
    chmod 755 "$tmp"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

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
    [[ -z $tmp ]] || rm -rf -- "$tmp"
}

# stop_server PID: SIGTERM, wait; sets stopped_rc to its exit status.
stop_server() {
    local pid=$1 kept=() p
    stopped_rc=0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || stopped_rc=$?
    for p in "${pids[@]}"; do
        [[ $p == "$pid" ]] || kept+=("$p")
    done
    pids=("${kept[@]}")
}

# check_load: the load average at the start; busy_machine=1 when above half
# the CPUs (results will be noise).
check_load() {
    started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    busy_machine=0
    if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
        busy_machine=1
        log "warning: load average $load_start on $(nproc) CPUs; other processes will skew the results"
    fi
}

# describe_machine: sets cpu, rev, nginx_version, wrk_version.
describe_machine() {
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
    cpu=${cpu:-unknown CPU}
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')
    wrk_version=$({ wrk -v 2>&1 || true; } | awk 'NR == 1' | awk '{ print $1, $2 }')
}

# --------------------------------------------------------------------- HTTP

used_ports=" "
# free_port: a port nothing listens on (below the ephemeral range, so no
# outgoing connection takes it meanwhile), never the same one twice.
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

# http_status PORT PATH: the status code (empty on failure).
http_status() {
    http_get "$1" "$2" | head -n 1 | sed -n 's/^HTTP\/1\.[01] \([0-9][0-9][0-9]\).*/\1/p'
}

# http_body FILE: the body of a raw response saved in FILE, byte for byte.
http_body() {
    local offset
    offset=$(grep -a -m 1 -b $'^\r$' "$1" | cut -d: -f1)
    [[ -n $offset ]] || return 1
    tail -c +"$((offset + 3))" -- "$1"
}

# wait_ready NAME PID PORT LOG [PATH] [SECONDS]: until GET PATH (default
# /users/1) answers 200; dies when the process exits or after SECONDS
# (default 10).
wait_ready() {
    local name=$1 pid=$2 port=$3 logfile=$4 path=${5:-/users/1} seconds=${6:-10} i
    for ((i = 0; i < seconds * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log "$logfile"
            die "$name exited at start"
        fi
        if [[ $(http_status "$port" "$path") == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    show_log "$logfile"
    die "$name did not answer 200 to GET $path on port $port within $seconds s"
}

# --------------------------------------------------------------------- nginx

# A fixed ~1 KB JSON document (no single quotes or backslashes: it goes into
# nginx's return and, escaped, into JSON strings).
bench_body='{"id":1,"username":"ada.lovelace","name":"Ada Lovelace","email":"ada@example.com",'
bench_body+='"phone":"+44 20 7946 0958","website":"https://example.com/~ada","active":true,'
bench_body+='"created_at":"2024-01-15T09:30:00Z","updated_at":"2024-06-01T17:45:12Z",'
bench_body+='"address":{"street":"12 St James Square","suite":"Apt. 3","city":"London",'
bench_body+='"zipcode":"SW1Y 4JH","country":"GB","geo":{"lat":51.5074,"lng":-0.1357}},'
bench_body+='"company":{"name":"Analytical Engines Ltd","catch_phrase":"Numbers that weave patterns",'
bench_body+='"bs":"harness difference engines"},"roles":["admin","author","reviewer"],'
bench_body+='"preferences":{"language":"en-GB","timezone":"Europe/London","newsletter":false,'
bench_body+='"theme":"dark","notifications":{"email":true,"sms":false,"push":true}},'
bench_body+='"stats":{"posts":42,"followers":1815,"following":27,"likes":3120},'
bench_body+='"bio":"Mathematician and writer, chiefly known for her work on the proposed '
bench_body+='mechanical general-purpose computer, the Analytical Engine. She was the first '
bench_body+='to recognise that the machine had applications beyond pure calculation.",'
bench_body+='"tags":["math","computing","poetry","engines","notes"]}'

# nginx_common NAME: main-context settings of $tmp/NAME/nginx.conf.
nginx_common() {
    local name=$1
    cat <<EOF
worker_processes $workers;
pid $tmp/$name/nginx.pid;
error_log $tmp/$name/error.log warn;
events { worker_connections 4096; }
EOF
}

# nginx_http_common NAME: http-context settings. keepalive_requests is raised
# so that no connection is recycled during a run (nginx's default is 1000).
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

# write_body_nginx NAME PORT [LOCATIONS]: $tmp/NAME/nginx.conf, an nginx on
# 127.0.0.1:PORT answering GET /users/1 with $bench_body from memory (the
# baseline every HTTP benchmark measures against), plus any LOCATIONS text.
write_body_nginx() {
    local name=$1 port=$2 locations=${3:-}
    mkdir -p "$tmp/$name"
    {
        nginx_common "$name"
        echo "http {"
        nginx_http_common "$name"
        cat <<EOF
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = /users/1 {
            default_type application/json;
            return 200 '$bench_body';
        }$locations
    }
}
EOF
    } >"$tmp/$name/nginx.conf"
}

# start_nginx NAME: runs $tmp/NAME/nginx.conf in the foreground, as a child
# pinned like every server; sets last_pid.
start_nginx() {
    local name=$1
    "${server_pin[@]}" "$nginx_bin" -p "$tmp/$name" -c "$tmp/$name/nginx.conf" \
        -e "$tmp/$name/error.log" -g 'daemon off;' >"$tmp/$name/stdout.log" 2>&1 &
    pids+=($!)
    last_pid=$!
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

# wrk_errors FILE: wrk's socket errors and non-2xx/3xx counts, "; "-joined.
wrk_errors() {
    awk '/^ *Socket errors:|^ *Non-2xx or 3xx responses:/ { sub(/^ */, ""); printf "%s%s", sep, $0; sep = "; " }' "$1"
}

declare -A rps p50 p99 total cpu_us wrk_busy srv_busy errors

# bench SLUG URL SERVER_PID...: warm-up, then the measured wrk run against
# URL, counting the CPU time of the server processes (and their children).
bench() {
    local slug=$1 url=$2
    shift 2
    local out="$tmp/wrk-$slug.txt" warm="$tmp/wrk-$slug-warmup.txt" warm_errors
    log "$slug: warm-up ${warmup}s"
    "${wrk_pin[@]}" wrk -t"$threads" -c"$connections" -d"${warmup}s" "$url" >"$warm" ||
        die "wrk failed against $slug: $(cat "$warm")"
    if declare -F bench_after_warmup >/dev/null; then
        bench_after_warmup "$slug"
    fi

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
    [[ -n ${rps[$slug]} && -n ${total[$slug]} && ${total[$slug]} != 0 ]] ||
        die "cannot parse wrk output for $slug: $(cat "$out")"
    local wall=$(((t1 - t0) / 1000000))
    cpu_us[$slug]=$(awk -v s=$((s1 - s0)) -v hz="$clk_tck" -v n="${total[$slug]}" \
        'BEGIN { printf "%.1f", s / hz * 1e6 / n }')
    wrk_busy[$slug]=$(awk -v t=$((w1 - w0)) -v hz="$clk_tck" -v ms="$wall" \
        'BEGIN { printf "%.0f", t / hz * 100000 / ms }')
    srv_busy[$slug]=$(awk -v t=$((s1 - s0)) -v hz="$clk_tck" -v ms="$wall" \
        'BEGIN { printf "%.0f", t / hz * 100000 / ms }')
    errors[$slug]=$(wrk_errors "$out")
    warm_errors=$(wrk_errors "$warm")
    if [[ -n $warm_errors ]]; then
        errors[$slug]+="${errors[$slug]:+; }warm-up: $warm_errors"
    fi
}

# --------------------------------------------------------------------- report

failed=0
notes=()

# check OK MESSAGE: an "ok" or "FAILED" line for the report; a failure makes
# the script exit 1 after printing it.
check() {
    if (($1)); then
        notes+=("- ok: $2")
    else
        notes+=("- FAILED: $2")
        failed=1
    fi
}

# run_notes SLUG...: what the report must say about the runs themselves: wrk
# errors (a failure), a busy machine, a load generator at its limit, and
# (pinned) rows where neither side had its core to itself.
run_notes() {
    local slug
    for slug in "$@"; do
        if [[ -n ${errors[$slug]} ]]; then
            notes+=("- FAILED: wrk against $slug: ${errors[$slug]}")
            failed=1
        fi
    done
    if ((busy_machine)); then
        notes+=("- warning: load average $load_start at the start on $ncpu CPUs: other processes competed for the CPUs")
    fi
    for slug in "$@"; do
        if ((wrk_busy[$slug] >= 90)); then
            notes+=("- note: wrk used ${wrk_busy[$slug]}% of its core against $slug: that row is limited by the load generator, and its tail latency includes wrk's own queueing")
        fi
        if ((pin && wrk_busy[$slug] < 80 && srv_busy[$slug] < 80)); then
            notes+=("- warning: against $slug neither wrk (${wrk_busy[$slug]}%) nor the server (${srv_busy[$slug]}%) kept its core busy: other processes had the CPUs, so that row's req/s and latency are noise (its CPU µs/req less so)")
        fi
    done
}
