#!/usr/bin/env bash
# Install tansu, a Kafka-compatible broker, for the end-to-end Kafka test.
# Built from crates.io when absent (about 10-15 minutes on 2 cores), into
# ~/.cargo/bin; skipped when a tansu 0.6.0 is already on PATH or there.
set -euo pipefail

version=0.6.0
for candidate in "$(command -v tansu || true)" "$HOME/.cargo/bin/tansu"; do
    if [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" --version 2>/dev/null | grep -q "$version"; then
        exit 0
    fi
done
echo "setup-tansu: installing tansu $version (cargo install, takes a while the first time)" >&2
cargo install tansu --version "$version" --features dynostore --locked --quiet
