//! `-e`/`--env` and `--env-file` values, validated as docker/cli's
//! `opts.ValidateEnv` and `opts.ParseEnvFile` do.

use std::path::Path;

/// Checks one `-e` value: `KEY=VALUE` is taken as is; a bare `KEY` takes the
/// host's value, and is dropped when the host has none (Docker passes it to
/// the daemon, which never puts a value-less variable in the environment).
pub fn validate_env(value: &str) -> Result<Option<String>, String> {
    let (key, has_value) = match value.split_once('=') {
        Some((k, _)) => (k, true),
        None => (value, false),
    };
    if key.is_empty() {
        return Err(format!("invalid environment variable: {value}"));
    }
    if has_value {
        return Ok(Some(value.to_string()));
    }
    Ok(std::env::var_os(key).map(|v| format!("{key}={}", v.to_string_lossy())))
}

/// Reads an env file: one `KEY=VALUE` or `KEY` a line, `#` comments and
/// blank lines skipped, leading whitespace trimmed (docker/cli `parseKeyValueFile`).
pub fn parse_env_file(path: &Path) -> Result<Vec<String>, String> {
    let content = std::fs::read(path).map_err(|e| format!("open {}: {}", path.display(), e))?;
    let content = String::from_utf8(content)
        .map_err(|_| format!("env file {} contains invalid utf8 bytes", path.display()))?;
    let mut out = Vec::new();
    for (n, raw) in content.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line, |(k, _)| k);
        if key.is_empty() {
            return Err(format!(
                "invalid environment variable: {line} (line {} of {})",
                n + 1,
                path.display()
            ));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        if line.contains('=') {
            out.push(line.to_string());
        } else if let Some(v) = std::env::var_os(key) {
            out.push(format!("{key}={}", v.to_string_lossy()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        assert_eq!(validate_env("A=b").unwrap().as_deref(), Some("A=b"));
        assert_eq!(validate_env("A=").unwrap().as_deref(), Some("A="));
        assert_eq!(validate_env("A=b=c").unwrap().as_deref(), Some("A=b=c"));
        assert_eq!(
            validate_env("=x").unwrap_err(),
            "invalid environment variable: =x"
        );
        assert_eq!(
            validate_env("").unwrap_err(),
            "invalid environment variable: "
        );
        // PATH is set in any test environment; an odd name is not.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(validate_env("PATH").unwrap(), Some(format!("PATH={path}")));
        assert_eq!(validate_env("BERTH_SURELY_UNSET_VAR_42").unwrap(), None);
    }

    #[test]
    fn env_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(
            &f,
            "# comment\n\n  A=1\nB=two words\nBERTH_SURELY_UNSET_VAR_42\n",
        )
        .unwrap();
        assert_eq!(parse_env_file(&f).unwrap(), vec!["A=1", "B=two words"]);
        std::fs::write(&f, "=x\n").unwrap();
        assert!(parse_env_file(&f)
            .unwrap_err()
            .starts_with("invalid environment variable: =x"));
        std::fs::write(&f, "A B=1\n").unwrap();
        assert_eq!(
            parse_env_file(&f).unwrap_err(),
            "variable 'A B' contains whitespaces"
        );
        assert!(parse_env_file(&dir.path().join("missing"))
            .unwrap_err()
            .starts_with("open "));
    }
}
