//! Roles and tenant scoping through the real server: a tenant user only reads; one tenant
//! never sees, downloads or deletes another's configurations (404, as if they did not exist);
//! revoked and expired tokens are refused at once; a system admin sees every tenant.

mod api_support;
mod common;

use api_support::{Api, assert_error};
use reqwest::{Method, StatusCode};
use tikwire::store::tokens::TokenRole;

#[tokio::test]
async fn a_tenant_user_may_list_and_show_only() {
    let api = Api::start().await;
    let admin = api.token("a-admin", Some("a"), TokenRole::Admin).await;
    let user = api.token("a-user", Some("a"), TokenRole::User).await;
    let id = api.create(&admin, 1).await;

    let (status, body) = api.get("/api/vpn", &user).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (status, _) = api.get(&format!("/api/vpn/{id}"), &user).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.get("/api/vpn/subnet/info", &user).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = api.post(&user, r#"{"router_id": 2}"#).await;
    assert_error(status, &body, StatusCode::FORBIDDEN);
    assert!(
        body["message"].as_str().unwrap().contains("role user"),
        "{body}"
    );
    let (status, body) = api.delete(&format!("/api/vpn/{id}"), &user).await;
    assert_error(status, &body, StatusCode::FORBIDDEN);
    for kind in ["mikrotik", "linux"] {
        let (status, body) = api
            .get(&format!("/api/vpn/{id}/download/{kind}"), &user)
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN);
    }
    // Nothing changed.
    let (_, body) = api.get("/api/vpn", &admin).await;
    assert_eq!(body["meta"]["total"], 1);
}

#[tokio::test]
async fn one_tenant_never_reaches_anothers_configurations() {
    let api = Api::start().await;
    let a = api.token("a-admin", Some("a"), TokenRole::Admin).await;
    let b = api.token("b-admin", Some("b"), TokenRole::Admin).await;
    let a_id = api.create(&a, 1).await;
    // Same platform router id in another tenant: fine, it is unique per tenant.
    let b_id = api.create(&b, 1).await;

    let (_, body) = api.get("/api/vpn", &a).await;
    let ids: Vec<i64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [a_id]);
    let (_, body) = api.get("/api/vpn/subnet/info", &b).await;
    assert_eq!(body["data"]["subnet_cidr"], "10.101.0.0/16");

    let missing = api.get(&format!("/api/vpn/{}", i64::MAX), &a).await;
    for (method, path) in [
        (Method::GET, format!("/api/vpn/{b_id}")),
        (Method::GET, format!("/api/vpn/{b_id}/download/mikrotik")),
        (Method::GET, format!("/api/vpn/{b_id}/download/linux")),
        (Method::DELETE, format!("/api/vpn/{b_id}")),
    ] {
        let (status, body, _) = api.send(method.clone(), &path, Some(&a), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND);
        // Word for word what a configuration that does not exist gets.
        assert_eq!(
            body["message"],
            missing.1["message"]
                .as_str()
                .unwrap()
                .replace(&i64::MAX.to_string(), &b_id.to_string()),
            "{method} {path}"
        );
    }
    // A tenant token cannot pick a tenant.
    let (status, body) = api.get("/api/vpn?tenant=b", &a).await;
    assert_error(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = api.post(&a, r#"{"router_id": 9, "tenant": "b"}"#).await;
    assert_error(status, &body, StatusCode::FORBIDDEN);
    // B's configuration is still there.
    let (status, _) = api.get(&format!("/api/vpn/{b_id}"), &b).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_duplicate_router_id_is_a_conflict() {
    let api = Api::start().await;
    let a = api.token("a-admin", Some("a"), TokenRole::Admin).await;
    api.create(&a, 5).await;
    let (status, body) = api
        .post(&a, r#"{"router_id": 5, "router_name": "Other"}"#)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT);
    assert!(
        body["message"].as_str().unwrap().contains("router_id 5"),
        "{body}"
    );
    // Rolled back: no address was used.
    let (_, body) = api.get("/api/vpn/subnet/info", &a).await;
    assert_eq!(body["data"]["allocated_ips"], 1);
}

#[tokio::test]
async fn revoked_expired_and_bad_tokens_get_401() {
    let api = Api::start().await;
    let token = api.token("short-lived", Some("a"), TokenRole::Admin).await;
    let (status, _) = api.get("/api/vpn", &token).await;
    assert_eq!(status, StatusCode::OK);
    api.provisioner
        .store()
        .remove_token("short-lived")
        .await
        .unwrap();
    let (status, body) = api.get("/api/vpn", &token).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED);

    let expired = api
        .token_expiring(
            "expired",
            Some("a"),
            TokenRole::Admin,
            Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .await;
    let (status, body) = api.get("/api/vpn", &expired).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // The right id with a wrong secret, a bare secret that matches nothing, garbage, none.
    let good = api.token("good", Some("a"), TokenRole::Admin).await;
    let id = good.split('|').next().unwrap();
    let (other, _) = tikwire::api::token::generate();
    for bad in [
        format!("{id}|{}", other.as_str()),
        other.to_string(),
        "not-a-token".into(),
    ] {
        let (status, body) = api.get("/api/vpn", &bad).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED);
    }
    let (status, body, _) = api.send(Method::GET, "/api/vpn", None, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED);
    // The bare secret (without `ID|`) works too.
    let bare = good.split('|').nth(1).unwrap();
    let (status, _) = api.get("/api/vpn", bare).await;
    assert_eq!(status, StatusCode::OK);
    // Last use is recorded.
    let used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_tokens WHERE name = 'good'")
            .fetch_one(&api.db.pool)
            .await
            .unwrap();
    assert!(used.is_some());
}

#[tokio::test]
async fn a_system_admin_sees_and_does_everything() {
    let api = Api::start().await;
    let a = api.token("a-admin", Some("a"), TokenRole::Admin).await;
    let b = api.token("b-admin", Some("b"), TokenRole::Admin).await;
    let root = api.token("root", None, TokenRole::System).await;
    let a_id = api.create(&a, 1).await;
    let b_id = api.create(&b, 1).await;

    let (_, body) = api.get("/api/vpn", &root).await;
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get("/api/vpn?tenant=b", &root).await;
    assert_eq!(body["meta"]["total"], 1);
    assert_eq!(body["data"][0]["id"], b_id);
    let (status, body) = api.get("/api/vpn?tenant=nobody", &root).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let (status, _) = api
        .get(&format!("/api/vpn/{a_id}/download/mikrotik"), &root)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.get("/api/vpn/subnet/info?tenant=b", &root).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["subnet_cidr"], "10.101.0.0/16");
    let (status, body) = api.get("/api/vpn/subnet/info", &root).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);

    // Creating needs the tenant.
    let (status, body) = api.post(&root, r#"{"router_id": 2}"#).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = api.post(&root, r#"{"router_id": 2, "tenant": "b"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["tenant"], "b");
    assert_eq!(body["data"]["client_ip"], "10.101.1.2");
    let (status, _) = api.delete(&format!("/api/vpn/{a_id}"), &root).await;
    assert_eq!(status, StatusCode::OK);
}
