#!/bin/sh
# Runtime start-up benchmark: `berth-runtime run` against `crun run` and
# `runc run` on the same busybox bundle running `true`, side by side in one
# hyperfine run, plus the peak RSS of each. See bench/README.md.
#
# Usage: bench/runtime.sh [RUNS]     (as root; default 100 runs each)
#
# crun refuses this host's hybrid cgroup layout, so every runtime runs in a
# private mount namespace where /sys/fs/cgroup is a plain cgroup2 mount:
# the same cgroup setup for all three.
set -eu

RUNS=${1:-100}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
TARGET=${CARGO_TARGET_DIR:-$REPO/target}

if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: run as root" >&2; exit 1; }
    for t in hyperfine crun runc busybox python3; do
        command -v "$t" >/dev/null || { echo "bench/runtime.sh: $t not found" >&2; exit 1; }
    done
    (cd "$REPO" && cargo build --release -q -p runtime-cli)
    export BERTH_BENCH_INNER=1 BERTH_BIN="$TARGET/release/berth-runtime"
    # Private mount namespace: detach the v1 hierarchies, mount cgroup2.
    exec unshare -m sh -c '
        mount --make-rprivate /
        umount -R /sys/fs/cgroup
        mount -t cgroup2 none /sys/fs/cgroup
        exec "$0" "$@"' "$0" "$RUNS"
fi

WORK=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

# The bundle: a static busybox and `true`, the default `runc spec` config
# with the terminal off and without its "deny all devices" rule: crun
# 1.8.1 raises RLIMIT_MEMLOCK to infinity before loading a device filter,
# which fails here (no CAP_SYS_RESOURCE). Shared by the three runtimes.
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
ln -s busybox "$B/rootfs/bin/sh"
(cd "$B" && runc spec)
python3 - "$B/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"].pop("resources", None)
json.dump(c, open(p, "w"), indent=1)
PY

BERTH="$BERTH_BIN --root $WORK/berth run --bundle $B bench-berth"
CRUN="crun --root $WORK/crun run --bundle $B bench-crun"
RUNC="runc --root $WORK/runc run --bundle $B bench-runc"

# Each must work before it is timed.
for cmd in "$BERTH" "$CRUN" "$RUNC"; do
    $cmd || { echo "bench/runtime.sh: failed: $cmd" >&2; exit 1; }
done

hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/times.json" \
    -n berth-runtime "$BERTH" -n crun "$CRUN" -n runc "$RUNC"

# Peak RSS (max over the runtime and the processes it waited for), median
# of 20 runs each, from GNU time.
rss() {
    for _ in $(seq 20); do
        /usr/bin/time -f %M $1 2>&1 >/dev/null | tail -1
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
R_BERTH=$(rss "$BERTH")
R_CRUN=$(rss "$CRUN")
R_RUNC=$(rss "$RUNC")

python3 - "$WORK/times.json" "$R_BERTH" "$R_CRUN" "$R_RUNC" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: statistics.median(v["times"]) * 1000 for k, v in res.items()}
rss = dict(zip(["berth-runtime", "crun", "runc"], map(int, sys.argv[2:5])))
print()
print(f"{'runtime':<15}{'median ms':>10}{'peak RSS KiB':>14}")
for k in ["berth-runtime", "crun", "runc"]:
    print(f"{k:<15}{med[k]:>10.2f}{rss[k]:>14}")
print()
print(f"berth/crun median ratio: {med['berth-runtime'] / med['crun']:.2f}x")
print(f"berth/runc median ratio: {med['berth-runtime'] / med['runc']:.2f}x")
print(f"berth/runc peak RSS ratio: {rss['berth-runtime'] / rss['runc']:.2f}x")
PY
