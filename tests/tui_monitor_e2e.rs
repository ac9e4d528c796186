//! End to end: the real binary in tmux at 80x24 against a real PostgreSQL holding a router's
//! history (written here as the agent would: transitions, endpoints, 5-minute and hourly
//! traffic). Enter opens the router's detail view (availability, a sparkline), its scripts are
//! one key away; the events view lists the fleet's events and shows a transition that another
//! process writes while it is open. Alerts that another process's status sync raises (first
//! handshakes, a router going stale, a storm) appear as toasts and in the events view. Keys are
//! sent one at a time and as bursts; the screen is read with `capture-pane`.

mod common;
#[path = "common_tui/tmux.rs"]
mod tmux;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tikwire::history::Retention;
use tmux::{Env, Tmux};

async fn transition(pool: &PgPool, router: i64, at: DateTime<Utc>, from: &str, to: &str) {
    sqlx::query(
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT c.router_id, c.tenant_id, c.hub_id, $2, 'status', $3, $4
         FROM vpn_configurations c WHERE c.router_id = $1",
    )
    .bind(router)
    .bind(at)
    .bind(from)
    .bind(to)
    .execute(pool)
    .await
    .unwrap();
}

/// What the agent does after a poll: status written, then announced to every console.
async fn poll_written(pool: &PgPool, router: i64, status: &str) {
    sqlx::query("UPDATE vpn_configurations SET status = $2 WHERE router_id = $1")
        .bind(router)
        .bind(status)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "SELECT pg_notify('tikwire', json_build_object('kind', 'status.updated', 'hub_id', hub_id)::text)
         FROM vpn_configurations WHERE router_id = $1",
    )
    .bind(router)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn detail_and_live_events_in_tmux() {
    let db = common::test_db().await;
    let env = Env::new(&db.url, &db.name);
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);
    env.cli(&["router", "add", "r1", "--tenant", "acme"]);
    let pool = &db.pool;
    let router: i64 = sqlx::query_scalar("SELECT id FROM routers WHERE name = 'r1'")
        .fetch_one(pool)
        .await
        .unwrap();
    let store = common::provisioner(pool).store().clone();
    let now = Utc::now();
    store
        .maintain_history(
            now,
            Retention {
                traffic_days: 14,
                rollup_days: 400,
            },
        )
        .await
        .unwrap();
    // Online for two days; traffic in the last three hours and hourly over ten days.
    transition(pool, router, now - TimeDelta::days(2), "pending", "online").await;
    sqlx::query(
        "UPDATE vpn_configurations SET status = 'online', last_endpoint = '203.0.113.9:51000',
         last_handshake_at = now() WHERE router_id = $1",
    )
    .bind(router)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
         SELECT router_id, tenant_id, $2, '203.0.113.9:51000' FROM vpn_configurations WHERE router_id = $1",
    )
    .bind(router)
    .bind(now - TimeDelta::days(2))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
         SELECT c.router_id, c.tenant_id, date_bin('5 minutes', $2 - make_interval(mins => 5 * i), 'epoch'),
                1000 * i, 100 * i
         FROM vpn_configurations c, generate_series(1, 36) AS i WHERE c.router_id = $1",
    )
    .bind(router)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO router_traffic_1h (router_id, tenant_id, hour, rx_bytes, tx_bytes)
         SELECT c.router_id, c.tenant_id, date_trunc('hour', $2 - make_interval(hours => i)),
                100000 * (i % 24 + 1), 1000 * i
         FROM vpn_configurations c, generate_series(1, 240) AS i WHERE c.router_id = $1",
    )
    .bind(router)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();

    let tmux = Tmux::console(&env, "monitor", 80, 24);
    tmux.wait_for("10.100.1.1");

    // Enter, one key: the detail view with availability and sparklines.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("availability 24h 100.00%");
    assert!(screen.contains("Router · acme/r1"), "{screen}");
    assert!(screen.contains("endpoint 203.0.113.9:51000"), "{screen}");
    let spark = |s: &str, label: &str| {
        s.lines()
            .find(|l| l.contains(label))
            .is_some_and(|l| l.chars().any(|c| ('▁'..='█').contains(&c)))
    };
    assert!(spark(&screen, "rx 24h"), "a 24-hour sparkline:\n{screen}");
    assert!(spark(&screen, "rx 30d"), "a 30-day sparkline:\n{screen}");
    assert!(screen.contains("pending → online"), "{screen}");

    // Back to the list (escape one at a time: a terminal reads two escapes in one write as
    // alt-escape), then a burst: Enter and s open the detail view and its scripts on top.
    tmux.keys(&["Escape"]);
    tmux.wait_until("the routers list again", |s| {
        s.contains("10.100.1.1") && !s.contains("Router · acme/r1")
    });
    assert!(
        tmux.cmd(&["send-keys", "-t", "t", "Enter", "s"])
            .status
            .success()
    );
    tmux.wait_for("RouterOS script · acme/r1");
    tmux.keys(&["Escape"]);
    tmux.wait_until("the detail view under the script", |s| {
        s.contains("Router · acme/r1") && !s.contains("RouterOS script")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_until("the routers list again", |s| {
        s.contains("10.100.1.1") && !s.contains("Router · acme/r1")
    });

    // A burst: E and t open the events view filtered to the first tenant, acme.
    assert!(
        tmux.cmd(&["send-keys", "-t", "t", "E", "t"])
            .status
            .success()
    );
    let screen = tmux.wait_for("Events · tenant acme · 1 newest first");
    assert!(screen.contains("acme/r1"), "{screen}");

    // Another process records r1 going offline: it appears at the top, with a toast.
    transition(pool, router, Utc::now(), "online", "offline").await;
    poll_written(pool, router, "offline").await;
    let screen = tmux.wait_for("Events · tenant acme · 2 newest first");
    let first = screen.lines().nth(2).unwrap_or_default();
    assert!(
        first.contains("acme/r1") && first.contains("offline"),
        "{screen}"
    );
    // A raw transition is listed, not toasted: toasts tell the agent's judged alerts.
    assert!(!screen.contains("went offline"), "{screen}");

    // One key at a time: t (all tenants: the same two), esc, enter: the detail view shows
    // the outage.
    tmux.keys(&["t"]);
    tmux.wait_for("Events · all tenants · 2 newest first");
    tmux.keys(&["Escape"]);
    tmux.wait_until("the routers list again", |s| !s.contains("Events ·"));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("online → offline");
    assert!(screen.contains("○ offline since"), "{screen}");

    tmux.keys(&["Escape"]);
    tmux.wait_until("the routers list again", |s| {
        !s.contains("Router · acme/r1")
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_raised_elsewhere_toast_in_tmux() {
    let db = common::test_db().await;
    let env = Env::new(&db.url, &db.name);
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);
    for name in ["r1", "r2", "r3", "r4"] {
        env.cli(&["router", "add", name, "--tenant", "acme"]);
    }
    let pool = &db.pool;
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT c.client_public_key FROM vpn_configurations c JOIN routers r ON r.id = c.router_id
         ORDER BY r.name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let hub_id: i64 = sqlx::query_scalar("SELECT id FROM hubs")
        .fetch_one(pool)
        .await
        .unwrap();
    // This process plays the hub's agent: its status sync and alert engine, its write path.
    let store = common::provisioner(pool).store().clone();
    let mut agent = common::agent_sync(&store, hub_id, "main", Default::default()).await;
    // The agent's clock: polls two minutes apart (handshakes never go back in time, so a
    // router goes stale by not shaking hands while the clock moves on).
    let start = Utc::now();
    let poll = |minutes: i64, handshakes: [i64; 4]| {
        let at = |m: i64| start + TimeDelta::minutes(m) - TimeDelta::seconds(5);
        let peers = keys.iter().map(String::as_str).zip(handshakes.map(at));
        common::wg0_snapshot(start + TimeDelta::minutes(minutes), peers)
    };

    let tmux = Tmux::console(&env, "alerts", 80, 24);
    tmux.wait_for("10.100.1.4");

    // All four shake hands for the first time: one toast for the four alerts.
    agent.sync(&store, &poll(0, [0, 0, 0, 0])).await.unwrap();
    tmux.wait_for("4 alerts: 4 routers connected for the first time on main");

    // The events view, all tenants (one key), then r1 goes stale: listed, and told.
    tmux.keys(&["E"]);
    tmux.wait_for("Events · all tenants");
    agent.sync(&store, &poll(2, [0, 2, 2, 2])).await.unwrap();
    let screen = tmux.wait_for("acme/r1 went stale on main");
    let top: Vec<&str> = screen.lines().skip(2).take(2).collect();
    assert!(
        top[0].contains("acme/r1") && top[0].contains("▲ router.stale"),
        "the alert on top, marked:\n{screen}"
    );
    assert!(
        top[1].contains("acme/r1") && top[1].contains("online →") && top[1].contains("stale"),
        "its transition below it:\n{screen}"
    );

    // The other three drop in one poll: a storm, one alert, one toast part.
    agent.sync(&store, &poll(4, [0, 2, 2, 2])).await.unwrap();
    let screen = tmux.wait_for("storm on main: 3 routers dropped");
    let top = screen.lines().nth(2).unwrap_or_default();
    assert!(
        top.contains("hub-wide") && top.contains("▲ hub.storm ×3"),
        "{screen}"
    );
    assert!(
        !screen.contains("r2 went stale") && !screen.contains("r3 went stale"),
        "the storm's routers are not told one by one:\n{screen}"
    );
    for key in &keys {
        assert!(!screen.contains(&key[..12]), "no key on screen:\n{screen}");
    }

    tmux.keys(&["Escape"]);
    tmux.wait_until("the routers list again", |s| !s.contains("Events ·"));
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}
