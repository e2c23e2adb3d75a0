#!/usr/bin/env bash
# Replays what fuzz/run.sh TARGET found (crashes and hangs) with the uninstrumented harness and prints one line per
# distinct finding (exception type and the method that threw it); with --keep, copies the first input of each into
# fuzz/regressions/TARGET/, which the unit test suite replays.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/triage.sh TARGET [--keep]}
keep=${2:-}
dotnet build fuzz/OstreeSharp.Fuzz -c Release -v quiet -nologo >/dev/null
harness=fuzz/OstreeSharp.Fuzz/bin/Release/net10.0/OstreeSharp.Fuzz
declare -A seen=()
for f in fuzz/findings/"$target"/default/crashes/id* fuzz/findings/"$target"/default/hangs/id*; do
    [ -e "$f" ] || continue
    line=$(timeout 30 "$harness" "$target" "$f" 2>&1 | tail -1) || line="$f: crashed: hang or abort (exit $?)"
    case $line in *": crashed: "*) ;; *) continue ;; esac
    sig=${line#*: crashed: }
    sig=${sig%%:*}
    [ -z "${seen[$sig]:-}" ] || continue
    seen[$sig]=$f
    echo "$target: $sig ($f)"
    if [ "$keep" = --keep ]; then
        mkdir -p "fuzz/regressions/$target"
        cp "$f" "fuzz/regressions/$target/$(sha256sum "$f" | cut -c1-16)"
    fi
done
echo "$target: ${#seen[@]} distinct findings"
