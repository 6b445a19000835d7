//! Where containers and images meet (root, on a busybox image imported by
//! the test): `rmi` and `image prune` respect the containers that use an
//! image, and the top-level `inspect` finds containers before images.

mod containers_support;

use containers_support::{Env, IMAGE};

#[test]
fn rmi_refuses_an_image_a_stopped_container_uses() {
    let env = Env::new();
    let id = env.ok(&["create", IMAGE, "true"]).trim().to_string();
    let image = env.ok(&["image", "inspect", "-f", "{{.Id}}", IMAGE]);
    let r = env.berth(&["rmi", IMAGE]);
    assert_eq!(r.code, 125, "{}", r.stdout);
    assert!(
        r.stderr.contains("must force") && r.stderr.contains(&id[..12]),
        "{}",
        r.stderr
    );
    // image prune -a keeps it too.
    env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(env.ok(&["image", "inspect", "-f", "{{.Id}}", IMAGE]), image);
    // Once the container is gone, the image goes.
    env.ok(&["rm", &id]);
    env.ok(&["rmi", IMAGE]);
    assert!(env.ok(&["images", "-q"]).is_empty());
}

#[test]
fn top_level_inspect_finds_containers_then_images() {
    let env = Env::new();
    let id = env
        .ok(&["create", "--name", "box", IMAGE, "true"])
        .trim()
        .to_string();
    assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", "box"]).trim(), id);
    let image = env.ok(&["image", "inspect", "-f", "{{.Id}}", IMAGE]);
    assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", IMAGE]), image);
    // One array holding both kinds, each in its own shape.
    let both: serde_json::Value =
        serde_json::from_str(&env.ok(&["inspect", "box", IMAGE])).unwrap();
    assert_eq!(both[0]["Name"], "/box");
    assert_eq!(both[1]["RepoTags"][0], "busybox:latest");
    // --type narrows; a missing name is Docker's error.
    let r = env.berth(&["inspect", "--type", "image", "box"]);
    assert_eq!(r.code, 125);
    assert_eq!(r.stderr.trim(), "berth: No such object: box");
    env.ok(&["rm", &id]);
}
