#!/usr/bin/env bash
# `serve` under load (tests/OstreeSharp.Interop.Tests/ServeLoadTests.cs, which the test suite runs with 1,000 clients
# for 8 seconds): 60% slowloris clients, 10% idle connections, 10% absurd requests (256 KiB headers, 20,000 ranges,
# 200 KiB paths, 5,000 headers, NUL bytes, unknown methods, path traversal), 20% fetching objects. Prints the valid
# requests served, their p50/p99/max latency, the server's peak RSS and what the absurd requests got.
#
#   bench/serve-load.sh [--clients N] [--seconds S]   (defaults 1000 and 30)
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=1000; SECONDS_=30
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) CLIENTS=$2; shift 2 ;;
        --seconds) SECONDS_=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bin -v quiet -nologo >/dev/null
report=$(mktemp)
log=$(mktemp)
trap 'rm -f "$report" "$log"' EXIT
export OSTREE_SHARP_BIN="$PWD/artifacts/bin/ostree-sharp" OSTREE_SHARP_SERVE_CLIENTS=$CLIENTS OSTREE_SHARP_SERVE_SECONDS=$SECONDS_ OSTREE_SHARP_SERVE_REPORT=$report
rc=0
dotnet test tests/OstreeSharp.Interop.Tests -c Release --filter "FullyQualifiedName~ServeLoadTests" --logger "console;verbosity=detailed" >"$log" 2>&1 || rc=$?
cat "$report"
grep -E '^ *absurd requests:' "$log" | sed 's/^ *//' || true
if [ $rc -ne 0 ]; then
    grep -E 'Failed |Error Message|Assert' -A3 "$log" | head -40 >&2
fi
exit $rc
