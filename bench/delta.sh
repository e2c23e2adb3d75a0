#!/usr/bin/env bash
# An OS update (one package upgraded) four ways, in one run: bytes transferred and wall time for a client that has
# version 1 to get version 2
#   1. full layer      `container image pull` of a single-layer image, deltas disabled (the whole new layer)
#   2. chunked image   `container image pull` of a chunked image (--max-layers), deltas disabled (changed chunks)
#   3. container delta `container image pull` of the single-layer image with our layer delta published next to it
#   4. static delta    the real `ostree pull` over HTTP with a delta made by the real `ostree static-delta generate`
# Images go through a local registry; the ostree repository is served by `python3 -m http.server`, whose access log
# gives the bytes (sizes of the files served). Registry bytes are the layer (or delta) blobs fetched.
#
#   bench/delta.sh --tree DIR [--package NAME] [--max-layers N] [--runs N]
#     --tree DIR        a Debian root in ostree layout (bench/make-os-tree.sh --layout ostree)
#     --package NAME    the package upgraded between the versions (default libssl3; needs two versions in apt)
#     --max-layers N    layers of the chunked image (default 32)
#     --runs N          runs of the four pulls in turn, median reported (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TREE=""; PKG=libssl3; LAYERS=32; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --package) PKG=$2; shift 2 ;;
        --max-layers) LAYERS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$TREE" ] || { echo "--tree DIR is required (bench/make-os-tree.sh --layout ostree DIR builds one)" >&2; exit 2; }
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-delta.XXXXXX")
HTTP_PID=""
cleanup() { [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null; bash bench/registry.sh stop --rm "$W/reg" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
# OSTREE_SHARP_BIN (or bench/all.sh's OSTREE_SHARP_BENCH_BIN) names an already published binary; else it is published here.
[ -x "${OSTREE_SHARP_BIN:-}" ] && [ -z "${OSTREE_SHARP_BENCH_BIN:-}" ] && export OSTREE_SHARP_BENCH_BIN=$OSTREE_SHARP_BIN
OURS=$(bench_binary "$W/bin")

# Two versions of the package: the two newest the apt sources have.
mapfile -t VERSIONS < <(apt-cache madison "$PKG" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u)
[ "${#VERSIONS[@]}" -ge 2 ] || { apt-get update -qq; mapfile -t VERSIONS < <(apt-cache madison "$PKG" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u); }
[ "${#VERSIONS[@]}" -ge 2 ] || { echo "$PKG has fewer than two versions in the apt sources" >&2; exit 1; }
sorted=$(for v in "${VERSIONS[@]}"; do echo "$v"; done | sort -V)
OLD=$(echo "$sorted" | tail -2 | head -1); NEW=$(echo "$sorted" | tail -1)
overlay() { # overlay DIR VERSION: the package's files and its dpkg status entry, to lay over the tree
    mkdir -p "$1" "$W/deb-$2" && (cd "$W/deb-$2" && apt-get download -qq "$PKG=$2" >/dev/null 2>&1)
    dpkg-deb -x "$W"/deb-"$2"/*.deb "$1"
    mkdir -p "$1/var/lib/dpkg"
    awk -v p="$PKG" -v v="$2" 'BEGIN {RS=""; ORS="\n\n"} $0 ~ "^Package: " p "\n" {sub(/\nVersion: [^\n]*/, "\nVersion: " v)} {print}' "$TREE/var/lib/dpkg/status" > "$1/var/lib/dpkg/status"
}
overlay "$W/ov1" "$OLD"; overlay "$W/ov2" "$NEW"
"$OURS" init --repo="$W/repo" --mode=archive >/dev/null
V1=$("$OURS" commit --repo="$W/repo" -b os -s "$PKG $OLD" --tree=dir="$TREE" --tree=dir="$W/ov1")
V2=$("$OURS" commit --repo="$W/repo" -b os -s "$PKG $NEW" --tree=dir="$TREE" --tree=dir="$W/ov2")
echo "tree: $(du -sh "$TREE" | cut -f1); $PKG $OLD -> $NEW"

REG=$(bash bench/registry.sh start "$W/reg" 2>/dev/null)
T="--tls-verify=false"
enc() { "$OURS" container encapsulate --repo="$W/repo" $T "$@" >/dev/null; }
enc "$V1" "docker://$REG/os/full:v1"; enc "$V1" "docker://$REG/os/full:stable"
enc --max-layers="$LAYERS" "$V1" "docker://$REG/os/chunked:stable"
# Clients that have version 1, one per image kind, copied afresh for each run.
for kind in full chunked; do
    "$OURS" init --repo="$W/client-$kind" --mode=bare-user >/dev/null
    "$OURS" container image pull "$W/client-$kind" "ostree-unverified-registry:$REG/os/$kind:stable" $T --quiet >/dev/null
done
enc "$V2" "docker://$REG/os/full:stable"
enc --max-layers="$LAYERS" "$V2" "docker://$REG/os/chunked:stable"
start=$(date +%s.%N)
"$OURS" container delta generate $T --json "docker://$REG/os/full:v1" "docker://$REG/os/full:stable" > "$W/delta.json"
echo "container delta generate: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"

# The real ostree: its static delta, served with the repository. The client is bare-user (the tree has setuid files,
# which bare-user-only refuses); ostree 2022.7 then fetches the files the delta wrote once more as loose objects, so
# the ratios below are taken against the delta's own size (superblock and parts), the smaller figure.
ostree init --repo="$W/srv" --mode=archive
ostree pull-local --repo="$W/srv" --depth=1 "$W/repo" os >/dev/null
start=$(date +%s.%N)
ostree static-delta generate --repo="$W/srv" --from="$V1" --to="$V2" >/dev/null 2>&1
echo "static-delta generate: ostree $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s, $(find "$W/srv/deltas" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') bytes"
start=$(date +%s.%N)
"$OURS" static-delta generate --repo="$W/repo" --from="$V1" --to="$V2" >/dev/null
echo "static-delta generate: ours   $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s, $(find "$W/repo/deltas" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') bytes"
ostree summary -u --repo="$W/srv"
"$OURS" init --repo="$W/sd-client" --mode=bare-user >/dev/null
"$OURS" pull-local --repo="$W/sd-client" "$W/srv" "$V1" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$W/srv" && exec python3 -m http.server --bind 127.0.0.1 "$PORT" 2>"$W/http.log" >/dev/null) &
HTTP_PID=$!
sleep 1
ostree --repo="$W/sd-client" remote add --no-gpg-verify o "http://127.0.0.1:$PORT" 2>/dev/null || ostree remote add --repo="$W/sd-client" --no-gpg-verify o "http://127.0.0.1:$PORT"
ostree refs --repo="$W/sd-client" --create=o:os "$V1"

served_bytes() { # sum of the sizes of the files the static server answered 200 for
    grep -ao '"GET [^ ]* HTTP/1.[01]" 200' "$W/http.log" | awk '{print $2}' | while read -r p; do stat -c %s "$W/srv${p%%\?*}"; done | awk '{s+=$1} END {print s+0}'
}
# Each run pulls all four ways in turn from fresh copies of the clients, so a slow spell of the machine hits them all.
declare -A SEC BYTES TIMES
pull_image() { # pull_image NAME KIND EXTRA: one pull; appends its seconds to TIMES[NAME]
    rm -rf "$W/c" && cp -a "$W/client-$2" "$W/c" && sync
    local s e
    s=$(date +%s.%N)
    "$OURS" container image pull "$W/c" "ostree-unverified-registry:$REG/os/$2:stable" $T --json $3 > "$W/pull.json"
    e=$(date +%s.%N)
    TIMES[$1]+="$(awk -v s="$s" -v e="$e" 'BEGIN {print e - s}') "
    BYTES[$1]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytesFetched"])' "$W/pull.json")
    [ "$("$OURS" rev-parse --repo="$W/c" "$V2" 2>/dev/null)" = "$V2" ] || { echo "$1: $V2 not in the client" >&2; exit 1; }
}
pull_static() {
    rm -rf "$W/c" && cp -a "$W/sd-client" "$W/c" && sync
    : > "$W/http.log"
    local s e
    s=$(date +%s.%N)
    ostree pull --repo="$W/c" --require-static-deltas o os >/dev/null
    e=$(date +%s.%N)
    TIMES[static]+="$(awk -v s="$s" -v e="$e" 'BEGIN {print e - s}') "
    [ "$(ostree rev-parse --repo="$W/c" o:os)" = "$V2" ] || { echo "static delta pull did not reach $V2" >&2; exit 1; }
    BYTES[static]=$(served_bytes)
}
for ((i = 0; i < RUNS; i++)); do
    pull_image full full --disable-deltas
    pull_image chunked chunked --disable-deltas
    pull_image delta full ""
    pull_static
done
for k in full chunked delta static; do
    # shellcheck disable=SC2086
    SEC[$k]=$(med ${TIMES[$k]})
done
STATIC_SIZE=$(find "$W/srv/deltas" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')

echo
echo "| update v1 -> v2                     | bytes        | wall s | bytes / static delta |"
echo "|-------------------------------------|--------------|--------|----------------------|"
BYTES[size]=$STATIC_SIZE; SEC[size]=0
for k in full chunked delta static size; do
    case $k in
        full) label="full layer (image pull)" ;;
        chunked) label="chunked image, $LAYERS layers" ;;
        delta) label="container delta (image pull)" ;;
        static) label="ostree pull, static delta" ;;
        size) label="  (ostree's static delta itself)" ;;
    esac
    printf '| %-35s | %12d | %6.2f | %20.2f |\n' "$label" "${BYTES[$k]}" "${SEC[$k]}" "$(awk -v a="${BYTES[$k]}" -v b="$STATIC_SIZE" 'BEGIN {print a / b}')"
done
echo
awk -v d="${BYTES[delta]}" -v s="$STATIC_SIZE" -v c="${BYTES[chunked]}" -v dt="${SEC[delta]}" -v st="${SEC[static]}" 'BEGIN {
    printf "container delta / ostree static delta, bytes:   %.2f (target <= 1.5)\n", d / s
    printf "container delta / ostree static delta, time:    %.2f (target <= 1.0)\n", dt / st
    printf "container delta / chunked image pull, bytes:    %.3f (target <= 0.20)\n", d / c }'
# The machine's noise: each way against itself, the slowest of its runs over the fastest.
for k in delta static; do
    # shellcheck disable=SC2086
    echo "runs of $k (s): ${TIMES[$k]}(slowest / fastest $(printf '%s\n' ${TIMES[$k]} | sort -g | awk 'NR == 1 {a = $1} {b = $1} END {printf "%.2f", b / a}'))"
done
bench_result "container delta pull: wall time" "ostree pull, static delta" "${SEC[static]} s" "${SEC[delta]} s" "$(bench_ratio "${SEC[delta]}" "${SEC[static]}")" 1.0
bench_result "container delta pull: bytes" "ostree's static delta" "$STATIC_SIZE B" "${BYTES[delta]} B" "$(bench_ratio "${BYTES[delta]}" "$STATIC_SIZE")" 1.5
