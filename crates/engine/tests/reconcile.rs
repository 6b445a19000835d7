//! Reconciliation through the engine library (root): a record that claims
//! a live process is believed only while that very process (pid, start
//! time, boot) exists; after a reboot every container reads exited and
//! starts again.

mod common;

use common::engine_with_busybox;
use engine::container::{boot_id, process_start_time, Status, EXIT_UNKNOWN};
use engine::options::RunFlags;

#[test]
fn records_from_another_boot_read_exited_and_start_again() {
    // In a single-threaded child: it spawns a container in-process.
    let code = testkit::in_child(|| {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine_with_busybox(dir.path());
        let c = engine
            .create(
                "busybox",
                RunFlags::default().parse().unwrap(),
                &["true".to_string()],
            )
            .unwrap();
        // A record claiming a process that is alive right now (this test) and
        // owned by a live monitor (also us): believed, it is running.
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap();
        let claim = |boot: &str| {
            let boot = boot.to_string();
            engine
                .containers()
                .update_state(&c.id, move |s| {
                    s.status = Status::Running;
                    (s.pid, s.pid_start, s.monitor_pid, s.monitor_start) = (me, start, me, start);
                    s.boot_id = boot;
                    Ok(())
                })
                .unwrap();
        };
        claim(boot_id());
        assert_eq!(engine.find(&c.id).unwrap().state.status, Status::Running);

        // The same pids recorded under another boot are gone: exited, unknown code.
        claim("a-previous-boot");
        let after = engine.find(&c.id).unwrap();
        assert_eq!(
            (after.state.status, after.state.exit_code),
            (Status::Exited, EXIT_UNKNOWN)
        );
        assert_eq!((after.state.pid, after.state.monitor_pid), (0, 0));
        // The reconciled state was written back, not only shown.
        let stored = engine.containers().get(&c.id).unwrap();
        assert_eq!(stored.state.status, Status::Exited);

        // And it starts again (in the foreground, in-process).
        assert_eq!(engine.run_foreground(&after).unwrap(), 0);
        let done = engine.find(&c.id).unwrap();
        assert_eq!(
            (done.state.status, done.state.exit_code),
            (Status::Exited, 0)
        );
        assert_ne!(done.state.started_at, after.state.started_at);
        engine.remove(&c.id, false).unwrap();
        assert!(engine.list().unwrap().is_empty());
        0
    });
    assert_eq!(code, 0);
}

#[test]
fn name_and_prefix_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with_busybox(dir.path());
    let flags = RunFlags {
        name: Some("alpha".into()),
        ..RunFlags::default()
    };
    let a = engine
        .create("busybox", flags.clone().parse().unwrap(), &["true".into()])
        .unwrap();
    assert_eq!(engine.find("alpha").unwrap().id, a.id);
    assert_eq!(engine.find("/alpha").unwrap().id, a.id);
    assert_eq!(engine.find(&a.id[..6]).unwrap().id, a.id);
    let e = engine
        .create("busybox", flags.parse().unwrap(), &["true".into()])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Conflict. The container name \"/alpha\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", a.id)
    );
    assert_eq!(
        engine.find("nosuch").unwrap_err().to_string(),
        "No such container: nosuch"
    );
    let e = engine
        .create("nosuchimage", RunFlags::default().parse().unwrap(), &[])
        .unwrap_err();
    assert!(e.to_string().contains("nosuchimage"), "{e}");
    engine.remove("alpha", false).unwrap();
    assert!(!dir.path().join("root/containers").join(&a.id).exists());
}
