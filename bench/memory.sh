#!/usr/bin/env bash
# Peak RSS (and wall time) of the commands a host or a build runner spends its memory on, ours against the real
# ostree where it has the command, on a tree and optionally on a synthetic tree N times its size: commit
# (bare-user and archive), fsck, checkout (a copying one: a bare-user repository checked out by root without -U),
# pull over HTTP from our `serve`, container encapsulate (gzip and zstd), container image pull, and admin deploy
# (on a tmpfs, as bench/sysroot.sh). Runs alternate between the tools; caches are dropped before each run. The
# target (issue #25): at most 64 MB for each of ours; README.md, "Memory", explains the settings behind it.
#
#   bench/memory.sh [--tree DIR] [--scale N] [--runs N] [--scale-runs N]
#     --tree DIR        the tree (default: a 200 MB synthetic tree from bench/make-synthetic-tree.py)
#     --scale N         also measure a synthetic tree of N times the tree's size and file count (default: none)
#     --runs N          runs per command on the tree, median reported (default 3)
#     --scale-runs N    runs per command on the larger tree (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; SCALE=0; RUNS=3; SCALE_RUNS=1
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --scale-runs) SCALE_RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
# admin deploy freezes the filesystem that holds /boot when run by root: a private mount namespace and a tmpfs.
if [ -z "${OSTREE_SHARP_BENCH_NS:-}" ]; then
    exec unshare -m --propagation private env OSTREE_SHARP_BENCH_NS=1 bash "$0" "${ARGS[@]}"
fi
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/var/tmp}/ostree-sharp-bench-memory.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    mountpoint -q "$W/sysroot" && umount -l "$W/sysroot"
    rm -rf "$W"
}
trap cleanup EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    python3 bench/make-synthetic-tree.py --size-mb 200 "$TREE" >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# timed VAR CMD...: runs CMD with cold caches and appends "wall rss_kb" to the array VAR.
timed() {
    local -n out=$1; shift
    sync; echo 3 > /proc/sys/vm/drop_caches
    /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
    out+=("$(cat "$W/time")")
}
walls() { for x in "$@"; do echo "${x% *}"; done; }
rsses() { for x in "$@"; do echo $(( ${x#* } / 1024 )); done; }

# row NAME PEER_NAME: prints and records the medians of the arrays P and O (P empty: no peer).
row() {
    local ow orss pw="-" prss="-" ratio="-"
    ow=$(med $(walls "${O[@]}")); orss=$(med $(rsses "${O[@]}"))
    if [ "${#P[@]}" -gt 0 ]; then
        pw=$(med $(walls "${P[@]}")); prss=$(med $(rsses "${P[@]}")); ratio=$(bench_ratio "$ow" "$pw")
    fi
    local verdict=yes
    [ "$orss" -le 64 ] || verdict="**no**"
    printf '| %-44s | %8s | %6s | %8s | %6s | %6s |\n' "$1" "$prss" "$pw" "$orss" "$ow" "$verdict"
    # The table of bench/all.sh holds each row to 64 MB; a time ratio here has no target of its own.
    bench_result "peak RSS: $1" "$2" "$pw s" "$ow s" "$ratio" "-" "$prss" "$orss"
}

# measure DIR NAME: every command on DIR.
measure() {
    local tree=$1 name=$2 i who
    local R="$W/r"
    rm -rf "$R"; mkdir -p "$R"
    echo
    echo "$name: $(du -sh "$tree" | cut -f1), $(find "$tree" | wc -l) entries"
    echo
    echo "| command | ostree MB | ostree s | ours MB | ours s | ≤ 64 MB |"
    echo "|---|---|---|---|---|---|"
    for mode in bare-user archive; do
        P=(); O=()
        for ((i = 0; i < RUNS; i++)); do
            for who in $( ((i % 2)) && echo "ours peer" || echo "peer ours"); do
                local tool=ostree; [ "$who" = ours ] && tool=$OURS
                rm -rf "$R/$mode-$who"; "$tool" init --repo="$R/$mode-$who" --mode="$mode" >/dev/null
                if [ "$who" = peer ]; then timed P ostree commit --repo="$R/$mode-$who" -b os --timestamp=2024-01-01 --tree=dir="$tree"
                else timed O "$OURS" commit --repo="$R/$mode-$who" -b os --timestamp=2024-01-01 --tree=dir="$tree"; fi
            done
        done
        row "commit $mode ($name)" "ostree 2026.4 commit"
    done
    P=(); O=()
    for ((i = 0; i < RUNS; i++)); do timed P ostree fsck --repo="$R/bare-user-ours"; timed O "$OURS" fsck --repo="$R/bare-user-ours"; done
    row "fsck bare-user ($name)" "ostree 2026.4 fsck"
    P=(); O=()
    for ((i = 0; i < RUNS; i++)); do
        rm -rf "$R/co"; timed P ostree checkout --repo="$R/bare-user-ours" os "$R/co"
        rm -rf "$R/co"; timed O "$OURS" checkout --repo="$R/bare-user-ours" os "$R/co"
    done
    rm -rf "$R/co"
    row "checkout, copying ($name)" "ostree 2026.4 checkout"

    local port; port=$(free_port)
    "$OURS" serve --repo="$R/archive-ours" --bind=127.0.0.1 --port="$port" --quiet > "$W/serve.log" 2>&1 &
    local serve=$!; PIDS+=("$serve"); sleep 1
    P=(); O=()
    for ((i = 0; i < RUNS; i++)); do
        for who in peer ours; do
            local tool=ostree; [ "$who" = ours ] && tool=$OURS
            rm -rf "$R/pull"; "$tool" init --repo="$R/pull" --mode=bare-user >/dev/null
            "$tool" remote add --repo="$R/pull" --no-gpg-verify o "http://127.0.0.1:$port/repo/" >/dev/null
            if [ "$who" = peer ]; then timed P ostree pull --repo="$R/pull" o os; else timed O "$OURS" pull --repo="$R/pull" o os; fi
        done
    done
    kill "$serve"; wait "$serve" 2>/dev/null || true
    row "pull over HTTP ($name)" "ostree 2026.4 pull"

    for c in gzip zstd; do
        P=(); O=()
        for ((i = 0; i < RUNS; i++)); do
            rm -rf "$R/img-$c"; timed O "$OURS" container encapsulate --repo="$R/archive-ours" --compression="$c" os "oci:$R/img-$c:t"
        done
        row "container encapsulate $c ($name)" "-"
    done
    P=(); O=()
    for ((i = 0; i < RUNS; i++)); do
        rm -rf "$R/ip"; "$OURS" init --repo="$R/ip" --mode=bare-user >/dev/null
        timed O "$OURS" container image pull "$R/ip" "ostree-unverified-image:oci:$R/img-gzip:t" --quiet
    done
    row "container image pull ($name)" "-"

    # admin deploy: a sysroot on a tmpfs whose repository holds the commit (pulled locally), deployed by each tool.
    mkdir -p "$W/sysroot"; mountpoint -q "$W/sysroot" || mount -t tmpfs -o size=20g tmpfs "$W/sysroot"
    local T="$W/sysroot/template"
    rm -rf "$T"; mkdir -p "$T"
    ostree admin init-fs "$T" >/dev/null
    ostree admin os-init --sysroot="$T" os >/dev/null
    ostree config --repo="$T/ostree/repo" set sysroot.bootloader none
    # ostree deploys a tree whose /etc is /usr/etc and whose os-release names it: a container-layout tree, or a
    # synthetic one (random text in os-release), is committed again from a linked copy with that put right.
    local commit_repo="$R/bare-user-ours" L="$R/ostree-layout"
    if { [ -d "$tree/etc" ] && [ ! -d "$tree/usr/etc" ]; } || ! grep -qs '^ID=' "$tree/usr/lib/os-release"; then
        cp -al "$tree" "$L" 2>/dev/null || { rm -rf "$L"; cp -a "$tree" "$L"; }
        [ -d "$L/usr/etc" ] || mv "$L/etc" "$L/usr/etc"
        if ! grep -qs '^ID=' "$L/usr/lib/os-release"; then
            rm -f "$L/usr/lib/os-release" "$L/usr/etc/os-release"
            printf 'ID=synthetic\nPRETTY_NAME="Synthetic tree"\n' > "$L/usr/lib/os-release"
            ln -s ../lib/os-release "$L/usr/etc/os-release"
        fi
        ostree commit --repo="$commit_repo" -b os --timestamp=2024-01-01 --tree=dir="$L" >/dev/null
        rm -rf "$L"
    fi
    ostree pull-local --repo="$T/ostree/repo" "$commit_repo" os >/dev/null
    P=(); O=()
    for ((i = 0; i < RUNS; i++)); do
        for who in peer ours; do
            local sr="$W/sysroot/$who"
            if [ -d "$sr" ]; then
                find "$sr"/ostree/deploy/*/deploy -maxdepth 1 -mindepth 1 -type d -exec chattr -i {} + 2>/dev/null || true
                rm -rf "$sr"
            fi
            cp -a "$T" "$sr"
            if [ "$who" = peer ]; then timed P ostree admin deploy --sysroot="$sr" --os=os os
            else timed O "$OURS" admin deploy --sysroot="$sr" --os=os os; fi
        done
    done
    for who in peer ours; do
        find "$W/sysroot/$who"/ostree/deploy/*/deploy -maxdepth 1 -mindepth 1 -type d -exec chattr -i {} + 2>/dev/null || true
    done
    umount -l "$W/sysroot"
    row "admin deploy, tmpfs ($name)" "ostree 2026.4 admin deploy"
    rm -rf "$R"
}

TREE_MB=$(du -sm "$TREE" | cut -f1)
TREE_FILES=$(find "$TREE" -type f | wc -l)
measure "$TREE" "${TREE_NAME:-$TREE_MB MB tree}"
if [ "$SCALE" -gt 1 ]; then
    # N times the bytes and N times the files: the synthetic tree's own default would make 20 times more files.
    python3 bench/make-synthetic-tree.py --size-mb $((TREE_MB * SCALE)) --files $((TREE_FILES * SCALE)) "$W/big" >/dev/null
    RUNS=$SCALE_RUNS measure "$W/big" "synthetic ${SCALE}x, $((TREE_MB * SCALE)) MB"
fi
