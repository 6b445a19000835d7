//! The storage component's tables in `berth.db` (see [`crate::db`] for how
//! migrations work). Append steps; never edit a released one.

/// The component name storage's migrations are recorded under.
pub const COMPONENT: &str = "storage";

/// Storage's migration steps, oldest first.
pub const MIGRATIONS: &[&str] = &[
    // 1: images, tags, layers.
    "
    -- One row per unpacked layer, keyed by chain id; the directory is
    -- layers/<chain hex>/diff. blob_* describe the original (possibly
    -- compressed) blob when it was kept in blobs/.
    CREATE TABLE layers (
        chain_id    TEXT PRIMARY KEY,
        diff_id     TEXT NOT NULL,
        parent      TEXT,
        size        INTEGER NOT NULL,
        blob_digest TEXT,
        blob_size   INTEGER,
        compression TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    -- id is the digest of the config blob (Docker's image id).
    CREATE TABLE images (
        id              TEXT PRIMARY KEY,
        config_size     INTEGER NOT NULL,
        created         TEXT,
        added_at        INTEGER NOT NULL,
        size            INTEGER NOT NULL,
        manifest_digest TEXT,
        manifest_media_type TEXT
    );
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        idx      INTEGER NOT NULL,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, idx)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    -- name is the full repository:tag, e.g. docker.io/library/busybox:latest.
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX tags_image ON tags(image_id);
    -- repository@digest references (RepoDigests), full repository name.
    CREATE TABLE image_digests (
        image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        repository TEXT NOT NULL,
        digest     TEXT NOT NULL,
        PRIMARY KEY (repository, digest)
    );
    CREATE INDEX image_digests_image ON image_digests(image_id);
    ",
];
