#!/usr/bin/env bash
# Every comparison of bench/ in one go, and one table of ratios (ours / the peer's, median of the runs) with the
# target beside each, so that a regression shows at a glance. The native binary is published once, the trees are
# made once; every script runs on disk under $TMPDIR (default /var/tmp), except sysroot.sh (a private tmpfs, as
# the real `ostree admin deploy` freezes the filesystem holding /boot).
#
#   bench/all.sh [--quick] [--runs N] [--doc FILE]
#     --quick     about 5 minutes: one run per step, a 40 MB synthetic tree, only the benches that need no Debian
#                 root (run.sh, container.sh, image-copy.sh, http.sh, memory.sh)
#     --runs N    runs per step (default 3; 1 with --quick)
#     --doc FILE  also write the table, with the commit and the machine, to FILE (docs/performance.md keeps the
#                 last one)
# Every script's own output is kept in the work folder's logs and printed when it fails; a failed script is a row
# of the table and makes the exit status 1.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0; RUNS=""; DOC=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --doc) DOC=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$RUNS" ] || { RUNS=3; [ "$QUICK" = 1 ] && RUNS=1; }
export TMPDIR=${TMPDIR:-/var/tmp}
bash scripts/install-peers.sh >/dev/null
W=$(mktemp -d "$TMPDIR/ostree-sharp-bench-all.XXXXXX")
trap 'rm -rf "$W"' EXIT
start=$(date +%s)
echo "publishing the native binary"
dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$W/bin" -v quiet -nologo >/dev/null
export OSTREE_SHARP_BENCH_BIN="$W/bin/ostree-sharp"
export BENCH_RESULTS="$W/results.tsv"
: > "$BENCH_RESULTS"
FAILED=0

# bench NAME ARGS...: one script of bench/, its output in $W/logs/NAME-TIME.log.
bench() {
    local name=$1; shift
    mkdir -p "$W/logs"
    local log="$W/logs/$name-$(date +%s%N).log" t0
    t0=$(date +%s)
    echo "$name.sh $* ..."
    if bash "bench/$name.sh" "$@" > "$log" 2>&1; then
        echo "  done in $(( $(date +%s) - t0 )) s"
    else
        echo "  FAILED after $(( $(date +%s) - t0 )) s; the end of its output:" >&2
        tail -20 "$log" >&2
        printf '%s\t%s\t-\t-\t-\t-\tFAILED\t-\t-\n' "$name" "$*" >> "$BENCH_RESULTS"
        FAILED=1
    fi
}

SIZE=200; [ "$QUICK" = 1 ] && SIZE=40
python3 bench/make-synthetic-tree.py --size-mb "$SIZE" "$W/synthetic" >/dev/null 2>&1
SYN="synthetic $SIZE MB"
TREE_NAME=$SYN bench run --tree "$W/synthetic" --runs "$RUNS"
TREE_NAME=$SYN bench container --tree "$W/synthetic" --runs "$RUNS"
bench image-copy --size-mb "$SIZE" --runs "$RUNS"
TREE_NAME=$SYN bench http --tree "$W/synthetic" --runs "$RUNS"
if [ "$QUICK" = 1 ]; then
    TREE_NAME=$SYN bench memory --tree "$W/synthetic" --runs "$RUNS"
fi
if [ "$QUICK" = 0 ]; then
    # Debian roots with a kernel: plain (/etc at /etc, a dpkg database at var/lib/dpkg) and in ostree layout
    # with an SELinux policy.
    echo "building the Debian roots"
    bash bench/make-os-tree.sh "$W/debian" >/dev/null
    bash bench/make-os-tree.sh --layout ostree --packages selinux-policy-default "$W/debian-ostree" >/dev/null
    python3 bench/make-synthetic-tree.py --size-mb $((SIZE * 5)) "$W/synthetic5" >/dev/null 2>&1
    TREE_NAME="synthetic $((SIZE * 5)) MB" bench run --tree "$W/synthetic5" --runs "$RUNS"
    TREE_NAME="Debian root" bench run --tree "$W/debian-ostree" --runs "$RUNS"
    TREE_NAME="Debian root" bench container --tree "$W/debian-ostree" --runs "$RUNS"
    bench plain-pull --tree "$W/debian" --runs "$RUNS"
    bench rechunk --tree "$W/debian" --runs "$RUNS"
    bench composefs --tree "$W/debian-ostree" --runs "$RUNS"
    bench selinux --tree "$W/debian-ostree" --runs "$RUNS"
    bench sysroot --tree "$W/debian-ostree" --runs "$RUNS"
    bench delta --tree "$W/debian-ostree" --runs "$RUNS"
    TREE_NAME="Debian root" bench memory --tree "$W/debian-ostree" --runs "$RUNS" --scale 5
fi

# The table: a ratio within its target is "yes"; peak RSS is held to 64 MB (issue #25) wherever it is measured.
table() {
    echo "| bench | step | peer | peer's | ours | ratio | target | met | peer MB | ours MB | ≤ 64 MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '{
        met = "-"
        if ($7 == "FAILED") met = "FAILED"
        else if ($7 != "-" && $6 != "-") met = ($6 + 0 <= $7 + 0) ? "yes" : "**no**"
        mem = ($9 == "-") ? "-" : (($9 + 0 <= 64) ? "yes" : "**no**")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, ($6 == "-" ? "-" : $6 "x"), ($7 == "-" ? "-" : "≤ " $7), met, $8, $9, mem
    }' "$BENCH_RESULTS"
}
echo
table
elapsed=$(( $(date +%s) - start ))
echo
echo "$(wc -l < "$BENCH_RESULTS") rows in $((elapsed / 60)) min $((elapsed % 60)) s"
if [ -n "$DOC" ]; then
    {
        echo "# Performance"
        echo
        echo "The last table of \`bench/all.sh$([ "$QUICK" = 1 ] && echo " --quick")\` (runs per step: $RUNS, median), written by the script itself."
        echo "Ratios are ours / the peer's wall time (or bytes, where the step says so), both measured in the same run,"
        echo "alternating; a ratio within its target is \"yes\". \"noise\" rows time the peer against itself: the spread"
        echo "this machine gives two identical runs. Peak RSS is held to 64 MB wherever it is measured."
        echo
        echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo " (with uncommitted changes)")"
        echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), work folders on $(df -T "$TMPDIR" | awk 'NR == 2 {print $2}')"
        echo "- time: $((elapsed / 60)) min"
        echo
        table
        echo
        echo "Run \`bench/all.sh\` (about 70 minutes on 2 cores) or \`bench/all.sh --quick\` (about 5 minutes); each script of"
        echo "\`bench/\` also runs on its own and prints more detail (layer sizes, bytes, memory at 5x the size)."
    } > "$DOC"
    echo "written to $DOC"
fi
exit "$FAILED"
