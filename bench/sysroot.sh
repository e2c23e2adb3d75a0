#!/usr/bin/env bash
# `admin deploy` against `ostree admin deploy` of the same commit, in one run. Each run starts from
# an identical copy of a sysroot whose repository holds the commit; the first deploy checks the tree
# out and writes its boot entry, the second deploys it again with the /etc merge and the cleanup.
# Everything happens on a tmpfs in a private mount namespace, as the sysroot vectors' script does,
# because the real `ostree admin deploy`, run as root, freezes the filesystem that holds /boot.
#
#   bench/sysroot.sh [--tree DIR] [--runs N]
#     --tree DIR   a bootable tree (default: a Debian root from bench/make-os-tree.sh --layout ostree,
#                  built into a temporary folder)
#     --runs N     runs per step, median reported (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; RUNS=3
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "${OSTREE_SHARP_BENCH_NS:-}" ]; then
    exec unshare -m --propagation private env OSTREE_SHARP_BENCH_NS=1 bash "$0" "${ARGS[@]}"
fi
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-sysroot.XXXXXX")
mount -t tmpfs -o size=16g tmpfs "$W"
trap 'umount -l "$W"; rmdir "$W"' EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    bash bench/make-os-tree.sh --layout ostree "$TREE" >/dev/null
fi
echo "tree: $(du -sh "$TREE" | cut -f1), $(find "$TREE" | wc -l) entries, kernel $(ls "$TREE/usr/lib/modules")"

# The template: a sysroot with one stateroot and the commit in its repository (committed by ostree).
T="$W/template"
mkdir -p "$T"
ostree admin init-fs "$T" >/dev/null
ostree admin os-init --sysroot="$T" os >/dev/null
ostree config --repo="$T/ostree/repo" set sysroot.bootloader none
COMMIT=$(ostree commit --repo="$T/ostree/repo" -b os/stable --owner-uid=0 --owner-gid=0 --timestamp=2024-01-01 --tree=dir="$TREE" --add-metadata-string=version=1.0 --bootable)
echo "commit: $COMMIT"

clear_immutable() { find "$1"/ostree/deploy/*/deploy -maxdepth 1 -mindepth 1 -type d -exec chattr -i {} + 2>/dev/null || true; }

# step NAME SETUP: SETUP runs first for both tools (untimed), then `admin deploy` is timed.
step() {
    local -a pw=() ow=() prss=() orss=()
    for ((i = 0; i < RUNS; i++)); do
        local order="peer ours"
        ((i % 2 == 1)) && order="ours peer"
        for who in $order; do
            local sr="$W/sr-$who"
            [ -d "$sr" ] && clear_immutable "$sr" && rm -rf "$sr"
            cp -a "$T" "$sr"
            local tool=ostree
            [ "$who" = ours ] && tool=$OURS
            [ -n "$2" ] && "$tool" admin deploy --sysroot="$sr" --os=os --karg=root=LABEL=root os/stable >/dev/null 2>&1
            sync
            /usr/bin/time -f "%e %M" -o "$W/time" "$tool" admin deploy --sysroot="$sr" --os=os --karg=root=LABEL=root os/stable >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
            read -r w r < "$W/time"
            if [ "$who" = peer ]; then pw+=("$w"); prss+=("$r"); else ow+=("$w"); orss+=("$r"); fi
        done
    done
    local p o
    p=$(med "${pw[@]}"); o=$(med "${ow[@]}")
    printf '| %-36s | %7.2f | %7.2f | %6.2fx | %7s | %7s |\n' "$1" "$p" "$o" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')" "$(( $(med "${prss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
    bench_result "$1" "ostree 2026.4 (tmpfs)" "$p s" "$o s" "$(bench_ratio "$o" "$p")" 1.0 "$(( $(med "${prss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
}

echo "| step | ostree s | ours s | ratio (target <= 1.0) | ostree MB | ours MB |"
echo "|---|---|---|---|---|---|"
step "admin deploy (first deployment)" ""
step "admin deploy (second, /etc merge)" "again"

# Both sysroots must be the same on disk apart from inode numbers and mtimes.
diff <(cd "$W/sr-peer" && find . -printf '%y %m %p -> %l\n' | grep -v '/ostree/repo/tmp' | sort -k3,3) \
     <(cd "$W/sr-ours" && find . -printf '%y %m %p -> %l\n' | grep -v '/ostree/repo/tmp' | sort -k3,3) > "$W/diff" \
    && echo "sysroots after the last run: identical listings" \
    || { echo "sysroots differ:"; head -20 "$W/diff"; }
clear_immutable "$W/sr-peer"; clear_immutable "$W/sr-ours"
