#!/usr/bin/env bash
# Rebuilds the seed corpus in fuzz/corpus: real objects, summaries and static deltas written by the real ostree,
# signatures by gpg, framed seeds built by the harness (--make-seeds), and hand-written text inputs. Run once; the
# result is kept in the repository. Needs ostree, gpg and rpm (rpmbuild).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=fuzz/corpus
rm -rf "$corpus"
work=$(mktemp -d /tmp/ostree-sharp-corpus.XXXXXX)
trap 'rm -rf "$work"' EXIT
seed() { mkdir -p "$corpus/$1"; cat > "$corpus/$1/$2"; }
prefixed() { { printf "$(printf '\\%03o' "$2")"; cat "$3"; } | seed "$1" "$4"; }

# A repository with two commits of a small tree, a summary, signatures and static deltas.
repo=$work/repo
ostree init --repo="$repo" --mode=archive
mkdir -p "$work/tree/usr/bin" "$work/tree/etc" "$work/tree/usr/lib"
echo hello > "$work/tree/usr/bin/hello"; chmod 755 "$work/tree/usr/bin/hello"
echo 'name=x' > "$work/tree/etc/config"
ln -s ../bin/hello "$work/tree/usr/lib/link"
ostree commit --repo="$repo" -b os --tree=dir="$work/tree" --add-metadata-string=version=1 --timestamp=2026-01-01T00:00:00Z -s one
echo world >> "$work/tree/usr/bin/hello"
head -c 3000 /usr/bin/ostree > "$work/tree/usr/lib/blob"
ostree commit --repo="$repo" -b os --tree=dir="$work/tree" --add-metadata-string=version=2 --timestamp=2026-01-02T00:00:00Z -s two
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Fuzz <fuzz@example.com>' ed25519 sign never 2>/dev/null
key=$(gpg --batch --list-keys --with-colons | awk -F: '$1 == "fpr" {print $10; exit}')
ostree gpg-sign --repo="$repo" --gpg-homedir="$GNUPGHOME" os "$key"
ostree static-delta generate --repo="$repo" os
ostree static-delta generate --repo="$repo" --empty --inline os
ostree static-delta generate --repo="$repo" --empty os^
ostree summary --repo="$repo" -u

n=0
for f in "$repo"/objects/*/*.commit; do prefixed objects 0 "$f" "commit-$n"; prefixed gvariant 4 "$f" "commit-$n"; n=$((n+1)); done
n=0
for f in "$repo"/objects/*/*.dirtree; do prefixed objects 1 "$f" "dirtree-$n"; prefixed gvariant 5 "$f" "dirtree-$n"; n=$((n+1)); done
n=0
for f in "$repo"/objects/*/*.dirmeta; do prefixed objects 2 "$f" "dirmeta-$n"; prefixed gvariant 6 "$f" "dirmeta-$n"; n=$((n+1)); done
n=0
for f in "$repo"/objects/*/*.commitmeta; do prefixed gvariant 1 "$f" "commitmeta-$n"; n=$((n+1)); done
seed summary summary < "$repo/summary"
prefixed gvariant 7 "$repo/summary" summary
n=0
for f in $(find "$repo/deltas" -name superblock | sort); do seed delta-superblock "superblock-$n" < "$f"; prefixed gvariant 8 "$f" "superblock-$n"; n=$((n+1)); done
n=0
for f in $(find "$repo/deltas" -name 0 | sort); do head -c 100000 "$f" | seed xz "part-$n.xz" 2>/dev/null || true; n=$((n+1)); done
for f in "$corpus"/xz/*; do tail -c +2 "$f" > "$f.tmp"; mv "$f.tmp" "$f"; done
printf 'ostree fuzz seed\n' | xz -9 | seed xz text.xz
# OpenPGP: the signature (selector 1) and the public key, binary and armored (selector 0).
gpg --batch --detach-sign --output "$work/sig" "$repo/summary"
prefixed openpgp 1 "$work/sig" signature
gpg --batch --export "$key" > "$work/pub"
prefixed openpgp 0 "$work/pub" key
gpg --batch --export --armor "$key" > "$work/pub.asc"
prefixed openpgp 0 "$work/pub.asc" key-armored
dotnet run --project fuzz/OstreeSharp.Fuzz -c Release -- --make-seeds "$corpus" "$repo/deltas"

# Tar streams: ustar, PAX, GNU long names, hard links, symlinks, devices.
mkdir -p "$work/t/a-very-long-directory-name-that-goes-on-and-on-beyond-one-hundred-characters-in-total-length/x"
echo data > "$work/t/file"; ln "$work/t/file" "$work/t/hard"; ln -s file "$work/t/sym"; mkfifo "$work/t/fifo"
tar --format=ustar -C "$work/t" -cf - file hard sym fifo | seed tar ustar
tar --format=pax -C "$work/t" -cf - . | seed tar pax
tar --format=gnu -C "$work/t" -cf - . | seed tar gnu

# OCI JSON (selector byte: 0 manifest, 1 index, 2 untyped, 3 config, 4 chunked content meta).
printf '\0' | cat - /work/shared/testdata/upstream-fixtures/manifest1.json 2>/dev/null | seed oci manifest-fcos || true
printf '\0{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4","size":32,"annotations":{"a":"b"}}],"annotations":{"ostree.bootable":"true"}}' | seed oci manifest
printf '\1{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":7,"platform":{"architecture":"amd64","os":"linux","variant":"v2"},"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' | seed oci index
printf '\2{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[]}' | seed oci untyped
printf '\3{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Labels":{"containers.bootc":"1","ostree.bootable":"true"},"Env":["PATH=/usr/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"]},"history":[{"created_by":"ostree export"}]}' | seed oci config
printf '\4{"version":1,"created":"2026-01-01T00:00:00Z","layers":{"1":"kernel","2":"glibc"},"mapping":{"0123456789012345678901234567890123456789012345678901234567890123":"1"},"labels":{"a":"b"}}' | seed oci content-meta

# Text inputs.
seed gvariant-text dict <<< "{'version': <'1'>, 'n': <uint64 5>, 'list': <['a', 'b']>, 'bytes': <b'x\\x00'>, 'm': <@ms nothing>, 'd': <3.5>}"
seed gvariant-text tuple <<< "(uint32 1, int16 -2, 'ab', objectpath '/a', signature 'a{sv}', [byte 0x01, 0x02], true, @mv <int64 7>)"
printf '%s' 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:os:pull"' | seed www-authenticate bearer
printf '%s' 'Basic realm="x", Bearer realm="https://a/t", error="invalid_token", error_description="a \"quoted\" thing"' | seed www-authenticate two
printf '%s' 'docker://quay.io/fedora/fedora-bootc:42' | seed image-reference registry
printf '%s' 'oci:/var/tmp/layout:tag' | seed image-reference oci
printf 'ostree-remote-image:fedora:docker://registry.example.com/os:latest' | seed image-reference ostree
seed keyfile repo-config < "$repo/config"
cat > "$corpus/keyfile/origin" <<'EOT'
[origin]
container-image-reference=ostree-unverified-registry:quay.io/fedora/fedora-bootc:42
refspec=fedora:os

[rpmostree]
override-commit=abc
# comment
[remote "fedora"]
url=https://example.com/repo;other
gpg-verify=true
tls-client-cert-path=/a\sb\tc\\d
EOT
cat > "$corpus/keyfile/prepare-root" <<'EOT'
[composefs]
enabled = signed
keypath = /etc/ostree/initramfs-root-binding.key
[root]
transient = true
[etc]
transient = false
[sysroot]
readonly = true
EOT
mkdir -p "$corpus/bls"
cat > "$corpus/bls/ostree-1.conf" <<'EOT'
title Debian GNU/Linux 12 (ostree:0)
version 2
options root=LABEL=root rw quiet ostree=/ostree/boot.1/default/abc/0
linux /ostree/default-abc/vmlinuz-6.1.0
initrd /ostree/default-abc/initramfs-6.1.0.img
aboot /ostree/default-abc/aboot.img
devicetree /ostree/default-abc/dtb
EOT
mkdir -p "$corpus/file-contexts"
cat > "$corpus/file-contexts/policy" <<'EOT'
/.*	system_u:object_r:default_t:s0
/usr(/.*)?	system_u:object_r:usr_t:s0
/usr/bin/.*	--	system_u:object_r:bin_t:s0
/etc/passwd[-+]?	--	system_u:object_r:passwd_file_t:s0
/var/lib/[^/]+	-l	system_u:object_r:var_lib_t:s0
/dev/[^/]*tty[^/]*	-c	system_u:object_r:tty_device_t:s0
/home/[^/]+/\.ssh(/.*)?	system_u:object_r:ssh_home_t:s0
/run	-d	<<none>>
/(s?bin|lib)(64)?/ld.*\.so.*	system_u:object_r:ld_so_t:s0
EOT
mkdir -p "$corpus/sexp"
printf '(private-key(ecc(curve Ed25519)(flags eddsa)(q #40ABCDEF#)(d 32:01234567890123456789012345678901)))' > "$corpus/sexp/ed25519"
printf '(3:abc(1:x"quoted")[display]4:data|YWJj|)' > "$corpus/sexp/forms"
mkdir -p "$corpus/composefs-dump"
printf '/ 0 40755 2 0 0 0 1700000000.0 - - - security.selinux=system_u:object_r:root_t:s0\n/hello 6 100644 1 0 0 0 1700000000.0 ab/cdef - - user.a=b\n/link 5 120777 1 0 0 0 0.0 hello - -\n/dir 0 40700 2 5 5 0 0.0 - - -\n/dir/hard 6 @100644 1 0 0 0 0.0 /hello - -\n/dir/fifo 0 10644 1 0 0 0 0.0 - - -\n' > "$corpus/composefs-dump/tree"
# Signatures as registries and lookaside stores hand them over (the first byte picks the parser: 0 a sigstore
# payload, 1 a cosign 3 bundle, 2 a GPG simple signing, 3 a policy.json, 4 a registries.conf).
mkdir -p "$corpus/signatures"
digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
printf '\000{"critical":{"identity":{"docker-reference":"registry.fuzz/ns/app:v1"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":{"creator":"containers/image 5.39.1","timestamp":1796427605}}' "$digest" > "$corpus/signatures/payload-skopeo"
statement=$(printf '{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"%s"},"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}' "${digest#sha256:}" | base64 -w0)
printf '\001{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"quBz2Bh7jgJOiDYePYJpOgb2oKVC6UuilCww2QU0C5E="}},"dsseEnvelope":{"payload":"%s","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIBi95DALWI77q8BTLct3whP+uw3WGK+VsfJL2K5IR6N9AiEAz1+cBpz9CTkbdGnhHOqiDkEVS6Q3ap54hhE/MhGSgSM="}]}}' "$statement" > "$corpus/signatures/bundle-cosign3"
printf '{"critical":{"identity":{"docker-reference":"registry.fuzz/ns/app:v1"},"image":{"docker-manifest-digest":"%s"},"type":"atomic container signature"},"optional":{}}' "$digest" | gpg --batch --sign > "$work/simple.sig"
{ printf '\002'; cat "$work/simple.sig"; } > "$corpus/signatures/simple-signing-gpg"
printf '\003{"default":[{"type":"reject"}],"transports":{"docker":{"registry.fuzz/ns":[{"type":"sigstoreSigned","keyData":"AA==","signedIdentity":{"type":"remapIdentity","prefix":"registry.fuzz","signedPrefix":"example.com"}}],"":[{"type":"insecureAcceptAnything"}]}}}' > "$corpus/signatures/policy"
printf '\004unqualified-search-registries = ["docker.io"]\n[[registry]]\nprefix = "registry.fuzz/ns"\nlocation = "registry.fuzz/ns"\n[[registry.mirror]]\nlocation = "mirror.fuzz/ns"\npull-from-mirror = "tag-only"\ninsecure = true\n' > "$corpus/signatures/registries-conf"
echo "corpus: $(find "$corpus" -type f | wc -l) files in $(ls "$corpus" | wc -l) targets"

# Package databases (container rechunk): rpm's rpmdb.sqlite made by rpm, as a compact copy (512-byte pages, so the
# header blob runs over overflow pages), one header blob, and a changelog date.
mkdir -p "$work/rpm/SPECS"
printf 'Name: fuzz-tool\nVersion: 1.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n%%description\nd\n%%install\nmkdir -p %%{buildroot}/usr/bin\necho hi > %%{buildroot}/usr/bin/fuzz\n%%files\n/usr/bin/fuzz\n%%changelog\n* Tue Feb 13 2024 A <a@example.org> - 1.0-1\n- x\n' > "$work/rpm/SPECS/fuzz.spec"
rpmbuild -bb --define "_topdir $work/rpm" "$work/rpm/SPECS/fuzz.spec" >/dev/null 2>&1
rpm --root "$work/rpmroot" --dbpath /usr/lib/sysimage/rpm --initdb
rpm --root "$work/rpmroot" --dbpath /usr/lib/sysimage/rpm -i --nodeps --noscripts "$work"/rpm/RPMS/noarch/*.rpm 2>/dev/null
python3 - "$work/rpmroot/usr/lib/sysimage/rpm/rpmdb.sqlite" "$work/small.sqlite" "$work/header" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
rows = src.execute("select hnum, blob from Packages").fetchall()
dst = sqlite3.connect(sys.argv[2]); dst.execute("pragma page_size=512")
dst.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)")
dst.executemany("insert into Packages values (?, ?)", rows); dst.commit(); dst.execute("vacuum"); dst.close()
open(sys.argv[3], "wb").write(rows[0][1])
PY
prefixed packages 0 "$work/small.sqlite" rpmdb-sqlite
prefixed packages 1 "$work/header" rpm-header
printf '\002Tue, 13 Feb 2024 18:23:33 +0100' | seed packages changelog-date
