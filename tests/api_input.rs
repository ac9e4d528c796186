//! Bad input: each a 4xx in the envelope with a message that says what to fix, and nothing
//! changed in the database.

mod api_support;
mod common;

use api_support::{Api, assert_error};
use reqwest::{Method, StatusCode};
use tikwire::store::tokens::TokenRole;

async fn routers(api: &Api) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM routers")
        .fetch_one(&api.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_bodies_are_refused_and_change_nothing() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let long_name = format!(
        r#"{{"router_id": 1, "router_name": "{}"}}"#,
        "é".repeat(201)
    );
    let huge = format!(
        r#"{{"router_id": 1, "router_name": "{}"}}"#,
        "x".repeat(200_000)
    );
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "malformed",
            "{\"router_id\": 1,".into(),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            "not an object",
            "[1, 2]".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JSON object",
        ),
        (
            "a string",
            "\"router\"".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JSON object",
        ),
        (
            "router_id a string",
            r#"{"router_id": "5"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_id",
        ),
        (
            "router_id missing",
            r#"{"vpn_type": "wireguard"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_id",
        ),
        (
            "router_id negative",
            r#"{"router_id": -5}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_id",
        ),
        (
            "router_id zero",
            r#"{"router_id": 0}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_id",
        ),
        (
            "router_id huge",
            r#"{"router_id": 99999999999999999999999}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_id",
        ),
        (
            "router_id fractional",
            r#"{"router_id": 1.5}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_id",
        ),
        (
            "unknown field",
            r#"{"router_id": 1, "mikrotik_script": "x"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
        (
            "ipsec",
            r#"{"router_id": 1, "vpn_type": "ipsec"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "only WireGuard",
        ),
        (
            "keepalive zero",
            r#"{"router_id": 1, "keepalive_interval": 0}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "keepalive",
        ),
        (
            "keepalive huge",
            r#"{"router_id": 1, "keepalive_interval": 70000}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "keepalive",
        ),
        (
            "interface with a quote",
            r#"{"router_id": 1, "interface_name": "wg\"; /system reset"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "interface name",
        ),
        (
            "interface too long",
            r#"{"router_id": 1, "interface_name": "wg-hotspot-12345"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "interface name",
        ),
        (
            "name with a newline",
            r#"{"router_id": 1, "router_name": "a\n/system reset"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_name",
        ),
        (
            "name with a bidi override",
            "{\"router_id\": 1, \"router_name\": \"a\u{202E}b\"}".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_name",
        ),
        (
            "name blank",
            r#"{"router_id": 1, "router_name": "   "}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_name",
        ),
        (
            "name too long",
            long_name,
            StatusCode::UNPROCESSABLE_ENTITY,
            "router_name",
        ),
        (
            "huge body",
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too large",
        ),
    ];
    for (what, body, expected, says) in cases {
        let (status, json) = api.post(&token, &body).await;
        assert_error(status, &json, expected);
        let message = json["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
        assert!(!message.contains("Failed to"), "{what}: {message}");
    }
    // Not JSON at all.
    let res = api
        .client
        .post(api.url("/api/vpn"))
        .bearer_auth(&token)
        .body("router_id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(routers(&api).await, 0, "nothing was provisioned");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'router.%'")
            .fetch_one(&api.db.pool)
            .await
            .unwrap();
    assert_eq!(audited, 0);
}

#[tokio::test]
async fn hostile_display_names_stay_out_of_scripts() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    for (n, name) in [
        r#"x" ; /system reset-configuration ; :put "#,
        "$(reboot) [find] {x} \\ ; # ?",
        "日本語のルーター",
        "😀 Router",
        "Ünter Straße 5",
    ]
    .into_iter()
    .enumerate()
    {
        let body = serde_json::json!({ "router_id": n + 1, "router_name": name }).to_string();
        let (status, json) = api.post(&token, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {json}");
        assert_eq!(json["data"]["router_name"], name.trim());
        let identifier = json["data"]["router_identifier"].as_str().unwrap();
        assert!(
            identifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{identifier}"
        );
        let id = json["data"]["id"].as_i64().unwrap();
        let (_, _, script) = api
            .send(
                Method::GET,
                &format!("/api/vpn/{id}/download/mikrotik"),
                Some(&token),
                None,
            )
            .await;
        assert!(script.is_ascii(), "{name}: the script stays pure ASCII");
        // Only the folded identifier reaches the script, never the display name itself.
        assert!(!script.contains(name.trim()), "{name}");
        assert!(script.contains(identifier), "{name}");
        assert!(!script.contains('\t'));
    }
}

#[tokio::test]
async fn bad_ids_and_queries_are_refused() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    api.create(&token, 1).await;
    for path in [
        "/api/vpn/-1",
        "/api/vpn/0",
        "/api/vpn/99999999999999999999999",
        "/api/vpn/abc",
        "/api/vpn/1.5",
        "/api/vpn/-1/download/mikrotik",
    ] {
        let (status, body) = api.get(path, &token).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
        assert!(
            body["message"].as_str().unwrap().contains("whole number"),
            "{path}: {body}"
        );
    }
    let (status, body) = api.delete("/api/vpn/-1", &token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    let (status, body) = api.get("/api/vpn/9223372036854775807", &token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    for query in [
        "page=-1",
        "page=x",
        "per_page=99999999999",
        "page=0",
        "per_page=0",
    ] {
        let (status, body) = api.get(&format!("/api/vpn?{query}"), &token).await;
        assert!(status.is_client_error(), "{query}: {status}");
        assert_eq!(body["success"], false, "{query}");
    }
    let (status, body) = api.get("/api/nothing-here", &token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body, _) = api
        .send(Method::PUT, "/api/vpn", Some(&token), Some("{}"))
        .await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(routers(&api).await, 1);
}
