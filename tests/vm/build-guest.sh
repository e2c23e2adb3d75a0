#!/usr/bin/env bash
# Builds (once, cached) the root folder of the VM boot tests' guest OS: Debian
# forky (testing) laid out as a bootable ostree/bootc image, ready for
# `ostree-sharp commit --bootable` (or `ostree commit`) and deploy.
#
# Usage (as root to build; on Debian 12 or later):  tests/vm/build-guest.sh CACHE_DIR
# Writes CACHE_DIR/rootfs/ (the image root) and CACHE_DIR/kver (its kernel
# version); nothing is done when CACHE_DIR/stamp holds the hash of this script
# and of tests/vm/guest/* (plus $PREPARE_ROOT_CONF, when set).
#
# Environment:
#   PREPARE_ROOT_CONF  file to install as /usr/lib/ostree/prepare-root.conf
#                      (default tests/vm/guest/prepare-root.conf: composefs
#                      on, as in bootc's base images; read-only sysroot). ostree-prepare-root reads the
#                      copy in the initramfs, so it is built into it too.
#   GUEST_MIRROR       Debian archive to use (default: the one apt uses here).
#
# The image:
#   - kernel and initramfs in /usr/lib/modules/$KVER/{vmlinuz,initramfs.img},
#     empty /boot; initramfs by dracut: systemd + ostree-prepare-root, virtio,
#     ext4, uncompressed (fastest under QEMU TCG);
#   - /etc moved to /usr/etc; /var empty; home, root, srv, mnt, opt, media
#     symlinks into /var and /run (created at boot by
#     /usr/lib/tmpfiles.d/ostree-sharp-guest.conf); /sysroot, /ostree -> sysroot/ostree;
#   - ostree-sharp-test.service (/usr/libexec/ostree-sharp-test/agent.sh)
#     reports the boot in "OSTREE-SHARP-TEST ..." console lines, runs run.sh
#     of the scratch disk /dev/vdb if any, and powers off;
#   - /usr/share/ostree-sharp-test/version holds "v1";
#   - a failed boot (emergency.target, initramfs or system) prints the end of
#     the journal and powers off instead of waiting for a login.
#
# Kernel arguments for a fast boot under QEMU TCG, besides the entry's own:
#   norandmaps      no ASLR from PID 1 on: TCG before QEMU 8.0 keys translated
#                   code by virtual address, so randomized mappings make every
#                   exec translate ld.so and the libraries anew (2x faster boot;
#                   the guest's sysctl.d sets the same after its first seconds)
#   mitigations=off no retpolines, RSB filling... (emulated, they cost)
#   tsc=reliable    no clocksource watchdog (TCG's TSC is the host clock); the
#                   watchdog otherwise moves long runs to the slow HPET
#   systemd.show_status=error   fewer console writes (failures still shown)
#   systemd.tty.term.console=vt220 systemd.tty.rows.console=24
#   systemd.tty.columns.console=80   systemd does not query the serial
#                   "terminal" (which never answers) for its name and size
#   ostree.prepare-root.composefs=0|1   overrides prepare-root.conf of the initramfs
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest=$here/guest
cache=${1:?usage: build-guest.sh CACHE_DIR}
prepare_root_conf=${PREPARE_ROOT_CONF:-$guest/prepare-root.conf}
suite=forky
packages=(systemd systemd-sysv udev dracut dracut-core ostree ostree-boot
    e2fsprogs util-linux mount kmod fsverity)
kernels=(linux-image-cloud-amd64 linux-image-amd64)

say() { echo "build-guest.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[ -f "$prepare_root_conf" ] || die "no such file: $prepare_root_conf"
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The stamp: this script, the guest files (names and contents), prepare-root.conf.
stamp=$(
    cd "$here"
    {
        sha256sum build-guest.sh
        find guest -type f | LC_ALL=C sort | xargs -d '\n' sha256sum
        echo "prepare-root.conf $(sha256sum <"$prepare_root_conf")"
    } | sha256sum | cut -d' ' -f1
)
if [ -d "$cache/rootfs" ] && [ -f "$cache/kver" ] && [ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ]; then
    say "up to date: $cache/rootfs (kernel $(cat "$cache/kver"))"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
# One build at a time per cache; a second caller waits, then finds it done.
exec 9>"$cache/.lock"
flock 9
if [ -d "$cache/rootfs" ] && [ -f "$cache/kver" ] && [ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ]; then
    say "up to date: $cache/rootfs (kernel $(cat "$cache/kver"))"
    exit 0
fi

# Host tools.
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mke2fs >/dev/null || need+=(e2fsprogs)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v unshare >/dev/null || need+=(util-linux)
command -v sha256sum >/dev/null || need+=(coreutils)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# debootstrap knows forky through the sid script (every new suite uses it).
script=/usr/share/debootstrap/scripts/sid
[ -f "$script" ] || die "debootstrap has no $script"

# The Debian archive this machine's apt uses (forky lives in the same archive).
mirror=${GUEST_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 2>/dev/null |
        grep -v -- '-security' | grep -i debian | head -n1 || true)
    [ -n "$mirror" ] || mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 2>/dev/null |
        grep -v -- '-security' | head -n1 || true)
fi
mirror=${mirror%/}
[ -n "$mirror" ] || die "no Debian archive configured for apt (set GUEST_MIRROR)"

work=$cache/rootfs.partial
base=$cache/debootstrap        # the plain debootstrap result, reused while
base_key=$(echo "$suite ${packages[*]} ${kernels[*]}" | sha256sum | cut -c1-16)  # the package list stays
log=$cache/debootstrap.log
dracut_log=$cache/dracut.log
rm -rf "$work" "$cache/rootfs.old"
start=$SECONDS

# Everything that mounts runs in a private mount namespace: whatever happens,
# no mount outlives it (nothing to clean up on this machine).
in_ns() { unshare --mount --propagation private -- "$@"; }

# 1. debootstrap (kept in CACHE_DIR/debootstrap: changes to the guest files
# rebuild in seconds; delete CACHE_DIR to take newer forky packages).
# INITRD=No: the kernel's postinst does not run dracut (the initramfs is built
# below, with the guest's configuration).
bootstrap() { # KERNEL_PACKAGE
    local include
    include=$(IFS=,; echo "$1,${packages[*]}")
    say "debootstrap $suite ($1) from $mirror, log: $log"
    rm -rf "$base.partial" && mkdir -p "$base.partial"
    INITRD=No in_ns debootstrap --variant=minbase --include="$include" \
        "$suite" "$base.partial" "$mirror" "$script" >"$log" 2>&1
}
if [ ! -d "$base" ] || [ "$(cat "$base.key" 2>/dev/null)" != "$base_key" ]; then
    rm -rf "$base" "$base.key"
    ok=
    for kernel in "${kernels[@]}"; do
        if bootstrap "$kernel"; then ok=1; break; fi
        say "debootstrap with $kernel failed, see $log"
        cp "$log" "$log.$kernel"
    done
    [ -n "$ok" ] || die "debootstrap failed, see $log"
    rm -rf "$base.partial"/var/cache/apt/archives/*.deb "$base.partial"/var/cache/apt/*.bin
    mv "$base.partial" "$base"
    echo "$base_key" >"$base.key"
    say "debootstrap done in $((SECONDS - start)) s"
fi
cp -a "$base" "$work"

mods=("$work"/usr/lib/modules/*)
[ ${#mods[@]} = 1 ] && [ -d "${mods[0]}" ] || die "expected one kernel in $work/usr/lib/modules, found: ${mods[*]}"
kver=${mods[0]##*/}
moddir=$work/usr/lib/modules/$kver
if [ ! -f "$moddir/vmlinuz" ]; then
    cp "$work/boot/vmlinuz-$kver" "$moddir/vmlinuz"
fi

# 2. The guest's own files.
install -D -m 0755 "$guest/agent.sh" "$work/usr/libexec/ostree-sharp-test/agent.sh"
install -D -m 0644 "$guest/ostree-sharp-test.service" "$work/usr/lib/systemd/system/ostree-sharp-test.service"
install -D -m 0644 "$guest/tmpfiles.conf" "$work/usr/lib/tmpfiles.d/ostree-sharp-guest.conf"
install -D -m 0644 "$guest/system.preset" "$work/usr/lib/systemd/system-preset/01-ostree-sharp-test.preset"
install -D -m 0644 "$guest/journald.conf" "$work/usr/lib/systemd/journald.conf.d/ostree-sharp-test.conf"
install -D -m 0644 "$guest/system.conf" "$work/usr/lib/systemd/system.conf.d/ostree-sharp-test.conf"
install -D -m 0644 "$guest/modules-load.conf" "$work/usr/lib/modules-load.d/ostree-sharp-test.conf"
install -D -m 0644 "$guest/sysctl.conf" "$work/usr/lib/sysctl.d/50-ostree-sharp-test.conf"
install -D -m 0644 "$guest/modprobe.conf" "$work/usr/lib/modprobe.d/ostree-sharp-test.conf"
install -D -m 0644 "$guest/udev-drivers.rules" "$work/etc/udev/rules.d/80-drivers.rules"
install -D -m 0644 "$guest/dracut.conf" "$work/etc/dracut.conf.d/90-ostree-sharp-test.conf"
install -D -m 0755 "$guest/dracut/module-setup.sh" "$work/usr/lib/dracut/modules.d/99ostree-sharp-test/module-setup.sh"
install -D -m 0644 "$guest/emergency.service" "$work/usr/lib/systemd/system/emergency.service"
install -D -m 0644 "$prepare_root_conf" "$work/usr/lib/ostree/prepare-root.conf"
install -D -m 0644 /dev/null "$work/usr/share/ostree-sharp-test/version"
echo v1 >"$work/usr/share/ostree-sharp-test/version"

# Units: the agent on, everything a test VM does not need off (each costs
# seconds under TCG). Masks survive the first boot's preset-all.
mkdir -p "$work/etc/systemd/system/multi-user.target.wants"
ln -sfn /usr/lib/systemd/system/ostree-sharp-test.service \
    "$work/etc/systemd/system/multi-user.target.wants/ostree-sharp-test.service"
rm -f "$work"/etc/systemd/system/timers.target.wants/* \
    "$work"/etc/systemd/system/getty.target.wants/* \
    "$work/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service" \
    "$work/etc/systemd/system/sysinit.target.wants/systemd-pstore.service"
masked=(
    getty@.service serial-getty@.service console-getty.service container-getty@.service
    systemd-firstboot.service systemd-hwdb-update.service ldconfig.service
    systemd-update-done.service systemd-journal-catalog-update.service
    systemd-random-seed.service systemd-pstore.service systemd-binfmt.service
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
    dev-hugepages.mount dev-mqueue.mount
    systemd-logind.service systemd-user-sessions.service systemd-ask-password-wall.path
    systemd-networkd.service systemd-networkd.socket systemd-network-generator.service
    systemd-networkd-wait-online.service systemd-timesyncd.service systemd-resolved.service
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
    e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer
    dracut-shutdown.service systemd-hibernate-clear.service getty-static.service
    systemd-logind-varlink.socket systemd-udev-load-credentials.service
    systemd-journal-flush.service systemd-sysusers.service systemd-remount-fs.service
    systemd-creds.socket systemd-factory-reset.socket systemd-hostnamed.socket
    systemd-mute-console.socket systemd-sysext.socket systemd-sysinstall.socket
)
for unit in "${masked[@]}"; do
    ln -sfn /dev/null "$work/etc/systemd/system/$unit"
done
# Generators that have nothing to do in the test VM (each is a process).
mkdir -p "$work/etc/systemd/system-generators"
for gen in systemd-getty-generator systemd-gpt-auto-generator systemd-ssh-generator \
    systemd-hibernate-resume-generator systemd-factory-reset-generator \
    systemd-system-update-generator systemd-run-generator; do
    ln -sfn /dev/null "$work/etc/systemd/system-generators/$gen"
done

# systemd's tmpfiles for /home, /srv and /root would warn at every boot that
# they are symlinks: ostree-sharp-guest.conf creates their /var targets instead.
tmpd=$work/usr/lib/tmpfiles.d
if [ -f "$tmpd/home.conf" ]; then
    sed -i -E '/^[^#[:space:]]+[[:space:]]+\/(home|srv)[[:space:]]/d' "$tmpd/home.conf"
fi
if [ -f "$tmpd/provision.conf" ]; then
    sed -i -E -e '/^[^#[:space:]]+[[:space:]]+\/root[[:space:]]/d' \
        -e 's#^([^#[:space:]]+[[:space:]]+)/root/#\1/var/roothome/#' "$tmpd/provision.conf"
fi

# Identity: no host name, machine-id or resolv.conf of this machine; the
# machine-id is made at first boot. Root stays locked.
echo ostree-sharp-guest >"$work/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tostree-sharp-guest\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$work/etc/hosts"
: >"$work/etc/machine-id"
rm -f "$work/var/lib/dbus/machine-id" "$work/etc/resolv.conf"
: >"$work/etc/fstab"

# 3. The initramfs: dracut inside the root, with /proc, /sys, /dev in a
# private mount namespace that ends with it.
say "dracut ($kver)"
in_ns sh -c '
    set -e
    root=$1 kver=$2
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    mount -t tmpfs tmpfs "$root/run"
    chroot "$root" depmod -a "$kver"
    chroot "$root" dracut --force --no-hostonly --kver "$kver" \
        "/usr/lib/modules/$kver/initramfs.img"
' sh "$work" "$kver" >"$dracut_log" 2>&1 || die "dracut failed, see $dracut_log"
[ -s "$moddir/initramfs.img" ] || die "dracut wrote no $moddir/initramfs.img, see $dracut_log"
chmod 0644 "$moddir/initramfs.img"  # dracut's 0600: it holds no secret here

# 4. Trim: package caches, documentation, locales, apt state.
rm -rf "$work"/var/cache/* "$work"/var/log/* "$work"/var/lib/apt/lists/* \
    "$work"/var/tmp/* "$work"/tmp/* "$work"/run/* \
    "$work"/usr/share/doc/* "$work"/usr/share/man/* "$work"/usr/share/info/* \
    "$work"/usr/share/lintian "$work"/usr/share/locale/*
mkdir -p "$work/usr/lib/sysimage"
mv "$work/var/lib/dpkg" "$work/usr/lib/sysimage/dpkg"

# 5. The layout of a bootc image.
rm -rf "${work:?}"/boot && mkdir -m 0755 "$work/boot"
rm -f "$work"/vmlinuz "$work"/vmlinuz.old "$work"/initrd.img "$work"/initrd.img.old
[ ! -e "$work/usr/etc" ] || die "$work/usr/etc exists already"
mv "$work/etc" "$work/usr/etc"
rm -rf "${work:?}"/var && mkdir -m 0755 "$work/var"
for d in home root srv mnt opt media sysroot ostree; do
    rm -rf "${work:?}/$d"
done
ln -s var/home "$work/home"
ln -s var/roothome "$work/root"
ln -s var/srv "$work/srv"
ln -s var/mnt "$work/mnt"
ln -s var/opt "$work/opt"
ln -s run/media "$work/media"
mkdir -m 0755 "$work/sysroot"
ln -s sysroot/ostree "$work/ostree"
for d in tmp run proc sys dev; do
    rm -rf "${work:?}/$d"
done
mkdir -m 1777 "$work/tmp"
mkdir -m 0755 "$work/run" "$work/proc" "$work/sys" "$work/dev"

# 6. Into place.
echo "$kver" >"$cache/kver.partial"
if [ -d "$cache/rootfs" ]; then mv "$cache/rootfs" "$cache/rootfs.old"; fi
mv "$work" "$cache/rootfs"
mv "$cache/kver.partial" "$cache/kver"
rm -rf "$cache/rootfs.old"
echo "$stamp" >"$cache/stamp"
say "built $cache/rootfs in $((SECONDS - start)) s: kernel $kver, $(du -sh "$cache/rootfs" | cut -f1)," \
    "initramfs $(du -h "$cache/rootfs/usr/lib/modules/$kver/initramfs.img" | cut -f1)"
