#!/usr/bin/env bash
# `make smoke-no-kafka`: hmt built without the `kafka` cargo feature
# (`cargo build -p hmt --no-default-features`) has no librdkafka in it, and
# still records to files, builds specs and mocks them; a kafka:// URL is
# refused with a message that says how to get Kafka support.
#
# The binary goes to its own target directory ($HMT_NO_KAFKA_TARGET_DIR,
# default target/no-kafka), so that it never replaces the default build the
# other tests run. Everything it writes goes to a temporary directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${HMT_NO_KAFKA_TARGET_DIR:-$root/target/no-kafka}"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf -- "$work"
}
trap cleanup EXIT
export HMT_HOME="$work/home"

passed=0
fail() { echo "smoke-no-kafka: FAILED: $*" >&2; echo "$passed passed, 1 failed"; exit 1; }
pass() { passed=$((passed + 1)); echo "   ok: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for FILE [PATTERN]: up to 10 s for FILE to exist (and hold PATTERN).
wait_for() {
    for _ in $(seq 100); do
        if [[ -f "$1" ]] && { (($# == 1)) || grep -qs -- "$2" "$1"; }; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

echo "== no librdkafka in the dependency tree of hmt --no-default-features"
if cargo tree --locked -p hmt --no-default-features -e normal | grep -i rdkafka; then
    fail "rdkafka is still a dependency without the kafka feature"
fi
pass "cargo tree -p hmt --no-default-features -e normal names no rdkafka"

echo "== build: cargo build -p hmt --no-default-features (into $target)"
CARGO_TARGET_DIR="$target" cargo build --locked --quiet -p hmt --no-default-features
hmt="$target/debug/hmt"
[[ -x "$hmt" ]] || fail "no binary at $hmt"
pass "built $hmt"

echo "== record to a file: scripts/demo_upstream.py behind hmt record --output"
up_port=$(free_port)
python3 scripts/demo_upstream.py "$up_port" >"$work/upstream.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$up_port/health" && break
    sleep 0.1
done
proxy_port=$(free_port)
"$hmt" record -p "$proxy_port" --target "http://127.0.0.1:$up_port" --output "$work/recorded.jsonl" \
    2>"$work/record.log" &
record_pid=$!
pids+=("$record_pid")
wait_for "$HMT_HOME/record.json" || { cat "$work/record.log" >&2; fail "hmt record did not start"; }
for path in /api/v1/books/101 /api/v1/authors/1; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$proxy_port$path")
    [[ "$status" == 200 ]] || fail "GET $path through hmt record answered $status"
done
kill -TERM "$record_pid"
wait "$record_pid" || { cat "$work/record.log" >&2; fail "hmt record did not stop cleanly"; }
lines=$(grep -c '"path":"/api/v1/' "$work/recorded.jsonl" || true)
[[ "$lines" == 2 ]] || fail "expected 2 recorded exchanges in $work/recorded.jsonl, found $lines"
pass "hmt record --output wrote both exchanges"

echo "== build: hmt build -m mixed over fixtures/recordings/*.jsonl"
inputs=()
for f in fixtures/recordings/*.jsonl; do
    inputs+=(-i "$f")
done
"$hmt" build -m mixed -o "$work/specs" "${inputs[@]}" 2>"$work/build.log" \
    || { cat "$work/build.log" >&2; fail "hmt build failed"; }
[[ -f "$work/specs/pokeapi.co.openapi.json" ]] || { ls "$work/specs" >&2; fail "no pokeapi.co.openapi.json spec"; }
pass "$(tail -n 1 "$work/build.log")"

echo "== mock: hmt mock on the built specs, one recorded operation called"
mock_port=$(free_port)
admin_port=$(free_port)
"$hmt" mock -p "$mock_port" -a "$admin_port" "$work/specs" 2>"$work/mock.log" &
pids+=($!)
wait_for "$work/mock.log" 'admin API on' || { cat "$work/mock.log" >&2; fail "hmt mock did not start"; }
body=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$mock_port/https://pokeapi.co/v2/pokemon/ditto/")
status=${body##*$'\n'}
[[ "$status" == 200 ]] || fail "GET /v2/pokemon/ditto/ from the mock answered $status: ${body:0:300}"
[[ "$body" == *'"name":"ditto"'* ]] || fail "the mock did not replay ditto: ${body:0:300}"
pass "GET https://pokeapi.co/v2/pokemon/ditto/ replayed by hmt mock"

echo "== kafka:// says the binary was built without Kafka"
want='hmt was built without Kafka support (cargo feature `kafka`); rebuild with default features to use kafka://localhost:9092/recordings'
if "$hmt" build -i kafka://localhost:9092/recordings -o "$work/from-kafka" 2>"$work/kafka-build.log"; then
    fail "hmt build -i kafka://... succeeded without Kafka support"
fi
grep -qF -- "$want" "$work/kafka-build.log" || { cat "$work/kafka-build.log" >&2; fail "hmt build -i kafka:// did not say why"; }
pass "hmt build -i kafka://...: $(cat "$work/kafka-build.log")"
if "$hmt" record -p "$(free_port)" --sink kafka://localhost:9092/recordings --output "$work/unused.jsonl" \
    2>"$work/kafka-record.log"; then
    fail "hmt record --sink kafka://... started without Kafka support"
fi
grep -qF -- "$want" "$work/kafka-record.log" || { cat "$work/kafka-record.log" >&2; fail "hmt record --sink kafka:// did not say why"; }
pass "hmt record --sink kafka://...: $(cat "$work/kafka-record.log")"

echo "smoke-no-kafka: $passed passed, 0 failed"
