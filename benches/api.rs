//! The HTTP API under load, on a real PostgreSQL (the test harness's private cluster, or
//! DATABASE_URL) and the real server (`tikwire::api::app`) on a loopback port. Prints figures;
//! asserts nothing about time.
//!
//!   cargo bench --bench api
//!
//! The load comes from another process, so the server's CPU time is not the client's: this
//! binary runs itself again as the client (`--load-client`, a closed loop of N connections,
//! each sending its next request when the last is answered), and, when `oha` is on PATH
//! (`cargo install oha`), oha as a second opinion on the reads.
//!
//! 1. `GET /api/vpn/{id}` at 64 connections, ids spread over a 10,000-router tenant.
//! 2. `GET /api/vpn?page=100&per_page=50` (page 100 of 200) of that tenant at 64 connections.
//!    Each read also at one connection: a request's own cost, without queueing.
//! 3. `POST /api/vpn` at 32 clients into one tenant (each request a new router_id, which a
//!    load generator with one fixed body cannot do: oha would measure 409s).
//!
//! Each phase also prints the load average when it started: the machine has 2 cores shared
//! with other work, and a closed loop's latency is its concurrency over its throughput.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sqlx::postgres::PgPoolOptions;
use tikwire::api::{ApiState, app, token};
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::RouterSpec;
use tikwire::store::tokens::TokenRole;

/// The client process reads its token here, not from its command line.
const TOKEN_ENV: &str = "TIKWIRE_BENCH_TOKEN";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(at) = args.iter().position(|a| a == "--load-client") {
        let load = Load::from_args(&args[at + 1..]);
        runtime.block_on(load.run());
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that run small.
    let quick = !args.iter().any(|a| a == "--bench");
    runtime.block_on(run(quick));
}

/// What one load-client process sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `GET /api/vpn/{id}`, ids from `first` to `last`, round robin.
    Show,
    /// `GET /api/vpn?page=100&per_page=50`.
    List,
    /// `POST /api/vpn`, router_id from `first` up.
    Create,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Show => "show",
            Self::List => "list",
            Self::Create => "create",
        }
    }

    fn parse(text: &str) -> Self {
        [Self::Show, Self::List, Self::Create]
            .into_iter()
            .find(|p| p.as_str() == text)
            .unwrap_or_else(|| panic!("unknown phase {text:?}"))
    }
}

/// A load-client run: `--load-client PHASE BASE_URL CONNECTIONS REQUESTS FIRST LAST`.
#[derive(Clone)]
struct Load {
    phase: Phase,
    base: String,
    connections: usize,
    requests: u64,
    first: i64,
    last: i64,
}

impl Load {
    fn args(&self) -> Vec<String> {
        vec![
            "--load-client".into(),
            self.phase.as_str().into(),
            self.base.clone(),
            self.connections.to_string(),
            self.requests.to_string(),
            self.first.to_string(),
            self.last.to_string(),
        ]
    }

    fn from_args(args: &[String]) -> Self {
        let number = |i: usize| -> i64 { args[i].parse().expect("a number") };
        Self {
            phase: Phase::parse(&args[0]),
            base: args[1].clone(),
            connections: number(2) as usize,
            requests: number(3) as u64,
            first: number(4),
            last: number(5),
        }
    }

    /// Runs in the client process: sends the requests, prints one line of figures.
    async fn run(self) {
        let token: Arc<str> = std::env::var(TOKEN_ENV).expect(TOKEN_ENV).into();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(self.connections)
            .build()
            .unwrap();
        let load = Arc::new(self);
        // Open every connection before the clock starts.
        let warm: Vec<_> = (0..load.connections)
            .map(|_| client.get(format!("{}/api/openapi.json", load.base)).send())
            .collect();
        for response in futures_join(warm).await {
            response.unwrap().bytes().await.unwrap();
        }
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..load.connections)
            .map(|_| {
                let (load, client, token, next) =
                    (load.clone(), client.clone(), token.clone(), next.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failures = 0u64;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= load.requests {
                            break;
                        }
                        let request = load.request(&client, n).bearer_auth(&*token);
                        let sent = Instant::now();
                        let ok = match request.send().await {
                            Ok(response) => {
                                let ok = response.status().is_success();
                                ok && response.bytes().await.is_ok()
                            }
                            Err(_) => false,
                        };
                        latencies.push(sent.elapsed());
                        failures += u64::from(!ok);
                    }
                    (latencies, failures)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(load.requests as usize);
        let mut failures = 0;
        for worker in workers {
            let (mine, failed) = worker.await.unwrap();
            latencies.extend(mine);
            failures += failed;
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
            latencies[i - 1].as_secs_f64() * 1000.0
        };
        println!(
            "{} requests, {failures} failed, {:.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            latencies.len(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            at(0.50),
            at(0.90),
            at(0.99),
            at(1.0),
        );
    }

    fn request(&self, client: &reqwest::Client, n: u64) -> reqwest::RequestBuilder {
        let n = n as i64;
        match self.phase {
            Phase::Show => {
                let id = self.first + n % (self.last - self.first + 1);
                client.get(format!("{}/api/vpn/{id}", self.base))
            }
            Phase::List => client.get(format!("{}/api/vpn?page=100&per_page=50", self.base)),
            Phase::Create => {
                client
                    .post(format!("{}/api/vpn", self.base))
                    .json(&serde_json::json!({
                        "router_id": self.first + n,
                        "router_name": format!("Site {n}"),
                    }))
            }
        }
    }
}

/// Awaits all the futures (reqwest's are Send; no extra crate for join_all).
async fn futures_join<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Runs the load client in its own process and prints its figures.
fn load_client(what: &str, load: &Load, token: &str) {
    println!(
        "{what} ({} connections, load average {}):",
        load.connections,
        load_average()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args(load.args())
        .env(TOKEN_ENV, token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "load client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("  client: {}", String::from_utf8_lossy(&out.stdout));
}

/// oha's figures for the same reads, when oha is installed. `url` may be a regular expression
/// (`--rand-regex-url`), so ids spread over the tenant as the client's do.
fn oha(url: &str, regex: bool, token: &str, connections: usize, requests: u64) {
    let mut command = Command::new("oha");
    command
        .args(["--no-tui", "-c", &connections.to_string()])
        .args(["-n", &requests.to_string()])
        .args(["-H", &format!("Authorization: Bearer {token}")]);
    if regex {
        command.arg("--rand-regex-url");
    }
    let Ok(out) = command.arg(url).output() else {
        println!("  oha: not on PATH (`cargo install oha` for its figures too)");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let wanted = [
        "Success rate",
        "Requests/sec",
        "50.00%",
        "90.00%",
        "99.00%",
        "[200]",
        "[4",
        "[5",
    ];
    let figures: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| wanted.iter().any(|w| line.starts_with(w)))
        .collect();
    println!("  oha:    {}", figures.join(", "));
}

async fn run(quick: bool) {
    let db = common::test_db().await;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&db.url)
        .await
        .unwrap();
    let provisioner = common::provisioner(&pool);
    common::add_hub(&provisioner, "wg0").await;
    let fleet = if quick { 200 } else { 10_000 };
    // "other" is there so row-level security has rows to keep out.
    for (tenant, routers) in [("big", fleet), ("other", fleet / 10), ("writes", 0)] {
        let name = TenantName::parse(tenant).unwrap();
        provisioner.add_tenant(&name).await.unwrap();
        let specs: Vec<RouterSpec> = (0..routers)
            .map(|i| RouterSpec::named(RouterName::parse(&format!("r-{i}")).unwrap()))
            .collect();
        if !specs.is_empty() {
            provisioner
                .import_routers(&name, None, &specs)
                .await
                .unwrap();
        }
    }
    // As autovacuum would have by the time anyone lists: statistics and the visibility map.
    sqlx::query("VACUUM ANALYZE")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for (name, tenant) in [("reader", "big"), ("writer", "writes")] {
        let (secret, hash) = token::generate();
        let info = provisioner
            .store()
            .add_token(name, Some(tenant), TokenRole::Admin, &hash, None)
            .await
            .unwrap();
        tokens.push(token::presented(info.id, &secret).to_string());
    }
    let (reader, writer) = (&tokens[0], &tokens[1]);
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT min(r.id), max(r.id) FROM routers r JOIN tenants t ON t.id = r.tenant_id
         WHERE t.name = 'big'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = ApiState::new(provisioner.clone());
    state.events_listening().await;
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let base = format!("http://{addr}");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let reads: u64 = if quick { 200 } else { 20_000 };
    println!(
        "{profile} build, {} cores, tenant with {fleet} routers (ids {first} to {last}), \
         server pool of 16 database connections",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let phases = [
        ("GET /api/vpn/{id}", Phase::Show),
        ("GET /api/vpn?page=100&per_page=50", Phase::List),
    ];
    for (what, phase) in phases {
        let load = Load {
            phase,
            base: base.clone(),
            connections: 64,
            requests: reads,
            first,
            last,
        };
        // Warm the server's statement caches and PostgreSQL's buffers first.
        let warm = Load {
            requests: 640,
            ..load.clone()
        };
        load_client(&format!("{what} (warm-up)"), &warm, reader);
        load_client(what, &load, reader);
        // A closed loop's latency is its concurrency over its throughput: at 64 connections
        // on 2 cores it is mostly queueing. One connection shows what a request itself costs.
        let alone = Load {
            connections: 1,
            requests: reads / 10,
            ..load.clone()
        };
        load_client(&format!("{what}, one connection"), &alone, reader);
        if !quick {
            match phase {
                Phase::Show if first <= 1000 && last >= 9999 => {
                    // ids 1000 to 9999, spread over the tenant as the client's are.
                    // oha reads a dot in --rand-regex-url as a dot, so the base goes in as it is.
                    let url = format!("{base}/api/vpn/[1-9][0-9]{{3}}");
                    oha(&url, true, reader, 64, reads);
                }
                Phase::Show => oha(&format!("{base}/api/vpn/{first}"), false, reader, 64, reads),
                _ => oha(
                    &format!("{base}/api/vpn?page=100&per_page=50"),
                    false,
                    reader,
                    64,
                    reads,
                ),
            }
        }
    }

    let writes: u64 = if quick { 64 } else { 3_000 };
    let create = Load {
        phase: Phase::Create,
        base: base.clone(),
        connections: 32,
        requests: writes,
        first: 1,
        last: writes as i64,
    };
    load_client("POST /api/vpn into one tenant", &create, writer);
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM routers r JOIN tenants t ON t.id = r.tenant_id
         WHERE t.name = 'writes'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    println!("  {created} routers in tenant writes afterwards");
}
