//! `router show` availability, `router history` and `tikwire events` through the real binary
//! against a real PostgreSQL: JSON shapes, spans, tenant filters, following, bad input.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use tikwire::history::Retention;
use tikwire::store::Store;

struct Cli {
    url: String,
    data_dir: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tikwire"));
        command
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", common::master_key_base64())
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tikwire")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("one JSON document")
    }

    /// Fails with one line on stderr saying `expect`.
    fn fails(&self, args: &[&str], expect: &str) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn setup() -> (Cli, common::TestDb) {
    let db = common::test_db().await;
    let data_dir = std::env::temp_dir().join(format!("tikwire-cli-history-{}", db.name));
    std::fs::create_dir_all(&data_dir).unwrap();
    let cli = Cli {
        url: db.url.clone(),
        data_dir,
    };
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    cli.ok(&["tenant", "add", "other"]);
    cli.ok(&["router", "add", "r1", "--tenant", "acme"]);
    cli.ok(&["router", "add", "r9", "--tenant", "other"]);
    (cli, db)
}

/// A day of r1's life, as the agent and maintenance would have written it.
async fn write_history(db: &common::TestDb) {
    let store = Store::from_pool(db.pool.clone());
    let now = Utc::now();
    store
        .maintain_history(
            now - TimeDelta::hours(3),
            Retention {
                traffic_days: 14,
                rollup_days: 400,
            },
        )
        .await
        .unwrap();
    let statements = [
        // Came up 10 hours ago, down for the last 2.
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT v.router_id, v.tenant_id, v.hub_id, $1 - interval '10 hours', 'status', 'pending', 'online'
         FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r1'",
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind)
         SELECT v.router_id, v.tenant_id, v.hub_id, $1 - interval '10 hours 1 second', 'first_handshake'
         FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r1'",
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT v.router_id, v.tenant_id, v.hub_id, $1 - interval '2 hours', 'status', 'online', 'offline'
         FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r1'",
        "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
         SELECT v.router_id, v.tenant_id, $1 - interval '10 hours', '198.51.100.4:40000'
         FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r1'",
        "INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
         SELECT v.router_id, v.tenant_id, date_bin('5 minutes', $1 - interval '150 minutes', 'epoch'), 1000, 2000
         FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r1'",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(now)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    // Roll the finished hours up.
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
}

#[tokio::test]
async fn show_history_and_events_print_the_contracted_json() {
    let (cli, db) = setup().await;
    let shown = cli.json(&["router", "show", "r1", "--tenant", "acme", "--json"]);
    assert_eq!(
        shown["availability"],
        json!({"24h": null, "7d": null, "30d": null})
    );
    assert_eq!(shown["name"], "r1", "the router's own fields stay");
    assert!(
        cli.json(&["events", "--json"])
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing happened yet"
    );

    write_history(&db).await;
    let shown = cli.json(&["router", "show", "r1", "--tenant", "acme", "--json"]);
    // Online 8 of the 10 known hours, in every span.
    for span in ["24h", "7d", "30d"] {
        let a = shown["availability"][span].as_f64().unwrap();
        assert!((a - 0.8).abs() < 1e-3, "{span}: {a}");
    }
    let text = cli.ok(&["router", "show", "r1", "--tenant", "acme"]);
    assert!(text.contains("availability"), "{text}");
    assert!(text.contains("24h 80.00%"), "{text}");

    let history = cli.json(&["router", "history", "r1", "--tenant", "acme", "--json"]);
    let keys: Vec<&str> = history
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["endpoints", "traffic", "transitions"]);
    let traffic = history["traffic"].as_array().unwrap();
    assert_eq!(traffic.len(), 1, "one 5-minute bucket");
    assert_eq!(traffic[0]["rx_bytes"], 1000);
    assert_eq!(traffic[0]["tx_bytes"], 2000);
    assert!(traffic[0]["at"].as_str().unwrap().ends_with('Z'));
    let transitions = history["transitions"].as_array().unwrap();
    assert_eq!(
        transitions
            .iter()
            .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("pending", "online"), ("online", "offline")]
    );
    assert!(transitions[0]["at"].is_string());
    assert_eq!(history["endpoints"][0]["endpoint"], "198.51.100.4:40000");

    // A week reads hourly roll-ups: the same bytes, in the bucket's hour.
    let week = cli.json(&[
        "router", "history", "r1", "--tenant", "acme", "--since", "7d", "--json",
    ]);
    let hourly = week["traffic"].as_array().unwrap();
    assert_eq!(hourly.len(), 1);
    assert_eq!(hourly[0]["rx_bytes"], 1000);
    assert!(hourly[0]["at"].as_str().unwrap().contains(":00:00"));
    // A span that misses the changes shows none of them.
    let recent = cli.json(&[
        "router", "history", "r1", "--tenant", "acme", "--since", "1h", "--json",
    ]);
    assert_eq!(recent["transitions"], json!([]));
    assert_eq!(recent["traffic"], json!([]));

    let events = cli.json(&["events", "--since", "24h", "--json"]);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["first_handshake", "status", "status"],
        "newest last"
    );
    assert_eq!(events[2]["from"], "online");
    assert_eq!(events[2]["to"], "offline");
    assert_eq!(events[2]["tenant"], "acme");
    assert_eq!(events[2]["router"], "r1");
    assert_eq!(events[2]["hub"], "hub1");
    // The default span is the last hour; another tenant sees none of acme's.
    assert_eq!(cli.json(&["events", "--json"]), json!([]));
    assert_eq!(
        cli.json(&["events", "--tenant", "other", "--since", "24h", "--json"]),
        json!([])
    );
    let table = cli.ok(&["events", "--since", "24h"]);
    assert!(table.contains("online -> offline") && table.contains("first handshake"));
}

#[tokio::test]
async fn bad_input_is_one_line_and_follow_prints_new_events() {
    let (cli, db) = setup().await;
    cli.fails(&["events", "--tenant", "nope"], "nope");
    cli.fails(&["events", "--since", "yesterday"], "span of time");
    cli.fails(
        &[
            "router", "history", "r1", "--tenant", "acme", "--since", "0h",
        ],
        "span of time",
    );
    cli.fails(&["router", "history", "ghost", "--tenant", "acme"], "ghost");

    let mut follow = cli
        .command(&["events", "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    // Give it a moment to listen, then commit a transition with its announcement.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT v.router_id, v.tenant_id, v.hub_id, now(), 'status', 'pending', 'online'
         FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r9'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("SELECT pg_notify('tikwire', '{}')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let line = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["kind"], "status");
    assert_eq!(event["router"], "r9");
    assert_eq!(event["to"], "online");
    follow.kill().unwrap();
    follow.wait().unwrap();
}

#[tokio::test]
async fn demo_data_comes_with_history() {
    let (cli, db) = setup().await;
    cli.ok(&["demo", "--tenants", "1", "--routers", "30"]);
    let online: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM routers r JOIN vpn_configurations v ON v.router_id = r.id
         JOIN tenants t ON t.id = r.tenant_id
         WHERE t.name = 'acme-isp' AND v.status = 'online' ORDER BY r.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let name = online.first().expect("demo makes online routers");
    let past = cli.json(&[
        "router", "history", name, "--tenant", "acme-isp", "--since", "30d", "--json",
    ]);
    assert!(past["traffic"].as_array().unwrap().len() >= 24 * 29);
    assert!(!past["transitions"].as_array().unwrap().is_empty());
    assert_eq!(past["endpoints"].as_array().unwrap().len(), 1);
    let day = cli.json(&["router", "history", name, "--tenant", "acme-isp", "--json"]);
    // A day of 5-minute buckets (the oldest may begin just before the span does).
    let buckets = day["traffic"].as_array().unwrap().len();
    assert!((287..=288).contains(&buckets), "{buckets}");
    let shown = cli.json(&["router", "show", name, "--tenant", "acme-isp", "--json"]);
    assert!(shown["availability"]["30d"].as_f64().unwrap() > 0.0);
    let events = cli.json(&["events", "--tenant", "acme-isp", "--since", "30d", "--json"]);
    assert!(!events.as_array().unwrap().is_empty());
}

/// Alerts are listed with the transitions, merged by time: a router's by its tenant, a hub's
/// (no tenant) only when no tenant is asked for; a hub alert's per-tenant copy not twice.
#[tokio::test]
async fn events_list_alerts_with_the_transitions() {
    let (cli, db) = setup().await;
    write_history(&db).await;
    sqlx::query(
        "INSERT INTO alert_events (type, at, hub_id, tenant_id, router_id, tenant_copy, body)
         SELECT 'router.stale', now() - interval '90 minutes', h.id, t.id, r.id, false,
                jsonb_build_object('type', 'router.stale', 'data',
                    jsonb_build_object('tenant', 'acme', 'router', 'r1', 'hub', 'hub1'))
         FROM hubs h, tenants t JOIN routers r ON r.tenant_id = t.id
         WHERE h.name = 'hub1' AND t.name = 'acme' AND r.name = 'r1'
         UNION ALL
         SELECT 'hub.down', now() - interval '10 minutes', h.id, NULL, NULL, false,
                jsonb_build_object('type', 'hub.down', 'data', jsonb_build_object('hub', 'hub1'))
         FROM hubs h WHERE h.name = 'hub1'
         UNION ALL
         SELECT 'hub.down', now() - interval '10 minutes', h.id, t.id, NULL, true,
                jsonb_build_object('type', 'hub.down', 'data', jsonb_build_object('hub', 'hub1'))
         FROM hubs h, tenants t WHERE h.name = 'hub1' AND t.name = 'acme'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let events = cli.json(&["events", "--since", "24h", "--json"]);
    let events = events.as_array().unwrap();
    let alerts: Vec<&Value> = events.iter().filter(|e| e["kind"] == "alert").collect();
    assert_eq!(alerts.len(), 2, "{events:?}");
    assert_eq!(alerts[0]["alert"], "router.stale");
    assert_eq!(alerts[0]["tenant"], "acme");
    assert_eq!(alerts[0]["router"], "r1");
    assert_eq!(alerts[1]["alert"], "hub.down");
    assert_eq!(alerts[1]["tenant"], "");
    let ats: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort();
    assert_eq!(ats, sorted, "merged by time, newest last");
    let acme = cli.json(&["events", "--tenant", "acme", "--since", "24h", "--json"]);
    let acme_alerts: Vec<&str> = acme
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "alert")
        .map(|e| e["alert"].as_str().unwrap())
        .collect();
    assert_eq!(acme_alerts, ["router.stale"]);
    let table = cli.ok(&["events", "--since", "24h"]);
    assert!(
        table.contains("alert router.stale") && table.contains("alert hub.down"),
        "{table}"
    );
}
