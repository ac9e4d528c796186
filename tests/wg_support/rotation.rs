//! A key rotation as it happens in the field, for the end-to-end test and the loss benchmark:
//! a hub namespace running `tikwire agent` continuously and one router namespace online
//! through it; pings both ways at 5 per second while the router's rotation is staged and the
//! router takes its new wg-quick config with `wg syncconf`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::e2e::{REACHES, RemoveOnDrop, Tikwire, configure_router, diagnose, hub_peers, pings};
use super::{Netns, run};

/// Ping interval: 5 per second.
const PING_EVERY: f64 = 0.2;

/// One hub, one tenant, one router online through the hub, and the hub's agent running.
pub struct RotationBed {
    pub tikwire: Tikwire,
    pub hub: Netns,
    pub router: Netns,
    pub hub_if: String,
    pub router_if: String,
    pub hub_ip: String,
    pub router_ip: String,
    agent: Child,
    _data_dir: RemoveOnDrop,
}

impl Drop for RotationBed {
    fn drop(&mut self) {
        let _ = self.agent.kill();
        let _ = self.agent.wait();
    }
}

/// What one rotation cost the pings.
#[derive(Debug, Clone, Copy)]
pub struct RotationLoss {
    /// Longest run of unanswered pings, in seconds, hub to router and router to hub.
    pub hub_to_router_secs: f64,
    pub router_to_hub_secs: f64,
    /// Pings lost in all, both ways.
    pub lost: u32,
    /// From `wg syncconf` on the router to the cut-over seen in the database.
    pub cut_over_after: Duration,
}

impl RotationLoss {
    /// Seconds without replies: the longer outage of the two directions.
    pub fn outage_secs(&self) -> f64 {
        self.hub_to_router_secs.max(self.router_to_hub_secs)
    }
}

impl RotationBed {
    /// Sets everything up; `url` is a test database's URL over the Unix socket.
    pub fn start(url: String, db_name: &str) -> RotationBed {
        let (tikwire, data_dir_guard) = Tikwire::with_data_dir(url, db_name, "rot");
        let mut hub = Netns::new("rh");
        let mut router = Netns::new("rr");
        let (hub_if, router_if) = (hub.name.clone(), router.name.clone());
        let (veth_hub, veth_router) = (format!("{}v", hub.name), format!("{}v", router.name));
        run(
            "ip",
            &[
                "link",
                "add",
                &veth_hub,
                "netns",
                &hub.name,
                "type",
                "veth",
                "peer",
                "name",
                &veth_router,
                "netns",
                &router.name,
            ],
        );
        hub.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &veth_hub]);
        router.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &veth_router]);
        hub.exec(&["ip", "link", "set", &veth_hub, "up"]);
        router.exec(&["ip", "link", "set", &veth_router, "up"]);
        hub.add_wireguard(&hub_if);
        router.add_wireguard(&router_if);

        tikwire.ok(&[
            "hub",
            "add",
            "hub1",
            "--endpoint",
            "192.0.2.1:51820",
            "--interface",
            &hub_if,
        ]);
        tikwire.ok(&["tenant", "add", "acme"]);
        tikwire.ok(&["router", "add", "r1", "--tenant", "acme"]);
        let info = tikwire.json(&["router", "show", "r1", "--tenant", "acme", "--json"]);
        let hub_ip = info["hub_ip"].as_str().unwrap().to_owned();
        let router_ip = info["vpn_ip"].as_str().unwrap().to_owned();
        configure_router(
            &router,
            &router_if,
            &tikwire.ok(&["script", "r1", "--tenant", "acme", "--format", "wg-quick"]),
        );
        tikwire.ok_in(Some(&hub.name), &["agent", "--hub", "hub1", "--once"]);
        assert!(
            pings(&router, &hub_ip, REACHES),
            "the router reaches its hub before any rotation\n{}",
            diagnose(&[&hub, &router])
        );
        let agent = tikwire.spawn_in(
            Some(&hub.name),
            &["agent", "--hub", "hub1", "--interval", "1"],
        );
        RotationBed {
            tikwire,
            hub,
            router,
            hub_if,
            router_if,
            hub_ip,
            router_ip,
            agent,
            _data_dir: data_dir_guard,
        }
    }

    fn agent_log(&self) -> std::path::PathBuf {
        self.tikwire.data_dir.join("spawned.log")
    }

    pub fn router_info(&self) -> serde_json::Value {
        self.tikwire
            .json(&["router", "show", "r1", "--tenant", "acme", "--json"])
    }

    /// `wg show IFACE allowed-ips` on the hub: each peer with its allowed IPs.
    pub fn hub_allowed_ips(&self) -> Vec<(String, String)> {
        self.hub
            .exec(&["wg", "show", &self.hub_if, "allowed-ips"])
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, ips)| (k.to_owned(), ips.to_owned()))
            .collect()
    }

    /// Stages a rotation, waits for the agent to add the staged peer, syncs the router to its
    /// new config, waits for the cut-over, and measures what the pings lost meanwhile.
    pub fn rotate(&self) -> RotationLoss {
        let from_hub = Pinger::start(&self.hub, &self.router_ip);
        let from_router = Pinger::start(&self.router, &self.hub_ip);
        std::thread::sleep(Duration::from_secs(1));

        let staged = self
            .tikwire
            .json(&["router", "rotate", "r1", "--tenant", "acme", "--json"]);
        assert_eq!(staged["rotation_state"], "staged", "{staged}");
        let new_key = staged["pending_public_key"].as_str().unwrap().to_owned();
        let old_key = staged["public_key"].as_str().unwrap().to_owned();
        wait_for(
            &self.agent_log(),
            "the agent adds the staged key as a peer",
            || {
                self.hub_allowed_ips()
                    .iter()
                    .any(|(k, ips)| *k == new_key && ips == "(none)")
            },
        );

        let conf = self
            .tikwire
            .ok(&["script", "r1", "--tenant", "acme", "--format", "wg-quick"]);
        assert!(conf.contains("PrivateKey"), "a wg-quick config");
        let synced = Instant::now();
        sync_router(&self.router, &self.router_if, &conf);
        wait_for(
            &self.agent_log(),
            "the agent cuts over to the new key",
            || self.router_info()["public_key"] == new_key.as_str(),
        );
        let cut_over_after = synced.elapsed();
        wait_for(&self.agent_log(), "the old peer leaves the hub", || {
            hub_peers(&self.hub, &self.hub_if) == [new_key.clone()]
        });
        // Replies flow again on the new key.
        std::thread::sleep(Duration::from_secs(2));
        let (hub_to_router, lost_a) = from_hub.stop();
        let (router_to_hub, lost_b) = from_router.stop();
        assert_ne!(new_key, old_key);
        RotationLoss {
            hub_to_router_secs: hub_to_router,
            router_to_hub_secs: router_to_hub,
            lost: lost_a + lost_b,
            cut_over_after,
        }
    }
}

impl Tikwire {
    /// Starts `tikwire ARGS` in the background (inside `netns` when given).
    pub fn spawn_in(&self, netns: Option<&str>, args: &[&str]) -> Child {
        let log = std::fs::File::create(self.data_dir.join("spawned.log")).expect("log file");
        self.prepared(netns, args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tikwire")
    }
}

/// Applies a new wg-quick config to a running interface the way an operator would:
/// `wg syncconf IFACE <(wg-quick strip FILE)`; addresses and routes stay.
fn sync_router(ns: &Netns, ifname: &str, conf: &str) {
    let dir = std::env::temp_dir().join(format!("tikwire-sync-{}", ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    let _guard = RemoveOnDrop(dir.clone());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = dir.join(format!("{ifname}.conf"));
    std::fs::write(&file, conf).unwrap();
    let stripped = dir.join("stripped");
    std::fs::write(
        &stripped,
        run("wg-quick", &["strip", file.to_str().unwrap()]),
    )
    .unwrap();
    ns.exec(&["wg", "syncconf", ifname, stripped.to_str().unwrap()]);
}

/// Waits up to 20 s; on a timeout shows what the agent said (`log` names its file).
fn wait_for(log: &std::path::Path, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting: {what}\nagent log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ping` at 5 per second in a namespace, until stopped.
struct Pinger {
    child: Child,
}

impl Pinger {
    fn start(ns: &Netns, address: &str) -> Pinger {
        let child = Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "ping", "-n", "-i", "0.2", "-W", "1", address,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ping");
        Pinger { child }
    }

    /// Stops the pings; returns the longest run without replies (seconds) and how many were
    /// lost.
    fn stop(self) -> (f64, u32) {
        // `ip netns exec` execs ping: the child's pid is ping's.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let out = self.child.wait_with_output().expect("ping output");
        let text = String::from_utf8_lossy(&out.stdout);
        let answered: Vec<u32> = text
            .lines()
            .filter_map(|l| l.split("icmp_seq=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect();
        let sent = text
            .lines()
            .find_map(|l| {
                l.split(" packets transmitted")
                    .next()?
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0);
        let mut longest = 0u32;
        let mut previous = 0u32;
        for &seq in &answered {
            longest = longest.max(seq.saturating_sub(previous + 1));
            previous = seq;
        }
        // The last ping may still be in flight when ping stops: not counted as lost.
        longest = longest.max(sent.saturating_sub(previous + 1));
        let lost = sent.saturating_sub(answered.len() as u32);
        (f64::from(longest) * PING_EVERY, lost)
    }
}
