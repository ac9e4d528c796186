//! The agent's poll cycle at a full tenant (65,278 routers), as the agent runs it: the status
//! sync plans the snapshot against its in-memory copy (next states, transitions, first
//! handshakes, endpoint moves, traffic deltas), the alert engine turns the status changes into
//! events, and one transaction writes the changed rows, the heartbeat, the history rows, the
//! hub watchdog's beat and the outbox (alert events, one delivery each for one webhook
//! endpoint). Against a real PostgreSQL: the test harness's private server, or DATABASE_URL.
//! Only `wg show` is left out: snapshots are made in memory (the dump parser has its own bench
//! in benches/wg.rs).
//!
//! Two fleets, each timed over `ROUNDS` polls after a warm-up:
//!
//! 1. **1% changed.** Each poll 653 routers change status and nobody else moves: odd polls a
//!    block of 653 falls silent past `online_secs` (online -> stale: 653 transitions, 653
//!    `router.stale` alerts); even polls that block shakes hands again (stale -> online: 653
//!    transitions, their traffic, a new endpoint for one in ten) and the block that came back
//!    twelve polls ago has stayed up for `recover` (60 s): 653 `router.online` alerts. The
//!    online threshold is an hour so that the 99% that stay quiet (no handshake, no bytes)
//!    stay online through the bench without a write; which routers age out is set up by
//!    their handshake times, not by the threshold.
//! 2. **Steady state.** Default thresholds, persistent keepalive 25 s, a 5 s poll: every
//!    router's received bytes grow every fifth poll and it re-handshakes every 24th (120 s),
//!    so about a quarter of the rows (last_seen_at, counters, handshake) and their traffic are
//!    written each poll with no status change at all.
//!
//! The harness's server runs with fsync and synchronous_commit off (commits cost less than on
//! a hub's disk) and shared_buffers 32 MB, less than vpn_configurations and its indexes at
//! this size: the steady state's update of 15,000 rows reads and evicts pages as it goes.
//!
//! Each statement's time (from sqlx's own per-statement log, round trip included) is summed
//! per statement and reported as a median per poll.
//!
//! `cargo bench --bench poll_cycle`; with `POLL_CYCLE_EXPLAIN=1`, every statement's plan
//! (EXPLAIN ANALYZE, BUFFERS, trigger bodies included) is logged by auto_explain and the
//! server's log copied to /tmp/poll_cycle_server.log at the end (the timings then include
//! the explaining: read them from a run without it).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use ipnet::{IpNet, Ipv4Net};
use sqlx::PgPool;
use tikwire::alerts::AlertRules;
use tikwire::alerts::endpoints::{self, NewWebhook};
use tikwire::alerts::monitor::{AlertSetup, HubAlerts};
use tikwire::history::Retention;
use tikwire::keys::PublicKey;
use tikwire::model::AgentIdentity;
use tikwire::store::Store;
use tikwire::wg::Snapshot;
use tikwire::wg::poller::PeerStats;
use tikwire::wg::status::Thresholds;
use tikwire::wg::sync::StatusSync;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::{Layer, filter};

const ROUTERS: usize = 65_278;
/// 1% of the routers.
const BLOCK: usize = ROUTERS / 100;
const POLL_SECS: i64 = 5;
/// Polls timed in each fleet.
const ROUNDS: usize = 40;
/// Polls before timing: in the 1% fleet, until recoveries are announced (60 s = 12 polls).
const WARM_UP_1PCT: usize = 14;
const WARM_UP_STEADY: usize = 4;
const RETENTION: Retention = Retention {
    traffic_days: 14,
    rollup_days: 400,
};
/// Keepalive 25 s and handshakes every 120 s, in polls of 5 s.
const KEEPALIVE_POLLS: usize = 5;
const REKEY_POLLS: usize = 24;

fn main() {
    let statements = StatementLog::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(
            statements.clone().with_filter(
                filter::Targets::new().with_target("sqlx::query", tracing::Level::DEBUG),
            ),
        ),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(statements));
}

async fn run(statements: StatementLog) {
    let db = common::test_db().await;
    let p = common::provisioner(&db.pool);
    let hub = common::add_hub(&p, "wg0").await;
    common::bench_tenant(&p, ROUTERS).await;
    // One endpoint for every event: each alert is an event row and a delivery row.
    endpoints::add(
        &p,
        &NewWebhook {
            url: "http://127.0.0.1:9/hook".into(),
            name: Some("bench".into()),
            tenant: None,
            events: None,
        },
    )
    .await
    .unwrap();
    let explain = std::env::var_os("POLL_CYCLE_EXPLAIN").is_some();
    let pool = if explain {
        explain_all(&db.pool, &db.name).await;
        // Settings of the database apply to new sessions.
        PgPool::connect(&db.url).await.unwrap()
    } else {
        db.pool.clone()
    };
    let store = Store::from_pool(pool.clone());
    let t0 = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    store.maintain_history(t0, RETENTION).await.unwrap();
    let peers: Vec<(PublicKey, Ipv4Addr)> =
        sqlx::query_as("SELECT client_public_key, client_ip FROM vpn_configurations ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(key, ip): (PublicKey, IpNet)| match ip.addr() {
                std::net::IpAddr::V4(v4) => (key, v4),
                std::net::IpAddr::V6(_) => unreachable!("router addresses are IPv4"),
            })
            .collect();
    let mut fleet = Fleet::new(&peers, t0);

    println!(
        "poll cycle at {ROUTERS} routers, {ROUNDS} polls timed per fleet; load average {}",
        load_average()
    );
    one_percent(&store, &pool, hub.id, &mut fleet, &statements).await;
    steady(&store, &pool, hub.id, &mut fleet, &statements).await;
    println!("load average at the end: {}", load_average());
    if explain && let Some(dir) = common::socket_dir() {
        std::fs::copy(dir.join("server.log"), "/tmp/poll_cycle_server.log").unwrap();
        println!("plans: /tmp/poll_cycle_server.log");
    }
}

/// Every statement of new sessions on database `name` logs its plan with actual times.
async fn explain_all(pool: &PgPool, name: &str) {
    for setting in [
        "session_preload_libraries = 'auto_explain'",
        "auto_explain.log_min_duration = 0",
        "auto_explain.log_analyze = on",
        "auto_explain.log_buffers = on",
        "auto_explain.log_triggers = on",
        "auto_explain.log_nested_statements = on",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET {setting}"
        )))
        .execute(pool)
        .await
        .unwrap();
    }
}

/// The interface as the bench drives it: one snapshot, changed in place poll by poll.
struct Fleet {
    keys: Vec<PublicKey>,
    snapshot: Snapshot,
}

impl Fleet {
    fn new(peers: &[(PublicKey, Ipv4Addr)], t0: DateTime<Utc>) -> Self {
        let map = peers
            .iter()
            .enumerate()
            .map(|(i, (key, ip))| {
                let stats = PeerStats {
                    endpoint: Some(endpoint(i, 0)),
                    last_handshake: None,
                    rx_bytes: 0,
                    tx_bytes: 0,
                    persistent_keepalive: Some(25),
                    allowed_ips: vec![IpNet::V4(Ipv4Net::new(*ip, 32).unwrap())],
                    has_preshared_key: true,
                };
                (*key, stats)
            })
            .collect::<HashMap<_, _>>();
        Self {
            keys: peers.iter().map(|(key, _)| *key).collect(),
            snapshot: Snapshot {
                interface: "wg0".into(),
                taken_at: t0,
                public_key: Some(PublicKey::from_bytes([2; 32])),
                listen_port: 51820,
                peers: map,
            },
        }
    }

    fn peer(&mut self, i: usize) -> &mut PeerStats {
        self.snapshot.peers.get_mut(&self.keys[i]).unwrap()
    }
}

/// Router `i`'s NAT address, the `n`th it has had.
fn endpoint(i: usize, n: usize) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(203, 0, 113, 1 + (i % 250) as u8),
        (1024 + (i + 7 * n) % 60_000) as u16,
    ))
}

fn alerts() -> HubAlerts {
    HubAlerts::new(
        AlertSetup {
            rules: AlertRules::default(),
            hook: None,
            wake: Arc::new(Notify::new()),
        },
        "hub1".into(),
        Duration::from_secs(POLL_SECS as u64),
    )
}

/// Fleet 1: 653 status changes a poll, nothing else moving.
async fn one_percent(
    store: &Store,
    pool: &PgPool,
    hub_id: i64,
    fleet: &mut Fleet,
    statements: &StatementLog,
) {
    let thresholds = Thresholds::new(3600, 7200).unwrap();
    let online = thresholds.online_secs() as i64;
    let t0 = fleet.snapshot.taken_at;
    let at = |round: usize| t0 + TimeDelta::seconds(POLL_SECS * round as i64);
    let blocks = (WARM_UP_1PCT + ROUNDS).div_ceil(2);
    // Block b (from 1) falls silent at poll 2b - 1: its handshake is exactly `online` + 1 s
    // old then. Everybody else shook hands a minute before t0 and stays quiet.
    for i in 0..ROUTERS {
        let block = i / BLOCK + 1;
        let handshake = if block <= blocks {
            at(2 * block - 1) - TimeDelta::seconds(online + 1)
        } else {
            t0 - TimeDelta::seconds(60)
        };
        fleet.peer(i).last_handshake = Some(handshake);
    }
    let mut sync = StatusSync::load(store, hub_id, thresholds, AgentIdentity::current())
        .await
        .unwrap();
    // The first poll sees everyone's first handshake: no alerts for it, as after an upgrade.
    let first = sync.sync(store, &fleet.snapshot).await.unwrap();
    assert_eq!(first.rows_updated as usize, ROUTERS);
    sync.set_alerts(alerts());
    vacuum(pool).await;

    let mut timings = Timings::default();
    for round in 1..=WARM_UP_1PCT + ROUNDS {
        let now = at(round);
        fleet.snapshot.taken_at = now;
        let block = round.div_ceil(2);
        let returning = round % 2 == 0;
        if returning {
            for i in (block - 1) * BLOCK..block * BLOCK {
                let peer = fleet.peer(i);
                peer.last_handshake = Some(now - TimeDelta::seconds(1));
                peer.rx_bytes += 1_500;
                peer.tx_bytes += 900;
                if i % 10 == 0 {
                    peer.endpoint = Some(endpoint(i, round));
                }
            }
        }
        let outbox_before = outbox_rows(pool).await;
        let timed = round > WARM_UP_1PCT;
        let report = timings
            .poll(store, &mut sync, &fleet.snapshot, statements, timed)
            .await;
        assert_eq!(report.rows_updated as usize, BLOCK, "poll {round}");
        assert_eq!(report.transitions.len(), BLOCK, "poll {round}");
        let outbox = outbox_rows(pool).await - outbox_before;
        if timed {
            // Every poll after the warm-up: 653 alerts (stale, or the recoveries of twelve
            // polls ago), each an event and a delivery.
            assert_eq!(outbox, 2 * BLOCK as i64, "poll {round}: outbox rows");
        }
    }
    timings.report(&format!(
        "1% changed: {BLOCK} status changes + {BLOCK} transitions + {BLOCK} alerts (event + delivery) a poll, traffic for {BLOCK} every other poll"
    ));
}

/// Fleet 2: persistent keepalive 25 s and a 5 s poll; nobody changes status.
async fn steady(
    store: &Store,
    pool: &PgPool,
    hub_id: i64,
    fleet: &mut Fleet,
    statements: &StatementLog,
) {
    let start = fleet.snapshot.taken_at;
    let at = |round: usize| start + TimeDelta::seconds(POLL_SECS * round as i64);
    // Everyone alive, handshakes spread over the last two minutes.
    for i in 0..ROUTERS {
        let peer = fleet.peer(i);
        peer.last_handshake =
            Some(at(1) - TimeDelta::seconds(POLL_SECS * (i % REKEY_POLLS) as i64));
        peer.rx_bytes += 148;
    }
    fleet.snapshot.taken_at = at(1);
    let mut sync = StatusSync::load(
        store,
        hub_id,
        Thresholds::default(),
        AgentIdentity::current(),
    )
    .await
    .unwrap();
    sync.set_alerts(alerts());
    sync.sync(store, &fleet.snapshot).await.unwrap();
    vacuum(pool).await;

    let mut timings = Timings::default();
    let mut written = Vec::new();
    for round in 2..2 + WARM_UP_STEADY + ROUNDS {
        let now = at(round);
        fleet.snapshot.taken_at = now;
        let mut moved = 0;
        for i in 0..ROUTERS {
            let keepalive = (i + round) % KEEPALIVE_POLLS == 0;
            let rekey = (i + round) % REKEY_POLLS == 0;
            let peer = fleet.peer(i);
            if keepalive {
                peer.rx_bytes += 32;
            }
            if rekey {
                peer.last_handshake = Some(now - TimeDelta::seconds(2));
                peer.rx_bytes += 148;
                peer.tx_bytes += 92;
            }
            moved += usize::from(keepalive || rekey);
        }
        let timed = round >= 2 + WARM_UP_STEADY;
        let report = timings
            .poll(store, &mut sync, &fleet.snapshot, statements, timed)
            .await;
        assert_eq!(report.rows_updated as usize, moved, "poll {round}");
        assert!(
            report.transitions.is_empty(),
            "poll {round}: no status change"
        );
        written.push(moved);
    }
    timings.report(&format!(
        "steady state: keepalive 25 s, poll 5 s, {}-{} rows (counters, last_seen_at, 1 in 24 a handshake) and their traffic a poll, no status change",
        written.iter().min().unwrap(),
        written.iter().max().unwrap()
    ));
}

/// Alert events and deliveries written so far.
async fn outbox_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM alert_events) + (SELECT count(*) FROM webhook_deliveries)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// After the set-up's whole-fleet writes, what autovacuum would have done by then.
async fn vacuum(pool: &PgPool) {
    sqlx::query("VACUUM (ANALYZE) vpn_configurations, router_counts, router_transitions")
        .execute(pool)
        .await
        .unwrap();
}

/// The cycle's times, its planning alone, and each statement's.
#[derive(Default)]
struct Timings {
    cycles: Vec<Duration>,
    plans: Vec<Duration>,
    statements: BTreeMap<String, Vec<Duration>>,
}

impl Timings {
    async fn poll(
        &mut self,
        store: &Store,
        sync: &mut StatusSync,
        snapshot: &Snapshot,
        statements: &StatementLog,
        timed: bool,
    ) -> tikwire::wg::sync::SyncReport {
        // Planning is pure: timed apart (and again inside the cycle).
        let started = Instant::now();
        std::hint::black_box(sync.plan(snapshot));
        let plan = started.elapsed();
        statements.take();
        let started = Instant::now();
        let report = sync.sync(store, snapshot).await.unwrap();
        let cycle = started.elapsed();
        let run = statements.take();
        if timed {
            self.cycles.push(cycle);
            self.plans.push(plan);
            let mut per_poll: BTreeMap<String, Duration> = BTreeMap::new();
            for (label, took) in run {
                *per_poll.entry(label).or_default() += took;
            }
            for (label, took) in per_poll {
                self.statements.entry(label).or_default().push(took);
            }
        }
        report
    }

    fn report(self, what: &str) {
        println!("{what}");
        println!(
            "  whole cycle (plan, alerts, write, commit): {}",
            figures(self.cycles)
        );
        println!(
            "  of which planning in memory:               {}",
            figures(self.plans)
        );
        for (label, times) in self.statements {
            let polls = times.len();
            println!("  {label:<60} {} ({polls} polls)", figures(times));
        }
    }
}

/// "median m ms, p95 p ms, max x ms".
fn figures(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = (times.len() * 95).div_ceil(100).max(1) - 1;
    format!(
        "median {:6.1} ms, p95 {:6.1} ms, max {:6.1} ms",
        ms(times[times.len() / 2]),
        ms(times[p95]),
        ms(times[times.len() - 1])
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Each statement sqlx ran since the last `take`, with its time: sqlx logs every statement
/// (target `sqlx::query`) with its SQL and `elapsed_secs`, measured from sending it to the
/// last row read.
#[derive(Clone, Default)]
struct StatementLog(Arc<Mutex<Vec<(String, Duration)>>>);

impl StatementLog {
    fn take(&self) -> Vec<(String, Duration)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl<S: tracing::Subscriber> Layer<S> for StatementLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        let sql = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        self.0
            .lock()
            .unwrap()
            .push((label(&sql), Duration::from_secs_f64(fields.elapsed_secs)));
    }
}

#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
    elapsed_secs: f64,
}

impl Visit for StatementFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.summary = format!("{value:?}");
        }
    }
}

/// A statement's first words, enough to tell the poll's statements apart.
fn label(sql: &str) -> String {
    let words: Vec<&str> = sql
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .take(7)
        .collect();
    let mut label = words.join(" ");
    label.truncate(58);
    label
}
