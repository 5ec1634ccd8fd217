#!/usr/bin/env bash
# Score `hmt build`'s path templates and second-day schemas on the evaluation set
# (scripts/gen_eval.py: four word-named APIs with ground truth) and print a Markdown
# table of precision, recall and F1 per API and size.
#
#   scripts/eval-build.sh [SIZES]        (make eval-build; SIZES default 50,200,2000)
#
# Builds the release binary, sets up .venv (jsonschema) and runs
# scripts/eval_build.py --check: exits 1 when a target is missed (F1 >= 0.98, every
# exchange on its true operation, deterministic output, day-2 validity >= 0.95).
# `make test` checks the 50 and 200 sizes (crates/hmt/tests/build_eval.rs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sizes="${1:-50,200,2000}"

cargo build --release -p hmt
scripts/setup-python.sh
target="${CARGO_TARGET_DIR:-target}"
.venv/bin/python scripts/eval_build.py --hmt "$target/release/hmt" --sizes "$sizes" --check
