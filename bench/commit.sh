#!/bin/sh
# Commit benchmark: `berth commit` of a container that wrote 100 MB in
# 10,000 files against `podman commit` of the same change, with the peak
# RSS of each. See bench/README.md ("Commit benchmark").
#
# Usage: bench/commit.sh [RUNS]     (as root; default 5 commits each)
set -eu

RUNS=${1:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench/commit.sh: run as root" >&2; exit 1; }
for t in hyperfine podman runc busybox python3 /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "bench/commit.sh: $t not found" >&2; exit 1; }
done
BERTH_BIN="$("$REPO/scripts/build" -q)/berth"

WORK=$(mktemp -d /var/tmp/berth-commit-bench.XXXXXX)
BERTH="$BERTH_BIN --root $WORK/berth --runroot $WORK/berth-run"
PODMAN="podman --root $WORK/podman --runroot $WORK/podman-run --tmpdir $WORK/podman-tmp \
  --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc"
cleanup() {
    $BERTH rm -f writer >/dev/null 2>&1 || true
    $PODMAN rm -f writer >/dev/null 2>&1 || true
    $PODMAN rmi -a -f >/dev/null 2>&1 || true
    umount_below "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A busybox rootfs tarball, imported by both.
R=$WORK/rootfs
busybox_rootfs "$R"
tar -C "$R" -cf "$WORK/busybox.tar" .
$BERTH import "$WORK/busybox.tar" bench-base >/dev/null
$PODMAN import "$WORK/busybox.tar" localhost/bench-base >/dev/null

# The change: 10,000 files of 10 KiB of random data (100 MB).
WRITE='mkdir /data && i=0 && while [ $i -lt 10000 ]; do head -c 10240 /dev/urandom > /data/f$i; i=$((i+1)); done'
echo "writing 10,000 files (100 MB) in a berth and a podman container..."
$BERTH run --name writer bench-base sh -c "$WRITE"
$PODMAN run --name writer --network none --ulimit nofile=1024:20000 \
    --ulimit nproc=1024:1024 localhost/bench-base sh -c "$WRITE"

# Before every commit a 16-byte marker file with new random content is
# copied into each container, so every commit makes a NEW layer: neither
# tool can reuse the layer of the previous run (both would skip the
# unpack of a layer they already have).
MARK=$WORK/marker
NEWMARK="head -c 16 /dev/urandom > $MARK"
hyperfine --runs "$RUNS" --export-json "$WORK/h.json" \
    --prepare "sh -c '$NEWMARK && $BERTH cp $MARK writer:/marker && sync'" \
    -n "berth commit" "$BERTH commit writer bench-out:1" \
    --prepare "sh -c '$NEWMARK && $PODMAN cp $MARK writer:/marker && sync'" \
    -n "podman commit" "$PODMAN commit -q writer localhost/bench-out:1"

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
sh -c "$NEWMARK && $BERTH cp $MARK writer:/marker && sync"
BRSS=$(rss $BERTH commit writer bench-out:rss)
sh -c "$NEWMARK && $PODMAN cp $MARK writer:/marker && sync"
PRSS=$(rss $PODMAN commit -q writer localhost/bench-out:rss)

python3 - "$WORK/h.json" "$BRSS" "$PRSS" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, p = r["berth commit"]["median"], r["podman commit"]["median"]
print(f"berth commit  median {b*1000:8.1f} ms   peak RSS {int(sys.argv[2]):7d} KiB")
print(f"podman commit median {p*1000:8.1f} ms   peak RSS {int(sys.argv[3]):7d} KiB")
print(f"berth is {p/b:.2f}x faster than podman (target >= 2x); berth peak RSS {int(sys.argv[2])/1024:.1f} MB (target < 50 MB)")
PY
