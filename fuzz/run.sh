#!/usr/bin/env bash
# Fuzzes one parser: fuzz/run.sh TARGET SECONDS (default 600); TARGET "all" runs every target in turn, JOBS at a time
# when the third argument is given (fuzz/run.sh all 600 2 keeps both cores of a two-core machine busy for 19 x 10 min / 2).
# Publishes the harness, instruments the library assemblies with SharpFuzz and runs AFL++ from the seed corpus in
# fuzz/corpus/TARGET; findings land in fuzz/findings/TARGET (crashes/, hangs/). Prints one line of figures at the end.
# `fuzz/run.sh --list` names the targets. A finding becomes a regression input: copy it into fuzz/regressions/TARGET/,
# where the unit test suite replays it with the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ "${1:-}" = "--list" ]; then
    ls fuzz/corpus
    exit 0
fi
target=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
seconds=${2:-600}
jobs=${3:-1}
case $jobs in ''|*[!0-9]*|0) echo "fuzz/run.sh: JOBS must be a positive number, not '$jobs'" >&2; exit 2;; esac
[ "$target" = all ] || [ -d "fuzz/corpus/$target" ] || { echo "fuzz/run.sh: no target '$target' (fuzz/run.sh --list names them)" >&2; exit 2; }
if ! command -v afl-fuzz >/dev/null; then
    apt-get install -y -q afl++ >/dev/null
fi
dotnet tool restore >/dev/null

out=$(mktemp -d /tmp/ostree-sharp-fuzz-bin.XXXXXX)
trap 'rm -rf "$out"' EXIT
dotnet publish fuzz/OstreeSharp.Fuzz -c Release -o "$out" -v quiet -nologo >/dev/null
for dll in OstreeSharp.dll OstreeSharp.Containers.dll; do
    dotnet sharpfuzz "$out/$dll" >/dev/null
done

fuzz_one() {
    local target=$1
    local findings=fuzz/findings/$target
    rm -rf "$findings"
    mkdir -p "$findings"
    # The harness is instrumented by SharpFuzz, not by afl-cc; cores are not dumped (no core_pattern change on this
    # machine); each fuzzer takes a free core.
    export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_QUIET=1
    afl-fuzz -i "fuzz/corpus/$target" -o "$findings" -V "$seconds" -t 5000 -m none -- "$out/OstreeSharp.Fuzz" "$target" >"$findings/afl.log" 2>&1 || {
        echo "fuzz/run.sh: afl-fuzz failed; the end of $findings/afl.log:" >&2
        tail -20 "$findings/afl.log" >&2
        return 1
    }
    stats=$findings/default/fuzzer_stats
    get() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
    echo "$target: $(get execs_done) executions in $(get run_time) s ($(get execs_per_sec)/s), $(get corpus_count) paths, $(get saved_crashes) crashes, $(get saved_hangs) hangs"
}

if [ "$target" = all ]; then
    # Lane i takes targets i, i+JOBS, ...; each lane runs its targets one after another.
    mapfile -t targets < <(ls fuzz/corpus)
    for ((lane = 0; lane < jobs; lane++)); do
        (for ((i = lane; i < ${#targets[@]}; i += jobs)); do fuzz_one "${targets[$i]}" || true; done) &
    done
    wait
else
    fuzz_one "$target"
fi
