#!/usr/bin/env bash
# Container bridge against the peers, in one run: encapsulate a commit to an OCI layout (gzip and
# zstd) against `umoci insert` of the same tree into an empty image and against `tar -c | zstd -3 -T0`
# (the floor); pull the image from a local registry into a fresh repository against `ostree pull`
# of the same commit over HTTP from a static server. Whole-process wall time and peak RSS; runs
# alternate between the tools.
#
#   bench/container.sh [--tree DIR] [--size-mb MB] [--runs N] [--scale N]
#     --tree DIR    the tree to commit (e.g. a Debian root from bench/make-os-tree.sh --layout ostree)
#     --size-mb MB  synthetic tree size when no --tree (default: the generator's default)
#     --runs N      runs per step, median reported (default 3)
#     --scale N     also encapsulate and pull synthetic trees of 1x and Nx the default size: peak RSS stays flat
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; SIZE=""; RUNS=3; SCALE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --size-mb) SIZE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-container.XXXXXX")
HTTP_PID=""
cleanup() { [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null; bash bench/registry.sh stop --rm "$W/reg" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    python3 bench/make-synthetic-tree.py ${SIZE:+--size-mb "$SIZE"} "$TREE" >/dev/null 2>&1
fi
echo "tree: $(du -sh "$TREE" | cut -f1)"
TREE_NAME=${TREE_NAME:-$(du -sm "$TREE" | cut -f1) MB tree}
"$OURS" init --repo="$W/repo" --mode=archive >/dev/null
COMMIT=$("$OURS" commit --repo="$W/repo" -b os --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 "$TREE")
# The same commit in a bare-user repository, whose objects are plain files as umoci's input is.
"$OURS" init --repo="$W/repo-bu" --mode=bare-user >/dev/null
"$OURS" commit --repo="$W/repo-bu" -b os --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 "$TREE" >/dev/null

# step NAME TARGET PREP PEER_CMD OURS_CMD (the peer's name in PEER)
step() {
    local -a pw=() prss=() ow=() orss=()
    for ((i = 0; i < RUNS; i++)); do
        local order="peer ours"
        ((i % 2 == 1)) && order="ours peer"
        for who in $order; do
            bash -c "$3"
            sync
            local cmd=$4
            [ "$who" = ours ] && cmd=$5
            /usr/bin/time -f "%e %M" -o "$W/time" bash -c "$cmd" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
            read -r w r < "$W/time"
            if [ "$who" = peer ]; then pw+=("$w"); prss+=("$r"); else ow+=("$w"); orss+=("$r"); fi
        done
    done
    local p o
    p=$(med "${pw[@]}"); o=$(med "${ow[@]}")
    printf '| %-34s | %7.2f | %7.2f | %6.2fx | %6s | %7s | %7s |\n' "$1" "$p" "$o" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')" "$2" "$(( $(med "${prss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
    bench_result "$(echo "$1" | sed 's/^ *//') ($TREE_NAME)" "$PEER" "$p s" "$o s" "$(bench_ratio "$o" "$p")" "$2" "$(( $(med "${prss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
}

echo
echo "| step                               | peer s  | ours s  | ratio   | target | peer MB | ours MB |"
echo "|------------------------------------|---------|---------|---------|--------|---------|---------|"
PEER="umoci insert"
step "encapsulate gzip / umoci insert" 0.8 "rm -rf $W/u $W/img" \
    "umoci init --layout $W/u && umoci new --image $W/u:t && umoci insert --image $W/u:t $TREE /" \
    "$OURS container encapsulate --repo=$W/repo os oci:$W/img:t"
step "  same, from a bare-user repo" 0.8 "rm -rf $W/u $W/img" \
    "umoci init --layout $W/u && umoci new --image $W/u:t && umoci insert --image $W/u:t $TREE /" \
    "$OURS container encapsulate --repo=$W/repo-bu os oci:$W/img:t"
biggest() { find "$1/blobs" -type f -printf '%s\n' | sort -n | tail -1; }
rm -rf "$W/u" "$W/img"
umoci init --layout "$W/u" >/dev/null && umoci new --image "$W/u:t" && umoci insert --image "$W/u:t" "$TREE" / >/dev/null
"$OURS" container encapsulate --repo="$W/repo" os "oci:$W/img:t" >/dev/null
echo "gzip layer bytes: umoci $(biggest "$W/u"), ours $(biggest "$W/img")"
PEER="tar | zstd -3 -T0"
step "encapsulate zstd / tar|zstd -3 -T0" 1.3 "rm -rf $W/z.tar.zst $W/img" \
    "tar -C $TREE -cf - . | zstd -3 -T0 -q -o $W/z.tar.zst" \
    "$OURS container encapsulate --repo=$W/repo --compression=zstd os oci:$W/img:t"
step "  zstd, from a bare-user repo" 1.3 "rm -rf $W/z.tar.zst $W/img" \
    "tar -C $TREE -cf - . | zstd -3 -T0 -q -o $W/z.tar.zst" \
    "$OURS container encapsulate --repo=$W/repo-bu --compression=zstd os oci:$W/img:t"

# Pull: our image store from a local registry against ostree pull over HTTP from a static server.
REG=$(bash bench/registry.sh start "$W/reg" 2>/dev/null)
"$OURS" container encapsulate --repo="$W/repo" --tls-verify=false os "docker://$REG/bench/os:1" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$W" && exec python3 -m http.server --bind 127.0.0.1 "$PORT" >/dev/null 2>&1) &
HTTP_PID=$!
sleep 1
PEER="ostree pull"
step "image pull / ostree pull (HTTP)" 0.5 "rm -rf $W/p $W/q && ostree init --repo=$W/p --mode=bare-user && ostree remote add --repo=$W/p --no-gpg-verify o http://127.0.0.1:$PORT/repo && $OURS init --repo=$W/q --mode=bare-user >/dev/null" \
    "ostree pull --repo=$W/p o os" \
    "$OURS container image pull $W/q ostree-unverified-registry:$REG/bench/os:1 --tls-verify=false --quiet"
[ "$("$OURS" rev-parse --repo="$W/q" "ostree/container/blob/$(ls "$W/q/refs/heads/ostree/container/blob/")")" = "$COMMIT" ] || { echo "pulled commit differs" >&2; exit 1; }

# Memory against image size: encapsulate and pull (OCI layout to a fresh bare-user repository) a
# synthetic tree of the default size and one SCALE times larger.
if [ "$SCALE" -gt 0 ]; then
    echo
    base=200 # MiB, the generator's default
    for mult in 1 "$SCALE"; do
        rm -rf "$W/s" "$W/sr" "$W/si" "$W/sq"
        python3 bench/make-synthetic-tree.py --size-mb $((base * mult)) "$W/s" >/dev/null 2>&1
        "$OURS" init --repo="$W/sr" --mode=archive >/dev/null
        "$OURS" commit --repo="$W/sr" -b os --owner-uid=0 --owner-gid=0 "$W/s" >/dev/null
        # Peak RSS varies by up to a third from run to run on the same input: the median of the runs.
        e=(); p=()
        for ((i = 0; i < RUNS; i++)); do
            rm -rf "$W/si" "$W/sq"
            /usr/bin/time -f "%M" -o "$W/rss1" "$OURS" container encapsulate --repo="$W/sr" os "oci:$W/si:t" >/dev/null
            "$OURS" init --repo="$W/sq" --mode=bare-user >/dev/null
            /usr/bin/time -f "%M" -o "$W/rss2" "$OURS" container image pull "$W/sq" "ostree-unverified-image:oci:$W/si:t" --quiet >/dev/null
            e+=("$(cat "$W/rss1")"); p+=("$(cat "$W/rss2")")
        done
        echo "tree $(du -sh "$W/s" | cut -f1): peak RSS encapsulate $(( $(med "${e[@]}") / 1024 )) MB, image pull $(( $(med "${p[@]}") / 1024 )) MB (median of $RUNS)"
    done
fi

