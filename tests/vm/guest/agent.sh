#!/bin/bash
# OstreeSharp VM test agent (ostree-sharp-test.service), built into the guest
# by tests/vm/build-guest.sh. Reports how the guest booted in lines starting
# with "OSTREE-SHARP-TEST " on the console (the serial port the harness logs),
# runs run.sh from the scratch disk /dev/vdb when there is one, then powers
# off. Every step has a time limit: the agent never hangs the VM.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin LC_ALL=C.UTF-8

data=/run/ostree-sharp-test/data

# Lines go to stdout (/dev/console, i.e. the last console= of the kernel
# command line) and to /dev/ttyS0 as well when that is not a console.
extra=
if [ -c /dev/ttyS0 ] && ! grep -qw ttyS0 /sys/class/tty/console/active 2>/dev/null; then
    extra=/dev/ttyS0
fi
say() {
    printf 'OSTREE-SHARP-TEST %s\n' "$*"
    if [ -n "$extra" ]; then
        timeout 2 sh -c 'printf "OSTREE-SHARP-TEST %s\n" "$1" >"$2"' sh "$*" "$extra" 2>/dev/null || true
    fi
}

finish() {
    if mountpoint -q "$data" 2>/dev/null; then
        sync
        timeout 30 umount "$data" 2>/dev/null || timeout 10 umount -l "$data" 2>/dev/null || true
    fi
    say poweroff
    sync
    if [ -e /run/ostree/staged-deployment ]; then
        # A staged deployment is finalized by ostree-finalize-staged.service
        # when it stops: shut down in order. (Through systemd's own socket:
        # plain `systemctl poweroff` asks logind over D-Bus, which this guest
        # does not run.)
        # The shutdown stops this unit too: its SIGTERM is ignored so that
        # the agent ends by itself (killed, it would count as failed, and
        # FailureAction=poweroff-force would skip the finalization).
        trap '' TERM
        systemctl start --no-block --job-mode=replace-irreversibly poweroff.target ||
            systemctl --force poweroff
    else
        # Skips stopping units, still kills processes and unmounts (or
        # remounts read-only) every file system before powering off.
        systemctl --force poweroff || systemctl --no-block poweroff
    fi
    exit 0
}
trap finish EXIT

# 1. How this boot went.
version=$(cat /usr/share/ostree-sharp-test/version 2>/dev/null || echo unknown)
deployment=
for arg in $(cat /proc/cmdline); do
    case $arg in ostree=*) ostree_arg=${arg#ostree=} ;; esac
done
if [ -n "${ostree_arg:-}" ]; then
    target=$(readlink -f "/sysroot${ostree_arg}" 2>/dev/null || true)
    [ -d "$target" ] && deployment=${target##*/}
fi
if [ -z "$deployment" ]; then
    # No ostree= argument, or no such link: ask ostree for the booted one.
    deployment=$(timeout 60 ostree admin status 2>/dev/null | awk '$1 == "*" { print $3; exit }')
fi
say "booted version=$version deployment=${deployment:-unknown}"
if [ -e /run/ostree-booted ]; then say ostree-booted=yes; else say ostree-booted=no; fi
opts=$(timeout 10 findmnt -n -o OPTIONS /sysroot 2>/dev/null | head -n1)
case ",$opts," in
    *,ro,*) say sysroot-readonly=yes ;;
    *) say sysroot-readonly=no ;;
esac
probe=/etc/.ostree-sharp-test.$$
if (: >"$probe") 2>/dev/null && rm -f "$probe"; then say etc-writable=yes; else say etc-writable=no; fi
say "root-mount=$(timeout 10 findmnt -n -o FSTYPE,SOURCE / 2>/dev/null | head -n1 | tr -s ' ')"
# composefs: / is an overlay whose lower layer is the deployment's .ostree.cfs (an
# EROFS image, loop-mounted) over the repository's objects.
say "root-options=$(timeout 10 findmnt -n -o OPTIONS / 2>/dev/null | head -n1 | tr ',' '\n' | grep -E '^(lowerdir|datadir|metacopy|verity|redirect_dir)' | sed 's/=.*//' | sort | tr '\n' ' ')"
say "erofs-mounts=$(grep -c ' erofs ' /proc/self/mountinfo 2>/dev/null)"
# What ostree-prepare-root recorded (the keys of the a{sv} in /run/ostree-booted: composefs, composefs.verity,
# composefs.signed...) and logged about composefs (signature and digest checks).
say "booted-meta=$(grep -aoE 'composefs(\.[a-z]+)?|backing-root-device-inode' /run/ostree-booted 2>/dev/null | sort -u | tr '\n' ' ')"
timeout 20 journalctl -b -o cat --no-pager 2>/dev/null | grep -E '^composefs[:+]' | while IFS= read -r line; do say "prepare-root: $line"; done
say status-begin
rc=0
timeout 60 ostree admin status 2>&1 || rc=$?
say status-end
say "status-exit=$rc"

# 2. The scratch disk and its run.sh.
# virtio_blk is loaded in the initramfs, which probes every virtio disk at
# once: /sys/block/vdb exists by now if the VM has a second disk.
if [ -e /sys/block/vdb ]; then
    for _ in $(seq 50); do [ -b /dev/vdb ] && break; sleep 0.1; done
fi
if [ -b /dev/vdb ]; then
    mkdir -p "$data"
    if timeout 60 mount -t ext4 -o rw /dev/vdb "$data"; then
        say data-mounted=/dev/vdb
        if [ -f "$data/run.sh" ]; then
            # The agent starts as soon as the file systems are there; run.sh
            # gets all of sysinit.target (udevd, sysctl...) and settled devices.
            timeout 120 systemctl start sysinit.target 2>/dev/null || true
            timeout 60 udevadm settle 2>/dev/null || true
            limit=$(cat "$data/timeout" 2>/dev/null || true)
            case $limit in '' | *[!0-9]*) limit=1800 ;; esac
            rc=0
            # (OSTREE_SHARP_TRACE: a stack trace with any unexpected error of ostree-sharp, for the serial log.)
            (cd "$data" && OSTREE_SHARP_TEST_DATA=$data OSTREE_SHARP_TRACE=1 timeout -k 10 "$limit" bash run.sh) </dev/null 2>&1 || rc=$?
            say "run-exit=$rc"
        fi
    else
        say data-mounted=failed
    fi
fi
# 3. finish (the EXIT trap) unmounts and powers off.
