#!/usr/bin/env bash
# kill -9 at seeded random moments of commit, pull, pull-local, `container image pull`, `admin deploy` and
# `install to-filesystem` (tests/OstreeSharp.Interop.Tests/FaultInjectionTests.cs, which the test suite runs with
# 20 kills in all). After each kill our fsck and the real `ostree fsck` must pass and every ref must name a complete
# commit; the next run must succeed and leave no staging folder. Prints one line per operation: runs, kills that
# landed, tries (a run whose command ended before its kill is tried again with half the delay), failures (the
# target is zero).
#
#   bench/fault-inject.sh [--runs N] [--seed S]
#     --runs N   runs per operation (default 40: 240 in all)
#     --seed S   the random seed of the kill moments (default 24)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=40; SEED=24
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bin -v quiet -nologo >/dev/null
report=$(mktemp)
log=$(mktemp)
trap 'rm -f "$report" "$log"' EXIT
export OSTREE_SHARP_BIN="$PWD/artifacts/bin/ostree-sharp" OSTREE_SHARP_FAULT_RUNS=$RUNS OSTREE_SHARP_FAULT_SEED=$SEED OSTREE_SHARP_FAULT_REPORT=$report
rc=0
dotnet test tests/OstreeSharp.Interop.Tests -c Release --filter "FullyQualifiedName~FaultInjectionTests" >"$log" 2>&1 || rc=$?
python3 - "$report" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'operation':<22} {'runs':>5} {'killed':>7} {'tries':>6} {'failures':>9} {'full run':>9}")
for r in sorted(rows, key=lambda r: r["operation"]):
    print(f"{r['operation']:<22} {r['runs']:>5} {r['killed']:>7} {r.get('tries', r['runs']):>6} {r['failures']:>9} {r['fullRunMs']:>7}ms")
print(f"{'all':<22} {sum(r['runs'] for r in rows):>5} {sum(r['killed'] for r in rows):>7} {sum(r.get('tries', r['runs']) for r in rows):>6} {sum(r['failures'] for r in rows):>9}")
PY
if [ $rc -ne 0 ]; then
    grep -E 'Failed |Error Message|Assert' -A3 "$log" | head -40 >&2
fi
exit $rc
