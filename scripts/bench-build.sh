#!/usr/bin/env bash
# Benchmark `hmt build` on generated recordings and print a Markdown table.
#
#   scripts/bench-build.sh [--quick] [--no-hmt]      (make bench-build)
#
#   --quick   smaller inputs (5 and 25 MiB instead of 50 and 250 MiB)
#   --no-hmt  skip building and running hmt (baseline rows only)
#
# For each input it measures wall time and peak RSS (GNU time -v) of
#   * target/release/hmt build -i FILE -o bench-data/out-N
#   * a baseline, python3 json.loads of every line and every JSON body: the
#     least work any tool that reads recordings must do.
# Inputs are made by scripts/gen_recordings.py (deterministic) and reused when
# present. MB in the table means MiB.
#
# The original Python HMT 0.3.2 is not installed automatically: its PyPI name
# `hmt` now belongs to an unrelated project (only 0.1.x exists there) and its
# `meeshkan` predecessor depends on `meeshkan-daemonocle`, which is gone from
# PyPI. If you have a working install (e.g. from a source checkout), point
# HMT_PY at its `hmt` executable to add its row, measured on a 10 MiB input
# (2 MiB with --quick) because it is orders of magnitude slower:
#   HMT_PY=/path/to/venv/bin/hmt scripts/bench-build.sh
#
# Works on a fresh Debian machine as root with Rust installed: GNU time and
# python3 are apt-get installed when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

data=bench-data
hmt_bin=target/release/hmt

die() { echo "bench-build: $*" >&2; exit 1; }
log() { echo "bench-build: $*" >&2; }

quick=0
run_hmt=1
while (($#)); do
    case "$1" in
        --quick) quick=1 ;;
        --no-hmt) run_hmt=0 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

if ((quick)); then
    sizes=(5 25)
    py_hmt_size=2
else
    sizes=(50 250)
    py_hmt_size=10
fi

# --------------------------------------------------------------------- tools

ensure_tools() {
    local pkgs=()
    [[ -x /usr/bin/time ]] || pkgs+=(time)
    command -v python3 >/dev/null || pkgs+=(python3)
    if ((${#pkgs[@]})); then
        [[ $EUID -eq 0 ]] || die "missing ${pkgs[*]}; run as root or: sudo apt-get install ${pkgs[*]}"
        command -v apt-get >/dev/null || die "missing ${pkgs[*]} and no apt-get to install them"
        log "installing ${pkgs[*]} with apt-get"
        # Only refresh the package lists when something has to be installed.
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
    # Debian's /usr/bin/time could in principle be something else; we parse -v.
    /usr/bin/time -v true 2>&1 | grep 'Maximum resident set size' >/dev/null ||
        die "/usr/bin/time is not GNU time (need -v output)"
}

ensure_tools

if ((run_hmt)); then
    command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs) or pass --no-hmt"
    log "cargo build --release -p hmt"
    cargo build --release -p hmt || die "cargo build failed"
    [[ -x $hmt_bin ]] || die "$hmt_bin missing after build"
fi

# --------------------------------------------------------------------- inputs

mkdir -p "$data"

# recording SIZE_MIB -> path; generates the file if absent.
recording() {
    local file="$data/rec-$1.jsonl"
    if [[ ! -s $file ]]; then
        log "generating $file"
        python3 scripts/gen_recordings.py --size-mb "$1" --out "$file" >&2
    fi
    echo "$file"
}

# --------------------------------------------------------------------- measuring

# Reads each line and, when its content-type says JSON, each body. Header names
# are lower-case in the generated data, so a plain lookup is enough here.
baseline_py='
import json, sys
lines = bodies = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        ex = json.loads(line)
        lines += 1
        for part in (ex["request"], ex.get("response") or {}):
            body = part.get("body")
            if body is not None and "json" in str(part.get("headers", {}).get("content-type", "")):
                json.loads(body)
                bodies += 1
print(f"{lines} lines, {bodies} JSON bodies", file=sys.stderr)
'

rows=()
notes=()
failed=0
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

# measure SLUG LABEL INPUT OUTDIR CMD...: runs CMD under GNU time and appends a
# table row; CMD's output goes to bench-data/<input>.<SLUG>.log. With a non-empty
# OUTDIR the run also has to leave an OpenAPI file there.
measure() {
    local slug=$1 label=$2 input=$3 outdir=$4
    shift 4
    local stats="$tmp/time" out_log="$data/${input##*/}.$slug.log"
    local bytes rc=0
    bytes=$(stat -c %s "$input")
    [[ -z $outdir ]] || rm -rf -- "$outdir"
    # Read the input once first so every tool starts with it in the page cache.
    cat -- "$input" >/dev/null
    log "running $label on $input"
    /usr/bin/time -v -o "$stats" "$@" >"$out_log" 2>&1 || rc=$?

    local secs kb
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:10.91"
    secs=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time[^)]*): //p' "$stats" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
    kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$stats")

    local status=""
    if ((rc != 0)); then
        status="FAILED (exit $rc)"
    elif [[ -n $outdir ]] && ! compgen -G "$outdir/openapi.json" >/dev/null &&
        ! compgen -G "$outdir/*.openapi.json" >/dev/null; then
        status="FAILED (no spec in $outdir)"
    fi
    if [[ -n $status ]]; then
        failed=1
        notes+=("- $label on $input: $status, see $out_log")
        rows+=("$(awk -v l="$label" -v b="$bytes" -v s="$status" \
            'BEGIN { printf "| %s | %.1f | %s | – | – |", l, b / 1048576, s }')")
        return 0
    fi
    rows+=("$(awk -v l="$label" -v b="$bytes" -v t="$secs" -v k="$kb" 'BEGIN {
        mb = b / 1048576
        printf "| %s | %.1f | %.2f | %s | %.0f |", l, mb, t, (t > 0 ? sprintf("%.1f", mb / t) : "∞"), k / 1024
    }')")
}

for size in "${sizes[@]}"; do
    input=$(recording "$size")
    if ((run_hmt)); then
        measure hmt "hmt build" "$input" "$data/out-$size" \
            "$hmt_bin" build -i "$input" -o "$data/out-$size"
    fi
    measure baseline "baseline: python3 json.loads" "$input" "" python3 -c "$baseline_py" "$input"
done

if [[ -n ${HMT_PY:-} ]]; then
    [[ -x $HMT_PY ]] || die "HMT_PY=$HMT_PY is not executable"
    input=$(recording "$py_hmt_size")
    measure hmt-py "hmt 0.3.2 (Python)" "$input" "$data/out-hmt-py-$py_hmt_size" \
        "$HMT_PY" build -i "$input" -o "$data/out-hmt-py-$py_hmt_size"
    measure baseline "baseline: python3 json.loads" "$input" "" python3 -c "$baseline_py" "$input"
fi

# --------------------------------------------------------------------- report

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "hmt build benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), git $rev, ${cpu:-unknown CPU}, $(nproc) CPUs, $(python3 --version)"
echo
echo "| tool | input MB | seconds | MB/s | peak RSS MB |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
if ((${#notes[@]})); then
    echo
    printf '%s\n' "${notes[@]}"
fi
exit "$failed"
