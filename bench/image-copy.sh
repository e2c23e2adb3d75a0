#!/usr/bin/env bash
# image copy against skopeo copy, in one run: a single-layer image of the synthetic tree, OCI layout
# to a local registry (push) and back (pull). Each push goes to a fresh registry (so nothing is
# mounted or skipped); runs alternate between the tools; whole-process wall time and peak RSS.
#
#   bench/image-copy.sh [--size-mb MB] [--runs N] [--scale N]
#     --size-mb MB  synthetic tree size (default: the generator's default, ~200 MB)
#     --runs N      runs per step, median reported (default 3)
#     --scale N     also copy an image N times larger, to show that our peak RSS stays flat
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SIZE=""; RUNS=3; SCALE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb) SIZE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-image.XXXXXX")
cleanup() { bash bench/registry.sh stop --rm "$W/reg" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
OURS=$(bench_binary "$W/bin")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG="127.0.0.1:$PORT"
fresh_registry() { bash bench/registry.sh stop --rm "$W/reg" >/dev/null 2>&1 || true; bash bench/registry.sh start --port "$PORT" "$W/reg" >/dev/null; }

build_image() { # SIZE_MB LAYOUT
    rm -rf "$W/tree" "$2"
    python3 bench/make-synthetic-tree.py ${1:+--size-mb "$1"} "$W/tree" >/dev/null 2>&1
    python3 bench/make-oci-image.py "$W/tree" "$2" t
    rm -rf "$W/tree"
}

timed() { # CMD... -> "wall rss_kb"
    /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
    cat "$W/time"
}

# step NAME PREP SKOPEO_CMD OURS_CMD
step() {
    local -a sw=() srss=() ow=() orss=()
    for ((i = 0; i < RUNS; i++)); do
        local order="skopeo ours"
        ((i % 2 == 1)) && order="ours skopeo"
        for who in $order; do
            eval "$2"
            sync
            if [ "$who" = skopeo ]; then read -r w r <<< "$(timed bash -c "exec $3")"; sw+=("$w"); srss+=("$r")
            else read -r w r <<< "$(timed bash -c "exec $4")"; ow+=("$w"); orss+=("$r"); fi
        done
    done
    local s o
    s=$(med "${sw[@]}"); o=$(med "${ow[@]}")
    printf '| %-22s | %8.2f | %8.2f | %6.2fx | %6s | %9s | %7s |\n' "$1" "$s" "$o" "$(awk -v a="$o" -v b="$s" 'BEGIN {print a / b}')" 1.0 "$(( $(med "${srss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
    bench_result "image copy: $1 ($IMAGE_NAME)" "skopeo copy" "$s s" "$o s" "$(bench_ratio "$o" "$s")" 1.0 "$(( $(med "${srss[@]}") / 1024 ))" "$(( $(med "${orss[@]}") / 1024 ))"
}

build_image "$SIZE" "$W/layout"
echo "image: $(du -sh "$W/layout" | cut -f1) layout"
IMAGE_NAME="$(du -sm "$W/layout" | cut -f1) MB layout"
echo
echo "| step                   | skopeo s | ours s   | ratio   | target | skopeo MB | ours MB |"
echo "|------------------------|----------|----------|---------|--------|-----------|---------|"
step "push layout->registry" "fresh_registry" \
    "skopeo copy --dest-tls-verify=false oci:$W/layout:t docker://$REG/bench/img:t" \
    "$OURS image copy --tls-verify=false --progress=none oci:$W/layout:t docker://$REG/bench/img:t"
step "pull registry->layout" "rm -rf $W/pulled" \
    "skopeo copy --src-tls-verify=false docker://$REG/bench/img:t oci:$W/pulled:t" \
    "$OURS image copy --tls-verify=false --progress=none docker://$REG/bench/img:t oci:$W/pulled:t"

if [ "$SCALE" -gt 0 ]; then
    base=${SIZE:-200}
    build_image "$((base * SCALE))" "$W/big"
    echo
    echo "peak RSS of ours at ${SCALE}x ($(du -sh "$W/big" | cut -f1) layout):"
    fresh_registry
    read -r w r <<< "$(timed "$OURS" image copy --tls-verify=false --progress=none "oci:$W/big:t" "docker://$REG/bench/big:t")"
    echo "  push: ${w}s, $((r / 1024)) MB"
    rm -rf "$W/bigpulled"
    read -r w r <<< "$(timed "$OURS" image copy --tls-verify=false --progress=none "docker://$REG/bench/big:t" "oci:$W/bigpulled:t")"
    echo "  pull: ${w}s, $((r / 1024)) MB"
fi
