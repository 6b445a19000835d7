//! `rm [-f]`, `container prune`, `rename`, `pause`/`unpause`.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Transaction};

use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::options::validate_name;
use crate::volume::Volumes;

/// The migration component of the `exits` table.
const EXITS: &str = "exits";

/// The `exits` table: `(id, code, at)` of containers removed by their
/// foreground `run --rm`, `at` in Unix seconds. Append; never edit.
const EXITS_MIGRATIONS: &[&str] = &[
    "CREATE TABLE exits (id TEXT PRIMARY KEY, code INTEGER NOT NULL, at INTEGER NOT NULL);",
    // 2: WITHOUT ROWID (rows keyed by id alone): one b-tree page to write
    // per removal instead of the table's and its primary key index's.
    "CREATE TABLE exits_by_id (id TEXT PRIMARY KEY, code INTEGER NOT NULL, at INTEGER NOT NULL)
         WITHOUT ROWID;
     INSERT INTO exits_by_id SELECT id, code, at FROM exits;
     DROP TABLE exits;
     ALTER TABLE exits_by_id RENAME TO exits;",
];

/// How long a kept exit code stays: a waiter polls every 20 ms, so this
/// only needs to outlast a waiter descheduled for a long while.
const EXIT_KEPT_SECS: i64 = 600;

/// Keeps `code` for `id` and drops the codes older than
/// [`EXIT_KEPT_SECS`], so the table stays a handful of rows.
fn keep_exit_in(tx: &Transaction<'_>, id: &str, code: i32) -> Result<(), EngineError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    tx.execute("DELETE FROM exits WHERE at < ?1", [now - EXIT_KEPT_SECS])?;
    tx.execute(
        "INSERT OR REPLACE INTO exits (id, code, at) VALUES (?1, ?2, ?3)",
        rusqlite::params![id, code, now],
    )?;
    Ok(())
}

impl Engine {
    /// Removes a container: refused while it runs unless `force`, which
    /// kills it first. Its rootfs, log and cgroup go with it.
    pub fn remove(&self, reference: &str, force: bool) -> Result<Container, EngineError> {
        let mut c = self.find(reference)?;
        if c.state.status.is_active() {
            if !force {
                return Err(EngineError::RemoveRunning {
                    name: c.name.clone(),
                    state: c.state.status.as_str().to_string(),
                });
            }
            c = self.force_kill(&c)?;
            // Its owner (a foreground `run --rm`) may have removed it
            // on its own: done, as Docker's `rm -f` of an auto-removed one.
            if let Err(EngineError::NoSuchContainer(_)) = self.containers().get(&c.id) {
                return Ok(c);
            }
            if c.state.status.is_active() {
                return Err(EngineError::BadState {
                    id: c.id.clone(),
                    state: "still running after SIGKILL".into(),
                });
            }
        }
        crate::timing::mark("remove: found");
        self.remove_cgroup(&c.id);
        crate::timing::mark("remove: cgroup removed");
        self.store().remove_container_rootfs(&c.id)?;
        crate::timing::mark("remove: rootfs removed");
        // Drops its volume references; `--rm` also removes anonymous ones.
        crate::volume::release(self.store(), &c.id, c.host_config.auto_remove)?;
        crate::timing::mark("remove: volumes released");
        self.containers().remove(&c.id)?;
        Ok(c)
    }

    /// `run --rm`'s removal of the container this process has just run in
    /// the foreground and reaped (with exit `code`): nothing to look up,
    /// kill or reconcile. The cgroup goes and the rootfs is moved into
    /// `tmp/`, then the row and its volume references go in one commit, so
    /// a kill -9 half-way leaves a row that the next command reconciles
    /// (exited, owner gone) and `rm` finishes. The same commit keeps the
    /// exit code in the `exits` table a while, for a `wait` or `stop` in
    /// another process that saw the container running (no write of its
    /// own). Returns the moved-aside tree, which the caller deletes (now,
    /// or after reporting the exit code: see
    /// [`Engine::run_foreground_then_exit`]).
    pub(crate) fn remove_after_exit(
        &self,
        c: &Container,
        code: Option<i32>,
    ) -> Result<Option<PathBuf>, EngineError> {
        self.remove_cgroup(&c.id);
        crate::timing::mark("remove: cgroup removed");
        let detached = self.store().detach_container_rootfs(&c.id)?;
        crate::timing::mark("remove: rootfs detached");
        // A container this process created without mounts has no volume
        // references to drop (and the volume tables may not even exist).
        let volumes = if crate::volume::known_without_mounts(self.store(), &c.id) {
            None
        } else {
            Some(Volumes::open(self.store())?)
        };
        if code.is_some() {
            // Free once the store is up to date (versions read at open).
            self.store().db().migrate(EXITS, EXITS_MIGRATIONS)?;
        }
        let trash = self.store().db().write(|tx| -> Result<_, EngineError> {
            let trash = match &volumes {
                Some(v) => crate::volume::release_in(tx, v, &c.id, true)?,
                None => Vec::new(),
            };
            crate::container::remove_in(tx, &c.id)?;
            if let Some(code) = code {
                keep_exit_in(tx, &c.id, code)?;
            }
            Ok(trash)
        })?;
        crate::volume::remove_trash(trash);
        crate::timing::mark("remove: row removed");
        Ok(detached)
    }

    /// The exit code kept by [`Engine::remove_after_exit`] for a container
    /// removed by its foreground `run --rm` in the last few minutes.
    pub(crate) fn removed_exit_code(&self, id: &str) -> Option<i32> {
        // No table yet (no such removal ever) is simply no code.
        self.store()
            .db()
            .read(|tx| {
                tx.query_row("SELECT code FROM exits WHERE id = ?1", [id], |r| r.get(0))
                    .optional()
            })
            .ok()
            .flatten()
    }

    /// Removes every stopped container; returns their ids.
    pub fn prune(&self) -> Result<Vec<String>, EngineError> {
        let mut removed = Vec::new();
        for c in self.list()? {
            let stopped = matches!(
                c.state.status,
                Status::Created | Status::Exited | Status::Dead
            );
            if stopped && c.state.monitor_pid == 0 && self.remove(&c.id, false).is_ok() {
                removed.push(c.id);
            }
        }
        Ok(removed)
    }

    /// Renames a container.
    pub fn rename(&self, reference: &str, new_name: &str) -> Result<(), EngineError> {
        let c = self.find(reference)?;
        let name = validate_name(new_name)?;
        self.containers().rename(&c.id, name)
    }

    /// Freezes every process of the container.
    pub fn pause(&self, reference: &str) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::BadState {
                    id: c.id,
                    state: "already paused".into(),
                })
            }
            _ => return Err(EngineError::NotRunning(c.id)),
        }
        let m = self.cgroup(&c.id)?;
        m.freeze().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        self.containers().update_state(&c.id, |s| {
            s.status = Status::Paused;
            Ok(())
        })?;
        self.find(&c.id)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, reference: &str) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        if c.state.status != Status::Paused {
            return Err(EngineError::BadState {
                id: c.id,
                state: "not paused".into(),
            });
        }
        let m = self.cgroup(&c.id)?;
        m.thaw().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        self.containers().update_state(&c.id, |s| {
            if s.status == Status::Paused {
                s.status = Status::Running;
            }
            Ok(())
        })?;
        self.find(&c.id)
    }

    /// The host pids of the container's processes (for `top`).
    pub fn pids(&self, reference: &str) -> Result<(Container, Vec<i32>), EngineError> {
        let c = self.find(reference)?;
        if !c.state.status.is_active() {
            return Err(EngineError::NotRunning(c.id));
        }
        let m = self.cgroup(&c.id)?;
        let pids = m.pids().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        Ok((c, pids))
    }
}

#[cfg(test)]
mod tests {
    use crate::container::{boot_id, process_start_time, Status};
    use crate::options::RunFlags;
    use crate::Engine;
    use storage::Reference;

    /// Kept exit codes survive the step that rebuilds `exits` without a
    /// rowid, and the engine's second step drops the image index.
    #[test]
    fn migrations_keep_exit_codes_and_drop_the_image_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = storage::Db::open(&dir.path().join("t.db")).unwrap();
        db.migrate(super::EXITS, &super::EXITS_MIGRATIONS[..1])
            .unwrap();
        db.migrate("engine", &crate::container::MIGRATIONS[..1])
            .unwrap();
        db.conn()
            .execute("INSERT INTO exits VALUES ('a', 3, 10)", [])
            .unwrap();
        db.migrate(super::EXITS, super::EXITS_MIGRATIONS).unwrap();
        db.migrate("engine", crate::container::MIGRATIONS).unwrap();
        let conn = db.conn();
        let code: i32 = conn
            .query_row("SELECT code FROM exits WHERE id = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(code, 3);
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'exits'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'containers_image'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
    }

    /// A `wait` in another engine (as another process) on a container
    /// whose foreground owner removes it prints the code the removal kept.
    #[test]
    fn wait_reads_the_code_kept_by_the_removal() {
        let dir = tempfile::tempdir().unwrap();
        let (root, run) = (dir.path().join("root"), dir.path().join("run"));
        let engine = Engine::open(&root, &run).unwrap();
        let tar = testkit::busybox_tar(dir.path()).unwrap();
        let name = Reference::parse_with_default_tag("busybox").unwrap();
        let file = std::fs::File::open(&tar).unwrap();
        storage::archive::import(engine.store(), file, Some(&name), &[], "test", None).unwrap();
        let c = engine
            .create(
                "busybox",
                RunFlags::default().parse().unwrap(),
                &["true".to_string()],
            )
            .unwrap();
        // Running, as its init and owner this live test process.
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap();
        engine
            .containers()
            .update_state(&c.id, |s| {
                s.status = Status::Running;
                (s.pid, s.pid_start, s.monitor_pid, s.monitor_start) = (me, start, me, start);
                s.boot_id = boot_id().to_string();
                Ok(())
            })
            .unwrap();
        let id = c.id.clone();
        let waiter = std::thread::spawn(move || Engine::open(&root, &run).unwrap().wait(&id));
        std::thread::sleep(std::time::Duration::from_millis(200));
        if waiter.is_finished() {
            panic!("wait returned while running: {:?}", waiter.join());
        }
        let detached = engine.remove_after_exit(&c, Some(3)).unwrap();
        assert_eq!(waiter.join().unwrap().unwrap(), 3);
        assert!(engine.list().unwrap().is_empty());
        if let Some(d) = detached {
            engine.store().remove_detached(&c.id, &d).unwrap();
        }
        // Unknown ids have no kept code.
        assert_eq!(engine.removed_exit_code("nope"), None);
    }
}
