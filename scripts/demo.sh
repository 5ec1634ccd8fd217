#!/usr/bin/env bash
# `make demo`: the whole flow on bundled data.
#   1. record: a small real API (scripts/demo_upstream.py) behind `hmt record`,
#      called with curl; every exchange lands in specs/demo/recordings/.
#   2. build: an OpenAPI spec inferred from those recordings.
#   3. mock: serve that spec (mixed mode) with `hmt mock` and call it: recorded
#      requests come back as recorded, others get the spec's first example or
#      data generated from the inferred schemas, bad requests get a problem
#      document.
#   4. build the recordings bundled in fixtures/recordings in gen, replay and
#      mixed modes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cargo build --release --quiet -p hmt
hmt="${CARGO_TARGET_DIR:-$root/target}/release/hmt"
out=specs/demo
rm -rf -- "$out"
mkdir -p "$out"
export HMT_HOME="$root/$out/home"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

show_operations() {
    python3 - "$@" <<'PY'
import json, pathlib, sys
for path in sys.argv[1:]:
    for file in sorted(pathlib.Path(path).glob("*.json")):
        spec = json.loads(file.read_text())
        servers = ", ".join(s["url"] for s in spec.get("servers", []))
        print(f"\n{file}  ({servers})")
        for template, item in spec["paths"].items():
            for method, op in item.items():
                if method == "parameters":
                    continue
                print(f"  {method.upper():6} {template:40} {op['operationId']:28} {' '.join(op['responses'])}")
PY
}

echo "== 1. Record: scripts/demo_upstream.py behind hmt record"
up_port=$(free_port)
python3 scripts/demo_upstream.py "$up_port" &
pids+=($!)
# The bookshop must answer before anything is recorded through it.
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$up_port/health" && break
    sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$up_port/health" || { echo "the demo bookshop did not start" >&2; exit 1; }
proxy_port=$(free_port)
"$hmt" record -p "$proxy_port" --target "http://127.0.0.1:$up_port" -l "$out/recordings" 2>"$out/record.log" &
record_pid=$!
pids+=("$record_pid")
for _ in $(seq 100); do
    [[ -f "$HMT_HOME/record.json" ]] && break
    sleep 0.1
done
[[ -f "$HMT_HOME/record.json" ]] || { cat "$out/record.log"; echo "hmt record did not start" >&2; exit 1; }
base="http://127.0.0.1:$proxy_port"
echo "   hmt record listening on $base, forwarding to the bookshop on :$up_port"
for path in /api/v1/books "/api/v1/books?genre=fantasy&limit=2" /api/v1/books/101 /api/v1/books/103 \
    /api/v1/books/105 /api/v1/books/103/reviews /api/v1/books/104/reviews /api/v1/books/999 \
    /api/v1/authors/1 /api/v1/authors/2 /api/v1/authors/3 /health; do
    curl -s --compressed -o /dev/null -w "   GET  %{http_code} $path\n" \
        -H "Authorization: Bearer demo-token-123" "$base$path"
done
for order in '{"bookId":101,"quantity":2}' '{"bookId":103,"quantity":1}' '{"bookId":7}'; do
    curl -s -o /dev/null -w "   POST %{http_code} /api/v1/orders $order\n" \
        -H "content-type: application/json" -d "$order" "$base/api/v1/orders"
done
kill -TERM "$record_pid"
wait "$record_pid" || true
grep '^hmt record' "$out/record.log" | sed 's/^/   /'
echo "   first recorded line (the bearer token is redacted):"
head -c 600 "$out"/recordings/*.jsonl | sed 's/^/   /'
echo " ..."

echo
echo "== 2. Build: hmt build -i $out/recordings/*.jsonl -o $out/recorded"
"$hmt" build -i "$out"/recordings/*.jsonl -o "$out/recorded"
show_operations "$out/recorded"

echo
echo "== 3. Mock: hmt mock serving the spec built in mixed mode"
"$hmt" build -m mixed -i "$out"/recordings/*.jsonl -o "$out/mixed-recorded" 2>/dev/null
mock_port=$(free_port)
admin_port=$(free_port)
"$hmt" mock -p "$mock_port" -a "$admin_port" -l "$out/mock-log" "$out/mixed-recorded" 2>"$out/mock.log" &
pids+=($!)
for _ in $(seq 100); do
    grep -qs 'admin API on' "$out/mock.log" && break
    sleep 0.1
done
grep -q 'admin API on' "$out/mock.log" || { cat "$out/mock.log"; echo "hmt mock did not start" >&2; exit 1; }
sed 's/^/   /' "$out/mock.log"
mock="http://127.0.0.1:$mock_port"
call() { # call LABEL CURL-ARGS...: status and the start of the body
    local label=$1
    shift
    local body status
    body=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer demo-token-123" "$@")
    status=${body##*$'\n'}
    body=${body%$'\n'*}
    printf '   %-44s %s %.110s\n' "$label" "$status" "$body"
}
call "GET /api/v1/books/101 (recorded: replayed)" "$mock/api/v1/books/101"
call "GET /api/v1/books/102 (not recorded: example)" "$mock/api/v1/books/102"
call "same, Prefer: dynamic=true (generated)" -H "Prefer: dynamic=true" "$mock/api/v1/books/102"
call "POST /api/v1/orders (recorded body: replayed)" -H "content-type: application/json" -d '{"bookId":101,"quantity":2}' "$mock/api/v1/orders"
call "GET /api/v1/books/abc (invalid id)" "$mock/api/v1/books/abc"
call "GET /api/v1/books/101, Prefer: code=404" -H "Prefer: code=404" "$mock/api/v1/books/101"
call "GET /api/v1/nothing (unknown route)" "$mock/api/v1/nothing"
echo "   the admin API's journal holds $(curl -s "http://127.0.0.1:$admin_port/admin/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') requests; the log is in $out/mock-log/"

echo
echo "== 4. Build the bundled recordings (fixtures/recordings) in all three modes"
inputs=()
for f in fixtures/recordings/*.jsonl; do
    inputs+=(-i "$f")
done
for mode in gen replay mixed; do
    "$hmt" build -m "$mode" -o "$out/$mode" "${inputs[@]}"
done
show_operations "$out/gen"
echo
echo "Replay specs keep every recorded exchange under x-hmt-replay; mixed specs"
echo "attach them to the inferred templates. Everything is under $out/."
