#!/usr/bin/env bash
# Installs the peer tools the interop tests and benchmarks compare against (Debian 12, as root).
# Does nothing when everything is already installed.
set -euo pipefail
want=(ostree tar gzip zstd python3 time procps attr libarchive-tools gnupg)
missing=()
for p in "${want[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-peers.sh: need root to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-peers.sh: installed ${missing[*]}" >&2
