//! The `containers` table of `berth.db` (the engine's migrations, see
//! `storage::db`): one row per container, names unique by constraint so
//! two concurrent `run --name x` cannot both win.

use rusqlite::{params, OptionalExtension, Transaction};
use storage::Db;

use super::{Container, State};
use crate::error::EngineError;

/// The engine's migration steps, oldest first. Append; never edit.
pub const MIGRATIONS: &[&str] = &[
    // 1: the table.
    "
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL,
        created     TEXT NOT NULL,
        config      TEXT NOT NULL,
        host_config TEXT NOT NULL,
        state       TEXT NOT NULL
    );
    CREATE INDEX containers_image ON containers(image_id);
    ",
    // 2: no index on image_id. Only `rmi`'s in-use check reads by image,
    // and a scan of the table serves it; the index was two more pages
    // to write (and for every later process to re-read from the WAL) per
    // container created and removed.
    "DROP INDEX IF EXISTS containers_image;",
];

/// The container table.
pub struct Containers<'a> {
    db: &'a Db,
}

const COLUMNS: &str = "id, name, image_id, created, config, host_config, state";

fn row_to_container(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Container, EngineError>> {
    let id: String = row.get(0)?;
    let corrupt = |what: &str, e: serde_json::Error| EngineError::Corrupt {
        id: id.clone(),
        reason: format!("{what}: {e}"),
    };
    let config: String = row.get(4)?;
    let host: String = row.get(5)?;
    let state: String = row.get(6)?;
    let parsed = (|| {
        Ok(Container {
            id: id.clone(),
            name: row.get(1).map_err(EngineError::Db)?,
            image_id: row.get(2).map_err(EngineError::Db)?,
            created: row.get(3).map_err(EngineError::Db)?,
            config: serde_json::from_str(&config).map_err(|e| corrupt("config", e))?,
            host_config: serde_json::from_str(&host).map_err(|e| corrupt("host config", e))?,
            state: serde_json::from_str(&state).map_err(|e| corrupt("state", e))?,
        })
    })();
    Ok(parsed)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Our own plain structs always serialise.
    serde_json::to_string(v).unwrap_or_default()
}

fn get_in(tx: &Transaction<'_>, id: &str) -> Result<Option<Container>, EngineError> {
    tx.query_row(
        &format!("SELECT {COLUMNS} FROM containers WHERE id = ?1"),
        [id],
        row_to_container,
    )
    .optional()?
    .transpose()
}

/// Deletes the record inside the caller's transaction, so a removal can
/// drop the row and its volume references in one commit.
pub(crate) fn remove_in(tx: &Transaction<'_>, id: &str) -> Result<(), EngineError> {
    tx.execute("DELETE FROM containers WHERE id = ?1", [id])?;
    Ok(())
}

impl<'a> Containers<'a> {
    /// The table in `db`, created or upgraded on first use.
    pub fn open(db: &'a Db) -> Result<Self, EngineError> {
        db.migrate("engine", MIGRATIONS)?;
        Ok(Containers { db })
    }

    /// The table in a database already migrated by [`Containers::open`].
    pub fn from_db(db: &'a Db) -> Self {
        Containers { db }
    }

    /// Records a new container; a taken name is Docker's conflict error.
    pub fn insert(&self, c: &Container) -> Result<(), EngineError> {
        self.db.write(|tx| {
            let holder: Option<String> = tx
                .query_row(
                    "SELECT id FROM containers WHERE name = ?1",
                    [&c.name],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = holder {
                return Err(EngineError::NameInUse {
                    name: c.name.clone(),
                    id,
                });
            }
            tx.execute(
                &format!("INSERT INTO containers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    c.id,
                    c.name,
                    c.image_id,
                    c.created,
                    to_json(&c.config),
                    to_json(&c.host_config),
                    to_json(&c.state)
                ],
            )?;
            Ok(())
        })
    }

    /// The container with this full id.
    pub fn get(&self, id: &str) -> Result<Container, EngineError> {
        self.db
            .read(|tx| get_in(tx, id))?
            .ok_or_else(|| EngineError::NoSuchContainer(id.to_string()))
    }

    /// Finds a container as Docker does: full id, exact name (with or
    /// without `/`), then a unique id prefix.
    pub fn find(&self, reference: &str) -> Result<Container, EngineError> {
        let name = reference.strip_prefix('/').unwrap_or(reference);
        self.db.read(|tx| {
            if let Some(c) = get_in(tx, reference)? {
                return Ok(c);
            }
            let by_name = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM containers WHERE name = ?1"),
                    [name],
                    row_to_container,
                )
                .optional()?;
            if let Some(c) = by_name {
                return c;
            }
            if reference.is_empty() || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(EngineError::NoSuchContainer(reference.to_string()));
            }
            let mut st = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM containers WHERE substr(id, 1, ?2) = ?1 LIMIT 2"
            ))?;
            let mut found: Vec<Result<Container, EngineError>> = st
                .query_map(
                    params![reference.to_ascii_lowercase(), reference.len() as i64],
                    row_to_container,
                )?
                .collect::<Result<_, _>>()?;
            match found.len() {
                0 => Err(EngineError::NoSuchContainer(reference.to_string())),
                1 => found
                    .pop()
                    .unwrap_or_else(|| Err(EngineError::NoSuchContainer(reference.to_string()))),
                _ => Err(EngineError::Ambiguous(reference.to_string())),
            }
        })
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Container>, EngineError> {
        self.db.read(|tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM containers ORDER BY created DESC, id"
            ))?;
            let rows: Vec<Result<Container, EngineError>> = st
                .query_map([], row_to_container)?
                .collect::<Result<_, _>>()?;
            rows.into_iter().collect()
        })
    }

    /// Changes the state in one transaction: `f` sees the stored state and
    /// edits it; returns the new state. `f` returning an error aborts.
    pub fn update_state(
        &self,
        id: &str,
        f: impl FnOnce(&mut State) -> Result<(), EngineError>,
    ) -> Result<State, EngineError> {
        self.db.write(|tx| {
            // Only the state column: the config and host config are the
            // bulk of a row and a state change never needs them.
            let json: String = tx
                .query_row("SELECT state FROM containers WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| EngineError::NoSuchContainer(id.to_string()))?;
            let mut state: State =
                serde_json::from_str(&json).map_err(|e| EngineError::Corrupt {
                    id: id.to_string(),
                    reason: format!("state: {e}"),
                })?;
            f(&mut state)?;
            tx.execute(
                "UPDATE containers SET state = ?2 WHERE id = ?1",
                params![id, to_json(&state)],
            )?;
            Ok(state)
        })
    }

    /// Deletes the record (not an error if already gone).
    pub fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.db.write(|tx| remove_in(tx, id))
    }

    /// Gives the container a new name; a taken name is the conflict error.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<(), EngineError> {
        self.db.write(|tx| {
            let holder: Option<String> = tx
                .query_row(
                    "SELECT id FROM containers WHERE name = ?1",
                    [new_name],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(holder) = holder {
                return Err(EngineError::NameInUse {
                    name: new_name.to_string(),
                    id: holder,
                });
            }
            tx.execute(
                "UPDATE containers SET name = ?2 WHERE id = ?1",
                params![id, new_name],
            )?;
            Ok(())
        })
    }

    /// A container created from `image_id`, if any (for `rmi`).
    pub fn using_image(&self, image_id: &str) -> Result<Option<String>, EngineError> {
        Ok(self.db.read(|tx| {
            tx.query_row(
                "SELECT id FROM containers WHERE image_id = ?1 LIMIT 1",
                [image_id],
                |r| r.get(0),
            )
            .optional()
        })?)
    }
}
