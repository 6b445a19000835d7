//! The foreground `run` path through the engine library (root): a record
//! created for a foreground run is claimed by its creator in the same
//! write, and `--rm` leaves no row, directory, cgroup or anonymous volume
//! behind, while a claim whose owner died reads as an ordinary created
//! container.

mod common;

use common::engine_with_busybox;
use engine::container::{boot_id, self_start_time, Status};
use engine::options::RunFlags;
use engine::volume::MountFlags;

fn cgroup_exists(id: &str) -> bool {
    cgroups::Manager::new(Some(&format!("/berth/{id}")), id)
        .unwrap()
        .exists()
}

#[test]
fn foreground_rm_is_claimed_at_create_and_leaves_nothing() {
    // In a single-threaded child: it spawns a container in-process.
    let code = testkit::in_child(|| {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine_with_busybox(dir.path());
        let flags = RunFlags {
            rm: true,
            mounts: MountFlags {
                volumes: vec!["/data".into()],
                ..MountFlags::default()
            },
            ..RunFlags::default()
        };
        let args = [
            "sh".to_string(),
            "-c".into(),
            "echo x > /data/f; exit 3".into(),
        ];
        let c = engine
            .create_owned("busybox", flags.parse().unwrap(), &args)
            .unwrap();
        // The claim is in the stored row, not only in the returned value.
        let stored = engine.containers().get(&c.id).unwrap();
        let me = std::process::id() as i32;
        assert_eq!(
            (stored.state.monitor_pid, stored.state.monitor_start),
            (me, self_start_time())
        );
        assert_eq!(stored.state.boot_id, boot_id());
        assert_eq!(stored.state.status, Status::Created);
        let volumes = engine::volume::Volumes::open(engine.store()).unwrap();
        assert_eq!(volumes.list(&Default::default()).unwrap().len(), 1);

        assert_eq!(engine.run_foreground(&c).unwrap(), 3);
        assert!(engine.list().unwrap().is_empty());
        assert!(!engine.container_dir(&c.id).exists());
        assert!(!cgroup_exists(&c.id));
        // The anonymous volume went with it; nothing is left in tmp/ either.
        assert!(volumes.list(&Default::default()).unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(dir.path().join("root/tmp"))
                .unwrap()
                .count(),
            0
        );
        0
    });
    assert_eq!(code, 0);
}

#[test]
fn foreground_without_rm_records_the_exit() {
    // In a single-threaded child: it spawns a container in-process.
    let code = testkit::in_child(|| {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine_with_busybox(dir.path());
        let c = engine
            .create_owned(
                "busybox",
                RunFlags::default().parse().unwrap(),
                &["sh".into(), "-c".into(), "exit 7".into()],
            )
            .unwrap();
        assert_eq!(engine.run_foreground(&c).unwrap(), 7);
        let done = engine.find(&c.id).unwrap();
        assert_eq!(
            (
                done.state.status,
                done.state.exit_code,
                done.state.monitor_pid
            ),
            (Status::Exited, 7, 0)
        );
        assert!(!cgroup_exists(&c.id));
        engine.remove(&c.id, false).unwrap();
        0
    });
    assert_eq!(code, 0);
}

#[test]
fn claim_of_a_dead_creator_reads_created_and_runs_again() {
    // In a single-threaded child: it spawns a container in-process.
    let code = testkit::in_child(|| {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine_with_busybox(dir.path());
        let c = engine
            .create_owned(
                "busybox",
                RunFlags::default().parse().unwrap(),
                &["true".into()],
            )
            .unwrap();
        // What a `berth run` killed between create and spawn leaves: the claim
        // of a process that no longer exists (a reaped child's pid).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id() as i32;
        child.wait().unwrap();
        engine
            .containers()
            .update_state(&c.id, |s| {
                s.monitor_pid = dead;
                Ok(())
            })
            .unwrap();
        let seen = engine.find(&c.id).unwrap();
        assert_eq!(
            (seen.state.status, seen.state.monitor_pid),
            (Status::Created, 0)
        );
        // Not the creator's value any more: the run claims it again.
        assert_eq!(engine.run_foreground(&seen).unwrap(), 0);
        assert_eq!(engine.find(&c.id).unwrap().state.status, Status::Exited);
        engine.remove(&c.id, false).unwrap();
        assert!(engine.list().unwrap().is_empty());
        0
    });
    assert_eq!(code, 0);
}
