#!/usr/bin/env bash
# container rechunk against the floor and the peer, in one run on disk: rechunking a Debian root
# folder (format 2, plain layers) with zstd against `tar -c | zstd -3 -T0` of the same root (the
# floor; target <= 1.5x) and with gzip against `umoci repack` of it into an empty image; then the
# bytes a client fetches for a one-package update (the newest two versions of libssl3, or of
# another library the apt sources have twice, laid over the root with their dpkg status): the
# layers of the second build, rechunked with the first build's manifest, that the first build
# does not have (target <= 5% of the image). Whole-process wall time and peak RSS, runs alternate.
#
#   bench/rechunk.sh [--tree DIR] [--runs N]
#     --tree DIR  the root to rechunk (default: a Debian root built with bench/make-os-tree.sh)
#     --runs N    runs per step, median reported (default 3)
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
W=$(mktemp -d "${TMPDIR:-/var/tmp}/ostree-sharp-bench-rechunk.XXXXXX")
trap 'rm -rf "$W"' EXIT
OURS=$(bench_binary "$W/bin")
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    bash bench/make-os-tree.sh "$TREE" >/dev/null
fi
echo "tree: $(du -sh "$TREE" | cut -f1), $(find "$TREE" | wc -l) paths"

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
    printf '%-34s peer %7.2f s %6d MB | ours %7.2f s %6d MB | ratio %5.2f (target %s)\n' "$1" "$p" $(($(med "${prss[@]}") / 1024)) "$o" $(($(med "${orss[@]}") / 1024)) "$(echo "$o / $p" | bc -l)" "$2"
    bench_result "$1" "$PEER" "$p s" "$o s" "$(bench_ratio "$o" "$p")" "${2#<= }" $(($(med "${prss[@]}") / 1024)) $(($(med "${orss[@]}") / 1024))
}

PEER="tar | zstd -3 -T0"
step "rechunk zstd vs tar|zstd -3 -T0" "<= 1.5" \
    "rm -rf '$W/out' '$W/floor.tar.zst'" \
    "tar -C '$TREE' -cf - . | zstd -q -3 -T0 -o '$W/floor.tar.zst'" \
    "'$OURS' container rechunk --rootfs '$TREE' oci:$W/out:1 --format-version 2 --compression zstd -q"
rm -rf "$W/out" "$W/floor.tar.zst"
tar -C "$TREE" -cf - . | zstd -q -3 -T0 -o "$W/floor.tar.zst"
"$OURS" container rechunk --rootfs "$TREE" "oci:$W/out:1" --format-version 2 --compression zstd -q >/dev/null
echo "  floor $(stat -c %s "$W/floor.tar.zst") bytes; ours $(du -sb "$W/out/blobs" | cut -f1) bytes in $(ls "$W/out/blobs/sha256" | wc -l) blobs"

PEER="umoci repack"
step "rechunk gzip vs umoci repack" "-" \
    "rm -rf '$W/out' '$W/umoci' '$W/bundle' && umoci init --layout '$W/umoci' && umoci new --image '$W/umoci:base' && umoci unpack --image '$W/umoci:base' '$W/bundle' >/dev/null && cp -a '$TREE/.' '$W/bundle/rootfs/'" \
    "umoci repack --image '$W/umoci:1' '$W/bundle'" \
    "'$OURS' container rechunk --rootfs '$TREE' oci:$W/out:1 --format-version 2 -q"

# The one-package update.
PKG=""; for p in libssl3 libcurl4 libsystemd0 libgnutls30 tzdata; do
    mapfile -t V < <(apt-cache madison "$p" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u)
    if [ "${#V[@]}" -ge 2 ]; then
        mapfile -t V < <(printf '%s\n' "${V[@]}" | sort -V | tail -2)
        PKG=$p; break
    fi
done
[ -n "$PKG" ] || { echo "no package has two versions in the apt sources" >&2; exit 1; }
build() { # build NAME VERSION: the root with PKG=VERSION laid over it
    local d="$W/$1"
    cp -a "$TREE" "$d"
    (cd "$W" && apt-get download -q "$PKG=$2" >/dev/null 2>&1)
    local deb; deb=$(ls "$W"/"${PKG}"_*.deb | head -1)
    dpkg-deb -x "$deb" "$d"
    local v; v=$(dpkg-deb -f "$deb" Version)
    awk -v pkg="$PKG" -v ver="$v" 'BEGIN{RS="";ORS="\n\n"} $0 ~ "^Package: " pkg "\n" {sub(/\nVersion: [^\n]*/, "\nVersion: " ver)} {print}' "$TREE/var/lib/dpkg/status" > "$d/var/lib/dpkg/status"
    rm -f "$W"/*.deb
}
build v1 "${V[0]}"; build v2 "${V[1]}"
rm -rf "$W/up"
"$OURS" container rechunk --rootfs "$W/v1" "oci:$W/up:1" --format-version 2 -q >/dev/null
M1=$(python3 -c "import json,sys; i=json.load(open('$W/up/index.json')); print([m['digest'] for m in i['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='1'][0][7:])")
cp "$W/up/blobs/sha256/$M1" "$W/v1-manifest.json"
"$OURS" container rechunk --rootfs "$W/v2" "oci:$W/up:2" --format-version 2 --previous-build-manifest "$W/v1-manifest.json" -q >/dev/null
python3 - "$W/up" "$PKG" "${V[0]}" "${V[1]}" <<'EOF'
import json, sys
root, pkg, old, new = sys.argv[1:]
idx = json.load(open(root + "/index.json"))
def manifest(tag):
    d = [m["digest"] for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag][0]
    return json.load(open(root + "/blobs/sha256/" + d[7:]))
a, b = manifest("1"), manifest("2")
old_digests = {l["digest"] for l in a["layers"]}
total = sum(l["size"] for l in b["layers"])
changed = [l for l in b["layers"] if l["digest"] not in old_digests]
fetched = sum(l["size"] for l in changed)
print(f"one-package update ({pkg} {old} -> {new}): {len(b['layers'])} layers, {total} bytes; "
      f"{len(changed)} changed ({', '.join(l['annotations']['ostree.components'][:40] for l in changed)}), "
      f"{fetched} bytes = {100 * fetched / total:.2f}% of the image (target <= 5%)")
sizes = sorted((l["size"] for l in b["layers"]), reverse=True)
results = __import__("os").environ.get("BENCH_RESULTS")
if results:
    with open(results, "a") as f:
        f.write(f"rechunk\tone-package update: bytes fetched / image\tthe whole image\t{total / 1e6:.1f} MB\t{fetched / 1e6:.2f} MB\t{fetched / total:.3f}\t0.05\t-\t-\n")
print(f"layer sizes: largest {sizes[:5]}, median {sizes[len(sizes) // 2]}, smallest {sizes[-1]}")
EOF
