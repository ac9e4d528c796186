//! The console at the design size, end to end: the real `tikwire` binary (bench profile, i.e.
//! release) in tmux at 80x24, on one PostgreSQL database grown in one run through 100,000,
//! 1,000,000 and 10,000,000 routers (`tikwire demo --scale`, the sample fleet of 65,278-router
//! tenants on hubs of their own). At each size, read off the screen with `capture-pane`:
//!
//! - time from starting the console to its first rows, and its resident memory;
//! - one frame: `j` moves the selection (no database read) to the screen showing it;
//! - one filter keystroke to the frame that lists only matching rows;
//! - page-down to the frame with the next page;
//! - a router added by another process (`tikwire router add`) to the console showing it;
//! - the console's CPU while idle, and while an agent's poll writes status for all 65,278
//!   routers of one hub every 5 s (the agent's own write statement, `Store::write_poll`, with
//!   every router's counters and activity moving, as under persistent keepalive).
//!
//! Screen reads go through tmux, so each figure includes a few milliseconds of `send-keys` and
//! `capture-pane` round trips: an upper bound of what an operator over SSH sees.
//!
//! `cargo bench --bench console_scale` (sizes: `TIKWIRE_CONSOLE_SIZES=100000,1000000,10000000`,
//! the default; the 10,000,000 fill takes 10 to 30 minutes and about 40 GB of disk; give the
//! server room: `DATABASE_URL` to one with `shared_buffers` of a few GB). Needs tmux.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common_tui/tmux.rs"]
mod tmux;

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use tikwire::model::AgentIdentity;
use tikwire::store::Store;
use tikwire::store::status::{LinkUpdate, PollWrite};
use tmux::{Env, Tmux};

const WIDTH: u16 = 80;
const HEIGHT: u16 = 24;
/// How long any one reaction may take before the bench gives up on it.
const BOUND: Duration = Duration::from_secs(60);
const POLL_EVERY: Duration = Duration::from_secs(5);
/// How long CPU is sampled, idle and under the agent's writes.
const CPU_WINDOW: Duration = Duration::from_secs(30);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and worst, in ms.
fn spread(mut runs: Vec<Duration>) -> (f64, f64) {
    runs.sort();
    (ms(runs[runs.len() / 2]), ms(*runs.last().unwrap()))
}

/// The screen with its colours and attributes, so a moved highlight counts as a change.
fn styled_screen(t: &Tmux) -> String {
    String::from_utf8_lossy(&t.cmd(&["capture-pane", "-e", "-p", "-t", "t"]).stdout).into_owned()
}

/// Waits until `done` holds for the screen; how long that took since `from`.
fn until(t: &Tmux, from: Instant, what: &str, done: impl Fn(&str) -> bool) -> Duration {
    loop {
        let screen = t.screen();
        if done(&screen) {
            return from.elapsed();
        }
        assert!(
            from.elapsed() < BOUND,
            "{what}: no such screen within {BOUND:?}; last screen:\n{screen}"
        );
    }
}

/// Waits until the styled screen differs from `before`.
fn until_changed(t: &Tmux, from: Instant, what: &str, before: &str) -> Duration {
    loop {
        if styled_screen(t) != before {
            return from.elapsed();
        }
        assert!(from.elapsed() < BOUND, "{what}: the screen never changed");
    }
}

/// Sample router names on the screen (`s-00001`, ...), top to bottom.
fn router_names(screen: &str) -> Vec<&str> {
    screen
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| {
            w.len() == 7 && w.starts_with("s-") && w[2..].bytes().all(|b| b.is_ascii_digit())
        })
        .collect()
}

/// The first router line on the screen (a name repeats across tenants, the line does not).
fn first_row(screen: &str) -> Option<String> {
    screen
        .lines()
        .find(|l| !router_names(l).is_empty())
        .map(str::to_owned)
}

/// The console process: the pane's own process once `env` has exec'd it, or its child.
fn console_pid(t: &Tmux) -> u32 {
    let pane: u32 = t.format("#{pane_pid}").parse().unwrap();
    let started = Instant::now();
    loop {
        let comm = std::fs::read_to_string(format!("/proc/{pane}/comm")).unwrap_or_default();
        if comm.trim() == "tikwire" {
            return pane;
        }
        let children = std::fs::read_to_string(format!("/proc/{pane}/task/{pane}/children"))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(started.elapsed() < BOUND, "no console process");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// User plus system CPU time of a process so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after its closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The console's CPU use over `window`, as a percentage of one core.
fn cpu_percent(pid: u32, window: Duration) -> f64 {
    let (cpu0, t0) = (cpu_time(pid), Instant::now());
    std::thread::sleep(window);
    100.0 * (cpu_time(pid) - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64()
}

/// One hub's agent, as far as the database sees it: every `POLL_EVERY`, one poll write of all
/// its routers with counters and activity moved on (the write statement the agent runs).
async fn agent_writes(
    store: Store,
    hub_id: i64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (usize, Duration) {
    let agent = AgentIdentity::current();
    let mut links = store.hub_links(hub_id).await.unwrap();
    let (mut polls, mut spent) = (0usize, Duration::ZERO);
    let mut tick = tokio::time::interval(POLL_EVERY);
    while !*stop.borrow() {
        tick.tick().await;
        let now = Utc::now();
        let updates: Vec<LinkUpdate> = links
            .iter_mut()
            .map(|l| {
                l.link.rx_bytes += 1_500;
                l.link.tx_bytes += 900;
                l.link.last_rx_counter += 1_500;
                l.link.last_tx_counter += 900;
                l.link.last_seen_at = Some(now);
                LinkUpdate {
                    id: l.id,
                    link: l.link.clone(),
                }
            })
            .collect();
        let started = Instant::now();
        store
            .write_poll(&PollWrite {
                hub_id,
                updates: &updates,
                transitions: &[],
                first_handshakes: &[],
                endpoints: &[],
                traffic: &[],
                agent: &agent,
                polled_at: now,
                peers_seen: updates.len() as i32,
                unknown_peers: 0,
            })
            .await
            .unwrap();
        spent += started.elapsed();
        polls += 1;
    }
    (polls, spent / polls.max(1) as u32)
}

struct Figures {
    routers: u64,
    first_rows: Duration,
    rss_mb: f64,
    frame: (f64, f64),
    keystroke: (f64, f64),
    page_down: (f64, f64),
    change_visible: (f64, f64),
    cpu_idle: f64,
    cpu_agent: f64,
    agent_write_ms: f64,
    rss_after_mb: f64,
}

impl Figures {
    fn row(&self) -> String {
        let f = self;
        format!(
            "| {} | {:.0} ms | {:.1} MB ({:.1} MB) | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.1}% | {:.1}% ({:.0} ms) |",
            f.routers,
            ms(f.first_rows),
            f.rss_mb,
            f.rss_after_mb,
            f.frame.0,
            f.frame.1,
            f.keystroke.0,
            f.keystroke.1,
            f.page_down.0,
            f.page_down.1,
            f.change_visible.0,
            f.change_visible.1,
            f.cpu_idle,
            f.cpu_agent,
            f.agent_write_ms,
        )
    }
}

async fn measure(env: &Env, store: &Store, routers: u64, run: usize) -> Figures {
    let console = Instant::now();
    let t = Tmux::console(env, &format!("scale{run}"), WIDTH, HEIGHT);
    let first_rows = until(&t, console, "first rows", |s| !router_names(s).is_empty());
    let pid = console_pid(&t);
    // Settled: counts and the rest of the first screen in.
    std::thread::sleep(Duration::from_secs(2));
    let rss = support::rss_mb(&pid.to_string());

    // One frame: the selection moves down (and back up), nothing is read.
    let mut frames = Vec::new();
    for i in 0..20 {
        let before = styled_screen(&t);
        let key = if i % 2 == 0 { "j" } else { "k" };
        let from = Instant::now();
        t.keys(&[key]);
        frames.push(until_changed(&t, from, "frame", &before));
    }

    // Filter keystrokes, one at a time: each to the frame listing only matching names.
    let mut keystrokes = Vec::new();
    t.keys(&["/"]);
    std::thread::sleep(Duration::from_millis(300));
    let needle = "s-0427";
    for end in 1..=needle.len() {
        let typed = &needle[..end];
        let from = Instant::now();
        t.text(&needle[end - 1..end]);
        keystrokes.push(until(&t, from, "filter keystroke", |s| {
            let names = router_names(s);
            s.contains(typed) && !names.is_empty() && names.iter().all(|n| n.contains(typed))
        }));
    }
    // Leave the filter as typed (Enter keeps it), then clear it (Escape on the list).
    t.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["Escape"]);
    until(&t, Instant::now(), "filter cleared", |s| {
        router_names(s).iter().any(|n| !n.contains(needle))
    });
    std::thread::sleep(Duration::from_millis(500));

    // Page-down: each press to the frame whose first row moved on.
    let mut pages = Vec::new();
    for _ in 0..30 {
        let first = first_row(&t.screen());
        let from = Instant::now();
        t.keys(&["PageDown"]);
        pages.push(until(&t, from, "page-down", |s| first_row(s) != first));
    }
    t.keys(&["g"]);
    std::thread::sleep(Duration::from_millis(500));

    // A router added elsewhere, sorting first by name: from the command's return to visible.
    // The last sample tenant has room (a full one is 65,278 routers).
    let tenant = format!("sample-{:03}", routers.div_ceil(65_278));
    let mut changes = Vec::new();
    for i in 0..5 {
        let name = format!("aaa-{run}-{i}");
        env.cli(&["router", "add", &name, "--tenant", &tenant]);
        let from = Instant::now();
        changes.push(until(&t, from, "change visible", |s| s.contains(&name)));
    }

    let cpu_idle = cpu_percent(pid, CPU_WINDOW / 3);
    let hub = store
        .list_hubs()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.name == "sample-001")
        .expect("hub sample-001");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(agent_writes(store.clone(), hub.id, stop_rx));
    // The first write loads the hub's links; sample once the polls run.
    tokio::time::sleep(POLL_EVERY).await;
    let cpu_agent = tokio::task::spawn_blocking(move || cpu_percent(pid, CPU_WINDOW))
        .await
        .unwrap();
    stop_tx.send(true).unwrap();
    let (polls, per_write) = agent.await.unwrap();
    eprintln!(
        "  agent: {polls} polls of 65,278 routers, {:.0} ms per write",
        ms(per_write)
    );
    let rss_after = support::rss_mb(&pid.to_string());
    t.keys(&["q"]);

    Figures {
        routers,
        first_rows,
        rss_mb: rss,
        frame: spread(frames),
        keystroke: spread(keystrokes),
        page_down: spread(pages),
        change_visible: spread(changes),
        cpu_idle,
        cpu_agent,
        agent_write_ms: ms(per_write),
        rss_after_mb: rss_after,
    }
}

#[tokio::main]
async fn main() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("console_scale: tmux is not installed; nothing measured");
        return;
    }
    let sizes: Vec<u64> = std::env::var("TIKWIRE_CONSOLE_SIZES")
        .unwrap_or_else(|_| "100000,1000000,10000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("TIKWIRE_CONSOLE_SIZES: numbers"))
        .collect();
    let db = common::test_db().await;
    let store = Store::from_pool(db.pool.clone());
    let env = Env::new(&db.url, &db.name);
    println!(
        "| routers | first rows | RSS (after agent) | frame | filter keystroke | page-down | change visible | CPU idle | CPU with agent (its write) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (run, &routers) in sizes.iter().enumerate() {
        let started = Instant::now();
        env.cli(&["demo", "--scale", &routers.to_string()]);
        // The bench's own connections plan for the grown tables too.
        sqlx::query("VACUUM ANALYZE")
            .execute(&db.pool)
            .await
            .unwrap();
        eprintln!(
            "== {routers} routers (filled in {:.0} s)",
            started.elapsed().as_secs_f64()
        );
        // Each size's row as soon as it is measured: a ten-million run is long.
        println!("{}", measure(&env, &store, routers, run).await.row());
    }
    println!(
        "(median / worst; each figure includes tmux's send-keys and capture-pane round trips)"
    );
}
