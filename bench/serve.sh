#!/usr/bin/env bash
# Our server against `python3 -m http.server` under the real `ostree pull`, in one run: the same
# archive repository (the default synthetic tree) served by both, pulled into a fresh bare-user
# repository each time. Wall time of the pull is the server's throughput as a client sees it.
#
#   bench/serve.sh [--size-mb MB] [--tree DIR] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=""; SIZE=""; RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) TREE=$2; shift 2 ;;
        --size-mb) SIZE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bash scripts/install-peers.sh
W=$(mktemp -d "${TMPDIR:-/tmp}/ostree-sharp-bench-serve.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$W/bin" -v quiet -nologo >/dev/null
OURS="$W/bin/ostree-sharp"
if [ -z "$TREE" ]; then
    TREE="$W/tree"
    python3 bench/make-synthetic-tree.py ${SIZE:+--size-mb "$SIZE"} "$TREE" >/dev/null 2>&1
fi
ostree init --repo="$W/repo" --mode=archive
ostree commit --repo="$W/repo" -b os --timestamp=2024-01-01 --owner-uid=0 --owner-gid=0 --tree=dir="$TREE" >/dev/null
echo "tree: $(du -sh "$TREE" | cut -f1), $(find "$W/repo/objects" -type f | wc -l) objects"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port)
"$OURS" serve --repo="$W/repo" --port="$P1" --quiet > "$W/serve.log" 2>&1 &
PIDS+=($!)
P2=$(free_port)
(cd "$W/repo" && exec python3 -m http.server --bind 127.0.0.1 "$P2" >/dev/null 2>&1) &
PIDS+=($!)
sleep 1

med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pull_from() { # pull_from PORT PATH -> wall seconds
    rm -rf "$W/dest"
    ostree init --repo="$W/dest" --mode=bare-user
    ostree remote add --repo="$W/dest" --no-gpg-verify o "http://127.0.0.1:$1$2"
    sync
    /usr/bin/time -f "%e" -o "$W/time" ostree pull --repo="$W/dest" o os >/dev/null
    cat "$W/time"
}
peer=(); ours=()
for ((i = 0; i < RUNS; i++)); do
    if ((i % 2 == 0)); then peer+=("$(pull_from "$P2" /)"); ours+=("$(pull_from "$P1" /repo/)"); else ours+=("$(pull_from "$P1" /repo/)"); peer+=("$(pull_from "$P2" /)"); fi
done
p=$(med "${peer[@]}"); o=$(med "${ours[@]}")
echo "| ostree pull from | python3 -m http.server s | ours s | ratio (target <= 1.0) |"
echo "|---|---|---|---|"
printf '| the synthetic repository | %7.2f | %7.2f | %6.2fx |\n' "$p" "$o" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')"
