#!/usr/bin/env python3
"""make-oci-image.py TREE LAYOUT TAG [--split PATH,...] [--label K=V]... - an OCI image (gzip layers) of TREE in the
OCI layout LAYOUT, as a container build makes one: plain tar layers, no ostree commit inside.

Without --split: one layer of the whole tree. With --split usr/lib/modules,usr/share: one layer of everything but
those folders, then one layer for each of them (a podman-built or rechunked bootc image has several)."""
import argparse, gzip, hashlib, json, os, subprocess, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("tree")
ap.add_argument("layout")
ap.add_argument("tag")
ap.add_argument("--split", default="")
ap.add_argument("--label", action="append", default=[])
args = ap.parse_args()
tree, layout, tag = args.tree, args.layout, args.tag
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)


def put(data_path):
    h = hashlib.sha256()
    with open(data_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = h.hexdigest()
    os.replace(data_path, os.path.join(blobs, d))
    return "sha256:" + d


def layer(tar_args):
    """A gzip layer of `tar tar_args` (paths relative to TREE): its descriptor and DiffID."""
    with tempfile.NamedTemporaryFile(dir=layout, delete=False) as tmp:
        tar = subprocess.Popen(["tar", "-C", tree, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-cf", "-"] + tar_args,
                               stdout=subprocess.PIPE)
        diff = hashlib.sha256()
        with gzip.GzipFile(fileobj=tmp, mode="wb", compresslevel=6, mtime=0) as gz:
            for chunk in iter(lambda: tar.stdout.read(1 << 20), b""):
                diff.update(chunk)
                gz.write(chunk)
        if tar.wait() != 0:
            raise SystemExit("tar failed")
        path = tmp.name
    size = os.path.getsize(path)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(path), "size": size}, "sha256:" + diff.hexdigest()


split = [p.strip("/") for p in args.split.split(",") if p]
layers = [layer([f"--exclude=./{p}" for p in split] + ["."])]
for p in split:
    layers.append(layer(["./" + p]))


def put_json(obj):
    data = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    with tempfile.NamedTemporaryFile(dir=layout, delete=False) as tmp:
        tmp.write(data)
    return put(tmp.name), len(data)


labels = dict(kv.split("=", 1) for kv in args.label) or {"org.example.bench": "1"}
config, config_size = put_json({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                                "config": {"Labels": labels},
                                "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]}})
manifest, manifest_size = put_json({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
                                    "layers": [l for l, _ in layers]})
with open(os.path.join(layout, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest,
               "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
for l, _ in layers:
    print(f"layer {l['digest']} {l['size']} bytes")
