#!/usr/bin/env bash
# Runs libostree's own shell test suite (Debian's ostree-tests, 2022.7) twice: with the real ostree as `ostree`, then
# with ostree-sharp in its place (a folder at the front of PATH whose `ostree` is our binary). One line per test file,
# then a summary line with the counts for both.
#
#   tests/ostree-suite/run.sh [--jobs N] [--only REGEX] [--keep DIR] [--report-only]
#
# --keep DIR keeps the logs (DIR/real/FILE.log, DIR/ours/FILE.log); --report-only prints the report of a kept DIR again.
#
# OSTREE_SHARP_BIN names our binary (default artifacts/bin/ostree-sharp). Exit status 1 when a file that passes with the
# real ostree fails with ours (or prints fewer "ok" lines) and is not listed in tests/ostree-suite/known-gaps.txt; a
# listed file that passes is named so that it leaves the list. The suite itself comes from the package; nothing of it
# is copied into the repository.
# Every test runs in a private mount namespace on its own tmpfs, so an `admin deploy` that freezes the file system
# holding /boot freezes nothing of this machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=2 only= keep= report_only=
while [ $# -gt 0 ]; do
    case $1 in
        --jobs) jobs=$2; shift 2;;
        --only) only=$2; shift 2;;
        --keep) keep=$2; shift 2;;
        --report-only) report_only=1; shift;;
        *) echo "tests/ostree-suite/run.sh: unknown argument '$1'" >&2; exit 2;;
    esac
done
suite=/usr/libexec/installed-tests/libostree
if [ ! -d "$suite" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q ostree-tests >/dev/null
fi
ours=${OSTREE_SHARP_BIN:-$root/artifacts/bin/ostree-sharp}
[ -x "$ours" ] || { echo "tests/ostree-suite/run.sh: no ostree-sharp binary at $ours (set OSTREE_SHARP_BIN)" >&2; exit 2; }
work=${keep:-$(mktemp -d /var/tmp/ostree-suite.XXXXXX)}
mkdir -p "$work/bin-ours"
ln -sf "$ours" "$work/bin-ours/ostree"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT

# The shell tests, in name order (ls sorts by the C locale here, not by the machine's).
mapfile -t tests < <(cd "$suite" && LC_ALL=C ls -1 test-*.sh | grep -E "${only:-.}")

# run_one MODE TEST: runs one file, writes MODE/TEST.log and MODE/TEST.result ("pass N" or "fail N", N = ok lines).
run_one() {
    local mode=$1 t=$2 dir=$work/$1 path=$PATH
    [ "$mode" = ours ] && path=$work/bin-ours:$PATH
    mkdir -p "$dir"
    local rc=0
    # The suite is libostree 2022.7's: it expects boot entries named ostree-N-STATEROOT.conf, which libostree 2024.5
    # and later (and we) write only with OSTREE_SYSROOT_OPTS=bootloader-naming-1; 2022.7 ignores the key.
    # A fresh tmpfs as the test's working folder, in mount and process namespaces of their own (the daemons a test
    # starts, ostree-trivial-httpd and gpg-agent, end with it); 15 minutes at most per file.
    timeout -k 10 900 unshare -m -p -f --propagation private bash -c '
        set -e
        mkdir -p "$1"
        mount -t tmpfs -o size=4g tmpfs "$1"
        cd "$1"
        exec env -u OSTREE_SHARP_BIN PATH="$2" LC_ALL=C.UTF-8 TZ=UTC OSTREE_SYSROOT_OPTS=bootloader-naming-1 G_TEST_SRCDIR="$3" G_TEST_BUILDDIR="$3" "$3/$4"
    ' run "$dir/$t.tmp" "$path" "$suite" "$t" >"$dir/$t.log" 2>&1 </dev/null || rc=$?
    rmdir "$dir/$t.tmp" 2>/dev/null || true
    local oks
    oks=$(grep -cE '^ok ' "$dir/$t.log" || true)
    if [ $rc -eq 0 ]; then echo "pass $oks" >"$dir/$t.result"; else echo "fail $oks rc=$rc" >"$dir/$t.result"; fi
}
export -f run_one
export work suite

if [ -z "$report_only" ]; then
    for mode in real ours; do
        printf '%s\n' "${tests[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$0" "$1"' "$mode" {}
    done
fi

# Known gaps: "FILE  reason" lines; # starts a comment.
declare -A gap=()
while IFS= read -r line; do
    line=${line%%#*}
    [ -n "${line// /}" ] || continue
    name=${line%% *} reason=${line#"$name"}
    [ -n "${reason// /}" ] || { echo "tests/ostree-suite/known-gaps.txt: $name has no reason" >&2; exit 2; }
    [ -e "$suite/$name" ] || { echo "tests/ostree-suite/known-gaps.txt: no test file $name in $suite" >&2; exit 2; }
    gap[$name]=1
done <"$here/known-gaps.txt"

real_files=0 ours_files=0 real_oks=0 ours_oks=0 bad=0
for t in "${tests[@]}"; do
    read -r rv rn _ <"$work/real/$t.result"
    read -r ov on _ <"$work/ours/$t.result"
    [ "$rv" = pass ] || continue # only files that pass with the real ostree count
    real_files=$((real_files + 1)); real_oks=$((real_oks + rn)); ours_oks=$((ours_oks + on))
    verdict=
    # A file that skipped itself under the real ostree ("1..0 #SKIP") while ours ran it is no regression: some
    # files test a feature with `ostree --version | grep -q` under pipefail, and grep closing the pipe early can kill
    # ostree with SIGPIPE, so they skip at random.
    if [ "$rn" = 0 ] && [ "$on" != 0 ] && [ "$ov" = pass ] && grep -q '^1\.\.0' "$work/real/$t.log"; then
        ours_files=$((ours_files + 1)); ours_oks=$((ours_oks - on))
        printf '%-48s real %-4s %3s ok   ours %-4s %3s ok   %s\n' "$t" "$rv" "$rn" "$ov" "$on" "same (ostree skipped it this time)"
        continue
    fi
    if [ "$ov" = pass ] && [ "$on" = "$rn" ]; then
        ours_files=$((ours_files + 1))
        if [ -n "${gap[$t]:-}" ]; then verdict="passes now: remove it from known-gaps.txt"; else verdict=same; fi
    elif [ -n "${gap[$t]:-}" ]; then
        verdict="known gap"
    else
        verdict="REGRESSION"; bad=1
    fi
    printf '%-48s real %-4s %3s ok   ours %-4s %3s ok   %s\n' "$t" "$rv" "$rn" "$ov" "$on" "$verdict"
    if [ "$verdict" = REGRESSION ]; then
        grep -vE '^(gpg-connect-agent|OK closing connection)' "$work/ours/$t.log" | tail -4 | cut -c1-300 | sed 's/^/    | /'
    fi
done
echo "ostree-tests: $real_files files pass with ostree ($real_oks ok), $ours_files with ostree-sharp ($ours_oks ok)"
exit $bad
