//! The namespace-joining double fork when the init fails at once: its
//! error can overtake the intermediate's pid message, and the grandchild
//! (a CLONE_PARENT child of the caller) must still be reaped.

#[path = "process_common.rs"]
mod common;

use common::{in_child, init_opts, spec, Bundle};
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};
use runtime::{spawn_init, NoHooks};

/// Many spawns whose init fails on its first mount step (an unknown
/// rootfsPropagation) after joining a namespace: none leaves a child
/// behind. Run in a forked child so that `waitpid(-1)` sees only the
/// processes these spawns made.
#[test]
fn an_early_init_error_leaves_no_zombie() {
    let b = Bundle::busybox();
    let mut s = spec(&["true"]);
    let mut linux = s.linux().clone().unwrap();
    linux.set_rootfs_propagation(Some("sideways".into()));
    // Joining a namespace (our own uts one) makes the spawn double fork.
    let mut nss = linux.namespaces().clone().unwrap();
    nss.retain(|n| n.typ() != LinuxNamespaceType::Uts);
    nss.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Uts)
            .path("/proc/self/ns/uts")
            .build()
            .unwrap(),
    );
    linux.set_namespaces(Some(nss));
    s.set_linux(Some(linux));
    let code = in_child(|| {
        for i in 0..200 {
            match spawn_init(&init_opts("test", &b, &s), &mut NoHooks) {
                Ok(_) => return 10,
                Err(e) if !e.to_string().contains("sideways") => {
                    eprintln!("spawn {i}: {e}");
                    return 11;
                }
                Err(_) => {}
            }
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Err(Errno::ECHILD) => {}
                other => {
                    eprintln!("spawn {i} left a child: {other:?}");
                    return 12;
                }
            }
        }
        0
    });
    assert_eq!(code, 0);
}
