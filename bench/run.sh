#!/usr/bin/env bash
# Side-by-side benchmark of ostree-sharp against the ostree CLI, in one run on one machine:
# commit (archive, bare-user), hardlink checkout, fsck; whole-process wall time and peak RSS.
#
#   bench/run.sh [--size-mb MB] [--scale N] [--tree DIR] [--runs N]
#     --size-mb MB  size of the synthetic tree (default: the generator's default, ~212 MB)
#     --tree DIR    benchmark this tree instead (e.g. a Debian root from make-os-tree.sh)
#     --scale N     also commit a tree N times larger to show that peak RSS stays flat
#     --runs N      runs per step, median reported (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=""; TREE=""; SCALE=0; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb) SIZE=$2; shift 2 ;;
        --tree) TREE=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
dotnet build src/OstreeSharp.Cli -c Release -o "$W/bin" -v quiet -nologo >/dev/null
OURS=("$W/bin/ostree-sharp")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    python3 bench/make-synthetic-tree.py ${SIZE:+--size-mb "$SIZE"} "$TREE" >/dev/null 2>&1
fi
du -sh "$TREE" | awk '{print "tree: " $1}'

# measure NAME PREP CMD...: median wall seconds and peak RSS (MB) over RUNS runs
measure() {
    local prep=$1; shift
    local walls=() rsss=()
    for ((i = 0; i < RUNS; i++)); do
        bash -c "$prep"
        sync
        /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
        read -r wall rss < "$W/time"
        walls+=("$wall"); rsss+=("$rss")
    done
    local w r
    w=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    r=$(printf '%s\n' "${rsss[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1024}')
    echo "$w $r"
}

row() { # STEP TARGET OSTREE_RESULT OURS_RESULT
    local ow orss sw srss
    read -r ow orss <<< "$3"; read -r sw srss <<< "$4"
    printf '| %-22s | %8.2f | %8.2f | %6.2fx | %5s | %7s | %6s |\n' "$1" "$ow" "$sw" "$(awk -v a="$sw" -v b="$ow" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$2" "$orss" "$srss"
}

echo
echo "| step                   | ostree s | ours s   | ratio   | target | ostree MB | ours MB |"
echo "|------------------------|----------|----------|---------|--------|-----------|---------|"
for mode in archive bare-user; do
    target=0.6; [ "$mode" = bare-user ] && target=0.8
    o=$(measure "rm -rf $W/o && ostree init --repo=$W/o --mode=$mode" ostree commit --repo="$W/o" -b b --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 "$TREE")
    s=$(measure "rm -rf $W/s && ${OURS[*]} init --repo=$W/s --mode=$mode" "${OURS[@]}" commit --repo="$W/s" -b b --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 "$TREE")
    [ "$(ostree rev-parse --repo="$W/o" b)" = "$("${OURS[@]}" rev-parse --repo="$W/s" b)" ] || { echo "checksums differ in $mode" >&2; exit 1; }
    row "commit $mode" "$target" "$o" "$s"
done
o=$(measure "rm -rf $W/co" ostree checkout --repo="$W/o" -U -H b "$W/co")
s=$(measure "rm -rf $W/co" "${OURS[@]}" checkout --repo="$W/s" -U -H b "$W/co")
row "checkout -U -H" 1.0 "$o" "$s"
o=$(measure "true" ostree fsck --repo="$W/o")
s=$(measure "true" "${OURS[@]}" fsck --repo="$W/s")
row "fsck bare-user" 1.0 "$o" "$s"
if [ "$SCALE" -gt 1 ]; then
    big="$W/big"
    mkdir -p "$big"
    for ((k = 0; k < SCALE; k++)); do cp -a "$TREE" "$big/copy$k"; for f in $(find "$big/copy$k" -type f | head -2000); do echo "$k" >> "$f"; done; done
    s=$(measure "rm -rf $W/s2 && ${OURS[*]} init --repo=$W/s2 --mode=archive" "${OURS[@]}" commit --repo="$W/s2" -b b --owner-uid=0 --owner-gid=0 "$big")
    read -r sw srss <<< "$s"
    echo
    echo "peak RSS of our archive commit on a tree ${SCALE}x larger: ${srss} MB (${sw} s)"
fi
