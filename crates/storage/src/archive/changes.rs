//! `--change` for `import`: the Dockerfile instructions that only touch the
//! image config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME,
//! STOPSIGNAL), applied to the `config` object of a new image config.

use serde_json::{Map, Value};

/// A `--change` value that is not an instruction berth can apply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    /// Not one of the config-only instructions (Docker's wording).
    #[error("{0} is not a valid change command")]
    Unknown(String),
    /// The instruction's arguments do not parse.
    #[error("invalid --change {change:?}: {reason}")]
    Invalid {
        /// The whole change string.
        change: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Applies each change in order to `config` (the image config's `config`
/// object, keys as in Docker: `Cmd`, `Entrypoint`, `Env`, ...).
pub fn apply(config: &mut Map<String, Value>, changes: &[String]) -> Result<(), ChangeError> {
    for change in changes {
        apply_one(config, change)?;
    }
    Ok(())
}

fn apply_one(config: &mut Map<String, Value>, change: &str) -> Result<(), ChangeError> {
    let change = change.trim();
    let (instr, rest) = match change.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (change, ""),
    };
    let invalid = |reason: &str| ChangeError::Invalid {
        change: change.to_string(),
        reason: reason.to_string(),
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), command(rest));
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), command(rest));
        }
        "ENV" => {
            let pairs = key_values(rest).map_err(|e| invalid(&e))?;
            if pairs.is_empty() {
                return Err(invalid("ENV needs at least one name=value"));
            }
            let env = array_of(config, "Env");
            for (k, v) in pairs {
                let prefix = format!("{k}=");
                env.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
                env.push(Value::String(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let pairs = key_values(rest).map_err(|e| invalid(&e))?;
            if pairs.is_empty() {
                return Err(invalid("LABEL needs at least one name=value"));
            }
            let labels = object_of(config, "Labels");
            for (k, v) in pairs {
                labels.insert(k, Value::String(v));
            }
        }
        "WORKDIR" => {
            if rest.is_empty() {
                return Err(invalid("WORKDIR needs a path"));
            }
            let dir = if rest.starts_with('/') {
                rest.to_string()
            } else {
                let cur = config
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!(
                    "{}/{rest}",
                    if cur.is_empty() {
                        ""
                    } else {
                        cur.trim_end_matches('/')
                    }
                )
            };
            config.insert("WorkingDir".into(), Value::String(dir));
        }
        "USER" => {
            if rest.is_empty() {
                return Err(invalid("USER needs a user"));
            }
            config.insert("User".into(), Value::String(rest.to_string()));
        }
        "STOPSIGNAL" => {
            if rest.is_empty() {
                return Err(invalid("STOPSIGNAL needs a signal"));
            }
            config.insert("StopSignal".into(), Value::String(rest.to_string()));
        }
        "EXPOSE" => {
            let ports = words(rest).map_err(|e| invalid(&e))?;
            if ports.is_empty() {
                return Err(invalid("EXPOSE needs a port"));
            }
            let exposed = object_of(config, "ExposedPorts");
            for p in ports {
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                if num.split('-').any(|n| n.parse::<u16>().is_err()) {
                    return Err(invalid(&format!("invalid port {p:?}")));
                }
                exposed.insert(
                    format!("{num}/{}", proto.to_ascii_lowercase()),
                    Value::Object(Map::new()),
                );
            }
        }
        "VOLUME" => {
            let vols = match json_array(rest) {
                Some(v) => v,
                None => words(rest).map_err(|e| invalid(&e))?,
            };
            if vols.is_empty() {
                return Err(invalid("VOLUME needs a path"));
            }
            let volumes = object_of(config, "Volumes");
            for v in vols {
                volumes.insert(v, Value::Object(Map::new()));
            }
        }
        _ => return Err(ChangeError::Unknown(instr.to_string())),
    }
    Ok(())
}

/// CMD/ENTRYPOINT: the JSON (exec) form, or the shell form run by `/bin/sh -c`.
fn command(rest: &str) -> Value {
    match json_array(rest) {
        Some(args) => Value::from(args),
        None => Value::from(vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            rest.to_string(),
        ]),
    }
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

fn array_of<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = config.entry(key).or_insert(Value::Null);
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().expect("just made an array")
}

fn object_of<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = config.entry(key).or_insert(Value::Null);
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// `k=v k2="v 2"`, or the legacy single-pair form `k v w`.
fn key_values(rest: &str) -> Result<Vec<(String, String)>, String> {
    let ws = words(rest)?;
    if ws.is_empty() {
        return Ok(Vec::new());
    }
    if !ws[0].contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or("missing value")?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not name=value")),
        })
        .collect()
}

/// Splits on whitespace, honouring double and single quotes and backslashes
/// as the Dockerfile parser does.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(changes: &[&str]) -> Result<Value, ChangeError> {
        let mut m = Map::new();
        let c: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply(&mut m, &c)?;
        Ok(Value::Object(m))
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let v = run(&[r#"CMD ["sh", "-c", "echo hi"]"#, "ENTRYPOINT top -b"]).unwrap();
        assert_eq!(v["Cmd"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "top -b"]));
    }

    #[test]
    fn env_label_replace_and_quote() {
        let v = run(&[
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV LEGACY some value",
            "LABEL com.x=\"y z\" k=v",
        ])
        .unwrap();
        assert_eq!(v["Env"], json!(["B=two words", "A=3", "LEGACY=some value"]));
        assert_eq!(v["Labels"], json!({"com.x": "y z", "k": "v"}));
    }

    #[test]
    fn workdir_user_expose_volume_stopsignal() {
        let v = run(&[
            "WORKDIR /app",
            "WORKDIR sub",
            "USER 1000:1000",
            "EXPOSE 80 53/UDP",
            "VOLUME [\"/data\"]",
            "VOLUME /a /b",
            "STOPSIGNAL SIGINT",
        ])
        .unwrap();
        assert_eq!(v["WorkingDir"], json!("/app/sub"));
        assert_eq!(v["User"], json!("1000:1000"));
        assert_eq!(v["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(v["Volumes"], json!({"/data": {}, "/a": {}, "/b": {}}));
        assert_eq!(v["StopSignal"], json!("SIGINT"));
    }

    #[test]
    fn refuses_bad_changes() {
        assert_eq!(
            run(&["RUN rm -rf /"]).unwrap_err().to_string(),
            "RUN is not a valid change command"
        );
        assert!(run(&["EXPOSE http"]).is_err());
        assert!(run(&["ENV"]).is_err());
        assert!(run(&["LABEL a=\"unterminated"]).is_err());
        assert!(run(&["WORKDIR"]).is_err());
    }
}
