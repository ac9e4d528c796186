//! Finding the PostgreSQL server programs on this machine.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cluster::condense;
use super::{embedded_err, io_err};
use crate::error::Result;

const SYSTEM_BIN_ROOT: &str = "/usr/lib/postgresql";

/// The PostgreSQL server programs tikwire runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub postgres: PathBuf,
    pub initdb: PathBuf,
}

impl PgBinaries {
    /// `postgres` and `initdb` from the first `PATH` directory holding both, else from the
    /// newest `/usr/lib/postgresql/*/bin`.
    pub fn find() -> Result<Self> {
        Self::find_in(
            std::env::var_os("PATH").as_deref(),
            Path::new(SYSTEM_BIN_ROOT),
        )
    }

    /// [`PgBinaries::find`] with an explicit `PATH` value and versioned install root.
    pub fn find_in(path_var: Option<&OsStr>, system_root: &Path) -> Result<Self> {
        let on_path = path_var
            .into_iter()
            .flat_map(std::env::split_paths)
            .find_map(|dir| Self::in_dir(&dir));
        on_path
            .or_else(|| newest_versioned_bin_dir(system_root))
            .ok_or_else(|| {
                embedded_err(format!(
                    "no PostgreSQL server binaries found (looked on PATH and in {}/*/bin): \
                 install them (Debian: apt-get install postgresql) or set DATABASE_URL",
                    system_root.display()
                ))
            })
    }

    fn in_dir(dir: &Path) -> Option<Self> {
        let postgres = dir.join("postgres");
        let initdb = dir.join("initdb");
        (is_executable(&postgres) && is_executable(&initdb)).then_some(Self { postgres, initdb })
    }

    /// The server's version, e.g. `15.18` (runs `postgres --version`).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(&self.postgres)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io_err("cannot run", &self.postgres, e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        text.split_whitespace()
            .nth(2)
            .filter(|v| out.status.success() && v.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_owned)
            .ok_or_else(|| {
                embedded_err(format!(
                    "cannot read the version of {}: {}",
                    self.postgres.display(),
                    condense(&text)
                ))
            })
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// The `bin` directory of the highest version under e.g. `/usr/lib/postgresql/{13,15,16}`.
fn newest_versioned_bin_dir(root: &Path) -> Option<PgBinaries> {
    let entries = fs::read_dir(root).ok()?;
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = version_key(&entry.file_name().to_string_lossy())?;
            Some((version, PgBinaries::in_dir(&entry.path().join("bin"))?))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bins)| bins)
}

/// "9.6" -> [9, 6], "15" -> [15]; names that are not versions are skipped.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_wins_numerically() {
        let mut names = ["9.6", "15", "13", "notaversion", "16"]
            .iter()
            .filter_map(|n| version_key(n).map(|k| (k, *n)))
            .collect::<Vec<_>>();
        names.sort();
        assert_eq!(names.last().map(|n| n.1), Some("16"));
        assert_eq!(version_key("notaversion"), None);
    }
}
