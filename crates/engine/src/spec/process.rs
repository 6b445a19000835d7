//! The container's command line and environment from the image config and
//! the run options, combined as Docker's daemon combines them.

use super::SpecError;

/// Docker's default `PATH` (moby `oci.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The entrypoint and cmd after `--entrypoint` and the trailing arguments
/// have been applied: `--entrypoint` resets the image's Cmd; arguments
/// after the image replace Cmd (moby `daemon/create.go` + `merge`).
pub fn entrypoint_and_cmd(
    image_entrypoint: &[String],
    image_cmd: &[String],
    entrypoint_flag: Option<&str>,
    args: &[String],
) -> (Vec<String>, Vec<String>) {
    let (entrypoint, image_cmd): (Vec<String>, &[String]) = match entrypoint_flag {
        Some("") => (Vec::new(), &[]),
        Some(e) => (vec![e.to_string()], &[]),
        None => (image_entrypoint.to_vec(), image_cmd),
    };
    let cmd = if args.is_empty() {
        image_cmd.to_vec()
    } else {
        args.to_vec()
    };
    (entrypoint, cmd)
}

/// `process.args`: entrypoint followed by cmd; empty is Docker's
/// "No command specified".
pub fn process_args(entrypoint: &[String], cmd: &[String]) -> Result<Vec<String>, SpecError> {
    let args: Vec<String> = entrypoint.iter().chain(cmd).cloned().collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

fn key(var: &str) -> &str {
    var.split_once('=').map_or(var, |(k, _)| k)
}

/// Replaces a variable of the same name in place, or appends it (moby
/// `ReplaceOrAppendEnvValues`).
pub fn replace_or_append(env: &mut Vec<String>, overrides: &[String]) {
    for var in overrides {
        match env.iter_mut().find(|e| key(e) == key(var)) {
            Some(slot) => *slot = var.clone(),
            None => env.push(var.clone()),
        }
    }
}

/// The container's `Config.Env`: the image's, then the user's on top.
pub fn config_env(image_env: &[String], user_env: &[String]) -> Vec<String> {
    let mut env = image_env.to_vec();
    replace_or_append(&mut env, user_env);
    env
}

/// The process environment: `PATH`, `HOSTNAME`, `TERM=xterm` with a tty,
/// then the config env replacing or adding (moby `CreateDaemonEnvironment`),
/// then `HOME` when still absent (as runc adds it).
pub fn process_env(config_env: &[String], hostname: &str, tty: bool, home: &str) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    replace_or_append(&mut env, config_env);
    if !env.iter().any(|e| key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn image_entrypoint_and_cmd() {
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["a"]), None, &[]);
        assert_eq!(process_args(&e, &c).unwrap(), v(&["/ep", "a"]));
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["a"]), None, &v(&["b", "c"]));
        assert_eq!(process_args(&e, &c).unwrap(), v(&["/ep", "b", "c"]));
    }

    #[test]
    fn entrypoint_flag_resets_image_cmd() {
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["a"]), Some("/bin/echo"), &[]);
        assert_eq!(process_args(&e, &c).unwrap(), v(&["/bin/echo"]));
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["a"]), Some("/bin/echo"), &v(&["x"]));
        assert_eq!(process_args(&e, &c).unwrap(), v(&["/bin/echo", "x"]));
        let (e, c) = entrypoint_and_cmd(&v(&["/ep"]), &v(&["sh"]), Some(""), &v(&["ls"]));
        assert_eq!(process_args(&e, &c).unwrap(), v(&["ls"]));
    }

    #[test]
    fn no_command() {
        let (e, c) = entrypoint_and_cmd(&[], &[], None, &[]);
        assert_eq!(
            process_args(&e, &c).unwrap_err().to_string(),
            "No command specified"
        );
    }

    #[test]
    fn env_order_and_overrides() {
        let cfg = config_env(&v(&["PATH=/img", "A=1", "B=2"]), &v(&["B=3", "C=4"]));
        assert_eq!(cfg, v(&["PATH=/img", "A=1", "B=3", "C=4"]));
        let env = process_env(&cfg, "abc", true, "/root");
        assert_eq!(
            env,
            v(&[
                "PATH=/img",
                "HOSTNAME=abc",
                "TERM=xterm",
                "A=1",
                "B=3",
                "C=4",
                "HOME=/root"
            ])
        );
        let env = process_env(&v(&["HOME=/h"]), "h", false, "/root");
        assert_eq!(
            env,
            v(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h", "HOME=/h"])
        );
    }
}
