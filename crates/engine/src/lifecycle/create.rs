//! `create`: resolve the image, apply the options to its config, reserve
//! the name, and prepare the rootfs (init layer, upper, work).

use storage::InitFiles;

use crate::container::{
    boot_id, now_rfc3339, random_id, random_name, self_start_time, Container, State,
};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::options::RunOptions;
use crate::spec::{effective_caps, ContainerConfig};

/// Docker's `/etc/hosts` for a container without a network address.
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The host's resolv.conf without loopback name servers (unreachable from
/// the container's own network namespace); Google's servers when none is
/// left, as Docker's `resolvconf.FilterResolvDNS` does.
fn resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

impl Engine {
    /// Creates a container from `image` with `opts`; `args` are the words
    /// after the image (they replace its Cmd).
    pub fn create(
        &self,
        image: &str,
        opts: RunOptions,
        args: &[String],
    ) -> Result<Container, EngineError> {
        self.create_with(image, opts, args, State::default())
    }

    /// [`Engine::create`] for a foreground `run`: the record is written
    /// already claimed by this process (as [`Engine::run_foreground`]
    /// would claim it), which saves that write. A kill -9 before the run
    /// leaves what a killed claim leaves: a created container whose owner
    /// is gone, which the next command reconciles.
    pub fn create_owned(
        &self,
        image: &str,
        opts: RunOptions,
        args: &[String],
    ) -> Result<Container, EngineError> {
        let state = State {
            monitor_pid: std::process::id() as i32,
            monitor_start: self_start_time(),
            boot_id: boot_id().to_string(),
            ..State::default()
        };
        self.create_with(image, opts, args, state)
    }

    fn create_with(
        &self,
        image: &str,
        opts: RunOptions,
        args: &[String],
        state: State,
    ) -> Result<Container, EngineError> {
        let image_id = self.store().resolve(image)?;
        crate::timing::mark("create: image resolved");
        let image_config = self.store().image_config(&image_id)?;
        let id = random_id();
        let config = ContainerConfig::new(&id, image, image_config.config().as_ref(), &opts, args)?;
        // Refuse bad capabilities now rather than at start.
        effective_caps(&opts.cap_add, &opts.cap_drop, opts.privileged)?;
        let mut container = Container {
            id: id.clone(),
            name: opts.name.clone().unwrap_or_else(|| random_name(0)),
            image_id: image_id.to_string(),
            created: now_rfc3339(),
            config,
            host_config: opts,
            state,
        };
        let mut attempt = 0;
        loop {
            match self.containers().insert(&container) {
                Err(EngineError::NameInUse { .. })
                    if container.host_config.name.is_none() && attempt < 10 =>
                {
                    attempt += 1;
                    container.name = random_name(attempt);
                }
                r => break r?,
            }
        }
        crate::timing::mark("create: inserted");
        let init = InitFiles {
            hostname: &container.config.hostname,
            hosts: HOSTS,
            resolv_conf: &resolv_conf(),
        };
        if let Err(e) = self.store().prepare_container_rootfs(&image_id, &id, &init) {
            let _ = self.store().remove_container_rootfs(&id);
            let _ = self.containers().remove(&id);
            return Err(e.into());
        }
        crate::timing::mark("create: rootfs prepared");
        // Volumes, binds, tmpfs, copy-up: see `crate::volume`.
        if let Err(e) = crate::volume::attach(self, &container, image_config.config().as_ref()) {
            let _ = crate::volume::release(self.store(), &id, true);
            let _ = self.store().remove_container_rootfs(&id);
            let _ = self.containers().remove(&id);
            return Err(e);
        }
        crate::timing::mark("create: done");
        Ok(container)
    }
}
