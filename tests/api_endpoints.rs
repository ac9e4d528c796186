//! Every endpoint through a real HTTP client against the real server and PostgreSQL: the
//! original document's own requests, fields and types, downloads byte for byte equal to
//! `tikwire script`, deletion, subnet figures, and no key anywhere but in a download.

mod api_support;
mod common;

use std::collections::HashSet;

use api_support::{Api, assert_error, logs};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tikwire::store::tokens::TokenRole;

/// The original's "Test 1": `{"router_id": 1, "vpn_type": "wireguard"}` with a bearer token.
/// The answer is 201 (provisioning is synchronous) where the original queued a job (202).
#[tokio::test]
async fn the_original_documents_requests_work_as_written() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let (status, body) = api
        .post(
            &token,
            r#"{
    "router_id": 1,
    "vpn_type": "wireguard"
  }"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["router_id"], 1);
    assert_eq!(body["data"]["client_ip"], "10.100.1.1");
    assert_eq!(body["data"]["server_ip"], "10.100.0.1");
    assert_eq!(body["data"]["subnet_cidr"], "10.100.0.0/16");
    let id = body["data"]["id"].as_i64().unwrap();

    // "Create VPN Configuration" with all its fields.
    let (status, body) = api
        .post(
            &token,
            r#"{"router_id": 5, "vpn_type": "wireguard", "interface_name": "wg-hotspot", "keepalive_interval": 25}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["client_ip"], "10.100.1.2");

    // "Test 2": download the MikroTik script.
    let res = api
        .client
        .get(api.url(&format!("/api/vpn/{id}/download/mikrotik")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"mikrotik-vpn-{id}.rsc\"").as_str()
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let script = res.text().await.unwrap();
    assert!(script.contains("/interface/wireguard"), "{script}");
    assert!(script.contains("10.100.1.1"));

    // "Get VPN Configuration" and the list.
    let (status, body) = api.get(&format!("/api/vpn/{id}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let (status, body) = api.get("/api/vpn", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_configuration_has_the_originals_fields_and_types_and_no_secret() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let (status, body) = api
        .post(
            &token,
            r#"{"router_id": 5, "vpn_type": "wireguard", "interface_name": "wg-hotspot", "keepalive_interval": 30, "router_name": "Branch Office Router"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"].as_i64().unwrap();
    let (status, body) = api.get(&format!("/api/vpn/{id}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let d = &body["data"];
    assert_eq!(d["id"], id);
    assert_eq!(d["router_id"], 5);
    assert_eq!(d["router_name"], "Branch Office Router");
    assert_eq!(d["router_identifier"], "branch-office-router-5");
    assert_eq!(d["tenant"], "a");
    assert_eq!(d["hub"], "hub1");
    assert_eq!(d["vpn_type"], "wireguard");
    for key in ["server_public_key", "client_public_key"] {
        assert_eq!(d[key].as_str().unwrap().len(), 44, "{key}");
    }
    assert_eq!(d["client_ip"], "10.100.1.1");
    assert_eq!(d["server_ip"], "10.100.0.1");
    assert_eq!(d["subnet_cidr"], "10.100.0.0/16");
    assert_eq!(d["server_endpoint"], "vpn.example.com:51820");
    assert_eq!(d["listen_port"], 51820);
    assert_eq!(d["status"], "pending");
    assert_eq!(d["is_connected"], false);
    assert!(d["last_handshake_at"].is_null());
    assert_eq!(d["traffic"]["rx"], "0 B");
    assert_eq!(d["traffic"]["tx"], "0 B");
    assert_eq!(d["traffic"]["total"], "0 B");
    assert_eq!(d["rx_bytes"], 0);
    assert_eq!(d["tx_bytes"], 0);
    assert_eq!(d["interface_name"], "wg-hotspot");
    assert_eq!(d["keepalive_interval"], 30);
    assert_eq!(d["allowed_ips"], serde_json::json!(["10.100.0.1/32"]));
    assert!(d["dns_servers"].is_array());
    for key in ["created_at", "updated_at"] {
        chrono::DateTime::parse_from_rfc3339(d[key].as_str().unwrap()).unwrap();
    }
    let fields: HashSet<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    for absent in [
        "client_private_key",
        "server_private_key",
        "preshared_key",
        "mikrotik_script",
        "linux_script",
    ] {
        assert!(!fields.contains(absent), "{absent} in {d}");
    }

    // No JSON response holds the private or preshared key: take them from the config.
    let (_, _, conf) = api
        .send(
            Method::GET,
            &format!("/api/vpn/{id}/download/linux"),
            Some(&token),
            None,
        )
        .await;
    let secrets: Vec<String> = conf
        .lines()
        .filter_map(|l| {
            l.strip_prefix("PrivateKey = ")
                .or_else(|| l.strip_prefix("PresharedKey = "))
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(secrets.len(), 2, "{conf}");
    let mut responses = Vec::new();
    for path in [
        format!("/api/vpn/{id}"),
        "/api/vpn".into(),
        "/api/vpn/subnet/info".into(),
        "/api/openapi.json".into(),
    ] {
        responses.push(api.send(Method::GET, &path, Some(&token), None).await.2);
    }
    responses.push(
        api.send(
            Method::DELETE,
            &format!("/api/vpn/{id}"),
            Some(&token),
            None,
        )
        .await
        .2,
    );
    for secret in &secrets {
        for text in &responses {
            assert!(!text.contains(secret.as_str()), "a key in a JSON response");
        }
        assert!(!logs().contains(secret.as_str()), "a key in the log");
    }
    assert!(
        !logs().contains(token.split('|').nth(1).unwrap()),
        "a token in the log"
    );
}

/// The API hands out the very text `tikwire script` prints.
#[tokio::test]
async fn downloads_equal_tikwire_script_byte_for_byte() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let (status, body) = api
        .post(&token, r#"{"router_id": 7, "router_name": "Café Ünter"}"#)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"].as_i64().unwrap();
    let name = body["data"]["router_identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(name, "cafe-unter-7");
    assert_eq!(body["data"]["router_name"], "Café Ünter");
    for (kind, format, file) in [
        ("mikrotik", "routeros", format!("mikrotik-vpn-{id}.rsc")),
        ("linux", "wg-quick", format!("wg-vpn-{id}.conf")),
    ] {
        let res = api
            .client
            .get(api.url(&format!("/api/vpn/{id}/download/{kind}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["content-disposition"],
            format!("attachment; filename=\"{file}\"").as_str()
        );
        let downloaded = res.bytes().await.unwrap();
        let printed = api.cli(&["script", &name, "--tenant", "a", "--format", format]);
        assert!(
            printed.status.success(),
            "{}",
            String::from_utf8_lossy(&printed.stderr)
        );
        assert_eq!(downloaded.as_ref(), printed.stdout.as_slice(), "{kind}");
        assert!(downloaded.is_ascii(), "{kind} is pure ASCII");
    }
    // Each download is audited with the token, the client and the request id.
    // actor, token name, client address, request id
    type AuditRow = (String, Option<String>, Option<String>, Option<String>);
    let audited: Vec<AuditRow> = sqlx::query_as(
        "SELECT action, token_name, client_addr, request_id FROM audit_log
         WHERE action LIKE 'vpn.download.%' ORDER BY id",
    )
    .fetch_all(&api.db.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0].0, "vpn.download.mikrotik");
    assert_eq!(audited[1].0, "vpn.download.linux");
    for (_, token_name, client, request) in &audited {
        assert_eq!(token_name.as_deref(), Some("platform"));
        assert_eq!(client.as_deref(), Some("127.0.0.1"));
        assert!(request.as_deref().is_some_and(|r| !r.is_empty()));
    }
    // The creation too, and through the same core as the command line.
    let (actor, token_name): (String, Option<String>) =
        sqlx::query_as("SELECT actor, token_name FROM audit_log WHERE action = 'router.add'")
            .fetch_one(&api.db.pool)
            .await
            .unwrap();
    assert_eq!(actor, "token:platform");
    assert_eq!(token_name.as_deref(), Some("platform"));
}

#[tokio::test]
async fn listing_pages_and_filters() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let mut ids = Vec::new();
    for n in 1..=7 {
        ids.push(api.create(&token, n).await);
    }
    let (status, body) = api.get("/api/vpn?per_page=3&page=2", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: Vec<i64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, ids[3..6]);
    assert_eq!(body["meta"]["total"], 7);
    assert_eq!(body["meta"]["last_page"], 3);
    assert_eq!(body["meta"]["per_page"], 3);
    let (_, body) = api.get("/api/vpn", &token).await;
    assert_eq!(body["meta"]["per_page"], 50);
    assert_eq!(body["data"].as_array().unwrap().len(), 7);
    let (_, body) = api.get("/api/vpn?status=online", &token).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    let (_, body) = api.get("/api/vpn?status=pending", &token).await;
    assert_eq!(body["meta"]["total"], 7);
    let (status, body) = api.get("/api/vpn?per_page=501", &token).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = api.get("/api/vpn?status=active", &token).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Totals and pages stay true through deletes, status changes and another tenant's rows.
#[tokio::test]
async fn listing_totals_follow_deletes_statuses_and_tenants() {
    let api = Api::start().await;
    let a = api.token("a-admin", Some("a"), TokenRole::Admin).await;
    let b = api.token("b-admin", Some("b"), TokenRole::Admin).await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(api.create(&a, n).await);
        api.create(&b, n).await;
    }
    let (status, _) = api.delete(&format!("/api/vpn/{}", ids[1]), &a).await;
    assert_eq!(status, StatusCode::OK);
    ids.remove(1);
    sqlx::query("UPDATE vpn_configurations SET status = 'online' WHERE router_id = ANY($1)")
        .bind(&ids[1..3])
        .execute(&api.db.pool)
        .await
        .unwrap();
    let listed = |body: &Value| -> Vec<i64> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };

    let (_, body) = api.get("/api/vpn", &a).await;
    assert_eq!(listed(&body), ids);
    assert_eq!(body["meta"]["total"], 4);
    let (_, body) = api.get("/api/vpn?per_page=3&page=2", &a).await;
    assert_eq!(listed(&body), ids[3..]);
    assert_eq!(body["meta"]["last_page"], 2);
    let (_, body) = api.get("/api/vpn?status=online", &a).await;
    assert_eq!(listed(&body), ids[1..3]);
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api
        .get("/api/vpn?status=online&per_page=1&page=2", &a)
        .await;
    assert_eq!(listed(&body), ids[2..3]);
    let (_, body) = api.get("/api/vpn?status=pending", &a).await;
    assert_eq!(listed(&body), [ids[0], ids[3]]);
    assert_eq!(body["meta"]["total"], 2);
    // A page past the end is empty and still tells the total.
    let (status, body) = api.get("/api/vpn?page=9", &a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(listed(&body), Vec::<i64>::new());
    assert_eq!(body["meta"]["total"], 4);

    let root = api.token("root", None, TokenRole::System).await;
    let (_, body) = api.get("/api/vpn", &root).await;
    assert_eq!(body["meta"]["total"], 9);
    assert_eq!(body["data"].as_array().unwrap().len(), 9);
    let (_, body) = api.get("/api/vpn?tenant=a&status=online", &root).await;
    assert_eq!(listed(&body), ids[1..3]);
    assert_eq!(body["meta"]["total"], 2);
    let (_, body) = api.get("/api/vpn?tenant=b", &root).await;
    assert_eq!(body["meta"]["total"], 5);
    assert!(listed(&body).iter().all(|id| !ids.contains(id)));
}

#[tokio::test]
async fn delete_releases_the_address_and_subnet_info_tells_the_truth() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let first = api.create(&token, 1).await;
    api.create(&token, 2).await;
    let (status, body) = api.get("/api/vpn/subnet/info", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = &body["data"];
    assert_eq!(d["subnet_cidr"], "10.100.0.0/16");
    assert_eq!(d["gateway_ip"], "10.100.0.1");
    assert_eq!(d["range_start"], "10.100.1.1");
    assert_eq!(d["range_end"], "10.100.255.254");
    assert_eq!(d["total_ips"], 65_278);
    assert_eq!(d["allocated_ips"], 2);
    assert_eq!(d["available_ips"], 65_276);
    assert_eq!(d["status"], "active");

    let (status, body) = api.delete(&format!("/api/vpn/{first}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["client_ip"], "10.100.1.1");
    let (status, body) = api.get(&format!("/api/vpn/{first}"), &token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = api.delete(&format!("/api/vpn/{first}"), &token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let (_, body) = api.get("/api/vpn/subnet/info", &token).await;
    assert_eq!(body["data"]["allocated_ips"], 1);
    // The freed address is the next one handed out, as after `router rm`.
    let (status, body) = api.post(&token, r#"{"router_id": 3}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["client_ip"], "10.100.1.1");
    // The command line sees the API's routers.
    let listed = api.cli_ok(&["router", "list", "--tenant", "a", "--json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn two_hundred_simultaneous_creates_get_two_hundred_addresses() {
    let api = Api::start().await;
    let token = api.token("platform", Some("a"), TokenRole::Admin).await;
    let requests = (1..=200).map(|n| {
        let client = api.client.clone();
        let url = api.url("/api/vpn");
        let token = token.clone();
        tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "router_id": n, "router_name": format!("Site {n}") }))
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        })
    });
    let results = futures_util::future::join_all(requests).await;
    let mut addresses = HashSet::new();
    for result in results {
        let (status, body) = result.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        addresses.insert(body["data"]["client_ip"].as_str().unwrap().to_owned());
    }
    assert_eq!(addresses.len(), 200);
    let (_, body) = api.get("/api/vpn/subnet/info", &token).await;
    assert_eq!(body["data"]["allocated_ips"], 200);
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let api = Api::start().await;
    let res = api
        .client
        .get(api.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/vpn", "get"),
        ("/api/vpn", "post"),
        ("/api/vpn/{id}", "get"),
        ("/api/vpn/{id}", "delete"),
        ("/api/vpn/{id}/download/mikrotik", "get"),
        ("/api/vpn/{id}/download/linux", "get"),
        ("/api/vpn/subnet/info", "get"),
        ("/api/vpn/events", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_is_logged_once() {
    let api = Api::start().await;
    let token = api.token("logger", Some("a"), TokenRole::User).await;
    let res = api
        .client
        .get(api.url("/api/vpn"))
        .bearer_auth(&token)
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
    let line: Vec<String> = logs()
        .lines()
        .filter(|l| l.contains("request=trace-abc-123"))
        .map(str::to_owned)
        .collect();
    assert_eq!(line.len(), 1, "{line:?}");
    assert!(line[0].contains("GET /api/vpn 200"), "{}", line[0]);
    assert!(line[0].contains("token=logger"), "{}", line[0]);
}

/// `POST /api/vpn/{id}/rotate` stages new keys (the downloads then carry them), again keeps
/// them, `DELETE` drops them; only the tenant's admin may, another tenant sees a 404.
#[tokio::test]
async fn rotation_is_staged_and_aborted_through_the_api() {
    use base64::Engine as _;
    let api = Api::start().await;
    let admin = api.token("admin-a", Some("a"), TokenRole::Admin).await;
    let user = api.token("user-a", Some("a"), TokenRole::User).await;
    let other = api.token("admin-b", Some("b"), TokenRole::Admin).await;
    let id = api.create(&admin, 11).await;
    let path = format!("/api/vpn/{id}/rotate");

    let (_, shown) = api.get(&format!("/api/vpn/{id}"), &admin).await;
    assert_eq!(shown["data"]["rotation_state"], "none");
    assert!(shown["data"]["pending_public_key"].is_null());
    assert!(shown["data"]["rotation_staged_at"].is_null());
    assert!(shown["data"]["keys_created_at"].is_string(), "{shown}");

    let (status, staged, raw) = api.send(Method::POST, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{staged}");
    let data = &staged["data"];
    assert_eq!(data["rotation_state"], "staged");
    assert_eq!(
        data["client_public_key"],
        shown["data"]["client_public_key"]
    );
    let pending = data["pending_public_key"].as_str().unwrap().to_owned();
    assert!(data["rotation_staged_at"].is_string());
    assert!(!raw.to_lowercase().contains("private"), "{raw}");

    // The download carries the staged private key.
    let conf = api
        .client
        .get(api.url(&format!("/api/vpn/{id}/download/linux")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let private = conf
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey = "))
        .unwrap();
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(private.trim())
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        tikwire::keys::PrivateKey::from_bytes(bytes)
            .public_key()
            .to_string(),
        pending
    );

    let (status, again, _) = api.send(Method::POST, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["data"]["pending_public_key"], pending.as_str());
    assert!(
        again["message"].as_str().unwrap().contains("already"),
        "{again}"
    );

    let (status, body, _) = api.send(Method::POST, &path, Some(&user), None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN);
    for method in [Method::POST, Method::DELETE] {
        let (status, body, _) = api.send(method, &path, Some(&other), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND);
    }
    let (status, body, _) = api
        .send(Method::POST, "/api/vpn/abc/rotate", Some(&admin), None)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);

    let (status, dropped) = api.delete(&path, &admin).await;
    assert_eq!(status, StatusCode::OK, "{dropped}");
    assert_eq!(dropped["data"]["rotation_state"], "none");
    assert!(dropped["data"]["pending_public_key"].is_null());
    let (status, body) = api.delete(&path, &admin).await;
    assert_error(status, &body, StatusCode::CONFLICT);

    let audit = api.cli_ok(&["audit", "--tenant", "a", "--json"]);
    for action in ["router.rotate", "router.rotate.abort"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
}
