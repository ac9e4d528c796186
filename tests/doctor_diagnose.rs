//! `tikwire router diagnose` against a live router in a network namespace (online, with a TCP
//! listener on the Winbox port and none on the other management ports) and against one that
//! never connected. Real wireguard-go on both sides, set up as in `e2e_wireguard.rs`.
//! Skipped, with the reason printed, without root or the tools.

mod common;
mod wg_support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::fd::AsRawFd as _;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use wg_support::{Netns, live_unavailable, run};

const MASTER_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// Check name -> (status, detail, fix).
type Checks = BTreeMap<String, (String, String, Option<String>)>;

struct Tikwire {
    url: String,
    dir: PathBuf,
}

impl Tikwire {
    fn run(&self, netns: Option<&str>, args: &[&str]) -> Output {
        let bin = env!("CARGO_BIN_EXE_tikwire");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        command
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("TIKWIRE_DATA_DIR", self.dir.join("data"))
            .env("TIKWIRE_MASTER_KEY", MASTER_KEY)
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .output()
            .unwrap()
    }

    fn ok(&self, netns: Option<&str>, args: &[&str]) -> String {
        let out = self.run(netns, args);
        assert!(
            out.status.success(),
            "tikwire {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `router diagnose --json` from the hub: name -> (status, detail, fix), and the exit code.
    fn diagnose(&self, hub: &Netns, name: &str, tenant: &str) -> (Checks, i32) {
        let out = self.run(
            Some(&hub.name),
            &["router", "diagnose", name, "--tenant", tenant, "--json"],
        );
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        let checks = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    (
                        c["status"].as_str().unwrap().to_owned(),
                        c["detail"].as_str().unwrap().to_owned(),
                        c["fix"].as_str().map(str::to_owned),
                    ),
                )
            })
            .collect();
        (checks, out.status.code().unwrap())
    }
}

impl Drop for Tikwire {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A router's interface from its wg-quick file, as `wg-quick up` would do it.
fn configure_router(ns: &Netns, ifname: &str, conf: &str, dir: &std::path::Path) {
    let file = dir.join(format!("{ifname}.conf"));
    std::fs::write(&file, conf).unwrap();
    let stripped = run("wg-quick", &["strip", file.to_str().unwrap()]);
    let setconf = dir.join(format!("{ifname}.setconf"));
    std::fs::write(&setconf, stripped).unwrap();
    ns.exec(&["wg", "setconf", ifname, setconf.to_str().unwrap()]);
    ns.exec(&["ip", "link", "set", ifname, "up"]);
    for line in conf.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        for v in value.split(',').map(str::trim) {
            match key.trim() {
                "Address" => {
                    ns.exec(&["ip", "addr", "add", v, "dev", ifname]);
                }
                "AllowedIPs" => {
                    ns.exec(&["ip", "route", "add", v, "dev", ifname]);
                }
                _ => {}
            }
        }
    }
}

/// A TCP listener inside a namespace, accepting for the rest of the test process: a thread
/// that enters the namespace (setns affects only the calling thread).
fn listen_in(ns: &Netns, port: u16) {
    let path = format!("/var/run/netns/{}", ns.name);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a valid namespace fd; only this thread moves.
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        let listener = TcpListener::bind(("0.0.0.0", port)).unwrap();
        ready_tx.send(()).unwrap();
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    ready_rx.recv().unwrap();
}

fn pings(ns: &Netns, address: &str) -> bool {
    (0..15).any(|_| {
        Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "ping", "-c", "1", "-W", "1", address,
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn diagnose_tells_online_from_manageable_and_explains_a_router_that_never_connected() {
    if let Some(reason) = live_unavailable() {
        eprintln!("SKIPPED diagnose live test: {reason}");
        return;
    }
    for tool in ["wg-quick", "ping"] {
        if run("sh", &["-c", &format!("command -v {tool} || true")])
            .trim()
            .is_empty()
        {
            eprintln!("SKIPPED diagnose live test: `{tool}` is not installed");
            return;
        }
    }
    let db = common::test_db().await;
    if common::socket_dir().is_none() {
        eprintln!(
            "SKIPPED diagnose live test: DATABASE_URL is a TCP server, unreachable from a namespace"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("tikwire-diagnose-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let tikwire = Tikwire {
        url: common::server_url_for(&db.name),
        dir: dir.clone(),
    };

    let mut hub = Netns::new("dh");
    let mut ra = Netns::new("da");
    let (hub_if, ra_if) = (hub.name.clone(), ra.name.clone());
    let (hv, rv) = (format!("{}v", hub.name), format!("{}v", ra.name));
    run(
        "ip",
        &[
            "link", "add", &hv, "netns", &hub.name, "type", "veth", "peer", "name", &rv, "netns",
            &ra.name,
        ],
    );
    hub.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &hv]);
    ra.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &rv]);
    hub.exec(&["ip", "link", "set", &hv, "up"]);
    ra.exec(&["ip", "link", "set", &rv, "up"]);
    hub.add_wireguard(&hub_if);
    ra.add_wireguard(&ra_if);

    tikwire.ok(
        None,
        &[
            "hub",
            "add",
            "hub1",
            "--endpoint",
            "192.0.2.1:51820",
            "--interface",
            &hub_if,
        ],
    );
    tikwire.ok(None, &["tenant", "add", "ta"]);
    tikwire.ok(None, &["router", "add", "ra", "--tenant", "ta"]);
    tikwire.ok(None, &["router", "add", "rb", "--tenant", "ta"]);
    let conf = tikwire.ok(
        None,
        &["script", "ra", "--tenant", "ta", "--format", "wg-quick"],
    );
    configure_router(&ra, &ra_if, &conf, &dir);
    tikwire.ok(Some(&hub.name), &["agent", "--hub", "hub1", "--once"]);
    let info: Value = serde_json::from_str(
        &tikwire.ok(None, &["router", "show", "ra", "--tenant", "ta", "--json"]),
    )
    .unwrap();
    let hub_ip = info["hub_ip"].as_str().unwrap().to_owned();
    assert!(
        pings(&ra, &hub_ip),
        "router A reaches the hub through the tunnel"
    );
    listen_in(&ra, 8291);

    let (checks, code) = tikwire.diagnose(&hub, "ra", "ta");
    let status = |name: &str| checks.get(name).map(|c| c.0.as_str()).unwrap_or("absent");
    assert_eq!(status("state"), "ok", "{checks:?}");
    assert_eq!(status("peer"), "ok", "{checks:?}");
    assert_eq!(status("handshake"), "ok", "{checks:?}");
    assert!(
        checks["handshake"].1.contains("192.0.2.2:"),
        "the NAT endpoint: {checks:?}"
    );
    assert_eq!(status("ping"), "ok", "{checks:?}");
    assert_eq!(status("tcp/8291"), "ok", "Winbox listens: {checks:?}");
    for port in [22, 8728, 8729] {
        let name = format!("tcp/{port}");
        assert_eq!(status(&name), "warn", "{name} has no listener: {checks:?}");
        assert!(
            checks[&name]
                .2
                .as_deref()
                .unwrap()
                .contains("/ip service enable")
        );
    }
    assert_eq!(code, 0, "nothing failed: {checks:?}");

    // A text report too, readable on the hub.
    let text = String::from_utf8(
        tikwire
            .run(
                Some(&hub.name),
                &["router", "diagnose", "ra", "--tenant", "ta"],
            )
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("tcp/8291") && text.contains("winbox accepts connections"),
        "{text}"
    );

    let (checks, code) = tikwire.diagnose(&hub, "rb", "ta");
    let status = |name: &str| checks.get(name).map(|c| c.0.as_str()).unwrap_or("absent");
    assert_eq!(
        status("peer"),
        "ok",
        "the agent put its peer on the hub: {checks:?}"
    );
    assert_eq!(status("handshake"), "fail", "{checks:?}");
    let (_, detail, fix) = &checks["handshake"];
    assert!(
        detail.contains("never connected") && detail.contains("ago"),
        "{detail}"
    );
    let fix = fix.as_deref().unwrap();
    for command in [
        "/interface wireguard peers print detail",
        &format!("/ping {hub_ip} count=3"),
        "/system clock print",
    ] {
        assert!(fix.contains(command), "{command} in {fix}");
    }
    assert_eq!(status("ping"), "fail", "{checks:?}");
    assert_eq!(code, 1);
    // Keys stay out of the report.
    let material = tikwire.ok(
        None,
        &["script", "rb", "--tenant", "ta", "--format", "wg-quick"],
    );
    for line in material
        .lines()
        .filter(|l| l.starts_with("PrivateKey") || l.starts_with("PresharedKey"))
    {
        let secret = line.split_once('=').unwrap().1.trim();
        assert!(!format!("{checks:?}").contains(secret));
    }
    drop(ra);
    drop(hub);
}
