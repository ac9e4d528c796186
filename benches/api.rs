//! The HTTP API under load, on a real PostgreSQL (the test harness's private cluster, or
//! DATABASE_URL) and the real server on a loopback port. Prints figures; asserts nothing
//! about time.
//!
//!   cargo bench --bench api
//!
//! 1. `GET /api/vpn/{id}` and `GET /api/vpn` (one page of 50 from a 10,000-router tenant) at
//!    64 concurrent connections: with `oha` (`cargo install oha`) when it is on PATH, and with
//!    the built-in driver below either way.
//! 2. `POST /api/vpn` at 32 concurrent clients (each request a new router_id, so the built-in
//!    driver: a load generator with one fixed body would only measure 409s).

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use tikwire::api::{ApiState, app, token};
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::RouterSpec;
use tikwire::store::tokens::TokenRole;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that run small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(quick));
}

struct Figures {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn print(&mut self, what: &str) {
        self.latencies.sort();
        let at = |q: f64| {
            self.latencies
                [((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1)]
        };
        println!(
            "{what}: {} requests, {} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            self.requests,
            self.errors,
            self.requests as f64 / self.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
        );
    }
}

/// `concurrency` clients, each sending requests back to back until `total` are sent.
async fn drive(
    concurrency: usize,
    total: usize,
    send: Arc<dyn Fn(i64) -> reqwest::RequestBuilder + Send + Sync>,
) -> Figures {
    let next = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let send = send.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n as usize >= total {
                        break;
                    }
                    let t = Instant::now();
                    match send(n).send().await {
                        Ok(res) => {
                            let ok = res.status().is_success();
                            let _ = res.bytes().await;
                            if !ok {
                                errors += 1;
                            }
                        }
                        Err(_) => errors += 1,
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut figures = Figures {
        requests: total,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(total),
    };
    for worker in workers {
        let (latencies, errors) = worker.await.unwrap();
        figures.latencies.extend(latencies);
        figures.errors += errors;
    }
    figures.elapsed = started.elapsed();
    figures
}

fn oha(url: &str, token: &str, requests: usize) {
    let Ok(out) = Command::new("oha")
        .args(["--no-tui", "-c", "64", "-n", &requests.to_string()])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
    else {
        println!("  (oha not on PATH: `cargo install oha` for its figures too)");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Requests/sec")
            || line.starts_with("50.00%")
            || line.starts_with("99.00%")
            || line.starts_with("[200]")
            || line.starts_with("[4")
            || line.starts_with("[5")
            || line.starts_with("Success rate")
        {
            println!("  oha: {line}");
        }
    }
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
    for tenant in ["big", "writes"] {
        provisioner
            .add_tenant(&TenantName::parse(tenant).unwrap())
            .await
            .unwrap();
    }
    let specs: Vec<RouterSpec> = (0..fleet)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("r-{i}")).unwrap()))
        .collect();
    provisioner
        .import_routers(&TenantName::parse("big").unwrap(), None, &specs)
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
    let (reader, writer) = (tokens[0].clone(), tokens[1].clone());
    let middle: i64 = sqlx::query_scalar("SELECT id FROM routers ORDER BY id OFFSET $1 LIMIT 1")
        .bind(fleet as i64 / 2)
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
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let reads = if quick { 200 } else { 20_000 };
    println!("tenant with {fleet} routers; {reads} reads, 64 connections");

    for (what, path) in [
        ("GET /api/vpn/{id}", format!("/api/vpn/{middle}")),
        (
            "GET /api/vpn (page 50 of 10,000)",
            "/api/vpn?page=100&per_page=50".to_owned(),
        ),
    ] {
        let url = format!("{base}{path}");
        // Warm up connections and caches.
        let warm = {
            let (client, url, token) = (client.clone(), url.clone(), reader.clone());
            Arc::new(move |_| client.get(&url).bearer_auth(&token))
        };
        drive(64, 640, warm.clone()).await;
        drive(64, reads, warm).await.print(what);
        if !quick {
            oha(&url, &reader, reads);
        }
    }

    let writes = if quick { 64 } else { 3_000 };
    let post = {
        let (client, url, token) = (client.clone(), format!("{base}/api/vpn"), writer.clone());
        Arc::new(move |n: i64| {
            client.post(&url).bearer_auth(&token).json(
                &serde_json::json!({ "router_id": n + 1, "router_name": format!("Site {n}") }),
            )
        })
    };
    drive(32, writes, post)
        .await
        .print("POST /api/vpn (32 clients, one tenant)");
}
