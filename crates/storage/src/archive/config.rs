//! Building the image config of an imported rootfs (`docker import`): the
//! platform, creation time, one diff id, one history entry, and the
//! `--change` instructions applied to `config`.

use serde_json::{json, Map, Value};

use super::changes::{self, ChangeError};
use crate::digest::Digest;

/// Go's `GOARCH` name of the machine berth runs on, as image configs use.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The config bytes of a one-layer image whose layer has `diff_id`.
/// `comment` is Docker's history comment (`Imported from -` or
/// `Imported from FILE`), `message` an optional `--message`. `created` is an
/// RFC 3339 timestamp.
pub fn import_config(
    diff_id: &Digest,
    changes: &[String],
    comment: &str,
    created: &str,
) -> Result<Vec<u8>, ChangeError> {
    let mut config = Map::new();
    changes::apply(&mut config, changes)?;
    // Docker's config fields default to empty values; keep the ones a
    // consumer reads so `inspect` shows them.
    for (k, v) in [
        ("User", json!("")),
        ("Env", Value::Null),
        ("Cmd", Value::Null),
        ("WorkingDir", json!("")),
        ("Entrypoint", Value::Null),
        ("Labels", Value::Null),
    ] {
        config.entry(k).or_insert(v);
    }
    let doc = json!({
        "architecture": go_arch(),
        "comment": comment,
        "config": config,
        "created": created,
        "history": [{"created": created, "comment": comment}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    Ok(serde_json::to_vec(&doc).expect("a JSON value serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_platform_layer_and_changes() {
        let d = Digest::of_bytes(b"layer");
        let bytes = import_config(
            &d,
            &["CMD [\"sh\"]".to_string()],
            "Imported from -",
            "2024-01-02T03:04:05Z",
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["architecture"], go_arch());
        assert_eq!(v["os"], "linux");
        assert_eq!(v["rootfs"]["diff_ids"][0], d.to_string());
        assert_eq!(v["config"]["Cmd"], json!(["sh"]));
        assert_eq!(v["history"][0]["comment"], "Imported from -");
        assert_eq!(v["created"], "2024-01-02T03:04:05Z");
    }
}
