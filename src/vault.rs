//! Sealing secrets at rest: AES-256-GCM with a random 96-bit nonce, and the row's identity
//! as associated data so a sealed value cannot be moved to another row or column.
//!
//! Sealed layout: `version (1) || nonce (12) || ciphertext+tag`.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;
use zeroize::Zeroizing;

use crate::{Error, Result};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Environment variable holding the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "TIKWIRE_MASTER_KEY";
/// Plaintext sealed into `vault_meta.key_check`: opening it proves the key is the right one.
const KEY_CHECK: &[u8] = b"tikwire master key check v1";
const KEY_CHECK_AAD: &str = "tikwire/vault_meta/1/key_check";

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `TIKWIRE_MASTER_KEY`; never written anywhere.
    Env,
    /// A key file (mode 0600), created on first use when the database holds no secrets yet.
    File(PathBuf),
}

/// Holds the master key; the cipher's key schedule is zeroized on drop.
pub struct Vault {
    cipher: Aes256Gcm,
    source: MasterKeySource,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({:?})", self.source)
    }
}

/// The associated data binding a sealed value to one column of one row.
pub fn aad(table: &str, id: i64, column: &str) -> String {
    format!("tikwire/{table}/{id}/{column}")
}

impl Vault {
    pub fn from_key(key: &[u8; 32], source: MasterKeySource) -> Self {
        let cipher = Aes256Gcm::new(key.into());
        Self { cipher, source }
    }

    /// Loads the master key from `TIKWIRE_MASTER_KEY` (if set) or the key file.
    /// With `create` the key file is made (mode 0600) when missing.
    pub fn load(key_file: &Path, create: bool) -> Result<Self> {
        if let Ok(value) = std::env::var(MASTER_KEY_ENV) {
            let key = decode_master_key(value.trim())
                .map_err(|why| Error::Vault(format!("{MASTER_KEY_ENV} {why}")))?;
            return Ok(Self::from_key(&key, MasterKeySource::Env));
        }
        let source = MasterKeySource::File(key_file.to_owned());
        match read_key_file(key_file)? {
            Some(key) => Ok(Self::from_key(&key, source)),
            None if create => Ok(Self::from_key(&*create_key_file(key_file)?, source)),
            None => Err(Error::Vault(format!(
                "no master key: the database holds sealed keys but {} does not exist and {MASTER_KEY_ENV} is not set; restore the key file from your backup",
                key_file.display()
            ))),
        }
    }

    pub fn source(&self) -> &MasterKeySource {
        &self.source
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: aad.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens a sealed value. Fails (without saying more) on a wrong key, a tampered value or
    /// a value moved from another row: AES-GCM cannot tell these apart, and must not.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return Err(Error::Vault(format!("sealed value for {aad} is malformed")));
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("length checked");
        let payload = Payload {
            msg: &sealed[1 + NONCE_LEN..],
            aad: aad.as_bytes(),
        };
        self.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::Vault(format!(
                    "cannot unseal {aad}: wrong master key, or the stored value was altered or moved from another row"
                ))
            })
    }

    /// Opens a sealed 32-byte key.
    pub fn open_key(&self, sealed: &[u8], aad: &str) -> Result<Zeroizing<[u8; 32]>> {
        let plain = self.open(sealed, aad)?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| Error::Vault(format!("sealed value for {aad} is not a 32-byte key")))?;
        Ok(Zeroizing::new(key))
    }

    /// Seals the key-check value stored once per database.
    pub fn seal_key_check(&self) -> Vec<u8> {
        self.seal(KEY_CHECK, KEY_CHECK_AAD)
    }

    /// Proves this is the key the database's secrets were sealed with.
    pub fn verify_key_check(&self, sealed: &[u8]) -> Result<()> {
        match self.open(sealed, KEY_CHECK_AAD) {
            Ok(plain) if plain.as_slice() == KEY_CHECK => Ok(()),
            _ => Err(Error::Vault(format!(
                "wrong master key: this database's secrets were sealed with another key ({}); use the key it was created with",
                self.describe_source()
            ))),
        }
    }

    fn describe_source(&self) -> String {
        match &self.source {
            MasterKeySource::Env => format!("{MASTER_KEY_ENV} is set"),
            MasterKeySource::File(path) => format!("tried {}", path.display()),
        }
    }
}

fn decode_master_key(text: &str) -> std::result::Result<Zeroizing<[u8; 32]>, String> {
    let decoded = Zeroizing::new(
        STANDARD
            .decode(text)
            .map_err(|_| "is not valid base64".to_owned())?,
    );
    let key: [u8; 32] = decoded
        .as_slice()
        .try_into()
        .map_err(|_| format!("must decode to 32 bytes, not {}", decoded.len()))?;
    Ok(Zeroizing::new(key))
}

/// The most a key file holds: base64 of 32 bytes (44) with a line break and some blanks.
const MAX_KEY_FILE_BYTES: u64 = 256;

/// Reads the key file, refusing one that is not a regular file (a FIFO would hang the
/// read), that someone other than us (or root) owns, that other users can read, or that is
/// bigger than a key file can be. The directory holding it is checked the same way: whoever
/// can write there can plant a key.
fn read_key_file(path: &Path) -> Result<Option<Zeroizing<[u8; 32]>>> {
    let cannot = |err| {
        Error::io(
            format!("cannot read master key file {}", path.display()),
            err,
        )
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: no planted link.
    let mut file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::Vault(format!(
                "master key file {} is a symbolic link; refusing it (put the key file itself there)",
                path.display()
            )));
        }
        Err(err) => return Err(cannot(err)),
    };
    let meta = file.metadata().map_err(cannot)?;
    if !meta.file_type().is_file() {
        return Err(Error::Vault(format!(
            "master key file {} is not a regular file; refusing it",
            path.display()
        )));
    }
    check_owner("master key file", path, meta.uid())?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Vault(format!(
            "master key file {} is accessible by other users (mode {mode:04o}); run: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_private_dir(dir)?;
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES as usize + 1));
    (&mut file)
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(Error::Vault(format!(
            "master key file {} is longer than a key file can be ({MAX_KEY_FILE_BYTES} bytes); it should hold one line of base64",
            path.display()
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::Vault(format!(
            "master key file {} is not valid base64",
            path.display()
        ))
    })?;
    decode_master_key(text.trim())
        .map(Some)
        .map_err(|why| Error::Vault(format!("master key file {} {why}", path.display())))
}

/// A file or directory must belong to the user tikwire runs as, or to root.
fn check_owner(what: &str, path: &Path, uid: u32) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if uid == me || uid == 0 {
        return Ok(());
    }
    Err(Error::Vault(format!(
        "{what} {} belongs to another user (uid {uid}, tikwire runs as uid {me}); refusing it: whoever owns it can choose the key. Run: chown {me} {}",
        path.display(),
        path.display()
    )))
}

/// The data directory holding the key: ours (or root's) and writable by nobody else.
pub fn check_private_dir(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir)
        .map_err(|err| Error::io(format!("cannot inspect {}", dir.display()), err))?;
    check_owner("data directory", dir, meta.uid())?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(Error::Vault(format!(
            "data directory {} is writable by other users (mode {mode:04o}); run: chmod go-w {}",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Creates the key file atomically: the key is written and synced under a temporary name,
/// then hard-linked into place, which fails if another process got there first. So a file at
/// `path` is always complete, and a concurrent first run adopts the winner's key.
fn create_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|err| Error::io(format!("cannot create {}", dir.display()), err))?;
    check_private_dir(dir)?;
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(key.as_mut());
    let text = Zeroizing::new(format!("{}\n", STANDARD.encode(key.as_ref())));
    let temp = dir.join(format!(
        ".master.key.{}.{:08x}",
        std::process::id(),
        rand::rng().next_u32()
    ));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
        })
        .and_then(|()| fs::hard_link(&temp, path));
    let _ = fs::remove_file(&temp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created master key file");
            Ok(key)
        }
        // Another tikwire created it a moment ago, complete: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path)?
            .ok_or_else(|| Error::Vault(format!("master key file {} vanished", path.display()))),
        Err(err) => Err(Error::io(
            format!("cannot create master key file {}", path.display()),
            err,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(byte: u8) -> Vault {
        Vault::from_key(&[byte; 32], MasterKeySource::Env)
    }

    #[test]
    fn seal_round_trip() {
        let v = vault(7);
        let sealed = v.seal(b"secret", "tikwire/routers/1/key");
        assert_eq!(sealed.len(), 1 + 12 + 6 + 16);
        assert_eq!(
            v.open(&sealed, "tikwire/routers/1/key").unwrap().as_slice(),
            b"secret"
        );
        assert_ne!(
            v.seal(b"secret", "a"),
            v.seal(b"secret", "a"),
            "nonces are random"
        );
    }

    #[test]
    fn wrong_key_tamper_and_moved_rows_fail() {
        let v = vault(7);
        let sealed = v.seal(b"secret", &aad("routers", 1, "key"));
        assert!(vault(8).open(&sealed, &aad("routers", 1, "key")).is_err());
        assert!(v.open(&sealed, &aad("routers", 2, "key")).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(v.open(&tampered, &aad("routers", 1, "key")).is_err());
        assert!(v.open(&sealed[..10], &aad("routers", 1, "key")).is_err());
    }

    #[test]
    fn key_check_detects_wrong_key() {
        let check = vault(1).seal_key_check();
        assert!(vault(1).verify_key_check(&check).is_ok());
        let err = vault(2).verify_key_check(&check).unwrap_err().to_string();
        assert!(err.starts_with("wrong master key"), "{err}");
    }

    #[test]
    fn key_file_is_created_private_and_refused_when_readable() {
        let dir = std::env::temp_dir().join(format!("tikwire-vault-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("master.key");
        let created = create_key_file(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            read_key_file(&path).unwrap().unwrap().as_ref(),
            created.as_ref()
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tikwire-vault-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn fifo_devices_links_and_oversized_key_files_are_refused_at_once() {
        let dir = scratch("odd");
        let key = dir.join("master.key");
        // A FIFO with no writer: reading it would block forever.
        let c_path = std::ffi::CString::new(key.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = read_key_file(&key).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        fs::remove_file(&key).unwrap();
        // A link to /dev/zero (endless) or anywhere else.
        std::os::unix::fs::symlink("/dev/zero", &key).unwrap();
        let err = read_key_file(&key).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        fs::remove_file(&key).unwrap();
        // A big file: only a few bytes are read.
        fs::write(&key, vec![b'A'; 10 * 1024 * 1024]).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        let err = read_key_file(&key).unwrap_err().to_string();
        assert!(err.contains("longer than a key file"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_files_and_data_dirs_of_other_users_are_refused() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to give files away");
            return;
        }
        let dir = scratch("owner");
        let key = dir.join("master.key");
        let created = create_key_file(&key).unwrap();
        assert_eq!(
            read_key_file(&key).unwrap().unwrap().as_ref(),
            created.as_ref()
        );
        // Mode 0600 but someone else's: they chose the key.
        std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
        let err = read_key_file(&key).unwrap_err().to_string();
        assert!(err.contains("belongs to another user (uid 65534"), "{err}");
        std::os::unix::fs::chown(&key, Some(0), Some(0)).unwrap();
        // The directory holding it: whoever owns it can swap the key file.
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let err = read_key_file(&key).unwrap_err().to_string();
        assert!(err.contains("data directory"), "{err}");
        assert!(err.contains("another user"), "{err}");
        std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = read_key_file(&key).unwrap_err().to_string();
        assert!(err.contains("writable by other users"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_first_runs_agree_on_one_complete_key() {
        let dir = std::env::temp_dir().join(format!("tikwire-vault-race-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("master.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| *create_key_file(&path).unwrap()))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(
            keys.iter().all(|k| k == &keys[0]),
            "every racer uses the same key"
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
