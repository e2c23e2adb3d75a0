#!/usr/bin/env bash
# HTTP in one run, on the same archive repository (made by the real ostree from the default
# synthetic tree), served both by our `serve` and by `python3 -m http.server`, always pulled into a
# fresh bare-user repository:
#   - our server's throughput: `ostree pull` from it against `ostree pull` from python's;
#   - our client: our `pull` against `ostree pull`, from our server and from python's.
# Whole-process wall time, median of the runs, the two tools alternating. Work folders are made
# under $TMPDIR: a tmpfs there (TMPDIR=/dev/shm) times the tools instead of the disk (see README).
#
#   bench/http.sh [--size-mb MB] [--tree DIR] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; SIZE=""; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --size-mb) SIZE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-http.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    python3 bench/make-synthetic-tree.py ${SIZE:+--size-mb "$SIZE"} "$TREE" >/dev/null 2>&1
fi
ostree init --repo="$W/repo" --mode=archive
ostree commit --repo="$W/repo" -b os --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 --tree=dir="$TREE" >/dev/null
TREE_NAME=${TREE_NAME:-$(du -sm "$TREE" | cut -f1) MB tree}
echo "tree: $(du -sh "$TREE" | cut -f1), $(find "$W/repo/objects" -type f | wc -l) objects"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port)
"$OURS" serve --repo="$W/repo" --port="$P1" --quiet > "$W/serve.log" 2>&1 &
PIDS+=($!)
P2=$(free_port)
(cd "$W/repo" && exec python3 -m http.server --bind 127.0.0.1 "$P2" >/dev/null 2>&1) &
PIDS+=($!)
sleep 1

# pull_with TOOL URL -> wall seconds of TOOL's pull of `os` into a fresh bare-user repository
pull_with() {
    local tool=$1 url=$2
    rm -rf "$W/dest"
    "$tool" init --repo="$W/dest" --mode=bare-user >/dev/null
    "$tool" remote add --repo="$W/dest" --no-gpg-verify o "$url" >/dev/null
    sync
    /usr/bin/time -f "%e" -o "$W/time" "$tool" pull --repo="$W/dest" o os >/dev/null
    ostree fsck --repo="$W/dest" >/dev/null
    cat "$W/time"
}
OURS_URL="http://127.0.0.1:$P1/repo/"
PY_URL="http://127.0.0.1:$P2/"
# row NAME TARGET PEER_TOOL PEER_URL OURS_TOOL OURS_URL
row() {
    local -a p=() o=()
    for ((i = 0; i < RUNS; i++)); do
        if ((i % 2 == 0)); then p+=("$(pull_with "$3" "$4")"); o+=("$(pull_with "$5" "$6")"); else o+=("$(pull_with "$5" "$6")"); p+=("$(pull_with "$3" "$4")"); fi
    done
    local pm om
    pm=$(med "${p[@]}"); om=$(med "${o[@]}")
    printf '| %-46s | %7.2f | %7.2f | %6.2fx | %6s |\n' "$1" "$pm" "$om" "$(awk -v a="$om" -v b="$pm" 'BEGIN {print a / b}')" "$2"
    bench_result "$1 ($TREE_NAME)" "${1%% /*}" "$pm s" "$om s" "$(bench_ratio "$om" "$pm")" "$2"
}
echo
echo "| step (peer / ours)                             | peer s  | ours s  | ratio   | target |"
echo "|------------------------------------------------|---------|---------|---------|--------|"
row "ostree pull: python http.server / our serve" 1.0 ostree "$PY_URL" ostree "$OURS_URL"
row "from our serve: ostree pull / our pull" 0.5 ostree "$OURS_URL" "$OURS" "$OURS_URL"
row "from python http.server: ostree pull / our pull" 0.5 ostree "$PY_URL" "$OURS" "$PY_URL"
# What python's server can do at all: every object once with curl, two connections at a time
# (more at once only overflows its accept queue). No client can pull from it faster than this.
(cd "$W/repo" && find objects -type f) | awk -v u="$PY_URL" '{printf "url = \"%s%s\"\noutput = \"/dev/null\"\n", u, $0}' > "$W/curl.cfg"
floor=()
for ((i = 0; i < RUNS; i++)); do
    /usr/bin/time -f "%e" -o "$W/time" curl -s --parallel --parallel-max 2 -K "$W/curl.cfg" 2>/dev/null
    floor+=("$(cat "$W/time")")
done
echo
echo "python3 -m http.server's own limit (every object once, curl --parallel-max 2): $(med "${floor[@]}") s"

