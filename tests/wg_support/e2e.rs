//! The end-to-end tests' parts: the `tikwire` binary against a test database (inside a
//! namespace when asked), routers configured from their wg-quick configs, pings.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use super::{Netns, run};

pub const MASTER_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// The `tikwire` binary against one test database; optionally inside a namespace.
pub struct Tikwire {
    pub url: String,
    pub data_dir: PathBuf,
}

impl Tikwire {
    pub fn command(&self, netns: Option<&str>, args: &[&str]) -> Output {
        self.prepared(netns, args).output().expect("run tikwire")
    }

    /// `tikwire ARGS` (inside `netns` when given) on this test's database, not yet run.
    pub fn prepared(&self, netns: Option<&str>, args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_tikwire");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        self.environment(&mut command).args(args);
        command
    }

    /// The test database, data directory and master key, and no user config.
    pub fn environment<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("DATABASE_URL", &self.url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", MASTER_KEY)
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"))
    }

    /// `tikwire` on test database `db_name` (at `url`) with a data directory of its own,
    /// `tikwire-TAG-DB` under the temp dir, removed when the guard drops.
    pub fn with_data_dir(url: String, db_name: &str, tag: &str) -> (Tikwire, RemoveOnDrop) {
        let data_dir = std::env::temp_dir().join(format!("tikwire-{tag}-{db_name}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let guard = RemoveOnDrop(data_dir.clone());
        (Tikwire { url, data_dir }, guard)
    }

    pub fn ok_in(&self, netns: Option<&str>, args: &[&str]) -> String {
        let out = self.command(netns, args);
        assert!(
            out.status.success(),
            "tikwire {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(None, args)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("one JSON document")
    }
}

/// Removes a directory when dropped, panics included.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sets a router namespace's interface up from a wg-quick file, the way `wg-quick up` would
/// (wg-quick itself would try a kernel interface first): `wg-quick strip` + `wg setconf`,
/// its Address on the interface and a route for each AllowedIPs.
pub fn configure_router(ns: &Netns, ifname: &str, conf: &str) {
    let dir = std::env::temp_dir().join(format!("tikwire-e2e-{}", ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{ifname}.conf"));
    // The config holds the router's private key: a 0700 directory, gone even on a panic.
    let _guard = RemoveOnDrop(dir.clone());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(&file, conf).unwrap();
    let stripped = run("wg-quick", &["strip", file.to_str().unwrap()]);
    let setconf = dir.join("setconf");
    std::fs::write(&setconf, stripped).unwrap();
    ns.exec(&["wg", "setconf", ifname, setconf.to_str().unwrap()]);
    ns.exec(&["ip", "link", "set", ifname, "up"]);
    for line in conf.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let values = value.split(',').map(str::trim);
        match key.trim() {
            "Address" => values.for_each(|a| {
                ns.exec(&["ip", "addr", "add", a, "dev", ifname]);
            }),
            "AllowedIPs" => values.for_each(|net| {
                ns.exec(&["ip", "route", "add", net, "dev", ifname]);
            }),
            _ => {}
        }
    }
}

/// True when one of `attempts` pings (1 s each) is answered. A router that dialled before
/// the hub had its key retries its handshake only every 5 s, hence more than one attempt.
pub fn pings(ns: &Netns, address: &str, attempts: u32) -> bool {
    (0..attempts).any(|_| {
        Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "ping", "-c", "1", "-W", "1", address,
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// Enough attempts to span two handshake retries.
pub const REACHES: u32 = 15;
/// Traffic that must not pass: the sessions are up, so a few attempts tell.
pub const BLOCKED: u32 = 3;

/// What each namespace looks like, for a failure message (`wg show` hides keys).
pub fn diagnose(spaces: &[&Netns]) -> String {
    let mut out = String::new();
    for ns in spaces {
        for args in [
            &["wg", "show", &ns.name][..],
            &["ip", "addr"],
            &["ip", "route"],
        ] {
            let mut full = vec!["netns", "exec", &ns.name];
            full.extend_from_slice(args);
            let o = Command::new("ip").args(&full).output().unwrap();
            out.push_str(&format!(
                "--- {} {args:?}\n{}{}",
                ns.name,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    out
}

pub fn hub_peers(hub: &Netns, ifname: &str) -> Vec<String> {
    hub.exec(&["wg", "show", ifname, "peers"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Why an end-to-end test cannot run here: the first of `tools` that is not installed.
/// Why a namespace end-to-end test cannot run here: not root, no wg, wireguard-go or ip
/// ([`super::live_unavailable`]), or one of `tools` missing.
pub fn unavailable(tools: &[&str]) -> Option<String> {
    super::live_unavailable().or_else(|| missing_tool(tools))
}

pub fn missing_tool(tools: &[&str]) -> Option<String> {
    tools.iter().find_map(|tool| {
        run("sh", &["-c", &format!("command -v {tool} || true")])
            .trim()
            .is_empty()
            .then(|| format!("`{tool}` is not installed"))
    })
}
