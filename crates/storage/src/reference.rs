//! Image references with Docker's grammar and normalisation
//! (`busybox` = `docker.io/library/busybox`), as distribution/reference's
//! `ParseNormalizedNamed` and `FamiliarString`.

use std::fmt;

use crate::digest::Digest;

/// The registry a name without a domain belongs to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not an image reference. The messages are Docker's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// Anything that does not match the grammar.
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    /// A repository path with uppercase letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// A bare 64-hex string, which would be confused with an image id.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// An empty reference.
    #[error("invalid reference format: repository name must have at least one component")]
    Empty,
    /// A name longer than 255 characters.
    #[error("invalid reference format: repository name must not be more than 255 characters")]
    TooLong,
}

/// A normalised image reference: `domain/path[:tag][@digest]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises like Docker's `ParseNormalizedNamed`: the
    /// default domain and `library/` are added; no default tag is added
    /// (see [`Reference::with_default_tag`]).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let invalid = || ReferenceError::InvalidFormat(s.to_string());
        let (domain, remainder) = split_docker_domain(s);
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase(remote.to_string()));
        }
        let (rest, digest) = match remainder.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d).map_err(|_| invalid())?)),
            None => (remainder.as_str(), None),
        };
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t)),
            _ => (rest, None),
        };
        if !valid_domain(domain) || !path.split('/').all(valid_path_component) {
            return Err(invalid());
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid());
            }
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::TooLong);
        }
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Parses, then adds `:latest` when there is neither tag nor digest
    /// (Docker's `TagNameOnly`): what `docker tag`/`docker run` use.
    pub fn parse_with_default_tag(s: &str) -> Result<Reference, ReferenceError> {
        Ok(Reference::parse(s)?.with_default_tag())
    }

    /// Adds `:latest` when there is neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The registry host (with port), e.g. `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker shows it: `busybox`, `user/app`,
    /// `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `name:tag` with the full name (the key berth stores tags under),
    /// or `None` without a tag.
    pub fn tagged_name(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{}", self.name(), t))
    }

    /// The familiar form with tag and digest: `busybox:latest`,
    /// `localhost:5000/x@sha256:…` (Docker's `FamiliarString`).
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form, e.g. `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Docker's `splitDockerDomain`: the first component is a registry only if
/// it looks like a host (has `.` or `:`, is `localhost`, or has uppercase).
fn split_docker_domain(name: &str) -> (&str, String) {
    let (domain, remainder) = match name.find('/') {
        Some(i)
            if name[..i].contains(['.', ':'])
                || &name[..i] == "localhost"
                || name[..i].to_lowercase() != name[..i] =>
        {
            (&name[..i], &name[i + 1..])
        }
        _ => (DEFAULT_DOMAIN, name),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let remainder = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{remainder}")
    } else {
        remainder.to_string()
    };
    (domain, remainder)
}

/// `host[:port]` where host is dot-separated labels or `[ipv6]`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(p) => ("", Some(p)),
                None => return false,
            },
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if d.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalises_like_docker() {
        for (input, full, familiar) in [
            ("busybox", "docker.io/library/busybox", "busybox"),
            (
                "busybox:latest",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            ("library/busybox", "docker.io/library/busybox", "busybox"),
            ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox",
                "busybox",
            ),
            ("docker/docker", "docker.io/docker/docker", "docker/docker"),
            (
                "index.docker.io/docker/docker:1.0",
                "docker.io/docker/docker:1.0",
                "docker/docker:1.0",
            ),
            ("localhost/x", "localhost/x", "localhost/x"),
            (
                "localhost:5000/x:y",
                "localhost:5000/x:y",
                "localhost:5000/x:y",
            ),
            (
                "127.0.0.1:5000/docker/docker",
                "127.0.0.1:5000/docker/docker",
                "127.0.0.1:5000/docker/docker",
            ),
            (
                "192.168.0.1",
                "docker.io/library/192.168.0.1",
                "192.168.0.1",
            ),
            (
                "192.168.0.1:80",
                "docker.io/library/192.168.0.1:80",
                "192.168.0.1:80",
            ),
            (
                "b.gcr.io/test.example.com/my-app",
                "b.gcr.io/test.example.com/my-app",
                "b.gcr.io/test.example.com/my-app",
            ),
            (
                "xn--n3h.com/myimage",
                "xn--n3h.com/myimage",
                "xn--n3h.com/myimage",
            ),
            (
                "example.com/some_separator__underscore/myimage",
                "example.com/some_separator__underscore/myimage",
                "example.com/some_separator__underscore/myimage",
            ),
            (
                "registry.io/foo/project--id.module--name.ver---sion--name",
                "registry.io/foo/project--id.module--name.ver---sion--name",
                "registry.io/foo/project--id.module--name.ver---sion--name",
            ),
            (
                "do__cker/docker",
                "docker.io/do__cker/docker",
                "do__cker/docker",
            ),
            ("[fe80::1]:5000/a", "[fe80::1]:5000/a", "[fe80::1]:5000/a"),
            ("Docker.io/x", "Docker.io/x", "Docker.io/x"),
        ] {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar_string(), familiar, "{input}");
        }
    }

    #[test]
    fn tags_and_digests() {
        let r = Reference::parse(&format!("busybox@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().hex(), HEX);
        assert_eq!(r.familiar_string(), format!("busybox@sha256:{HEX}"));
        let r = Reference::parse(&format!("localhost:5000/a/b:v1@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.name(), "localhost:5000/a/b");
        let r = Reference::parse_with_default_tag("busybox").unwrap();
        assert_eq!(r.tagged_name().unwrap(), "docker.io/library/busybox:latest");
        let r = Reference::parse_with_default_tag(&format!("busybox@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.familiar_name(), "busybox");
    }

    #[test]
    fn refuses_invalid() {
        for bad in [
            "",
            ":",
            "busybox:",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker///docker",
            "example.com/__underscore/myimage",
            "example.com/..dots/myimage",
            "example.com/.dots/myimage",
            "example.com/nodouble..dots/myimage",
            "docker./docker",
            ".docker/docker",
            "docker-/docker",
            "do..cker/docker",
            "do__cker:8080/docker",
            "busybox:a/b",
            "busybox@sha256:abc",
            "busybox:-tag",
            "a b",
            "localhost:/x",
            HEX,
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long_tag = format!("busybox:{}", "a".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
        let long = format!("a/{}", "b".repeat(260));
        assert_eq!(Reference::parse(&long), Err(ReferenceError::TooLong));
    }

    #[test]
    fn uppercase_message_is_dockers() {
        let e = Reference::parse("Busybox").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert!(Reference::parse("docker/Docker").is_err());
        assert!(Reference::parse("docker.io/docker/Docker").is_err());
        assert!(Reference::parse(HEX)
            .unwrap_err()
            .to_string()
            .contains("64-byte hexadecimal"));
    }
}
