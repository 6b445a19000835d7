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
        // Independent values: printf 'sha256:<a> sha256:<b>' | sha256sum,
        // where <a>, <b>, <c> are the sha256 of "a", "b", "c".
        let d = |hex: &str| Digest::from_hex(hex).unwrap();
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        let c = Digest::of_bytes(b"c");
        assert_eq!(
            a,
            d("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")
        );
        let ab = d("51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
        let abc = d("2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106");
        assert_eq!(chain_id(None, &a), a);
        assert_eq!(chain_id(Some(&a), &b), ab);
        assert_eq!(chain_ids(&[a.clone(), b, c]), vec![a, ab, abc]);
    }
}
