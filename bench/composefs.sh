#!/usr/bin/env bash
# composefs image generation on a Debian root, in one run:
#   ours     `ostree-sharp checkout --composefs COMMIT IMG`: the image of a commit in a bare
#            repository, with the fs-verity digest of every file computed from its content
#            (what `ostree commit --generate-composefs-metadata` and a verity deployment need);
#   mkcomposefs 1.0.8 `mkcomposefs --threads=2 DIR IMG` on a checkout of the same tree: it reads
#            the tree, computes the same digests and writes an image of the same size;
#   ostree 2026.4 `ostree checkout --composefs COMMIT IMG` (libcomposefs), for reference.
# Also the deployment image without digests (`--composefs-noverity`, what `admin deploy` writes
# when the objects have no fs-verity) against ostree 2026.4. On disk (under $TMPDIR, default
# /var/tmp), caches dropped before each run; medians of --runs.
#
#   bench/composefs.sh [--tree DIR] [--runs N]
#     --tree DIR   the tree (default: a Debian root from bench/make-os-tree.sh --layout ostree)
#     --runs N     runs per tool, median reported (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
FORKY=${OSTREE_SHARP_FORKY_BIN:-/var/tmp/forky-peers/bin}
[ -x "$FORKY/mkcomposefs" ] || bash scripts/forky-peers.sh "$(dirname "$FORKY")" >/dev/null
W=$(mktemp -d "${TMPDIR:-/var/tmp}/ostree-sharp-bench-cfs.XXXXXX")
trap 'rm -rf "$W"' EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    bash bench/make-os-tree.sh --layout ostree "$TREE" >/dev/null
fi
echo "tree: $(du -sh "$TREE" | cut -f1), $(find "$TREE" | wc -l) entries"

# One bare repository (ostree 2026.4 reads it too), the commit, and its checkout for mkcomposefs.
"$OURS" init --repo="$W/repo" --mode=bare >/dev/null
C=$("$OURS" commit --repo="$W/repo" -b os --owner-uid=0 --owner-gid=0 --timestamp=@1700000000 --tree=dir="$TREE")
"$OURS" checkout --repo="$W/repo" "$C" "$W/co"

# timed NAME CMD...: RUNS runs, caches dropped before each; prints "median_wall peak_rss_mb".
timed() {
    local -a w=() r=()
    for ((i = 0; i < RUNS; i++)); do
        rm -f "$W/out.cfs"
        sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
        /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
        read -r a b < "$W/time"; w+=("$a"); r+=("$b")
    done
    echo "$(med "${w[@]}") $(( $(med "${r[@]}") / 1024 ))"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }

read -r ow orss <<< "$(timed "$OURS" checkout --repo="$W/repo" --composefs "$C" "$W/out.cfs")"
cp "$W/out.cfs" "$W/ours.cfs"
read -r mw mrss <<< "$(timed "$FORKY/mkcomposefs" --threads=2 "$W/co" "$W/out.cfs")"
cp "$W/out.cfs" "$W/mk.cfs"
read -r fw frss <<< "$(timed "$FORKY/ostree-forky" checkout --repo="$W/repo" --composefs "$C" "$W/out.cfs")"
cmp -s "$W/ours.cfs" "$W/out.cfs" || { echo "our image differs from ostree 2026.4's" >&2; exit 1; }
read -r onw onrss <<< "$(timed "$OURS" checkout --repo="$W/repo" --composefs-noverity "$C" "$W/out.cfs")"
cp "$W/out.cfs" "$W/ours-nv.cfs"
read -r fnw fnrss <<< "$(timed "$FORKY/ostree-forky" checkout --repo="$W/repo" --composefs-noverity "$C" "$W/out.cfs")"
cmp -s "$W/ours-nv.cfs" "$W/out.cfs" || { echo "our noverity image differs from ostree 2026.4's" >&2; exit 1; }

echo "images: ours $(stat -c %s "$W/ours.cfs") bytes (= ostree 2026.4's), mkcomposefs $(stat -c %s "$W/mk.cfs") bytes (payload names and mtimes differ)"
echo
echo "| step | reference | reference s | ours s | ratio (target <= 1.0) | reference MB | ours MB |"
echo "|---|---|---|---|---|---|---|"
echo "| image with every digest | mkcomposefs 1.0.8 | $mw | $ow | $(ratio "$ow" "$mw") | $mrss | $orss |"
echo "| image with every digest | ostree 2026.4 checkout --composefs | $fw | $ow | $(ratio "$ow" "$fw") | $frss | $orss |"
echo "| image without digests | ostree 2026.4 checkout --composefs-noverity | $fnw | $onw | $(ratio "$onw" "$fnw") | $fnrss | $onrss |"
bench_result "composefs image with every digest" "mkcomposefs 1.0.8" "$mw s" "$ow s" "$(bench_ratio "$ow" "$mw")" 1.0 "$mrss" "$orss"
bench_result "composefs image with every digest" "ostree 2026.4 checkout --composefs" "$fw s" "$ow s" "$(bench_ratio "$ow" "$fw")" 1.0 "$frss" "$orss"
bench_result "composefs image without digests" "ostree 2026.4 --composefs-noverity" "$fnw s" "$onw s" "$(bench_ratio "$onw" "$fnw")" 1.0 "$fnrss" "$onrss"
