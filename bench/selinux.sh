#!/usr/bin/env bash
# SELinux labelling against the peers, in one run, on a Debian root with selinux-policy-default:
#   - `selinux label --tree` (every path of the tree) against matchpathcon over the same paths
#     (grouped by file type, as many paths per invocation as the command line takes);
#   - `commit --selinux-policy` against `ostree commit --selinux-policy` of the same tree into a
#     bare-user repository (same checksum checked).
#
#   bench/selinux.sh [--tree DIR] [--runs N]
#     --tree DIR   a root with etc/selinux or usr/etc/selinux (default: built with
#                  bench/make-os-tree.sh --layout ostree --packages selinux-policy-default)
#     --runs N     runs per step, median reported (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-selinux.XXXXXX")
trap 'rm -rf "$W"' EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    bash bench/make-os-tree.sh --layout ostree --packages selinux-policy-default "$TREE" >/dev/null
fi
POLICY_DIR=$TREE/etc/selinux
[ -d "$POLICY_DIR" ] || POLICY_DIR=$TREE/usr/etc/selinux
TYPE=$(sed -n 's/^SELINUXTYPE=//p' "$POLICY_DIR/config")
(cd "$TREE" && find . -printf '%y\t%p\n') | sed 's#\t\.#\t#; s#\t$#\t/#' > "$W/paths"
echo "tree: $(du -sh "$TREE" | cut -f1), $(wc -l < "$W/paths") paths, policy $TYPE"
cat > "$W/matchpathcon.sh" <<MPC
for t in f:file d:dir l:lnk_file c:chr_file b:blk_file p:pipe s:sock_file; do
    awk -F'\t' -v y="\${t%%:*}" '\$1 == y {print \$2}' "$W/paths" | tr '\n' '\0' | xargs -0 -r matchpathcon -P "$POLICY_DIR/$TYPE" -m "\${t#*:}"
done
MPC

# step NAME PREP PEER_CMD OURS_CMD
step() {
    local -a pw=() ow=()
    for ((i = 0; i < RUNS; i++)); do
        local order="peer ours"
        ((i % 2 == 1)) && order="ours peer"
        for who in $order; do
            bash -c "$2"
            local cmd=$3
            [ "$who" = ours ] && cmd=$4
            /usr/bin/time -f "%e" -o "$W/time" bash -c "$cmd" > "$W/out-$who" 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
            if [ "$who" = peer ]; then pw+=("$(cat "$W/time")"); else ow+=("$(cat "$W/time")"); fi
        done
    done
    local p o
    p=$(med "${pw[@]}"); o=$(med "${ow[@]}")
    printf '| %-44s | %7.2f | %7.2f | %6.2fx |\n' "$1" "$p" "$o" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')"
    bench_result "$1" "$PEER" "$p s" "$o s" "$(bench_ratio "$o" "$p")" 1.0
}

echo "| step | peer s | ours s | ratio (target <= 1.0) |"
echo "|---|---|---|---|"
PEER="matchpathcon"
step "label every path (matchpathcon)" "true" "bash $W/matchpathcon.sh" "$OURS selinux label --policy-root $TREE --tree $TREE"
cmp <(sort "$W/out-peer") <(sort "$W/out-ours") >/dev/null && echo "labels: identical for every path" || echo "labels: DIFFER"
PEER="ostree commit --selinux-policy"
step "commit --selinux-policy (bare-user)" "rm -rf $W/r && ostree init --repo=$W/r --mode=bare-user" \
    "ostree commit --repo=$W/r -b t --timestamp=2024-01-01 --selinux-policy=$TREE --tree=dir=$TREE" \
    "$OURS commit --repo=$W/r -b t --timestamp=2024-01-01 --selinux-policy=$TREE --tree=dir=$TREE"
[ "$(cat "$W/out-peer")" = "$(cat "$W/out-ours")" ] && echo "commit checksums: identical ($(cat "$W/out-ours"))" || echo "commit checksums: DIFFER"
