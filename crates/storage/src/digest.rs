//! Content digests (`sha256:<64 lowercase hex>`), the only algorithm berth
//! accepts, and a `Read` adapter that hashes what passes through it.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// Why a string is not a digest berth accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// Not of the form `algorithm:hex`.
    #[error("invalid digest {0:?}: expected sha256:<64 hex digits>")]
    Format(String),
    /// An algorithm other than sha256 (OCI allows sha512, berth does not).
    #[error("unsupported digest algorithm in {0:?}: only sha256 is supported")]
    Algorithm(String),
}

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 hex>`; uppercase hex and other algorithms are refused.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (algo, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Format(s.to_string()))?;
        if algo != "sha256" {
            if algo.is_empty()
                || !algo
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b))
            {
                return Err(DigestError::Format(s.to_string()));
            }
            return Err(DigestError::Algorithm(s.to_string()));
        }
        Digest::from_hex(hex).map_err(|_| DigestError::Format(s.to_string()))
    }

    /// Builds a digest from its 64 lowercase hex digits (no `sha256:` prefix).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(DigestError::Format(hex.to_string()))
        }
    }

    /// The sha256 digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub(crate) fn from_hasher(h: Sha256) -> Digest {
        Digest {
            hex: hex::encode(h.finalize()),
        }
    }

    /// The 64 hex digits, without the algorithm (used as file names).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, Docker's short id.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A `Read` adapter that feeds every byte read through sha256 and counts
/// them, so a stream can be verified in the same pass that consumes it.
pub struct HashingReader<R> {
    inner: R,
    /// `None` when only counting (the digest is known another way).
    hasher: Option<Sha256>,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Some(Sha256::new()),
            count: 0,
        }
    }

    /// A reader that only counts: for a stream whose digest another
    /// `HashingReader` already computes (an uncompressed layer's diff id
    /// is its blob digest), so it is not hashed twice.
    pub(crate) fn counting(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: None,
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest and length of everything read so far.
    pub fn finish(self) -> (Digest, u64) {
        let count = self.count;
        let d = self.finish_opt().0.unwrap_or_else(|| Digest::of_bytes(b""));
        (d, count)
    }

    /// The digest (`None` for a counting-only reader) and length.
    pub(crate) fn finish_opt(self) -> (Option<Digest>, u64) {
        (self.hasher.map(Digest::from_hasher), self.count)
    }

    /// The wrapped reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_sha256() {
        let d = Digest::parse(&format!("sha256:{EMPTY}")).unwrap();
        assert_eq!(d.hex(), EMPTY);
        assert_eq!(d.to_string(), format!("sha256:{EMPTY}"));
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(Digest::of_bytes(b""), d);
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "sha256:",
            EMPTY,
            &format!("sha256:{}", &EMPTY[..63]),
            &format!("sha256:{EMPTY}0"),
            &format!("sha256:{}", EMPTY.to_uppercase()),
            &format!("sha256:{}g", &EMPTY[..63]),
            &format!("SHA256:{EMPTY}"),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            Digest::parse(&format!("sha512:{EMPTY}{EMPTY}")),
            Err(DigestError::Algorithm(_))
        ));
    }

    #[test]
    fn hashing_reader_hashes_and_counts() {
        let mut r = HashingReader::new(&b"hello"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let (d, n) = r.finish();
        assert_eq!(n, 5);
        assert_eq!(
            d.hex(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
