#!/usr/bin/env bash
# Installs the Debian packages eddy's build, tests and benchmarks need.
# A quick no-op when they are all present; otherwise apt-get (through sudo when not root).
set -euo pipefail

packages=(build-essential cmake pkg-config librocksdb-dev libjansson-dev librdkafka-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
