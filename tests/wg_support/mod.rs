//! Helpers for the live WireGuard tests: throwaway keys, and a network namespace with a
//! wireguard-go interface that is torn down on drop (panics included).

#![allow(dead_code)]

pub mod e2e;
pub mod rotation;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A deterministic keypair (base64 private, base64 public) from a seed.
pub fn keypair(seed: u64) -> (String, String) {
    // Byte 0's low bits and byte 31's top bit are clamped away: keep the seed clear of them.
    let mut bytes = [0x5au8; 32];
    bytes[1..9].copy_from_slice(&seed.to_le_bytes());
    let secret = x25519_dalek::StaticSecret::from(bytes);
    let public = x25519_dalek::PublicKey::from(&secret);
    (
        STANDARD.encode(secret.to_bytes()),
        STANDARD.encode(public.as_bytes()),
    )
}

/// A deterministic 32-byte preshared key.
pub fn psk(seed: u64) -> String {
    let mut bytes = [0x33u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    STANDARD.encode(bytes)
}

/// Why the live tests cannot run here, if they cannot.
pub fn live_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces and wireguard-go need it)".into());
    }
    for tool in ["wg", "wireguard-go", "ip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

/// A network namespace holding wireguard-go interfaces; everything goes on drop.
pub struct Netns {
    pub name: String,
    children: Vec<(String, Child)>,
    dir: PathBuf,
}

impl Netns {
    /// `tag` must be short: interface names derived from it are limited to 15 bytes.
    pub fn new(tag: &str) -> Netns {
        let name = format!("tw{tag}{}", std::process::id());
        // A leftover of a crashed run with the same pid; usually there is none.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        let dir = std::env::temp_dir().join(format!("tikwire-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Netns {
            name,
            children: Vec::new(),
            dir,
        }
    }

    /// Starts a wireguard-go interface in the namespace and waits for its control socket.
    pub fn add_wireguard(&mut self, ifname: &str) {
        assert!(
            ifname.len() <= 15,
            "{ifname} is too long for an interface name"
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, "wireguard-go", "-f", ifname])
            .env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wireguard-go");
        self.children.push((ifname.to_owned(), child));
        let socket = Path::new("/var/run/wireguard").join(format!("{ifname}.sock"));
        for _ in 0..100 {
            if socket.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("wireguard-go {ifname} did not create its socket");
    }

    /// Writes a wrapper that runs `program` inside this namespace, for `Tools`/`wg_command`.
    pub fn wrapper(&self, program: &str) -> PathBuf {
        let path = self.dir.join(program);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nexec ip netns exec {} {program} \"$@\"\n",
                self.name
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Runs a command inside the namespace and returns its stdout.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(args);
        run("ip", &full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for (ifname, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(
                Path::new("/var/run/wireguard").join(format!("{ifname}.sock")),
            );
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command, panicking with its stderr when it fails; returns stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
