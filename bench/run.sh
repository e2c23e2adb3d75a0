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
. bench/lib.sh
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
# Published as users install it: the native (AOT) binary.
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    python3 bench/make-synthetic-tree.py ${SIZE:+--size-mb "$SIZE"} "$TREE" >/dev/null 2>&1
fi
du -sh "$TREE" | awk '{print "tree: " $1}'
TREE_NAME=${TREE_NAME:-$(du -sm "$TREE" | cut -f1) MB tree}

# A timed run never follows the deletion of what the run before it wrote: what a step will write again is moved aside
# (to $W/.trash, removed at exit) instead. On ext4 without a journal, as this machine's disk is, the kernel skips
# inodes freed in the last minute (five while their table block is dirty) and looks them up one by one for every new
# file, so a commit of 28,000 files that came right after the removal of the last one's repository spent most of its
# system time in that scan, more or less depending on where each tool's inodes fell: the same ostree commit timed
# against itself differed by 30% on the 40 MB tree (3% with this).
mkdir -p "$W/.trash"
RETIRE="$W/retire"
printf '#!/bin/sh\nfor p; do [ -e "$p" ] && mv "$p" "%s/.trash/$(date +%%s%%N)"; done; exit 0\n' "$W" > "$RETIRE"
chmod +x "$RETIRE"

# pair OSTREE_PREP OSTREE_CMD OURS_PREP OURS_CMD: runs the two alternately RUNS times each, the
# first tool changing every round (so that disk write-back from one run weighs on both tools
# alike); prints "wall rss | wall rss" medians.
pair() {
    local -a ow=() orss=() sw=() srss=()
    for ((i = 0; i < RUNS; i++)); do
        local order="ostree ours"
        ((i % 2 == 1)) && order="ours ostree"
        for who in $order; do
            local prep cmd
            if [ "$who" = ostree ]; then prep=$1; cmd=$2; else prep=$3; cmd=$4; fi
            bash -c "$prep"
            sync
            /usr/bin/time -f "%e %M" -o "$W/time" bash -c "exec $cmd" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
            read -r wall rss < "$W/time"
            if [ "$who" = ostree ]; then ow+=("$wall"); orss+=("$rss"); else sw+=("$wall"); srss+=("$rss"); fi
        done
    done
    echo "$(med "${ow[@]}") $(( $(med "${orss[@]}") / 1024 ))" "|" "$(med "${sw[@]}") $(( $(med "${srss[@]}") / 1024 ))"
}

row() { # STEP TARGET "OSTREE_WALL OSTREE_RSS | OURS_WALL OURS_RSS" [PEER]
    local ow orss sw srss
    read -r ow orss _ sw srss <<< "$3"
    bench_result "$1 ($TREE_NAME)" "${4:-ostree 2026.4}" "$ow s" "$sw s" "$(bench_ratio "$sw" "$ow")" "$2" "$orss" "$srss"
    printf '| %-26s | %8.2f | %8.2f | %6.2fx | %5s | %7s | %6s |\n' "$1" "$ow" "$sw" "$(awk -v a="$sw" -v b="$ow" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$2" "$orss" "$srss"
}

echo
echo "| step                       | ostree s | ours s   | ratio   | target | ostree MB | ours MB |"
echo "|----------------------------|----------|----------|---------|--------|-----------|---------|"
for mode in archive bare-user; do
    target=0.4; [ "$mode" = bare-user ] && target=0.7
    r=$(pair "$RETIRE $W/o && ostree init --repo=$W/o --mode=$mode" "ostree commit --repo=$W/o -b b --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 $TREE" \
             "$RETIRE $W/s && $OURS init --repo=$W/s --mode=$mode" "$OURS commit --repo=$W/s -b b --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 $TREE")
    [ "$(ostree rev-parse --repo="$W/o" b)" = "$($OURS rev-parse --repo="$W/s" b)" ] || { echo "checksums differ in $mode" >&2; exit 1; }
    row "commit $mode" "$target" "$r"
done
# Start-up: the whole process of printing the version.
r=$(pair "true" "ostree --version" "true" "$OURS --version")
row "start-up (--version)" - "$r"
# The machine's noise band: the same ostree commit timed against itself, alternating as every other step.
r=$(pair "$RETIRE $W/o2 && ostree init --repo=$W/o2 --mode=bare-user" "ostree commit --repo=$W/o2 -b b --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 $TREE" \
         "$RETIRE $W/o2 && ostree init --repo=$W/o2 --mode=bare-user" "ostree commit --repo=$W/o2 -b b --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 $TREE")
row "noise: ostree commit itself" - "$r" "ostree 2026.4 (itself)"
r=$(pair "$RETIRE $W/co" "ostree checkout --repo=$W/o -U -H b $W/co" "$RETIRE $W/co" "$OURS checkout --repo=$W/s -U -H b $W/co")
row "checkout -U -H" 1.0 "$r"
r=$(pair "true" "ostree fsck --repo=$W/o" "true" "$OURS fsck --repo=$W/s")
row "fsck bare-user" 1.0 "$r"
r=$(pair "rm -f $W/e.tar" "sh -c 'ostree export --repo=$W/o b > $W/e.tar'" "rm -f $W/e.tar" "$OURS tar export --repo=$W/s b -o $W/e.tar")
row "tar export / ostree export" 1.0 "$r"
r=$(pair "rm -f $W/e.tar" "tar -C $TREE -cf $W/e.tar ." "rm -f $W/e.tar" "$OURS tar export --repo=$W/s b -o $W/e.tar")
row "tar export / tar -cf" - "$r" "tar -cf"
"$OURS" tar export --repo="$W/s" b -o "$W/ours.tar"
ostree export --repo="$W/o" b > "$W/theirs.tar"
r=$(pair "$RETIRE $W/ti && ostree init --repo=$W/ti --mode=bare-user" "ostree commit --repo=$W/ti -b b --tree=tar=$W/theirs.tar" \
         "$RETIRE $W/ti && $OURS init --repo=$W/ti --mode=bare-user" "$OURS tar import --repo=$W/ti $W/ours.tar")
row "tar import / commit tar=" 0.8 "$r"
if [ "$SCALE" -gt 1 ]; then
    big="$W/big"
    mkdir -p "$big"
    for ((k = 0; k < SCALE; k++)); do cp -a "$TREE" "$big/copy$k"; for f in $(find "$big/copy$k" -type f | head -2000); do echo "$k" >> "$f"; done; done
    "$OURS" init --repo="$W/s2" --mode=archive
    /usr/bin/time -f "%e %M" -o "$W/time" "$OURS" commit --repo="$W/s2" -b b --owner-uid=0 --owner-gid=0 "$big" >/dev/null
    read -r sw srss < "$W/time"
    srss=$((srss / 1024))
    echo
    echo "peak RSS of our archive commit on a tree ${SCALE}x larger: ${srss} MB (${sw} s)"
    "$OURS" tar export --repo="$W/s2" b -o "$W/big.tar"
    "$OURS" init --repo="$W/s3" --mode=bare-user
    /usr/bin/time -f "%e %M" -o "$W/time" "$OURS" tar import --repo="$W/s3" --write-ref=b "$W/big.tar" >/dev/null
    read -r iw irss < "$W/time"
    /usr/bin/time -f "%e %M" -o "$W/time" "$OURS" tar export --repo="$W/s3" b -o "$W/big2.tar"
    read -r ew erss < "$W/time"
    echo "peak RSS on that tree: tar import $((irss / 1024)) MB (${iw} s), tar export $((erss / 1024)) MB (${ew} s)"
fi
