//! Builds `berth-init` (see `init/berth_init.rs`) as a static executable
//! that the engine embeds and binds into `--init` containers. Without a
//! static C library on the build host, the engine is built without it and
//! `--init` reports that clearly.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "init/berth_init.rs";
    println!("cargo:rerun-if-changed={src}");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("berth-init");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").unwrap_or_default();
    let mut cmd = Command::new(rustc);
    cmd.args([
        "--edition=2021",
        "-O",
        "-C",
        "panic=abort",
        "-C",
        "strip=symbols",
    ])
    .args(["-C", "target-feature=+crt-static"])
    .arg("-o")
    .arg(&out)
    .arg(src);
    if !target.is_empty() {
        cmd.args(["--target", &target]);
    }
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        println!(
            "cargo:warning=berth-init could not be built statically; --init will be unavailable"
        );
        std::fs::write(&out, b"").expect("write empty berth-init placeholder");
    }
}
