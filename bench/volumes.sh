#!/bin/sh
# Volume benchmark: `berth run --rm` with no volume, one named volume and
# ten named volumes, against podman doing the same; the per-volume cost;
# and copy-up of 10,000 small files into a new volume against `cp -a`.
# See bench/README.md ("Volume benchmark").
#
# Usage: bench/volumes.sh [RUNS]     (as root; default 40 runs each)
set -eu

RUNS=${1:-40}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench/volumes.sh: run as root" >&2; exit 1; }
for t in hyperfine podman runc busybox python3; do
    command -v "$t" >/dev/null || { echo "bench/volumes.sh: $t not found" >&2; exit 1; }
done
BERTH_BIN="$("$REPO/scripts/build" -q)/berth"

WORK=$(mktemp -d /var/tmp/berth-volumes-bench.XXXXXX)
BERTH="$BERTH_BIN --root $WORK/berth --runroot $WORK/berth-run"
PODMAN="podman --root $WORK/podman --runroot $WORK/podman-run --tmpdir $WORK/podman-tmp \
  --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc"
PODMAN_RUN="run --rm --network none --ulimit nofile=1024:20000 --ulimit nproc=1024:1024"
cleanup() {
    $BERTH rm -f -v cu1 >/dev/null 2>&1 || true
    $PODMAN rm -a -f >/dev/null 2>&1 || true
    $PODMAN volume prune -f >/dev/null 2>&1 || true
    $PODMAN rmi -a -f >/dev/null 2>&1 || true
    umount_below "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A busybox rootfs, and the same with 10,000 small files in /data.
R=$WORK/rootfs
busybox_rootfs "$R"
tar -C "$R" -cf "$WORK/busybox.tar" .
$BERTH import "$WORK/busybox.tar" bench-base >/dev/null
$PODMAN import "$WORK/busybox.tar" localhost/bench-base >/dev/null
python3 - "$R/data" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(100):
    sub = os.path.join(d, f"d{i:02}")
    os.makedirs(sub)
    for j in range(100):
        with open(os.path.join(sub, f"f{j:02}"), "w") as f:
            f.write(f"{i} {j}\n" * 8)
PY
tar -C "$R" -cf "$WORK/files.tar" .
$BERTH import "$WORK/files.tar" bench-files >/dev/null

TEN=""
for i in 0 1 2 3 4 5 6 7 8 9; do TEN="$TEN -v vol$i:/data$i"; done
# Create the volumes once, so each run measures mounting, not creation.
$BERTH run --rm $TEN bench-base true
$PODMAN $PODMAN_RUN $TEN localhost/bench-base true

hyperfine -N --runs "$RUNS" --warmup 3 --export-json "$WORK/run.json" \
    -n "berth 0" "$BERTH run --rm bench-base true" \
    -n "berth 1" "$BERTH run --rm -v vol0:/data bench-base true" \
    -n "berth 10" "$BERTH run --rm $TEN bench-base true" \
    -n "podman 0" "$PODMAN $PODMAN_RUN localhost/bench-base true" \
    -n "podman 1" "$PODMAN $PODMAN_RUN -v vol0:/data localhost/bench-base true" \
    -n "podman 10" "$PODMAN $PODMAN_RUN $TEN localhost/bench-base true"

# Copy-up: `create` with a new anonymous volume over /data (10,000 files)
# against `create` without it; `cp -a` of the same tree for reference.
hyperfine -N --runs 10 --warmup 1 --export-json "$WORK/copy.json" \
    --prepare "sh -c '$BERTH rm -f -v cu1 >/dev/null 2>&1 || true'" \
    --prepare "sh -c '$BERTH rm -f -v cu1 >/dev/null 2>&1 || true'" \
    --prepare "rm -rf $WORK/cpdst" \
    -n "create" "$BERTH create --name cu1 bench-files true" \
    -n "create + copy-up" "$BERTH create --name cu1 -v /data bench-files true" \
    -n "cp -a" "cp -a $R/data $WORK/cpdst"

python3 - "$WORK/run.json" "$WORK/copy.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c = {x["command"]: x for x in json.load(open(sys.argv[2]))["results"]}
ms = lambda x: x["median"] * 1000
# CPU time of the whole process tree (user + system, means): on a loaded
# machine the wall clock mostly measures waiting for the CPU.
cpu = lambda x: (x["user"] + x["system"]) * 1000
for tool in ("berth", "podman"):
    z, one, ten = (r[f"{tool} {n}"] for n in (0, 1, 10))
    print(f"{tool:6} run --rm true: wall {ms(z):7.2f} ms   1 volume {ms(one):7.2f} ms   "
          f"10 volumes {ms(ten):7.2f} ms   per volume {(ms(ten) - ms(z)) / 10:6.3f} ms")
    print(f"{tool:6}               cpu  {cpu(z):7.2f} ms   1 volume {cpu(one):7.2f} ms   "
          f"10 volumes {cpu(ten):7.2f} ms   per volume {(cpu(ten) - cpu(z)) / 10:6.3f} ms")
cu = ms(c["create + copy-up"]) - ms(c["create"])
print(f"copy-up of 10,000 files: {cu:7.1f} ms (create {ms(c['create']):.1f} ms, "
      f"with copy-up {ms(c['create + copy-up']):.1f} ms); cp -a {ms(c['cp -a']):.1f} ms")
PY
