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
