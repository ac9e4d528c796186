//! `tikwire token`, `tikwire audit` and `tikwire serve` through the real binary.

mod api_support;
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use api_support::Api;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn tokens_are_shown_once_listed_without_secrets_and_revoked_at_once() {
    let api = Api::start().await;
    let created: Value = serde_json::from_str(&api.cli_ok(&[
        "token",
        "add",
        "platform",
        "--tenant",
        "a",
        "--role",
        "admin",
        "--expires",
        "90d",
        "--json",
    ]))
    .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let (id, secret) = token.split_once('|').unwrap();
    assert_eq!(id, created["id"].to_string());
    assert!(secret.starts_with("tw_") && secret.len() == 46, "{secret}");
    assert_eq!(created["role"], "admin");
    assert_eq!(created["tenant"], "a");
    assert!(created["expires_at"].is_string());

    let text = api.cli_ok(&["token", "add", "root", "--system"]);
    assert!(text.lines().next().unwrap().contains("|tw_"), "{text}");
    let (status, _) = api.get("/api/vpn", &token).await;
    assert_eq!(status, StatusCode::OK);

    let listed = api.cli_ok(&["token", "list", "--json"]);
    let table = api.cli_ok(&["token", "list"]);
    for output in [&listed, &table] {
        assert!(!output.contains(secret), "a secret in a listing");
        assert!(!output.contains("tw_"));
    }
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["platform", "root"]);
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    assert!(listed[1]["tenant"].is_null());
    assert!(table.contains("LAST USED"), "{table}");
    // The database holds no secret either.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_tokens WHERE position($1 in encode(secret_sha256, 'escape')) > 0",
    )
    .bind(secret)
    .fetch_one(&api.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);

    api.cli_ok(&["token", "rm", "platform"]);
    let (status, _) = api.get("/api/vpn", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Usage errors: exit 2, one line.
    for args in [
        &["token", "add", "x"][..],
        &["token", "add", "x", "--tenant", "a"][..],
        &[
            "token", "add", "x", "--system", "--tenant", "a", "--role", "user",
        ][..],
    ] {
        let out = api.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = api.cli(&["token", "add", "x", "--tenant", "nobody", "--role", "user"]);
    assert_eq!(out.status.code(), Some(1));
    let out = api.cli(&["token", "add", "root", "--system"]);
    assert_eq!(out.status.code(), Some(1), "duplicate name");
}

#[tokio::test]
async fn audit_lists_api_console_and_command_line_actions() {
    let api = Api::start().await;
    let token = api
        .token(
            "platform",
            Some("a"),
            tikwire::store::tokens::TokenRole::Admin,
        )
        .await;
    let id = api.create(&token, 1).await;
    api.get(&format!("/api/vpn/{id}/download/mikrotik"), &token)
        .await;
    // A command-line action over SSH.
    let out = Command::new(env!("CARGO_BIN_EXE_tikwire"))
        .args(["router", "add", "cli-router", "--tenant", "a"])
        .env("DATABASE_URL", &api.db.url)
        .env("TIKWIRE_MASTER_KEY", common::master_key_base64())
        .env("TIKWIRE_DATA_DIR", std::env::temp_dir())
        .env("USER", "operator")
        .env_remove("SUDO_USER")
        .env("SSH_CONNECTION", "192.0.2.7 50022 192.0.2.1 22")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let entries: Value =
        serde_json::from_str(&api.cli_ok(&["audit", "--tenant", "a", "--since", "1h", "--json"]))
            .unwrap();
    let entries = entries.as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} not audited: {entries:?}"))
            .clone()
    };
    let add = find("router.add");
    assert_eq!(add["actor"], "token:platform");
    assert_eq!(add["token_name"], "platform");
    assert_eq!(add["client_addr"], "127.0.0.1");
    assert!(add["request_id"].is_string());
    let download = find("vpn.download.mikrotik");
    assert_eq!(download["token_name"], "platform");
    let cli = entries
        .iter()
        .find(|e| e["router"] == "cli-router")
        .expect("the command line's action");
    assert_eq!(cli["actor"], "operator");
    assert_eq!(cli["client_addr"], "192.0.2.7");
    assert!(cli["token_name"].is_null());

    let table = api.cli_ok(&["audit", "--tenant", "a"]);
    assert!(
        table.contains("vpn.download.mikrotik") && table.contains("192.0.2.7"),
        "{table}"
    );
    let out = api.cli(&["audit", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    let out = api.cli(&["audit", "--tenant", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn serve_refuses_plain_http_beyond_loopback() {
    let api = Api::start().await;
    let out = api.cli(&["serve", "--listen", "0.0.0.0:8080"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-cert"), "{stderr}");
    let out = api.cli(&["serve", "--listen", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let out = api.cli(&["serve", "--tls-cert", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The real binary with a certificate: HTTPS (rustls) answers, and SIGTERM stops it cleanly.
#[tokio::test]
async fn serve_speaks_tls_and_stops_on_sigterm() {
    let api = Api::start().await;
    let dir = std::env::temp_dir().join(format!("tikwire-tls-{}", api.db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_tikwire"))
        .args(["serve", "--listen", &listen, "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("DATABASE_URL", &api.db.url)
        .env("TIKWIRE_MASTER_KEY", common::master_key_base64())
        .env("TIKWIRE_DATA_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("https://localhost:{port}/api/openapi.json");
    let mut answered = None;
    for _ in 0..100 {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&cert)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1"), &url])
            .output()
            .unwrap();
        if out.stdout == b"200" {
            answered = Some(());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let plain = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:{port}/api/openapi.json"),
        ])
        .output()
        .unwrap();
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let status = server.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(answered.is_some(), "no HTTPS answer: {log}");
    assert_ne!(
        plain.stdout, b"200",
        "plain HTTP must not be served on the TLS port"
    );
    assert!(status.success(), "exit after SIGTERM: {status:?} {log}");
    assert!(log.contains("shutting down"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
