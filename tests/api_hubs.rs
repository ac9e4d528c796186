//! Home hubs through the HTTP API, whose database role sees only its own tenant's rows: a
//! tenant without a home hub is placed on the hub with the most room by its first router,
//! the configuration names its hub, and a full hub refuses with nothing changed.

mod api_support;
mod common;

use api_support::Api;
use reqwest::StatusCode;
use tikwire::store::tokens::TokenRole;

#[tokio::test]
async fn the_api_places_a_tenant_and_refuses_a_full_hub() {
    let api = Api::start().await;
    let pool = &api.db.pool;
    // hub2 has more room than hub1 (which holds tenants a and b); a is not placed yet, as a
    // tenant added before any hub.
    api.cli_ok(&[
        "hub",
        "add",
        "hub2",
        "--endpoint",
        "192.0.2.2:51820",
        "--interface",
        "wg1",
        "--max-peers",
        "70000",
    ]);
    sqlx::query("UPDATE tenants SET hub_id = NULL WHERE name = 'a'")
        .execute(pool)
        .await
        .unwrap();
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let (status, body) = api.post(&token, r#"{"router_id": 1}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["hub"], "hub2");
    let home: String = sqlx::query_scalar(
        "SELECT h.name FROM tenants t JOIN hubs h ON h.id = t.hub_id WHERE t.name = 'a'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(home, "hub2");

    // Full: the hub's capacity is what its tenants already have.
    sqlx::query("UPDATE hubs SET max_peers = 1 WHERE name = 'hub2'")
        .execute(pool)
        .await
        .unwrap();
    let (status, body) = api.post(&token, r#"{"router_id": 2}"#).await;
    assert_ne!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("hub hub2 is full"),
        "{body}"
    );
    let routers: i64 = sqlx::query_scalar("SELECT count(*) FROM routers")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(routers, 1, "a refused request left a router");
}
