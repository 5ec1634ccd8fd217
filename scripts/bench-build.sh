#!/usr/bin/env bash
# Benchmark `hmt build` on generated recordings and print a Markdown table.
#
#   scripts/bench-build.sh [--quick]      (make bench-build)
#
#   --quick   smaller inputs (5 and 25 MiB instead of 50 and 500 MiB)
#
# For each input it measures wall time and peak RSS (GNU time -v) of
#   * hmt build -i FILE -o bench-data/out-N (release build)
#   * a bare parse of the same file with serde_json: every line, and every body
#     whose content-type says JSON, parsed into a serde_json::Value and dropped
#     (crates/hmt-types/examples/parse_baseline.rs, release build): the least
#     work any tool that reads recordings must do,
# and prints them side by side, with hmt's rate as a share of the parse's and
# whether the targets hold: hmt at least 0.75 x the parse rate, peak RSS under
# 100 MB. Inputs are made by scripts/gen_recordings.py (deterministic) and
# reused when present. MB in the table means MiB. Binaries are found under
# $CARGO_TARGET_DIR when it is set, else target/.
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
target_dir=${CARGO_TARGET_DIR:-target}
hmt_bin=$target_dir/release/hmt
parse_bin=$target_dir/release/examples/parse_baseline
# Targets (the issue's): hmt's MB/s as a share of the bare parse's, and peak RSS.
min_share=0.75
max_rss_mb=100

die() { echo "bench-build: $*" >&2; exit 1; }
log() { echo "bench-build: $*" >&2; }

quick=0
while (($#)); do
    case "$1" in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

if ((quick)); then
    sizes=(5 25)
    py_hmt_size=2
else
    sizes=(50 500)
    py_hmt_size=10
fi

# --------------------------------------------------------------------- tools

ensure_tools() {
    local pkgs=()
    [[ -x /usr/bin/time ]] || pkgs+=(time)
    command -v python3 >/dev/null || pkgs+=(python3)  # generates the inputs
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

command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs)"
log "cargo build --release -p hmt, and the serde_json baseline"
cargo build --release -p hmt || die "cargo build failed"
cargo build --release -p hmt-types --example parse_baseline || die "cargo build failed"
[[ -x $hmt_bin ]] || die "$hmt_bin missing after build"
[[ -x $parse_bin ]] || die "$parse_bin missing after build"

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

failed=0
notes=()
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

# measure SLUG INPUT OUTDIR CMD...: runs CMD under GNU time and sets $secs and
# $rss_mb (or $status when it failed). CMD's output goes to
# bench-data/<input>.<SLUG>.log. With a non-empty OUTDIR the run also has to
# leave an OpenAPI file there.
measure() {
    local slug=$1 input=$2 outdir=$3
    shift 3
    local stats="$tmp/time" out_log="$data/${input##*/}.$slug.log" rc=0
    [[ -z $outdir ]] || rm -rf -- "$outdir"
    # Read the input once first so every tool starts with it in the page cache.
    cat -- "$input" >/dev/null
    log "running $slug on $input"
    /usr/bin/time -v -o "$stats" "$@" >"$out_log" 2>&1 || rc=$?
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:10.91"
    secs=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time[^)]*): //p' "$stats" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
    rss_mb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$stats" |
        awk '{ printf "%.0f", $1 / 1024 }')
    status=""
    if ((rc != 0)); then
        status="FAILED (exit $rc)"
    elif [[ -n $outdir ]] && ! compgen -G "$outdir/openapi.json" >/dev/null &&
        ! compgen -G "$outdir/*.openapi.json" >/dev/null; then
        status="FAILED (no spec in $outdir)"
    fi
    if [[ -n $status ]]; then
        failed=1
        notes+=("- $slug on $input: $status, see $out_log")
    fi
}

rows=()
verdicts=()
for size in "${sizes[@]}"; do
    input=$(recording "$size")
    mb=$(stat -c %s "$input" | awk '{ printf "%.1f", $1 / 1048576 }')
    measure hmt "$input" "$data/out-$size" "$hmt_bin" build -i "$input" -o "$data/out-$size"
    hmt_status=$status hmt_secs=$secs hmt_rss=$rss_mb
    measure serde-json "$input" "" "$parse_bin" "$input"
    parse_status=$status parse_secs=$secs parse_rss=$rss_mb
    if [[ -n $hmt_status || -n $parse_status ]]; then
        rows+=("| $mb | ${hmt_status:-$hmt_secs} | – | – | ${parse_status:-$parse_secs} | – | – | – |")
        continue
    fi
    rows+=("$(awk -v mb="$mb" -v ht="$hmt_secs" -v hr="$hmt_rss" -v pt="$parse_secs" -v pr="$parse_rss" 'BEGIN {
        hrate = (ht > 0 ? mb / ht : 0); prate = (pt > 0 ? mb / pt : 0)
        printf "| %s | %.2f | %.1f | %s | %.2f | %.1f | %s | %.2f |", mb, ht, hrate, hr, pt, prate, pr, (prate > 0 ? hrate / prate : 0)
    }')")
    verdicts+=("$(awk -v mb="$mb" -v ht="$hmt_secs" -v hr="$hmt_rss" -v pt="$parse_secs" -v share="$min_share" -v max="$max_rss_mb" 'BEGIN {
        ratio = (ht > 0 ? pt / ht : 0)
        printf "- %s MB: hmt at %.2f x the parse rate (target >= %s): %s; peak RSS %s MB (target < %s): %s",
            mb, ratio, share, (ratio >= share ? "met" : "MISSED"), hr, max, (hr < max ? "met" : "MISSED")
    }')")
done

py_row=""
if [[ -n ${HMT_PY:-} ]]; then
    [[ -x $HMT_PY ]] || die "HMT_PY=$HMT_PY is not executable"
    input=$(recording "$py_hmt_size")
    measure hmt-py "$input" "$data/out-hmt-py-$py_hmt_size" \
        "$HMT_PY" build -i "$input" -o "$data/out-hmt-py-$py_hmt_size"
    mb=$(stat -c %s "$input" | awk '{ printf "%.1f", $1 / 1048576 }')
    if [[ -z $status ]]; then
        py_row=$(awk -v mb="$mb" -v t="$secs" -v r="$rss_mb" 'BEGIN {
            printf "| %s | %.2f | %.1f | %s |", mb, t, (t > 0 ? mb / t : 0), r }')
    fi
fi

# --------------------------------------------------------------------- report

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "hmt build benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), git $rev, ${cpu:-unknown CPU}, $(nproc) CPUs"
echo
echo "| input MB | hmt s | hmt MB/s | hmt peak RSS MB | serde_json parse s | parse MB/s | parse peak RSS MB | hmt / parse |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
if ((${#verdicts[@]})); then
    echo
    printf '%s\n' "${verdicts[@]}"
fi
if [[ -n $py_row ]]; then
    echo
    echo "| HMT 0.3.2 (Python): input MB | seconds | MB/s | peak RSS MB |"
    echo "|---:|---:|---:|---:|"
    echo "$py_row"
fi
if ((${#notes[@]})); then
    echo
    printf '%s\n' "${notes[@]}"
fi
exit "$failed"
