#!/usr/bin/env python3
"""make-oci-image.py TREE LAYOUT TAG - a single-layer OCI image (gzip layer) of TREE in the OCI layout LAYOUT."""
import gzip, hashlib, json, os, subprocess, sys, tempfile

tree, layout, tag = sys.argv[1:4]
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

with tempfile.NamedTemporaryFile(dir=layout, delete=False) as tmp:
    tar = subprocess.Popen(["tar", "-C", tree, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE)
    diff = hashlib.sha256()
    with gzip.GzipFile(fileobj=tmp, mode="wb", compresslevel=6, mtime=0) as gz:
        for chunk in iter(lambda: tar.stdout.read(1 << 20), b""):
            diff.update(chunk)
            gz.write(chunk)
    if tar.wait() != 0:
        sys.exit("tar failed")
    layer_path = tmp.name
layer_size = os.path.getsize(layer_path)
layer = put(layer_path)

def put_json(obj):
    data = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    with tempfile.NamedTemporaryFile(dir=layout, delete=False) as tmp:
        tmp.write(data)
    return put(tmp.name), len(data)

config, config_size = put_json({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                                "config": {"Labels": {"org.example.bench": "1"}},
                                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}})
manifest, manifest_size = put_json({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
                                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}]})
with open(os.path.join(layout, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest,
               "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
print(f"layer {layer} {layer_size} bytes")
