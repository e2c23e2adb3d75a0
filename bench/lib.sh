# Shared by the comparison scripts of bench/ (sourced, from the repository root).

# bench_binary DIR: prints the path of the native (AOT) binary to time. bench/all.sh publishes it once and names it
# in OSTREE_SHARP_BENCH_BIN; a script run on its own publishes it into DIR.
bench_binary() {
    if [ -n "${OSTREE_SHARP_BENCH_BIN:-}" ]; then
        [ -x "$OSTREE_SHARP_BENCH_BIN" ] || { echo "OSTREE_SHARP_BENCH_BIN=$OSTREE_SHARP_BENCH_BIN is not an executable" >&2; return 1; }
        echo "$OSTREE_SHARP_BENCH_BIN"
        return
    fi
    dotnet publish src/OstreeSharp.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$1" -v quiet -nologo >/dev/null
    echo "$1/ostree-sharp"
}

# bench_result STEP PEER PEER_VALUE OURS_VALUE RATIO TARGET [PEER_MB OURS_MB]: one row of bench/all.sh's table, written
# to the file BENCH_RESULTS names (nothing when it is unset). Values carry their unit ("1.23 s", "2.9 MB"); RATIO is
# ours / peer as a plain number; TARGET is the largest ratio the issue accepts, or "-" when none is set.
bench_result() {
    [ -n "${BENCH_RESULTS:-}" ] || return 0
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$0" .sh)" "$1" "$2" "$3" "$4" "$5" "$6" "${7:--}" "${8:--}" >> "$BENCH_RESULTS"
}

# bench_ratio A B: A / B with two decimals (0 when B is 0).
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# med VALUES...: the median (of an even count, the lower middle value).
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
