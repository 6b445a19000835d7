//! `-u user[:group]` resolved against the image's `/etc/passwd` and
//! `/etc/group`, as runc's `user.GetExecUser` (which Docker uses) does.

use super::SpecError;

/// The ids and home directory the container process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Home directory (for `HOME` when the environment lacks it).
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|line| {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() < 6 || f[0].starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    group.lines().filter_map(|line| {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() < 3 || f[0].starts_with('#') {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

/// Docker refuses ids outside what the kernel's `uid_t` takes signed.
const MAX_ID: u32 = i32::MAX as u32;

fn numeric_id(s: &str) -> Option<Result<u32, SpecError>> {
    let n: i64 = s.parse().ok()?;
    Some(if (0..=MAX_ID as i64).contains(&n) {
        Ok(n as u32)
    } else {
        Err(SpecError::IdRange)
    })
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) with the
/// contents of the image's passwd and group files (`None` when absent).
pub fn resolve_user(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, SpecError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = passwd.unwrap_or("");
    let group_db = group.unwrap_or("");

    let mut user = ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".to_string(),
    };
    let mut user_name: Option<&str> = None;
    if user_part.is_empty() {
        // Docker's default user is root, taken from passwd when it has one.
        if let Some(e) = passwd_entries(passwd).find(|e| e.uid == 0) {
            user.home = e.home.to_string();
            user_name = Some(e.name);
        } else {
            user.home = "/root".to_string();
        }
    } else {
        let found = match numeric_id(user_part) {
            Some(id) => {
                let id = id?;
                user.uid = id;
                passwd_entries(passwd).find(|e| e.uid == id)
            }
            None => Some(
                passwd_entries(passwd)
                    .find(|e| e.name == user_part)
                    .ok_or_else(|| SpecError::UnknownUser(user_part.to_string()))?,
            ),
        };
        if let Some(e) = found {
            user.uid = e.uid;
            user.gid = e.gid;
            user.home = e.home.to_string();
            user_name = Some(e.name);
        }
    }

    match group_part {
        Some(g) if !g.is_empty() => {
            user.gid = match numeric_id(g) {
                Some(id) => id?,
                None => {
                    group_entries(group_db)
                        .find(|e| e.name == g)
                        .ok_or_else(|| SpecError::UnknownGroup(g.to_string()))?
                        .gid
                }
            };
        }
        _ => {
            // Supplementary groups only in the implicit group mode, as runc.
            if let Some(name) = user_name {
                for e in group_entries(group_db) {
                    if e.members.contains(&name) && !user.additional_gids.contains(&e.gid) {
                        user.additional_gids.push(e.gid);
                    }
                }
            }
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        www:x:33:33:www-data:/var/www:/bin/false\n\
        # comment\n";
    const GROUP: &str =
        "root:x:0:\ndaemon:x:1:\nwww:x:33:\nstaff:x:50:www,daemon\nvideo:x:44:www\n";

    #[test]
    fn default_is_root() {
        let u = resolve_user("", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        let u = resolve_user("", None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn name_gives_gid_home_and_supplementary_groups() {
        let u = resolve_user("www", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (33, 33, "/var/www"));
        assert_eq!(u.additional_gids, vec![50, 44]);
    }

    #[test]
    fn explicit_group_has_no_supplementary() {
        let u = resolve_user("www:staff", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (33, 50));
        assert!(u.additional_gids.is_empty());
        let u = resolve_user("www:7", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(u.gid, 7);
    }

    #[test]
    fn numeric_ids_need_no_entry() {
        let u = resolve_user("1000:1000", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/"));
        let u = resolve_user("1", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1, 1, "/usr/sbin"));
    }

    #[test]
    fn unknown_names_and_bad_ids_are_errors() {
        assert_eq!(
            resolve_user("nobody", Some(PASSWD), Some(GROUP))
                .unwrap_err()
                .to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            resolve_user("www:nogroup", Some(PASSWD), Some(GROUP))
                .unwrap_err()
                .to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert_eq!(
            resolve_user("4294967296", None, None)
                .unwrap_err()
                .to_string(),
            "uids and gids must be in range 0-2147483647"
        );
        assert!(resolve_user("alice", None, None).is_err());
    }
}
