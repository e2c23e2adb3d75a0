#!/usr/bin/env bash
# Installs the peer tools the interop tests and benchmarks compare against (Debian 12, as root):
#   ostree            the real ostree CLI (libostree 2022.7)
#   skopeo, umoci     the container tools our images must interoperate with
#   docker-registry   Docker distribution 2.8, the registry the tests start on 127.0.0.1
#   apache2-utils     htpasswd -B for the registry's basic auth
#   gnupg             OpenPGP signing tests; attr, libarchive-tools, tar, gzip, zstd: tree and tar checks
#   cpio              GNU cpio: the cpio archives `commit --tree=tar=` reads (and libostree's test-libarchive.sh)
#   python3, time, procps, curl, ca-certificates: benchmarks and harness
#   clang, zlib1g-dev the native (AOT) build of the ostree-sharp command
#   debootstrap       the Debian roots of bench/make-os-tree.sh (the SELinux tests build one with a policy)
#   selinux-utils     matchpathcon, the reference the SELinux labeler is compared against
#   chromium          a real browser (headless) for the page `serve` shows at /
#   fdisk, dosfstools, mtools, e2fsprogs  what `install to-disk` runs (sfdisk, mkfs.fat, mkfs.ext4 -d) and the
#                     tests read disks with (debugfs, e2fsck, mlabel)
#   fsverity          `fsverity measure`: the tests check that objects and composefs images got fs-verity
#   openssl           an ed25519 verifier of our own (Debian builds ostree without ed25519 support)
#   qemu-system-x86   the VM boot tests (TCG), with the guest built by tests/vm/build-guest.sh (debootstrap)
#   ostree-tests      libostree's own shell test suite, run against ostree and ostree-sharp (tests/ostree-suite)
#   rpm               rpmbuild and rpm --root: the rpm databases (rpmdb.sqlite) `container rechunk` reads
#   unzip             scripts/package-check.sh reads what each NuGet package holds
#   zsh, fish, groff-base  the shells `completion` writes for, and groff, which checks the pages `man` writes
# Does nothing when everything is already installed. Never lets a package start a service
# (docker-registry ships one that would listen on :5000).
set -euo pipefail
want=(ostree skopeo umoci docker-registry apache2-utils curl ca-certificates tar gzip zstd python3 time procps attr libarchive-tools cpio gnupg clang zlib1g-dev debootstrap selinux-utils chromium fdisk dosfstools mtools e2fsprogs fsverity openssl qemu-system-x86 ostree-tests rpm unzip zsh fish groff-base)
missing=()
for p in "${want[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-peers.sh: need root to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
restore_policy() { if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi; }
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' > "$policy"
chmod 755 "$policy"
apt-get update -qq
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
# A registry service started anyway (no policy-rc.d support) must not hold :5000 during tests.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
fi
echo "install-peers.sh: installed ${missing[*]}" >&2
