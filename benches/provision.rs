//! Provisioning throughput and cost, on a real PostgreSQL (the test harness's private cluster,
//! or DATABASE_URL). Prints figures; asserts nothing about time.
//!
//!   cargo bench --bench provision
//!
//! 1. raw x25519 keypair generation rate (the floor for provisioning)
//! 2. `router import` of 10,000 routers into one tenant (library path, one transaction)
//! 3. single-router provisioning in an empty tenant vs a tenant with 60,000+ routers
//! 4. `tikwire router add` end to end, process start included, on the embedded default cluster
//! 5. concurrent single provisioning into 8 tenants on one hub vs on 8 hubs (the hub's
//!    capacity lock serializes the first)

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use tikwire::keys::{PresharedKey, PrivateKey};
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};

fn specs(prefix: &str, n: usize) -> Vec<RouterSpec> {
    (0..n)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("{prefix}-{i}")).unwrap()))
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    // `cargo test --benches` runs benches with --test-ish args; keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(quick));
}

async fn run(quick: bool) {
    let scale = if quick { 20 } else { 1 };

    // 1. Raw keypair rate, single thread.
    let n = 10_000 / scale;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box((
            PrivateKey::generate().public_key(),
            PresharedKey::generate(),
        ));
    }
    let keygen = n as f64 / start.elapsed().as_secs_f64();
    println!("x25519 keypair + preshared key generation: {keygen:.0}/s on one core");

    // 2. Import 10,000 routers into one tenant.
    let db = common::test_db().await;
    let p = common::provisioner(&db.pool);
    common::add_hub(&p, "wg0").await;
    // Every tenant of this bench on one hub: room for all of them.
    let room = tikwire::store::HubChanges {
        max_peers: Some(1_000_000),
        mgmt_address: None,
    };
    p.store().set_hub("hub1", &room).await.unwrap();
    let batch = 10_000 / scale;
    let mut times = Vec::new();
    for round in 0..3 {
        let tenant = TenantName::parse(&format!("import-{round}")).unwrap();
        p.add_tenant(&tenant).await.unwrap();
        let rows = specs("site", batch);
        let start = Instant::now();
        p.import_routers(&tenant, None, &rows).await.unwrap();
        times.push(start.elapsed());
    }
    let t = median(times.clone());
    println!(
        "router import of {batch} routers: median {:.0} ms ({:.0} routers/s), runs {:?}",
        t.as_secs_f64() * 1000.0,
        batch as f64 / t.as_secs_f64(),
        times
            .iter()
            .map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
    );

    // 3. First routers vs last routers of a nearly full tenant.
    let samples = 50 / scale.min(10);
    let empty = TenantName::parse("empty").unwrap();
    p.add_tenant(&empty).await.unwrap();
    let first = time_adds(&p, "empty", "first", samples).await;
    let full = TenantName::parse("nearly-full").unwrap();
    p.add_tenant(&full).await.unwrap();
    let fill = if quick { 2_000 } else { 65_000 };
    for (i, chunk) in specs("bulk", fill).chunks(10_000).enumerate() {
        let rows: Vec<RouterSpec> = chunk
            .iter()
            .map(|s| RouterSpec::named(RouterName::parse(&format!("{}-{i}", s.name)).unwrap()))
            .collect();
        p.import_routers(&full, None, &rows).await.unwrap();
    }
    // Release a scattered handful so the last ones exercise the released-address path too.
    for i in (0..10).map(|k| k * (fill / 10)) {
        let name = format!("bulk-{i}-{}", i / 10_000);
        p.store().delete_router("nearly-full", &name).await.unwrap();
    }
    let last = time_adds(&p, "nearly-full", "last", samples).await;
    println!(
        "single provisioning (library, one transaction): empty tenant median {:.2} ms; tenant with {} routers median {:.2} ms (ratio {:.2})",
        first.as_secs_f64() * 1000.0,
        fill - 10,
        last.as_secs_f64() * 1000.0,
        last.as_secs_f64() / first.as_secs_f64()
    );

    // 5. Concurrent provisioning: tenants sharing a hub queue on its capacity lock.
    let per_task = 40 / scale.min(10);
    for hubs in [1usize, 8] {
        let db = common::test_db().await;
        let p = common::provisioner(&db.pool);
        for h in 0..hubs {
            p.add_hub(&tikwire::provision::NewHub::new(
                tikwire::model::HubName::parse(&format!("h{h}")).unwrap(),
                tikwire::model::Endpoint::parse(&format!("192.0.2.{}:51820", h + 1)).unwrap(),
                tikwire::model::InterfaceName::parse(&format!("wg{h}")).unwrap(),
                51820,
            ))
            .await
            .unwrap();
        }
        for t in 0..8 {
            let hub = tikwire::model::HubName::parse(&format!("h{}", t % hubs)).unwrap();
            p.add_tenant_on(&TenantName::parse(&format!("c{t}")).unwrap(), Some(&hub))
                .await
                .unwrap();
        }
        let start = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let p = p.clone();
                tokio::spawn(async move {
                    time_adds(&p, &format!("c{t}"), "par", per_task).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = start.elapsed();
        println!(
            "8 tenants provisioning at once, {per_task} routers each, tenants on {hubs} hub(s): {:.0} routers/s",
            (8 * per_task) as f64 / elapsed.as_secs_f64()
        );
    }

    // 4. End to end through the binary on the embedded default cluster.
    if quick {
        return;
    }
    end_to_end_cli();
}

async fn time_adds(p: &Provisioner, tenant: &str, prefix: &str, n: usize) -> Duration {
    let mut times = Vec::new();
    for i in 0..n {
        let req = NewRouter {
            tenant: TenantName::parse(tenant).unwrap(),
            hub: None,
            spec: RouterSpec::named(RouterName::parse(&format!("{prefix}-{i}")).unwrap()),
        };
        let start = Instant::now();
        p.add_router(&req).await.unwrap();
        times.push(start.elapsed());
    }
    median(times)
}

fn end_to_end_cli() {
    let bin = env!("CARGO_BIN_EXE_tikwire");
    let data_dir = std::env::temp_dir().join(format!("tikwire-bench-{}", std::process::id()));
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("TIKWIRE_MASTER_KEY")
            .env("TIKWIRE_DATA_DIR", &data_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let start = Instant::now();
    run(&["hub", "add", "hub", "--endpoint", "vpn.example.com:51820"]);
    println!(
        "first command on a new data dir (initdb + start + migrate): {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    run(&["tenant", "add", "acme"]);
    let mut times = Vec::new();
    for i in 0..30 {
        let name = format!("r{i}");
        let start = Instant::now();
        run(&["router", "add", &name, "--tenant", "acme"]);
        times.push(start.elapsed());
    }
    println!(
        "`tikwire router add` end to end (process start, embedded cluster, migrate check, key check, provisioning): median {:.1} ms, min {:.1} ms",
        median(times.clone()).as_secs_f64() * 1000.0,
        times.iter().min().unwrap().as_secs_f64() * 1000.0
    );
    let _ = Command::new(bin)
        .args(["db", "stop"])
        .env("TIKWIRE_DATA_DIR", &data_dir)
        .env_remove("DATABASE_URL")
        .output();
    let _ = std::fs::remove_dir_all(&data_dir);
}
