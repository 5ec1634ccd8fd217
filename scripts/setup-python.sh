#!/usr/bin/env bash
# Create the repository's Python virtualenv (.venv) and install the pinned test
# tools from scripts/requirements-test.txt into it.
#
# Idempotent: the venv is created only when missing (or recreated when its
# interpreter no longer runs, e.g. after a system Python upgrade), and pip only
# runs when the requirements file changed since the last successful install.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/requirements-test.txt"
stamp="$venv/.requirements-test.sha256"

die() { echo "setup-python: $*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 not found (Debian: apt-get install python3 python3-venv)"

if [[ -d "$venv" ]] && ! "$venv/bin/python" -c '' 2>/dev/null; then
    echo "setup-python: $venv is broken, recreating it" >&2
    rm -rf -- "$venv"
fi

if [[ ! -d "$venv" ]]; then
    # On Debian, venv needs the python3-venv package (ensurepip); say so instead
    # of leaving a half-created directory behind.
    if ! python3 -m venv "$venv"; then
        rm -rf -- "$venv"
        die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --requirement "$req" || die "pip install -r $req failed"
echo "$want" >"$stamp"
echo "setup-python: installed $(grep -cEv '^[[:space:]]*(#|$)' "$req") pinned packages into $venv" >&2
