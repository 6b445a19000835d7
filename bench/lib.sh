# Shell helpers shared by the benchmarks and scripts/quickstart (POSIX sh;
# source it). One busybox rootfs recipe, one bare OCI bundle, one unmount.

# busybox_rootfs DIR: a static busybox with one symlink per applet, the
# usual empty dirs, and root in /etc/passwd and /etc/group (testkit's
# busybox_rootfs, in shell).
busybox_rootfs() {
    mkdir -p "$1/bin" "$1/etc" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/root"
    cp "$(command -v busybox)" "$1/bin/busybox"
    for a in $(busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$1/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$1/etc/passwd"
    echo 'root:x:0:' > "$1/etc/group"
}

# bare_bundle DIR: DIR/config.json from `runc spec` with the terminal off,
# `/bin/true`, and without linux.resources: its "deny all devices" rule
# makes crun 1.8.1 raise RLIMIT_MEMLOCK before loading its device filter,
# which fails without CAP_SYS_RESOURCE. DIR/rootfs must exist.
bare_bundle() {
    (cd "$1" && runc spec)
    python3 - "$1/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"].pop("resources", None)
json.dump(c, open(p, "w"), indent=1)
PY
}

# umount_below DIR: lazily unmounts every mount under DIR, deepest first
# (podman's overlay driver mounts inside its own store).
umount_below() {
    grep -o " $1[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}
