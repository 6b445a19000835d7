#!/bin/bash
# Image benchmark (issue 3): `berth load` of a ~200 MB multi-layer
# docker-archive against `podman load` of the same file, and unpack
# throughput against `umoci unpack` of the same OCI layout, plus berth's
# peak RSS. Run as root from the repository: bench/images.sh. Ratios are
# of hyperfine's medians (one slow run, e.g. the first after the host
# freed many inodes, does not move them).
# Knobs: BENCH_MB (archive size, default 200), BENCH_RUNS (default 5),
# BENCH_DIR (work dir, default a fresh temp dir, removed at the end),
# BENCH_BERTH (a berth binary to measure instead of building one, e.g. an
# older build for a before/after comparison).
set -euo pipefail

cd "$(dirname "$0")/.."
MB=${BENCH_MB:-200}
RUNS=${BENCH_RUNS:-5}
for tool in hyperfine podman skopeo umoci python3; do
    command -v "$tool" >/dev/null || { echo "images.sh: $tool is required" >&2; exit 1; }
done

if [ -n "${BENCH_BERTH:-}" ]; then
    BERTH=$(realpath "$BENCH_BERTH")
else
    BERTH=$(./scripts/build)/berth
fi

OWN_DIR=
if [ -z "${BENCH_DIR:-}" ]; then
    BENCH_DIR=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
    OWN_DIR=1
fi
D=$BENCH_DIR
cleanup() {
    [ -n "$OWN_DIR" ] && rm -rf "$D"
}
trap cleanup EXIT
PODMAN="podman --root $D/podman-root --runroot $D/podman-run --tmpdir $D/podman-tmp --storage-driver overlay --cgroup-manager cgroupfs --events-backend file"

# 1. A docker-archive (as `docker save` writes it: uncompressed layers,
#    manifest.json last) of 5 layers, each half incompressible big files and
#    half compressible small files.
echo "generating a ${MB} MB archive in $D" >&2
python3 - "$D/archive.tar" "$MB" <<'PY'
import hashlib, io, json, os, random, sys, tarfile
out, total_mb = sys.argv[1], int(sys.argv[2])
layers, rnd = 5, random.Random(42)
per_layer = total_mb * 1024 * 1024 // layers
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9))) for _ in range(500)]
diff_ids, paths = [], []
def add(tf, name, data, mode=0o644):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = 1700000000
    tf.addfile(ti, io.BytesIO(data))
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as arch:
    for l in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            d = tarfile.TarInfo(f"layer{l}"); d.type = tarfile.DIRTYPE; d.mode = 0o755; tf.addfile(d)
            size = 0
            i = 0
            while size < per_layer // 2:            # incompressible, 1-4 MB files
                data = os.urandom(rnd.randint(1, 4) << 20)
                add(tf, f"layer{l}/bin/blob{i}", data, 0o755); size += len(data); i += 1
            i = 0
            while size < per_layer:                 # compressible, 2-32 KB text files
                data = b" ".join(rnd.choice(words) for _ in range(rnd.randint(300, 5000)))
                add(tf, f"layer{l}/share/doc{i // 200}/f{i}.txt", data); size += len(data); i += 1
            if l > 0:                               # a whiteout of the layer below
                add(tf, f"layer{l-1}/share/doc0/.wh.f0.txt", b"")
        raw = buf.getvalue()
        diff = hashlib.sha256(raw).hexdigest()
        diff_ids.append("sha256:" + diff)
        ti = tarfile.TarInfo(f"{diff}/layer.tar"); ti.size = len(raw); ti.mtime = 0
        arch.addfile(ti, io.BytesIO(raw)); paths.append(ti.name)
        del buf, raw
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                      "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created": "2024-01-01T00:00:00Z"} for _ in diff_ids]}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    man = json.dumps([{"Config": cname, "RepoTags": ["bench/image:latest"], "Layers": paths}]).encode()
    for name, data in ((cname, cfg), ("manifest.json", man)):
        ti = tarfile.TarInfo(name); ti.size = len(data); arch.addfile(ti, io.BytesIO(data))
PY
ARCHIVE_MB=$(( $(stat -c %s "$D/archive.tar") / 1000000 ))
echo "archive: ${ARCHIVE_MB} MB" >&2

# 2. load: berth vs podman, fresh stores for every run. A prepare step
#    moves the last run's store aside (they are all removed at the end) and
#    syncs, so no run pays for writing back or deleting the previous run's
#    files: on ext4 without a journal, a file create skips over the inodes
#    freed in the last minute or so, which made each run pay for the
#    previous run's removal (for every tool, and more the faster it ran).
mkdir -p "$D/old"
aside() { for d in "$@"; do echo "[ ! -e $d ] || mv $d $D/old/\$(basename $d).\$(date +%s%N);"; done; echo sync; }
hyperfine --runs "$RUNS" --export-json "$D/load.json" \
    -n "berth load" --prepare "$(aside $D/berth-root $D/berth-run)" \
    "$BERTH --root $D/berth-root --runroot $D/berth-run load -q -i $D/archive.tar" \
    -n "podman load" --prepare "$(aside $D/podman-root $D/podman-run $D/podman-tmp)" \
    "$PODMAN load -q -i $D/archive.tar" >&2

# 3. unpack: umoci unpack of an OCI layout vs berth load of that same
#    layout as an OCI archive (which also spools every blob into the store:
#    more work than umoci's in-place read).
rm -rf "$D/oci" && skopeo copy -q "docker-archive:$D/archive.tar" "oci:$D/oci:bench" >&2
tar -C "$D/oci" -cf "$D/oci.tar" .
# Throughput is counted in uncompressed layer bytes (skopeo gzips them).
UNPACKED_MB=$(python3 -c "import sys, tarfile
print(sum(m.size for m in tarfile.open(sys.argv[1]) if m.name.endswith('/layer.tar')) / 1e6)" "$D/archive.tar")
hyperfine --runs "$RUNS" --export-json "$D/unpack.json" \
    -n "berth load (OCI)" --prepare "$(aside $D/berth-root $D/berth-run)" \
    "$BERTH --root $D/berth-root --runroot $D/berth-run load -q -i $D/oci.tar" \
    -n "umoci unpack" --prepare "$(aside $D/bundle)" \
    "umoci unpack --image $D/oci:bench $D/bundle" >&2

# 4. berth's peak RSS during a load.
eval "$(aside "$D/berth-root" "$D/berth-run")"
/usr/bin/time -f "%M" -o "$D/rss" "$BERTH" --root "$D/berth-root" --runroot "$D/berth-run" load -q -i "$D/archive.tar"
RSS_KB=$(tail -1 "$D/rss")
rm -rf "$D/berth-root" "$D/bundle" "$D/podman-root" "$D/podman-run" "$D/podman-tmp" "$D/old"

python3 - "$D/load.json" "$D/unpack.json" "$ARCHIVE_MB" "$UNPACKED_MB" "$RSS_KB" <<'PY'
import json, sys
load, unpack = (json.load(open(p))["results"] for p in sys.argv[1:3])
archive_mb, unpacked_mb, rss_kb = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
t = {r["command"]: r["median"] for r in load + unpack}
cpu = {r["command"]: r["user"] + r["system"] for r in load + unpack}
bl, pl = t["berth load"], t["podman load"]
bu, uu = t["berth load (OCI)"], t["umoci unpack"]
print(f"load {archive_mb:.0f} MB docker-archive: berth {bl:.2f} s, podman {pl:.2f} s -> berth {pl/bl:.2f}x faster (target >= 2x)")
print(f"   CPU time (user+sys): berth {cpu['berth load']:.2f} s, podman {cpu['podman load']:.2f} s -> {cpu['podman load']/cpu['berth load']:.2f}x less")
print(f"unpack {unpacked_mb:.0f} MB of (uncompressed) layers: berth {unpacked_mb/bu:.0f} MB/s, umoci {unpacked_mb/uu:.0f} MB/s -> berth {uu/bu:.2f}x (target >= 1.5x)")
print(f"   CPU time (user+sys): berth {cpu['berth load (OCI)']:.2f} s, umoci {cpu['umoci unpack']:.2f} s -> {cpu['umoci unpack']/cpu['berth load (OCI)']:.2f}x less")
print(f"berth peak RSS: {rss_kb/1024:.1f} MB (target < 50 MB)")
PY
