//! One hub at its full size, for real: the agent against a wireguard-go interface holding a
//! whole tenant's 65,278 peers, on a real PostgreSQL. Prints figures; asserts nothing about
//! time. Needs root, wg, wireguard-go and ip (it says why it cannot run otherwise).
//!
//!   cargo bench --bench agent_scale
//!
//! 1. Provisioning the fleet (real keys: the interface gets real peers with preshared keys).
//! 2. The agent in this process, its tools wrapped into the hub's namespace: the first
//!    reconcile (empty interface to 65,278 peers), then steady polls (nothing changed, and 1%
//!    of the routers given new counters by hand is not possible on a real interface without
//!    traffic, so every poll reads and compares the whole interface and writes the heartbeat).
//! 3. The real `tikwire agent` binary at the default 5 s interval for a minute, against the
//!    interface already in place: its CPU (itself and the `wg` runs it waits for) and its
//!    resident memory, and wireguard-go's for comparison.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/wg_support/mod.rs"]
mod wg_support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::RouterSpec;
use tikwire::wg::agent::{Agent, AgentConfig};
use tikwire::wg::apply::Tools;
use tikwire::wg::plan::ReconcileOptions;
use tikwire::wg::status::Thresholds;
use wg_support::Netns;
use wg_support::e2e::Tikwire;

const INTERFACE: &str = "wgscale0";

fn main() {
    if let Some(why) = wg_support::live_unavailable() {
        println!("agent_scale: skipped: {why}");
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that run small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let routers = if quick { 300 } else { 65_278 };
    let minute = if quick {
        Duration::from_secs(6)
    } else {
        Duration::from_secs(60)
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(routers, minute));
}

/// CPU seconds (user + system, with waited-for children) and resident memory of a process.
#[derive(Debug, Clone, Copy)]
struct Usage {
    cpu_secs: f64,
    rss_mib: f64,
    peak_mib: f64,
}

fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) closed by ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // utime, stime, cutime, cstime are fields 14 to 17 of the whole line: 11 to 14 here.
    let ticks: u64 = fields[11..15]
        .iter()
        .map(|f| f.parse::<u64>().unwrap())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Usage {
        cpu_secs: ticks as f64 / hz,
        rss_mib: kib("VmRSS:") / 1024.0,
        peak_mib: kib("VmHWM:") / 1024.0,
    }
}

/// The pid of wireguard-go serving `ifname` (the process, not `ip netns exec`).
fn wireguard_go_pid(ifname: &str) -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-f", &format!("wireguard-go -f {ifname}")])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "wireguard-go")
        })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the child is ours.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

async fn run(routers: usize, minute: Duration) {
    let db = common::test_db().await;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&db.url)
        .await
        .unwrap();
    let provisioner = common::provisioner(&pool);
    // The agent binary checks its master key against the database, as a real hub's would.
    let check =
        tikwire::vault::Vault::from_key(&common::MASTER_KEY, tikwire::vault::MasterKeySource::Env)
            .seal_key_check();
    provisioner.store().init_key_check(&check).await.unwrap();
    common::add_hub(&provisioner, INTERFACE).await;
    let tenant = TenantName::parse("full").unwrap();
    provisioner.add_tenant(&tenant).await.unwrap();
    println!(
        "{} build, {} cores, load average {} at the start",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    let specs: Vec<RouterSpec> = (0..routers)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("r-{i}")).unwrap()))
        .collect();
    let started = Instant::now();
    provisioner
        .import_routers(&tenant, None, &specs)
        .await
        .unwrap();
    println!(
        "provisioned {routers} routers (keys generated and sealed) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut hub = Netns::new("sc");
    hub.add_wireguard(INTERFACE);
    let tools = Tools {
        wg: hub.wrapper("wg"),
        ip: hub.wrapper("ip"),
    };
    let config = AgentConfig {
        hub: "hub1".into(),
        interval: Duration::from_secs(5),
        thresholds: Thresholds::default(),
        tools,
        options: ReconcileOptions::default(),
        retention: tikwire::config::HistoryConfig::default().retention(),
        alerts: None,
    };
    let mut agent = Agent::new(provisioner.clone(), db.url.clone(), config);
    let started = Instant::now();
    let applied = agent.reconcile().await.unwrap();
    println!(
        "reconcile from an empty interface: {} peers added in {:.2} s",
        applied.added.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let applied = agent.reconcile().await.unwrap();
    println!(
        "reconcile with everything in place: {} changes in {:.0} ms",
        applied.added.len() + applied.updated.len() + applied.removed.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut polls = Vec::new();
    for _ in 0..6 {
        let started = Instant::now();
        agent.poll().await.unwrap();
        polls.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    // The first poll writes every router's first state; the others are steady.
    let first = polls.remove(0);
    polls.sort_by(f64::total_cmp);
    println!(
        "poll (wg show dump of {routers} peers, compare, write): first {first:.0} ms, steady median {:.0} ms (min {:.0}, max {:.0})",
        polls[polls.len() / 2],
        polls[0],
        polls[polls.len() - 1]
    );
    drop(agent);

    // The real agent process at its default interval.
    let (tikwire, _cleanup) = Tikwire::with_data_dir(db.url.clone(), &db.name, "scale");
    let mut command = tikwire.prepared(Some(&hub.name), &["agent", "--hub", "hub1"]);
    command.env("TIKWIRE_MASTER_KEY", common::master_key_base64());
    let log = std::fs::File::create(tikwire.data_dir.join("agent.log")).unwrap();
    command.stdout(std::process::Stdio::null()).stderr(log);
    let child = KillOnDrop(command.spawn().unwrap());
    // `ip netns exec` execs the binary: the child's pid is the agent's.
    let pid = child.0.id();
    // Let it load, reconcile (nothing to do) and poll once before measuring.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let wg_go = wireguard_go_pid(INTERFACE);
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    println!("agent pid {pid}: {:?}", cmdline.replace('\0', " "));
    let (agent_before, wg_before) = (usage(pid), wg_go.map(usage));
    let started = Instant::now();
    tokio::time::sleep(minute).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (agent_after, wg_after) = (usage(pid), wg_go.map(usage));
    let log = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat {0}/agent.log; find {0} -name tikwire.log -exec tail -n 8 {{}} \\;",
            tikwire.data_dir.display()
        ))
        .output()
        .unwrap();
    println!("agent log:\n{}", String::from_utf8_lossy(&log.stdout));
    let cpu = agent_after.cpu_secs - agent_before.cpu_secs;
    println!(
        "tikwire agent, {elapsed:.0} s at a 5 s interval: CPU {:.1}% of one core ({:.0} ms per poll), RSS {:.1} MiB (peak {:.1} MiB); load average {}",
        cpu / elapsed * 100.0,
        cpu / (elapsed / 5.0) * 1000.0,
        agent_after.rss_mib,
        agent_after.peak_mib,
        load_average()
    );
    if let (Some(before), Some(after)) = (wg_before, wg_after) {
        println!(
            "wireguard-go with {routers} peers: CPU {:.1}% of one core, RSS {:.1} MiB",
            (after.cpu_secs - before.cpu_secs) / elapsed * 100.0,
            after.rss_mib
        );
    }
}
