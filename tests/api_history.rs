//! History and availability through the HTTP API: a real server and client, a real
//! PostgreSQL, row-level security deciding what a tenant sees.

mod api_support;
mod common;

use api_support::{Api, assert_error};
use reqwest::StatusCode;
use serde_json::json;
use tikwire::store::tokens::TokenRole;

/// A day of history for configuration `id`: online 8 of the last 10 hours, one endpoint.
async fn write_history(api: &Api, id: i64) {
    let now = chrono::Utc::now();
    api.provisioner
        .store()
        .maintain_history(
            now,
            tikwire::history::Retention {
                traffic_days: 14,
                rollup_days: 400,
            },
        )
        .await
        .unwrap();
    for statement in [
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT router_id, tenant_id, hub_id, $2 - interval '10 hours', 'status', 'pending', 'online'
         FROM vpn_configurations WHERE router_id = $1",
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT router_id, tenant_id, hub_id, $2 - interval '2 hours', 'status', 'online', 'offline'
         FROM vpn_configurations WHERE router_id = $1",
        "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
         SELECT router_id, tenant_id, $2 - interval '10 hours', '198.51.100.4:40000'
         FROM vpn_configurations WHERE router_id = $1",
        "INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
         SELECT router_id, tenant_id, date_bin('5 minutes', $2 - interval '30 minutes', 'epoch'), 700, 900
         FROM vpn_configurations WHERE router_id = $1",
    ] {
        sqlx::query(statement)
            .bind(id)
            .bind(now)
            .execute(&api.db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn configurations_carry_availability_and_history_is_tenant_scoped() {
    let api = Api::start().await;
    let a = api.token("a-user", Some("a"), TokenRole::Admin).await;
    let b = api.token("b-user", Some("b"), TokenRole::User).await;
    // Made first, so its id is not the same number as the other's transitions' ids.
    api.create(&a, 2).await;
    let id = api.create(&a, 1).await;

    let (status, body) = api.get(&format!("/api/vpn/{id}"), &a).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["availability"],
        json!({"24h": null, "7d": null, "30d": null})
    );

    write_history(&api, id).await;
    let (_, body) = api.get(&format!("/api/vpn/{id}"), &a).await;
    let day = body["data"]["availability"]["24h"].as_f64().unwrap();
    assert!((day - 0.8).abs() < 1e-3, "{body}");
    // The listing says the same, router by router (the other one has no history).
    let (_, list) = api.get("/api/vpn", &a).await;
    let listed: Vec<(i64, Option<f64>)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["availability"]["30d"].as_f64()))
        .collect();
    assert_eq!(listed.len(), 2);
    for (listed_id, month) in listed {
        if listed_id == id {
            assert!((month.unwrap() - 0.8).abs() < 1e-3);
        } else {
            assert_eq!(month, None);
        }
    }

    let (status, body) = api.get(&format!("/api/vpn/{id}/history"), &a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let past = &body["data"];
    assert_eq!(past["traffic"].as_array().unwrap().len(), 1);
    assert_eq!(past["traffic"][0]["rx_bytes"], 700);
    assert_eq!(past["traffic"][0]["tx_bytes"], 900);
    assert_eq!(
        past["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("pending", "online"), ("online", "offline")]
    );
    assert_eq!(past["endpoints"][0]["endpoint"], "198.51.100.4:40000");
    let (_, recent) = api
        .get(&format!("/api/vpn/{id}/history?since=1h"), &a)
        .await;
    assert_eq!(recent["data"]["transitions"], json!([]));
    assert_eq!(recent["data"]["traffic"].as_array().unwrap().len(), 1);

    // Another tenant: not found, exactly like a configuration that does not exist.
    let (status, body) = api.get(&format!("/api/vpn/{id}/history"), &b).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/api/vpn/999999/history", &a).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    for bad in ["0h", "yesterday", "401d", "-1h", "99999999999999999999h"] {
        let (status, body) = api
            .get(&format!("/api/vpn/{id}/history?since={bad}"), &a)
            .await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // The OpenAPI document describes the new path and field.
    let (status, doc) = api.get("/api/openapi.json", &a).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/api/vpn/{id}/history"]["get"].is_object());
    assert!(doc["components"]["schemas"]["VpnConfig"]["properties"]["availability"].is_object());
}
