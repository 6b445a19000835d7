//! The metadata database (`berth.db`): SQLite in WAL mode, shared by every
//! berth process, with a per-component migration list so the engine can
//! add its own tables (containers, volumes) next to the image tables.
//!
//! # Migrations
//!
//! Each component (`"storage"`, `"engine"`, …) owns an ordered list of SQL
//! scripts; step `i` (0-based) brings that component to version `i + 1`.
//! [`Db::migrate`] applies the missing steps inside one `BEGIN IMMEDIATE`
//! transaction and records the version in the `berth_schema` table, so two
//! processes opening the store at once apply each step exactly once. Steps
//! are append-only: never edit a released step, add a new one.
//! `PRAGMA user_version` mirrors the storage component's version, for tools.
//!
//! ```no_run
//! # fn demo(store: &storage::Store) -> Result<(), storage::DbError> {
//! const ENGINE: &[&str] = &["CREATE TABLE containers (id TEXT PRIMARY KEY, image_id TEXT NOT NULL)"];
//! store.db().migrate("engine", ENGINE)?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

/// How long a writer waits for another process's transaction to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A failure of the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database file could not be opened or configured.
    #[error("cannot open metadata database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A migration step failed.
    #[error("migration {component} step {step} failed: {source}")]
    Migration {
        /// Who owns the step.
        component: String,
        /// The 1-based version the step would have produced.
        step: usize,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database has a newer schema than this binary knows.
    #[error("metadata database schema of {component} is version {found}, newer than this berth ({known})")]
    TooNew {
        /// The component.
        component: String,
        /// Version found in the database.
        found: usize,
        /// Latest version this binary knows.
        known: usize,
    },
    /// Any other query failure.
    #[error("metadata database: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// A handle on `berth.db`. Cheap to share by reference; the connection is
/// behind a mutex so a `Store` can be used from several threads.
pub struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Every component's schema version as read once at open, so each
    /// component's up-to-date check costs no transaction of its own. A
    /// component up to date at open counts as such for this handle (its
    /// migrate runs right after open); one found behind is read again.
    versions_at_open: Vec<(String, usize)>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`, in WAL mode with a
    /// busy timeout and foreign keys on.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let open_err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        // WAL mode is persistent (it is recorded in the file's header), so
        // only a file not yet in WAL pays for the switch, a query that
        // takes a lock; every later process skips it.
        let in_wal = is_wal_file(path);
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // While another process switches a fresh file to WAL, SQLite answers
        // SQLITE_BUSY at once instead of calling the busy handler: retry.
        let start = Instant::now();
        let versions_at_open = loop {
            match configure(&conn, in_wal) {
                Err(e) if is_busy(&e) && start.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => break other.map_err(open_err)?,
            }
        };
        Ok(Db {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            versions_at_open,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for queries of your own tables. Hold the guard
    /// briefly: other threads of this process wait on it.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (an open transaction rolls back on drop), so poisoning is ignored.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction (the write lock is taken
    /// up front, so concurrent writers queue on the busy timeout instead of
    /// failing with `SQLITE_BUSY` at upgrade). Commits if `f` returns `Ok`.
    pub fn write<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read (deferred) transaction, a consistent snapshot.
    pub fn read<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    /// Brings `component`'s schema up to `steps.len()` (see the module docs).
    pub fn migrate(&self, component: &str, steps: &[&str]) -> Result<(), DbError> {
        // Fast path without the write lock (every open of the store runs
        // this, and several berth processes open it at once), and without
        // a query when the versions read at open already say so.
        let at_open = self
            .versions_at_open
            .iter()
            .find(|(c, _)| c == component)
            .map(|(_, v)| *v);
        if at_open == Some(steps.len()) {
            return Ok(());
        }
        let current = self.read(|tx| component_version(tx, component))?;
        if current == steps.len() {
            return Ok(());
        }
        self.write(|tx| {
            let current = component_version(tx, component)?;
            if current > steps.len() {
                return Err(DbError::TooNew {
                    component: component.to_string(),
                    found: current,
                    known: steps.len(),
                });
            }
            for (i, sql) in steps.iter().enumerate().skip(current) {
                tx.execute_batch(sql).map_err(|source| DbError::Migration {
                    component: component.to_string(),
                    step: i + 1,
                    source,
                })?;
            }
            if current < steps.len() {
                tx.execute(
                    "INSERT INTO berth_schema (component, version) VALUES (?1, ?2)
                     ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    rusqlite::params![component, steps.len() as i64],
                )?;
                if component == crate::schema::COMPONENT {
                    tx.pragma_update(None, "user_version", steps.len() as i64)?;
                }
            }
            Ok(())
        })
    }
}

/// The per-connection settings and the schema table, idempotent; returns
/// every component's version. `in_wal`: the file is already in WAL mode.
fn configure(conn: &Connection, in_wal: bool) -> Result<Vec<(String, usize)>, rusqlite::Error> {
    if !in_wal {
        // WAL lets readers run while one process writes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    // NORMAL sync is durable across process crashes (the WAL is fsynced
    // at checkpoint). Both settings are per connection: set each time,
    // in one batch (neither touches the file).
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    // The schema table exists in every database but a new one: read it
    // first, and create it only when the read says it is missing.
    match all_versions(conn) {
        Err(e) if no_such_table(&e) => {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS berth_schema (
                    component TEXT PRIMARY KEY,
                    version INTEGER NOT NULL
                )",
            )?;
            all_versions(conn)
        }
        other => other,
    }
}

/// Whether the SQLite file at `path` is in WAL mode: its header's read
/// and write format versions (bytes 18 and 19) are 2 (sqlite.org
/// fileformat2 §1.3.4). A missing, short or unreadable file is not.
fn is_wal_file(path: &Path) -> bool {
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && header.starts_with(b"SQLite format 3\0")
        && header[18] == 2
        && header[19] == 2
}

/// The error of a query on a table that does not exist.
fn no_such_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.starts_with("no such table"))
}

/// Every component's version, in one query.
fn all_versions(conn: &Connection) -> Result<Vec<(String, usize)>, rusqlite::Error> {
    let mut st = conn.prepare("SELECT component, version FROM berth_schema")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
    })?;
    rows.collect()
}

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The version a component's schema is at (0 if it has none).
fn component_version(tx: &Transaction<'_>, component: &str) -> Result<usize, DbError> {
    Ok(tx
        .query_row(
            "SELECT version FROM berth_schema WHERE component = ?1",
            [component],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_extend() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.migrate("x", &["CREATE TABLE a (v INTEGER)"]).unwrap();
        db.migrate("x", &["CREATE TABLE a (v INTEGER)"]).unwrap();
        db.migrate(
            "x",
            &["CREATE TABLE a (v INTEGER)", "CREATE TABLE b (v INTEGER)"],
        )
        .unwrap();
        db.migrate("y", &["CREATE TABLE c (v INTEGER)"]).unwrap();
        let n: i64 = db
            .conn()
            .query_row(
                "SELECT version FROM berth_schema WHERE component='x'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 2);
        assert!(matches!(
            db.migrate("x", &["CREATE TABLE a (v INTEGER)"]),
            Err(DbError::TooNew { .. })
        ));
        // A failing step leaves nothing of the migration behind.
        assert!(db
            .migrate("z", &["CREATE TABLE d (v INTEGER)", "NOT SQL"])
            .is_err());
        let d: i64 = db
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name='d'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(d, 0);
    }

    #[test]
    fn a_new_file_is_switched_to_wal_once_and_reopened_without_the_switch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        assert!(!is_wal_file(&path), "missing file");
        std::fs::write(&path, b"").unwrap();
        assert!(!is_wal_file(&path), "empty file");
        std::fs::remove_file(&path).unwrap();
        let db = Db::open(&path).unwrap();
        assert!(db.versions_at_open.is_empty());
        db.migrate("x", &["CREATE TABLE a (v INTEGER)"]).unwrap();
        drop(db);
        assert!(is_wal_file(&path), "the header records WAL mode");
        let db = Db::open(&path).unwrap();
        assert_eq!(db.versions_at_open, vec![("x".to_string(), 1)]);
        let conn = db.conn();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // The per-connection settings are applied on every open.
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn a_database_left_in_rollback_mode_is_switched_to_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        // As a process killed between creating the file and the switch
        // would leave it: a valid database, not in WAL mode.
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE a (v INTEGER)")
            .unwrap();
        assert!(!is_wal_file(&path));
        let db = Db::open(&path).unwrap();
        assert!(db.versions_at_open.is_empty(), "schema table created");
        drop(db);
        assert!(is_wal_file(&path));
    }

    #[test]
    fn versions_read_at_open_are_rechecked_when_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let one = ["CREATE TABLE a (v INTEGER)"];
        let two = ["CREATE TABLE a (v INTEGER)", "CREATE TABLE b (v INTEGER)"];
        Db::open(&path).unwrap().migrate("x", &one).unwrap();
        // `late` read version 1 at open; another process then goes to 2.
        let late = Db::open(&path).unwrap();
        assert_eq!(late.versions_at_open, vec![("x".to_string(), 1)]);
        Db::open(&path).unwrap().migrate("x", &two).unwrap();
        // Behind the two steps asked for: checked again in the database,
        // which is already there (nothing applied twice).
        late.migrate("x", &two).unwrap();
        let b: i64 = late
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name='b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b, 1);
    }
}
