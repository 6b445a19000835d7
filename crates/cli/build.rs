//! Links `berth` as a position-dependent executable: every `berth` run is
//! a short process, and a PIE of this size makes the dynamic loader apply
//! ~19,000 relative relocations (each page of `.data.rel.ro` copied on
//! write) before `main`. The code itself is compiled PIC either way.

fn main() {
    println!("cargo:rustc-link-arg-bin=berth=-no-pie");
}
