//! The system user the server runs as.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{embedded_err, io_err};
use crate::error::Result;

/// Who runs `initdb` and `postgres`: this process's user, or the `postgres` system user
/// when this process is root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

impl ServerUser {
    pub fn for_this_process() -> Result<Self> {
        let (euid, egid) = effective_ids();
        if euid != 0 {
            return Ok(Self {
                uid: euid,
                gid: egid,
                name: format!("uid {euid}"),
            });
        }
        lookup_user("postgres").ok_or_else(|| {
            embedded_err(
                "running as root, PostgreSQL refuses to run as root, and there is no `postgres` \
                 system user to run it as: create it (Debian: apt-get install postgresql) or set \
                 DATABASE_URL",
            )
        })
    }

    fn is_other_user(&self) -> bool {
        self.uid != effective_ids().0
    }

    /// Run `cmd` as this user.
    pub(super) fn apply(&self, cmd: &mut Command) {
        if self.is_other_user() {
            cmd.uid(self.uid).gid(self.gid);
        }
    }

    /// Give `path` to this user (only needed when the server runs as another user).
    pub fn chown(&self, path: &Path) -> Result<()> {
        if self.is_other_user() {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
                .map_err(|e| io_err("cannot give to the server user", path, e))?;
        }
        Ok(())
    }

    /// The first existing directory on the way to `path` (inclusive) this user may not enter.
    /// Only the primary group is considered: a conservative answer.
    pub fn first_unreachable(&self, path: &Path) -> Option<PathBuf> {
        if !self.is_other_user() {
            return None;
        }
        let mut ancestors: Vec<&Path> = path.ancestors().collect();
        ancestors.reverse();
        ancestors.into_iter().find_map(|dir| {
            let meta = fs::metadata(dir).ok()?;
            let bit = if meta.uid() == self.uid {
                0o100
            } else if meta.gid() == self.gid {
                0o010
            } else {
                0o001
            };
            (meta.mode() & bit == 0).then(|| dir.to_path_buf())
        })
    }
}

pub(super) fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid/getegid have no preconditions and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

fn lookup_user(name: &str) -> Option<ServerUser> {
    let c_name = CString::new(name).ok()?;
    // SAFETY: passwd is plain old data; getpwnam_r fills it and points its strings into `buf`,
    // which we never read (only uid and gid are copied out).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the duration of the call and `buf.len()` is its size.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then(|| ServerUser {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        name: name.to_owned(),
    })
}
