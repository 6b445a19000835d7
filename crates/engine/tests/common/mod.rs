//! Set-up shared by the engine's integration tests.

use engine::Engine;
use storage::Reference;

/// An engine on a fresh store under `dir` (`root/`, `run/`) holding a
/// busybox image tagged `busybox`.
pub fn engine_with_busybox(dir: &std::path::Path) -> Engine {
    let engine = Engine::open(&dir.join("root"), &dir.join("run")).unwrap();
    let tar = testkit::busybox_tar(dir).unwrap();
    let name = Reference::parse_with_default_tag("busybox").unwrap();
    let file = std::fs::File::open(&tar).unwrap();
    storage::archive::import(engine.store(), file, Some(&name), &[], "test", None).unwrap();
    engine
}
