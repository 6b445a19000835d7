#!/bin/sh
# Runtime start-up benchmark: `berth-runtime run` against `crun run` and
# `runc run` on the same busybox bundle running `true`, side by side in one
# hyperfine run, plus the peak RSS of each. See bench/README.md.
#
# Usage: bench/runtime.sh [RUNS [GAP_MS]]   (as root; default 100 runs
# each, no gap). GAP_MS > 0 sleeps that long before every run (hyperfine's
# --prepare, and in the interleaved rounds), the idle-gap case: waits for
# an RCU grace period, cheap back to back, last far longer on an idle CPU.
#
# crun refuses this host's hybrid cgroup layout, so every runtime runs in a
# private mount namespace where /sys/fs/cgroup is a plain cgroup2 mount:
# the same cgroup setup for all three.
set -eu

RUNS=${1:-100}
GAP_MS=${2:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
. "$HERE/lib.sh"

if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: run as root" >&2; exit 1; }
    for t in hyperfine crun runc busybox python3; do
        command -v "$t" >/dev/null || { echo "bench/runtime.sh: $t not found" >&2; exit 1; }
    done
    BIN=$("$REPO/scripts/build" -q)
    export BERTH_BENCH_INNER=1 BERTH_BIN="$BIN/berth-runtime"
    # Private mount namespace: detach the v1 hierarchies, mount cgroup2.
    exec unshare -m sh -c '
        mount --make-rprivate /
        umount -R /sys/fs/cgroup
        mount -t cgroup2 none /sys/fs/cgroup
        exec "$0" "$@"' "$0" "$RUNS" "$GAP_MS"
fi

WORK=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

# The bundle, shared by the three runtimes: busybox running `true` under
# `runc spec`'s config without linux.resources (bench/lib.sh says why).
B=$WORK/bundle
busybox_rootfs "$B/rootfs"
bare_bundle "$B"

BERTH="$BERTH_BIN --root $WORK/berth run --bundle $B bench-berth"
CRUN="crun --root $WORK/crun run --bundle $B bench-crun"
RUNC="runc --root $WORK/runc run --bundle $B bench-runc"

# Each must work before it is timed.
for cmd in "$BERTH" "$CRUN" "$RUNC"; do
    $cmd || { echo "bench/runtime.sh: failed: $cmd" >&2; exit 1; }
done

PREPARE=
if [ "$GAP_MS" != 0 ]; then
    PREPARE="sleep $(python3 -c "print($GAP_MS / 1000)")"
    echo "idle gap: ${GAP_MS} ms before every run"
fi
hyperfine -N --warmup 10 --runs "$RUNS" ${PREPARE:+--prepare "$PREPARE"} \
    -n berth-runtime "$BERTH" -n crun "$CRUN" -n runc "$RUNC"

# Interleaved rounds (berth, crun, runc in rotating order) so that load
# from other work on the host hits all three alike: wall time and peak RSS
# (GNU time's %M: max RSS of the runtime and the processes it waited for;
# spawned through the small `time` binary so Python's own RSS does not
# leak into the child's high-water mark). The ratios come from these.
python3 - "$RUNS" "$BERTH" "$CRUN" "$RUNC" "$WORK/rss" "$GAP_MS" <<'PY'
import os, statistics, sys, time
runs = int(sys.argv[1])
rssf = sys.argv[5]
gap = float(sys.argv[6]) / 1000
cmds = dict(zip(["berth-runtime", "crun", "runc"],
                (["/usr/bin/time", "-f", "%M", "-o", rssf] + c.split() for c in sys.argv[2:5])))
names = list(cmds)
wall = {k: [] for k in names}
rss = {k: [] for k in names}
devnull = os.open(os.devnull, os.O_RDWR)
fa = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)]
for i in range(runs):
    for k in names[i % 3:] + names[:i % 3]:
        if gap:
            time.sleep(gap)
        t0 = time.perf_counter()
        pid = os.posix_spawnp(cmds[k][0], cmds[k], os.environ, file_actions=fa)
        _, status = os.waitpid(pid, 0)
        wall[k].append((time.perf_counter() - t0) * 1000)
        rss[k].append(int(open(rssf).read().split()[-1]))
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{k} failed in round {i}")
med = {k: statistics.median(wall[k]) for k in names}
mrss = {k: int(statistics.median(rss[k])) for k in names}
print()
print(f"interleaved, {runs} rounds" + (f", {gap * 1000:g} ms idle gap" if gap else "") + ":")
print(f"{'runtime':<15}{'median ms':>10}{'peak RSS KiB':>14}")
for k in names:
    print(f"{k:<15}{med[k]:>10.2f}{mrss[k]:>14}")
print()
print(f"berth/crun median ratio: {med['berth-runtime'] / med['crun']:.2f}x")
print(f"berth/runc median ratio: {med['berth-runtime'] / med['runc']:.2f}x")
print(f"berth/crun peak RSS ratio: {mrss['berth-runtime'] / mrss['crun']:.2f}x")
print(f"berth/runc peak RSS ratio: {mrss['berth-runtime'] / mrss['runc']:.2f}x")
PY
