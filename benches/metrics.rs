//! `/metrics` at fleet scale: 65,278 routers over 155 tenants on one hub (the addressing
//! plan's per-tenant maximum, spread as a full hub would be). Prints figures; asserts nothing
//! about time.
//!
//!   cargo bench --bench metrics
//!
//! 1. Per poll: building the figures the poll hands over (counting by tenant and status; with
//!    `--metrics-per-router` also keeping every router).
//! 2. Per scrape: rendering the classic text and OpenMetrics, with and without per-router
//!    series, and the body size.
//! 3. A whole scrape over HTTP through the real server on a loopback port.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tikwire::metrics::{AgentMetrics, Format, HubFigures, Outcome, RouterFigures, render, server};
use tikwire::model::RouterStatus;
use tokio_util::sync::CancellationToken;

const ROUTERS: usize = 65_278;
const TENANTS: usize = 155;

fn fleet(now: DateTime<Utc>) -> Vec<RouterFigures> {
    let tenants: Vec<Arc<str>> = (0..TENANTS)
        .map(|t| Arc::from(format!("tenant-{:03}", 100 + t)))
        .collect();
    (0..ROUTERS)
        .map(|i| {
            let t = i % TENANTS;
            let n = i / TENANTS;
            // 80% online, 10% stale, 5% offline, 5% never connected.
            let status = match i % 20 {
                0..=15 => RouterStatus::Online,
                16 | 17 => RouterStatus::Stale,
                18 => RouterStatus::Offline,
                _ => RouterStatus::Pending,
            };
            RouterFigures {
                tenant: tenants[t].clone(),
                name: Arc::from(format!("router-{n:05}")),
                vpn_ip: Ipv4Addr::new(10, 100 + t as u8, 1 + (n / 254) as u8, 1 + (n % 254) as u8),
                status,
                rx_bytes: 1_000_000 + i as i64 * 7919,
                tx_bytes: 2_000_000 + i as i64 * 104_729,
                last_handshake_at: (status != RouterStatus::Pending)
                    .then(|| now - chrono::TimeDelta::seconds((i % 600) as i64)),
            }
        })
        .collect()
}

/// Median and maximum of `runs` timings of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut took: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    took.sort();
    (took[runs / 2], took[runs - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that run small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 3 } else { 25 };
    let now = DateTime::from_timestamp(1_795_538_000, 0).unwrap();
    let routers = fleet(now);
    println!("{ROUTERS} routers, {TENANTS} tenants, median / max of {runs} runs");

    for per_router in [false, true] {
        let label = if per_router { "per-router" } else { "default" };
        let (median, max) = time(runs, || {
            HubFigures::from_routers(routers.iter().cloned(), ROUTERS, 0, now, per_router)
        });
        println!(
            "poll hands over figures ({label:10}): {} (max {})",
            ms(median),
            ms(max)
        );
    }

    let mut metrics_of = Vec::new();
    for per_router in [false, true] {
        let metrics = AgentMetrics::new("hub1", Duration::from_secs(5), per_router);
        for i in 0..1000u64 {
            metrics.record_reconcile(Duration::from_micros(500 + i * 97), Outcome::Success);
            metrics.record_poll(Duration::from_micros(800 + i * 41), Outcome::Success, None);
        }
        let figures =
            HubFigures::from_routers(routers.iter().cloned(), ROUTERS, 3, now, per_router);
        metrics.record_poll(Duration::from_millis(40), Outcome::Success, Some(figures));
        metrics_of.push((per_router, metrics));
    }

    for (per_router, metrics) in &metrics_of {
        let label = if *per_router { "per-router" } else { "default" };
        for format in [Format::Classic, Format::OpenMetrics] {
            let snapshot = metrics.snapshot();
            let body = render(&snapshot, format);
            let lines = body.lines().filter(|l| !l.starts_with('#')).count();
            let (median, max) = time(runs, || render(&metrics.snapshot(), format));
            println!(
                "render {format:?} ({label:10}): {} (max {}), {} bytes, {lines} samples",
                ms(median),
                ms(max),
                body.len(),
            );
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for (per_router, metrics) in &metrics_of {
            let label = if *per_router { "per-router" } else { "default" };
            let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let url = format!("http://{}/metrics", listener.local_addr().unwrap());
            let cancel = CancellationToken::new();
            let serving = tokio::spawn(server::serve(listener, metrics.clone(), cancel.clone()));
            let mut took = Vec::new();
            let mut size = 0;
            for _ in 0..runs {
                let start = Instant::now();
                let body = client
                    .get(&url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                took.push(start.elapsed());
                size = body.len();
            }
            took.sort();
            println!(
                "HTTP scrape, classic ({label:10}): {} (max {}), {size} bytes",
                ms(took[runs / 2]),
                ms(took[runs - 1])
            );
            cancel.cancel();
            serving.await.unwrap().unwrap();
        }
    });
    println!(
        "per-router snapshot: {} bytes per router plus its name ({} in all, names included)",
        std::mem::size_of::<RouterFigures>(),
        ROUTERS * (std::mem::size_of::<RouterFigures>() + 16 + "router-00000".len())
    );
}
