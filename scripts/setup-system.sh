#!/usr/bin/env bash
# Debian packages the build and tests need: OpenSSL headers and pkg-config
# for the bundled librdkafka, curl and the openssl command for the recorder
# tests (curl --cacert, openssl req -x509), prlimit and mount (util-linux,
# mount) for the resource-limit tests, python3-venv for .venv, man-db for the
# man-page test (`man -l`) and bash for the completion test. Installed with
# apt-get only when missing.
set -euo pipefail

wanted=(libssl-dev pkg-config curl openssl util-linux mount man-db bash)
command -v python3 >/dev/null && python3 -m venv --help >/dev/null 2>&1 || wanted+=(python3 python3-venv)
missing=()
for pkg in "${wanted[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0
if ! command -v apt-get >/dev/null; then
    echo "setup-system: please install: ${missing[*]}" >&2
    exit 1
fi
sudo=()
((EUID == 0)) || sudo=(sudo)
echo "setup-system: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
