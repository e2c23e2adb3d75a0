#!/usr/bin/env bash
# Power cuts while a booted guest deploys: `install to-disk` a disk image with the test guest
# (tests/vm/build-guest.sh), boot it under QEMU (TCG, no network device), and N times kill QEMU
# (SIGKILL) at a seeded random moment while the guest's `ostree-sharp admin switch` runs; each boot
# after a cut must land on v1 or v2, the real `ostree fsck` and ours must pass in the guest, and the
# interrupted deployment must then complete. Prints how many cuts landed on each version and how
# many boots failed (the target is zero). The test suite runs the same harness with 3 cuts.
#
#   bench/vm-powercut.sh [--cuts N] [--seed S]
#     --cuts N   power cuts (default 20); about 2-3 minutes of TCG boot each
#     --seed S   the random seed of the cut moments (default 20261202)
# Serial logs of every boot: TestResults/vm/cut-*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
CUTS=20; SEED=20261202
while [ $# -gt 0 ]; do
    case "$1" in
        --cuts) CUTS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bin -v quiet -nologo >/dev/null
export OSTREE_SHARP_BIN="$PWD/artifacts/bin/ostree-sharp" OSTREE_SHARP_VM_CUTS=$CUTS OSTREE_SHARP_VM_SEED=$SEED
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rm -f TestResults/vm/summary.log
rc=0
dotnet test tests/OstreeSharp.Interop.Tests -c Release --filter "FullyQualifiedName~VmTests.Power_cuts" \
    --logger "console;verbosity=detailed" >"$log" 2>&1 || rc=$?
cat TestResults/vm/summary.log 2>/dev/null || true
if [ $rc -ne 0 ]; then
    grep -E 'Failed |Error Message|Assert' -A3 "$log" | head -40 >&2
fi
exit $rc
