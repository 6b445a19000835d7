//! `--ulimit name=soft[:hard]`, parsed as docker/go-units `ParseUlimit`.

use serde::{Deserialize, Serialize};

/// One resource limit for the container's init process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// The short name Docker uses (`nofile`, `nproc`, …).
    #[serde(rename = "Name")]
    pub name: String,
    /// The soft limit.
    #[serde(rename = "Soft")]
    pub soft: i64,
    /// The hard limit (equal to soft when only one value was given).
    #[serde(rename = "Hard")]
    pub hard: i64,
}

/// The names Docker accepts, and the `RLIMIT_*` each one stands for.
const NAMES: &[(&str, &str)] = &[
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
];

impl Ulimit {
    /// Parses `name=soft[:hard]`; the error text is go-units' own.
    pub fn parse(value: &str) -> Result<Self, String> {
        let Some((name, limits)) = value.split_once('=') else {
            return Err(format!("invalid ulimit argument: {value}"));
        };
        if !NAMES.iter().any(|(n, _)| *n == name) {
            return Err(format!("invalid ulimit type: {name}"));
        }
        let (soft, hard) = match limits.split_once(':') {
            Some((s, h)) => (s, Some(h)),
            None => (limits, None),
        };
        let soft: i64 = soft
            .parse()
            .map_err(|_| format!("invalid ulimit soft value {soft}"))?;
        let hard: i64 = match hard {
            Some(h) => h
                .parse()
                .map_err(|_| format!("invalid ulimit hard value {h}"))?,
            None => soft,
        };
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
        Ok(Ulimit {
            name: name.to_string(),
            soft,
            hard,
        })
    }

    /// The OCI `process.rlimits[].type` for this limit (`RLIMIT_NOFILE`).
    pub fn rlimit_type(&self) -> &'static str {
        NAMES
            .iter()
            .find(|(n, _)| *n == self.name)
            .map(|(_, t)| *t)
            .unwrap_or("RLIMIT_NOFILE")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_and_hard() {
        let u = Ulimit::parse("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(u.rlimit_type(), "RLIMIT_NOFILE");
        let u = Ulimit::parse("nproc=100").unwrap();
        assert_eq!((u.soft, u.hard), (100, 100));
        assert_eq!(Ulimit::parse("core=-1").unwrap().hard, -1);
    }

    #[test]
    fn errors_are_go_units_messages() {
        assert_eq!(
            Ulimit::parse("x").unwrap_err(),
            "invalid ulimit argument: x"
        );
        assert_eq!(
            Ulimit::parse("bogus=1").unwrap_err(),
            "invalid ulimit type: bogus"
        );
        assert_eq!(
            Ulimit::parse("nofile=a").unwrap_err(),
            "invalid ulimit soft value a"
        );
        assert_eq!(
            Ulimit::parse("nofile=1:b").unwrap_err(),
            "invalid ulimit hard value b"
        );
        assert_eq!(
            Ulimit::parse("nofile=10:5").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5"
        );
    }
}
