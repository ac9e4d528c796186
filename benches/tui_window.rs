//! The windowed router list against fleets of 100,000 and 1,000,000 routers in PostgreSQL
//! (sample routers written in bulk, `Store::fill_sample_routers`): time to the first rows,
//! every sort's first window, `G`, page-down, a filter keystroke, a change made elsewhere to
//! visible, the counts, the window's memory; and what the console's order indexes (migrations
//! 0010 and 0011) and count triggers add to an agent's poll write of 65,278 routers.
//!
//! `cargo bench --bench tui_window` (sizes: TIKWIRE_WINDOW_SIZES=100000,1000000). Plain
//! timings (median and worst of several runs), printed as a table.

#[path = "../tests/common/mod.rs"]
mod common;

mod support;

use std::time::{Duration, Instant};

use tikwire::store::Store;
use tikwire::store::notify::ChangeListener;
use tikwire::store::window::{ListSpec, SortKey};
use tikwire::tui::keymap::Action;
use tikwire::tui::window::{self, Fetch, RouterWindow};

const TENANT_SIZE: u32 = 65_278;
const PAGE: usize = 40;
const RUNS: usize = 7;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and worst of `runs` timings, in ms.
fn summary(mut runs: Vec<Duration>) -> String {
    runs.sort();
    format!(
        "median {:7.1} ms  worst {:7.1} ms",
        ms(runs[runs.len() / 2]),
        ms(*runs.last().unwrap())
    )
}

async fn run(store: &Store, w: &mut RouterWindow, (ticket, request): (u64, Fetch)) {
    let fetched = window::fetch(store, &w.spec, ticket, &request, w.margin())
        .await
        .unwrap();
    assert!(w.apply(fetched));
}

fn spec(sort: SortKey, filter: &str) -> ListSpec {
    ListSpec {
        tenant_id: None,
        filter: filter.into(),
        sort,
        descending: false,
    }
}

async fn fill(db: &common::TestDb, store: &Store, routers: u32) {
    use tikwire::model::{Endpoint, HubName, InterfaceName, TenantName};
    let p = common::provisioner(&db.pool);
    let started = Instant::now();
    let mut left = routers;
    let mut n = 0;
    while left > 0 {
        // A hub holds one whole tenant at most (65,278 peers): one hub per tenant, as at
        // the design size.
        let hub_name = HubName::parse(&format!("hub{n:03}")).unwrap();
        let hub = p
            .add_hub(&tikwire::provision::NewHub::new(
                hub_name.clone(),
                Endpoint::parse(&format!("192.0.2.{}:51820", n + 1)).unwrap(),
                InterfaceName::parse("wg0").unwrap(),
                51820,
            ))
            .await
            .unwrap();
        let name = format!("t{n:03}");
        p.add_tenant_on(&TenantName::parse(&name).unwrap(), Some(&hub_name))
            .await
            .unwrap();
        let add = left.min(TENANT_SIZE);
        store
            .fill_sample_routers(&name, &hub, add, "r")
            .await
            .unwrap();
        left -= add;
        n += 1;
    }
    sqlx::query("VACUUM ANALYZE")
        .execute(&db.pool)
        .await
        .unwrap();
    eprintln!(
        "  filled {routers} routers in {n} tenants: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn measure(routers: u32) {
    eprintln!("== {routers} routers");
    let db = common::test_db().await;
    let store = Store::from_pool(db.pool.clone());
    fill(&db, &store, routers).await;
    let rss_before = support::rss_mb("self");

    // First rows: a fresh window's first fetch (what opening the console waits for).
    let mut first = Vec::new();
    let mut w = RouterWindow::new(spec(SortKey::Name, ""));
    for _ in 0..RUNS {
        w = RouterWindow::new(spec(SortKey::Name, ""));
        w.page = PAGE;
        let t = Instant::now();
        let request = w.refresh();
        run(&store, &mut w, request).await;
        first.push(t.elapsed());
    }
    eprintln!("  first rows (name order)       {}", summary(first));
    eprintln!(
        "  window: {} rows held; RSS {:.1} MB (+{:.1} MB for the window and its pool)",
        w.rows().len(),
        support::rss_mb("self"),
        support::rss_mb("self") - rss_before
    );

    // Every sort's first window and its end (G).
    for sort in [
        SortKey::Name,
        SortKey::Address,
        SortKey::Status,
        SortKey::Handshake,
        SortKey::Traffic,
        SortKey::Tenant,
    ] {
        let (mut firsts, mut ends) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let mut s = RouterWindow::new(spec(sort, ""));
            s.page = PAGE;
            let t = Instant::now();
            let request = s.refresh();
            run(&store, &mut s, request).await;
            firsts.push(t.elapsed());
            let t = Instant::now();
            if let Some(request) = s.step(Action::Bottom) {
                run(&store, &mut s, request).await;
            }
            ends.push(t.elapsed());
        }
        eprintln!(
            "  sort {:9} first window    {}   G {}",
            sort.label(),
            summary(firsts),
            summary(ends)
        );
    }

    // Page-down through the list: most presses move within the window, some fetch.
    let mut presses = Vec::new();
    for _ in 0..60 {
        let t = Instant::now();
        if let Some(request) = w.step(Action::PageDown) {
            run(&store, &mut w, request).await;
        }
        presses.push(t.elapsed());
    }
    let fetching: Vec<Duration> = presses
        .iter()
        .copied()
        .filter(|d| *d > Duration::from_micros(200))
        .collect();
    eprintln!("  page-down (60 presses)        {}", summary(presses));
    if !fetching.is_empty() {
        eprintln!(
            "  page-down that fetched ({:2})   {}",
            fetching.len(),
            summary(fetching)
        );
    }
    // The same deep in the status order, inside the online block (most of the fleet ties
    // on its status): a keyset read there starts at the position, not at the block's start.
    let mut s = RouterWindow::new(spec(SortKey::Status, ""));
    s.page = PAGE;
    let request = s.refresh();
    run(&store, &mut s, request).await;
    let mut fetching = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        if let Some(request) = s.step(Action::PageDown) {
            run(&store, &mut s, request).await;
            fetching.push(t.elapsed());
        }
    }
    eprintln!(
        "  status order page-down fetches ({:3}) {}",
        fetching.len(),
        summary(fetching)
    );

    // A filter keystroke: the spec changes, the window is read again with its count.
    // Status words: dense ("onl": most of the fleet), sparse ("disab": none disabled).
    for filter in [
        "r-0001",
        "r-00012",
        "10.100.1.",
        "offline",
        "r",
        "onl",
        "disab",
    ] {
        let mut keys = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let request = w.respec(spec(SortKey::Name, filter));
            run(&store, &mut w, request).await;
            keys.push(t.elapsed());
        }
        eprintln!(
            "  filter {:12} keystroke   {}  ({} listed{})",
            format!("{filter:?}"),
            summary(keys),
            w.count,
            if w.count >= window::COUNT_CAP {
                "+"
            } else {
                ""
            }
        );
    }
    let request = w.respec(spec(SortKey::Name, ""));
    run(&store, &mut w, request).await;

    // A change made elsewhere (another connection writes a row on screen and notifies) to
    // visible: the notification arrives, the window is read again, the new value is there.
    let mut listener = ChangeListener::from_store(&store).await.unwrap();
    let mut changes = Vec::new();
    for i in 0..RUNS {
        let target = w.rows()[w.selected_index() + 1].id;
        let bytes = 1_000_000_000_000 + i as i64;
        let t = Instant::now();
        let pool = db.pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("UPDATE vpn_configurations SET tx_bytes = $2 WHERE router_id = $1")
                .bind(target)
                .bind(bytes)
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("SELECT pg_notify('tikwire', '{\"kind\":\"status.updated\"}')")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        });
        listener.recv().await.unwrap();
        let request = w.refresh();
        run(&store, &mut w, request).await;
        assert!(
            w.rows()
                .iter()
                .any(|r| r.id == target && r.tx_bytes == bytes)
        );
        changes.push(t.elapsed());
    }
    eprintln!("  change elsewhere to visible   {}", summary(changes));

    let mut counts = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let c = store.router_counts().await.unwrap();
        assert!(!c.is_empty());
        counts.push(t.elapsed());
    }
    eprintln!("  counts per tenant and status  {}", summary(counts));

    // What the console's indexes add to an agent's poll: one tenant's 65,278 rows written
    // once (handshake and counters, statuses unchanged; then statuses flipped), with every
    // index and the count triggers, without migration 0011's status order indexes, and
    // without any of the console's order indexes and count triggers (dropped in a
    // transaction rolled back after).
    if routers >= TENANT_SIZE {
        let status_indexes = [
            "DROP INDEX vpn_configurations_status_order_idx",
            "DROP INDEX vpn_configurations_tenant_status_order_idx",
        ];
        let other_indexes = [
            "DROP INDEX vpn_configurations_handshake_order_idx",
            "DROP INDEX vpn_configurations_tenant_handshake_order_idx",
            "DROP INDEX vpn_configurations_traffic_order_idx",
            "DROP INDEX vpn_configurations_tenant_traffic_order_idx",
            "DROP TRIGGER router_counts_update ON vpn_configurations",
        ];
        let variants: [(&str, Vec<&str>); 3] = [
            ("with the console's indexes/triggers ", Vec::new()),
            (
                "without the status order indexes     ",
                status_indexes.to_vec(),
            ),
            (
                "without any console index/trigger    ",
                status_indexes
                    .iter()
                    .chain(&other_indexes)
                    .copied()
                    .collect(),
            ),
        ];
        for (label, drops) in variants {
            let mut tx = db.pool.begin().await.unwrap();
            for ddl in drops {
                sqlx::query(ddl).execute(&mut *tx).await.unwrap();
            }
            let t = Instant::now();
            sqlx::query(
                "UPDATE vpn_configurations SET last_handshake_at = now(), rx_bytes = rx_bytes + 1000
                 WHERE tenant_id = (SELECT min(id) FROM tenants)",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            let link = t.elapsed();
            let t = Instant::now();
            sqlx::query(
                "UPDATE vpn_configurations SET status = CASE status WHEN 'online' THEN 'stale' ELSE 'online' END
                 WHERE tenant_id = (SELECT min(id) FROM tenants)",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            let flip = t.elapsed();
            tx.rollback().await.unwrap();
            eprintln!(
                "  poll write of 65,278 rows {label}: links {:7.1} ms, every status flipped {:7.1} ms",
                ms(link),
                ms(flip)
            );
        }
    }
    eprintln!("  RSS at the end {:.1} MB", support::rss_mb("self"));
}

fn main() {
    let sizes: Vec<u32> = std::env::var("TIKWIRE_WINDOW_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for size in sizes {
        rt.block_on(measure(size));
    }
}
