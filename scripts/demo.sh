#!/usr/bin/env bash
# `make demo`: build OpenAPI specs from the recordings bundled in
# fixtures/recordings in gen, replay and mixed modes, then show what came out.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cargo build --release --quiet -p hmt
hmt=target/release/hmt
out=specs/demo
rm -rf -- "$out"

inputs=()
for f in fixtures/recordings/*.jsonl; do
    inputs+=(-i "$f")
done

for mode in gen replay mixed; do
    echo "== hmt build -m $mode -o $out/$mode ${inputs[*]}"
    "$hmt" build -m "$mode" -o "$out/$mode" "${inputs[@]}"
    echo
done

echo "== What gen mode inferred (one file per recorded host):"
python3 - "$out/gen" <<'PY'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    spec = json.loads(path.read_text())
    servers = ", ".join(s["url"] for s in spec.get("servers", []))
    print(f"\n{path}  ({servers})")
    for template, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            statuses = " ".join(op["responses"])
            print(f"  {method.upper():6} {template:40} {op['operationId']:28} {statuses}")
PY
echo
echo "Replay specs keep every recorded exchange under x-hmt-replay; mixed specs"
echo "attach them to the inferred templates. All specs are under $out/."
