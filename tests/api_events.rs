//! `GET /api/vpn/events`: the original's broadcasts as Server-Sent Events, in the token's
//! scope only, for changes made through the API and the command line alike.

mod api_support;
mod common;

use std::time::Duration;

use api_support::Api;
use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::Value;
use tikwire::store::tokens::TokenRole;

/// One parsed SSE event.
#[derive(Debug)]
struct SseEvent {
    name: String,
    id: String,
    data: Value,
}

/// Reads events from a stream as they come.
struct Events {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: String,
}

impl Events {
    async fn open(api: &Api, token: &str) -> Self {
        let res = api
            .client
            .get(api.url("/api/vpn/events"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            stream: res.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, or `None` if none comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                        name = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                        id = v.to_owned();
                    } else if let Some(v) =
                        line.strip_prefix("data: ").or(line.strip_prefix("data:"))
                    {
                        data.push_str(v);
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(SseEvent {
                    name,
                    id,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    }
}

/// Generous: events normally arrive within milliseconds; this only bounds a failing test.
const WAIT: Duration = Duration::from_secs(10);
/// How long to watch for an event that must not come.
const QUIET: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn each_tenant_hears_only_its_own_events_and_a_system_admin_hears_all() {
    let api = Api::start().await;
    let a = api.token("a-admin", Some("a"), TokenRole::Admin).await;
    let a_user = api.token("a-user", Some("a"), TokenRole::User).await;
    let b = api.token("b-admin", Some("b"), TokenRole::Admin).await;
    let root = api.token("root", None, TokenRole::System).await;
    let mut a_events = Events::open(&api, &a_user).await;
    let mut b_events = Events::open(&api, &b).await;
    let mut all_events = Events::open(&api, &root).await;

    let (status, body) = api
        .post(
            &a,
            r#"{"router_id": 5, "router_name": "Branch Office Router"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["data"]["id"].as_i64().unwrap();

    let created = a_events.next(WAIT).await.expect("a hears its creation");
    assert_eq!(created.name, "VpnConfigurationCreated");
    assert!(!created.id.is_empty());
    let d = &created.data;
    assert_eq!(d["vpn_config"]["id"], id);
    assert_eq!(d["vpn_config"]["router_id"], 5);
    assert_eq!(d["vpn_config"]["vpn_type"], "wireguard");
    assert_eq!(d["vpn_config"]["client_ip"], "10.100.1.1");
    assert_eq!(d["vpn_config"]["server_ip"], "10.100.0.1");
    assert_eq!(d["vpn_config"]["subnet_cidr"], "10.100.0.0/16");
    assert_eq!(d["vpn_config"]["status"], "pending");
    assert_eq!(d["vpn_config"]["interface_name"], "wg-hotspot");
    assert_eq!(d["router"]["id"], 5);
    assert_eq!(d["router"]["name"], "Branch Office Router");
    assert_eq!(d["router"]["vpn_ip"], "10.100.1.1");
    assert_eq!(d["message"], "VPN configuration created successfully");
    assert!(d["timestamp"].is_string());
    let text = d.to_string();
    assert!(!text.contains("private") && !text.contains("preshared"));

    let seen = all_events
        .next(WAIT)
        .await
        .expect("the system admin hears it");
    assert_eq!(seen.name, "VpnConfigurationCreated");
    assert!(b_events.next(QUIET).await.is_none(), "b hears nothing of a");

    // A status change written the way the agent writes it.
    sqlx::query("UPDATE vpn_configurations SET status = 'online', last_handshake_at = now(), updated_at = now() WHERE router_id = $1")
        .bind(id)
        .execute(&api.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "SELECT pg_notify('tikwire', '{\"kind\":\"status\",\"op\":\"update\",\"hub_id\":1}')",
    )
    .execute(&api.db.pool)
    .await
    .unwrap();
    let changed = a_events
        .next(WAIT)
        .await
        .expect("a hears the status change");
    assert_eq!(changed.name, "VpnStatusChanged");
    assert_eq!(changed.data["vpn_config"]["status"], "online");
    assert!(changed.id.parse::<u64>().unwrap() > created.id.parse::<u64>().unwrap());

    // A deletion from the command line reaches the stream too.
    let name = body["data"]["router_identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    api.cli_ok(&["router", "rm", &name, "--tenant", "a"]);
    let deleted = a_events.next(WAIT).await.expect("a hears the deletion");
    assert_eq!(deleted.name, "VpnConfigurationDeleted");
    assert_eq!(deleted.data["vpn_config"]["id"], id);
    assert_eq!(deleted.data["vpn_config"]["status"], "deleted");

    // b's own creation reaches b, and not a.
    api.create(&b, 1).await;
    let b_created = b_events.next(WAIT).await.expect("b hears its creation");
    assert_eq!(b_created.data["vpn_config"]["client_ip"], "10.101.1.1");
    assert!(a_events.next(QUIET).await.is_none(), "a hears nothing of b");
}

#[tokio::test]
async fn the_stream_needs_a_token() {
    let api = Api::start().await;
    let res = api
        .client
        .get(api.url("/api/vpn/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
