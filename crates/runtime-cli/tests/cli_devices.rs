//! The device cgroup: a spec without device rules gets runc's policy
//! (deny all but the default nodes), not access to every host device.
//! mknod itself stays allowed (`c *:* m`, as runc); opening is what the
//! cgroup refuses.

mod common;

use common::{stderr, Env};
use serde_json::{json, Value};

#[test]
fn no_device_rules_denies_opening_other_devices() {
    let env = Env::new(
        "devices",
        &[
            "sh",
            "-c",
            "echo ok > /dev/null && echo null-ok; \
             mknod /dev/fuse-copy c 10 229 && \
             ( exec 3</dev/fuse-copy ) 2>/dev/null && echo opened || echo denied",
        ],
    );
    env.edit_config(|c| {
        // CAP_MKNOD so that only the device cgroup can refuse.
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
        c["linux"]["resources"]
            .as_object_mut()
            .map(|r| r.remove("devices"));
        assert_eq!(c["linux"]["resources"].get("devices"), None::<&Value>);
    });
    let out = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("dev")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "null-ok\ndenied\n");
    env.assert_clean("dev");
}

#[test]
fn devices_are_made_without_a_dev_mount() {
    // runc makes the default and spec nodes in the rootfs's own /dev when
    // the spec mounts nothing there; only a /dev bind mount skips them.
    let env = Env::new(
        "nodev",
        &[
            "sh",
            "-c",
            "test -c /dev/null && echo null; test -c /dev/fuse && echo fuse",
        ],
    );
    env.edit_config(|c| {
        c["root"]["readonly"] = json!(false);
        // /dev/pts, /dev/shm, ... stay: they mount on the rootfs's /dev.
        let mounts = c["mounts"].as_array_mut().unwrap();
        let before = mounts.len();
        mounts.retain(|m| m["destination"] != "/dev");
        assert_eq!(mounts.len() + 1, before, "runc spec mounts a /dev tmpfs");
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}
        ]);
        c["linux"]["resources"]["devices"] = json!([
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
        ]);
    });
    let out = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("nodev")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "null\nfuse\n");
    env.assert_clean("nodev");
}
