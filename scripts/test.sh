#!/usr/bin/env bash
# Runs every test: installs the peers (the real ostree CLI, ...) when missing, then the unit and
# interop test projects, then libostree's own test suite against ostree and ostree-sharp.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
# Newer peers from Debian forky (ostree 2026.4, mkcomposefs 1.0.8, skopeo 1.22, cosign 3.1), run through
# bubblewrap; built once into /var/tmp/forky-peers (about 3 minutes), reused afterwards.
export OSTREE_SHARP_FORKY_BIN=${OSTREE_SHARP_FORKY_BIN:-/var/tmp/forky-peers/bin}
bash scripts/forky-peers.sh "$(dirname "$OSTREE_SHARP_FORKY_BIN")" >/dev/null
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The interop tests run the command as users get it: the native (AOT) binary.
dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bin -v quiet -nologo
export OSTREE_SHARP_BIN="$PWD/artifacts/bin/ostree-sharp"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test OstreeSharp.slnx -c Release --logger "console;verbosity=normal" 2>&1 | tee "$log" | grep -E 'Failed |error|Total tests|Passed: |Failed: ' || true
# Propagate dotnet test's verdict and print one plain summary line.
passed=$({ grep -Eo 'Passed: +[0-9]+' "$log" || true; } | awk '{s+=$2} END {print s+0}')
failed=$({ grep -Eo 'Failed: +[0-9]+' "$log" || true; } | awk '{s+=$2} END {print s+0}')
echo "$passed passed, $failed failed"
# What each failed test reported (the CI log keeps only its tail).
awk '/^ +Failed [A-Za-z]/{p=1} /^ +Stack Trace:/{p=0} p' "$log" | head -80
# libostree's own test suite (Debian's ostree-tests), with the real ostree and then with ours as `ostree`: one line per
# test file and the counts; a file that passes with ostree must pass with us unless tests/ostree-suite/known-gaps.txt
# lists it with its reason.
suite=0
tests/ostree-suite/run.sh || suite=$?
# The packages: packed, the tool installed from a local feed runs the demo, the Embed sample builds against them.
packages=0
bash scripts/package-check.sh || packages=$?
if grep -qE 'Failed!|error MSB|error CS|Build FAILED' "$log" || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ] || [ "$suite" -ne 0 ] || [ "$packages" -ne 0 ]; then
    exit 1
fi
