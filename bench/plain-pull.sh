#!/usr/bin/env bash
# Pull of an image without an ostree commit (three plain gzip layers, as podman builds one FROM a bootc base) from a
# local registry, in one run: `ostree-sharp container image pull` into a fresh bare repository (fetch, decompress,
# filter, commit each layer, merge) against `skopeo copy` of the same image to an OCI layout (fetch and store the
# blobs). On disk (under $TMPDIR, default /var/tmp); whole-process wall time and peak RSS, runs alternating between
# the tools, medians reported.
#
#   bench/plain-pull.sh [--tree DIR] [--runs N]
#     --tree DIR   the root (default: a Debian root with a kernel from bench/make-os-tree.sh, /etc at /etc)
#     --runs N     runs per tool (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/var/tmp}/ostree-sharp-bench-plain.XXXXXX")
cleanup() { bash bench/registry.sh stop --rm "$W/reg" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    bash bench/make-os-tree.sh "$TREE" >/dev/null
fi
python3 bench/make-oci-image.py "$TREE" "$W/img" t --split usr/lib/modules,usr/share --label containers.bootc=1 > "$W/layers"
REG=$(bash bench/registry.sh start "$W/reg" 2>/dev/null)
skopeo copy -q --dest-tls-verify=false "oci:$W/img:t" "docker://$REG/bench/plain:1"
echo "tree: $(du -sh "$TREE" | cut -f1), $(find "$TREE" | wc -l) entries; image: $(wc -l < "$W/layers") layers, $(awk '{s += $3} END {printf "%.0f MB", s / 1e6}' "$W/layers") compressed"

pw=(); prss=(); ow=(); orss=()
for ((i = 0; i < RUNS; i++)); do
    order="peer ours"
    ((i % 2 == 1)) && order="ours peer"
    for who in $order; do
        rm -rf "$W/oci" "$W/q"
        "$OURS" init --repo="$W/q" --mode=bare >/dev/null
        sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
        if [ "$who" = peer ]; then
            cmd=(skopeo copy -q --src-tls-verify=false "docker://$REG/bench/plain:1" "oci:$W/oci:t")
        else
            cmd=("$OURS" container image pull "$W/q" "ostree-unverified-registry:$REG/bench/plain:1" --tls-verify=false --quiet)
        fi
        /usr/bin/time -f "%e %M" -o "$W/time" "${cmd[@]}" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
        read -r w r < "$W/time"
        if [ "$who" = peer ]; then pw+=("$w"); prss+=("$r"); else ow+=("$w"); orss+=("$r"); fi
    done
done
"$OURS" fsck --repo="$W/q" >/dev/null
p=$(med "${pw[@]}"); o=$(med "${ow[@]}")
echo
echo "| step | skopeo copy s | ours s | ratio (target <= 1.0) | skopeo MB | ours MB |"
echo "|---|---|---|---|---|---|"
printf '| pull of a plain 3-layer image | %.2f | %.2f | %.2fx | %d | %d |\n' "$p" "$o" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')" \
    "$(( $(med "${prss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
bench_result "pull of a plain 3-layer image" "skopeo copy" "$p s" "$o s" "$(bench_ratio "$o" "$p")" 1.0 "$(( $(med "${prss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
