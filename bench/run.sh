#!/bin/sh
# `berth run --rm` benchmark: the whole engine path (overlay, init layer,
# metadata, runtime, cleanup) against `crun run` / `runc run` of a bare
# bundle and `podman run --rm` of the same image (and `docker run --rm`
# when a Docker daemon answers `docker info`), side by side; then
# `berth ps -a` with 500 containers and the memory of N detached monitors.
# See bench/README.md ("Run benchmark").
#
# Usage: bench/run.sh [RUNS] [MONITORS]   (as root; defaults 100 and 100;
#        MONITORS=500 for the full issue figure, 0 to skip)
#
# As bench/runtime.sh: crun refuses this host's hybrid cgroup layout, so
# everything (berth's engine too) runs in a private mount namespace where
# /sys/fs/cgroup is a plain cgroup2 mount: one cgroup setup for all.
set -eu

RUNS=${1:-100}
MONITORS=${2:-100}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
. "$HERE/lib.sh"

if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root" >&2; exit 1; }
    for t in hyperfine crun runc podman busybox python3 tar; do
        command -v "$t" >/dev/null || { echo "bench/run.sh: $t not found" >&2; exit 1; }
    done
    BIN=$("$REPO/scripts/build" -q)
    WORK=$(mktemp -d /var/tmp/berth-run-bench.XXXXXX)
    PODMAN="podman --root $WORK/podman --runroot $WORK/podman-run --tmpdir $WORK/podman-tmp \
      --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc"
    # docker too when a daemon answers (DOCKER_HOST as the caller has it);
    # its image is a tag of this run's own, removed at the end.
    DIMAGE=""
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        DIMAGE="berth-bench-busybox:$$"
    fi
    cleanup() {
        $PODMAN rm -a -f >/dev/null 2>&1 || true
        $PODMAN rmi -a -f >/dev/null 2>&1 || true
        [ -z "$DIMAGE" ] || docker rmi -f "$DIMAGE" >/dev/null 2>&1 || true
        umount_below "$WORK"
        rm -rf "$WORK"
    }
    trap cleanup EXIT INT TERM

    # One busybox rootfs: tarred and imported by berth and podman, and the
    # rootfs of the crun/runc bundle (testkit's steps, in shell).
    R=$WORK/bundle/rootfs
    busybox_rootfs "$R"
    tar -C "$R" -cf "$WORK/busybox.tar" .

    # podman runs here, in the host's own cgroup layout: it sets a pids
    # limit, and in the private cgroup2 view below no controller is enabled
    # (they stay bound to the v1 hierarchies), so runc fails on pids.max.
    # podman takes ~1 s a run; a tenth of the runs (at least 5) is plenty.
    $PODMAN import "$WORK/busybox.tar" localhost/bench-busybox >/dev/null 2>&1
    PRUN="$PODMAN run --rm --network none --ulimit nofile=1024:20000 --ulimit nproc=1024:1024 localhost/bench-busybox true"
    $PRUN || { echo "bench/run.sh: failed: $PRUN" >&2; exit 1; }
    PRUNS=$((RUNS / 10)); [ "$PRUNS" -ge 5 ] || PRUNS=5
    hyperfine -N --warmup 2 --runs "$PRUNS" --export-json "$WORK/podman.json" \
        -n "podman run --rm" "$PRUN"
    if [ -n "$DIMAGE" ]; then
        docker import "$WORK/busybox.tar" "$DIMAGE" >/dev/null
        DRUN="docker run --rm --network none $DIMAGE true"
        $DRUN || { echo "bench/run.sh: failed: $DRUN" >&2; exit 1; }
        hyperfine -N --warmup 2 --runs "$PRUNS" --export-json "$WORK/docker.json" \
            -n "docker run --rm" "$DRUN"
    fi

    # Everything else in a private mount namespace with a cgroup2 view.
    export BERTH_BENCH_INNER=1 BERTH_BIN="$BIN/berth" WORK
    unshare -m sh -c '
        mount --make-rprivate /
        umount -R /sys/fs/cgroup
        mount -t cgroup2 none /sys/fs/cgroup
        exec "$0" "$@"' "$0" "$RUNS" "$MONITORS"
    exit
fi

BERTH="$BERTH_BIN --root $WORK/berth --runroot $WORK/berth-run"
# The detached containers (their monitors and sleeps) are stopped here,
# inside the namespace their cgroups live in.
trap '$BERTH ps -aq 2>/dev/null | xargs -r $BERTH rm -f >/dev/null 2>&1 || true' EXIT INT TERM
$BERTH import "$WORK/busybox.tar" bench-busybox >/dev/null

# The bare bundle around that rootfs (bench/lib.sh's bare_bundle).
B=$WORK/bundle
bare_bundle "$B"

BRUN="$BERTH run --rm bench-busybox true"
CRUN="crun --root $WORK/crun run --bundle $B bench-crun"
RUNC="runc --root $WORK/runc run --bundle $B bench-runc"
for cmd in "$BRUN" "$CRUN" "$RUNC"; do
    $cmd || { echo "bench/run.sh: failed: $cmd" >&2; exit 1; }
done

hyperfine -N --warmup 10 --runs "$RUNS" \
    -n "berth run --rm" "$BRUN" -n "crun run" "$CRUN" -n "runc run" "$RUNC"

# Interleaved rounds (rotating order) so load from other work on the
# host hits every runtime alike; the ratios come from these medians.
# podman's (and docker's) median is hyperfine's, measured above in the
# host's layout.
python3 - "$RUNS" "$WORK/podman.json" "$BRUN" "$CRUN" "$RUNC" <<'PY'
import json, os, statistics, sys, time
runs = int(sys.argv[1])
podman = json.load(open(sys.argv[2]))["results"][0]
docker_json = os.path.join(os.path.dirname(sys.argv[2]), "docker.json")
docker = json.load(open(docker_json))["results"][0] if os.path.exists(docker_json) else None
names = ["berth run --rm", "crun run", "runc run"]
cmds = dict(zip(names, (c.split() for c in sys.argv[3:6])))
wall = {k: [] for k in names}
devnull = os.open(os.devnull, os.O_RDWR)
fa = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)]
for i in range(runs):
    for k in names[i % 3:] + names[:i % 3]:
        t0 = time.perf_counter()
        pid = os.posix_spawnp(cmds[k][0], cmds[k], os.environ, file_actions=fa)
        _, status = os.waitpid(pid, 0)
        wall[k].append((time.perf_counter() - t0) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{k} failed in round {i}")
med = {k: statistics.median(wall[k]) for k in names}
mins = {k: min(wall[k]) for k in names}
med["podman run --rm"] = podman["median"] * 1000
mins["podman run --rm"] = podman["min"] * 1000
if docker:
    med["docker run --rm"] = docker["median"] * 1000
    mins["docker run --rm"] = docker["min"] * 1000
print()
print(f"interleaved, {runs} rounds (podman: hyperfine, {len(podman['times'])} runs):")
print(f"{'command':<18}{'median ms':>10}{'min ms':>9}")
for k in med:
    print(f"{k:<18}{med[k]:>10.2f}{mins[k]:>9.2f}")
print()
b = med["berth run --rm"]
print(f"berth run --rm / crun run:   {b / med['crun run']:.2f}x   (target <= 1.2x)")
print(f"berth run --rm / runc run:   {b / med['runc run']:.2f}x")
print(f"podman run --rm / berth run --rm: {med['podman run --rm'] / b:.1f}x (target >= 30x)")
if docker:
    print(f"docker run --rm / berth run --rm: {med['docker run --rm'] / b:.1f}x")
else:
    print("docker run --rm: no Docker daemon answered; not measured")
PY

# Where berth's own time goes (BERTH_TIMING=1 marks, medians): the engine's
# phases, the runtime's spawn and the container itself, and what lies
# outside the marks (exec, loader, argument parsing, exit). "engine own" is
# everything but the spawn and the container's life.
echo
python3 - "$RUNS" "$BRUN" <<'PY'
import os, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2].split()
env = dict(os.environ, BERTH_TIMING="1")
spans = [("store open", "open", "opened"),
         ("create", "opened", "create: done"),
         ("claim + spec", "create: done", "run: launch prepared"),
         ("spawn (runtime)", "run: launch prepared", "run: spawned"),
         ("start record", "run: spawned", "run: start recorded"),
         ("container", "run: start recorded", "run: exited"),
         ("exit + --rm", "run: exited", "run: done")]
got = {name: [] for name, _, _ in spans}
got["outside marks"] = []
got["engine own"] = []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        sys.exit(f"berth run --rm failed: {p.stderr}")
    m = {}
    for line in p.stderr.splitlines():
        if line.startswith("berth-timing: "):
            label, t = line[len("berth-timing: "):].rsplit(" ", 1)
            m[label] = float(t)
    for name, a, b in spans:
        got[name].append(m[b] - m[a])
    got["outside marks"].append(wall - m["run: done"])
    got["engine own"].append(wall - got["spawn (runtime)"][-1] - got["container"][-1])
print(f"berth run --rm, BERTH_TIMING medians over {runs} runs (ms):")
for name, v in got.items():
    print(f"  {name:<16}{statistics.median(v):>8.3f}")
PY

# `berth ps -a` with 500 containers (created, never started: the listing
# reads every record and reconciles it).
echo
echo "creating 500 containers for ps..."
i=0
while [ $i -lt 500 ]; do
    $BERTH create --name "ps$i" bench-busybox true >/dev/null
    i=$((i + 1))
done
hyperfine -N --warmup 3 --runs 30 -n "berth ps -a (500 containers)" "$BERTH ps -a"
$BERTH ps -aq | xargs -r $BERTH rm >/dev/null

[ "$MONITORS" -gt 0 ] || exit 0
# N detached `sleep` containers; the memory of their monitors (the
# `__monitor` processes of this --root), RSS and PSS from smaps_rollup.
echo
echo "starting $MONITORS detached sleep containers..."
i=0
while [ $i -lt "$MONITORS" ]; do
    $BERTH run -d --name "mon$i" bench-busybox sleep 3600 >/dev/null
    i=$((i + 1))
done
python3 - "$WORK/berth" "$MONITORS" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
pids = []
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    if b"__monitor" in argv and root.encode() in argv:
        pids.append(p)
rss = pss = 0
for p in pids:
    for line in open(f"/proc/{p}/smaps_rollup"):
        f = line.split()
        if f[0] == "Rss:":
            rss += int(f[1])
        elif f[0] == "Pss:":
            pss += int(f[1])
m = len(pids)
if m != n:
    sys.exit(f"found {m} monitors, expected {n}")
print(f"{m} monitors: total RSS {rss} KiB, total PSS {pss} KiB")
print(f"per container: RSS {rss / m:.0f} KiB, PSS {pss / m:.0f} KiB")
print(f"extrapolated to 500: PSS {pss / m * 500 / 1024:.1f} MiB")
PY
