//! The API under test: the real server (axum on an ephemeral loopback port) on a real
//! PostgreSQL test database, a real HTTP client, and tokens made the way `tikwire token add`
//! makes them. Log lines the server writes are kept, so tests can check what never reaches them.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use tikwire::api::{ApiState, app, token};
use tikwire::model::TenantName;
use tikwire::provision::Provisioner;
use tikwire::store::tokens::TokenRole;

use crate::common;

pub struct Api {
    pub base: String,
    pub db: common::TestDb,
    pub provisioner: Provisioner,
    pub client: reqwest::Client,
    data_dir: PathBuf,
}

/// Everything the server logged in this test process.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOG.get().expect("logging set up").lock().unwrap()).into_owned()
}

static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_env_filter("info,sqlx=warn")
            .try_init();
        buffer
    });
}

impl Api {
    /// A server with one hub and tenants `a` and `b`.
    pub async fn start() -> Self {
        capture_logs();
        let db = common::test_db().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(&db.url)
            .await
            .unwrap();
        let provisioner = common::provisioner(&pool);
        // The key check the binary verifies, so `tikwire` commands work on this database too.
        let vault = tikwire::vault::Vault::from_key(
            &common::MASTER_KEY,
            tikwire::vault::MasterKeySource::Env,
        );
        provisioner
            .store()
            .init_key_check(&vault.seal_key_check())
            .await
            .unwrap();
        common::add_hub(&provisioner, "wg0").await;
        for t in ["a", "b"] {
            provisioner
                .add_tenant(&TenantName::parse(t).unwrap())
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = ApiState::new(provisioner.clone());
        state.events_listening().await;
        let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        let data_dir = std::env::temp_dir().join(format!("tikwire-api-{}", db.name));
        std::fs::create_dir_all(&data_dir).unwrap();
        Self {
            base: format!("http://{addr}"),
            db,
            provisioner,
            client: reqwest::Client::new(),
            data_dir,
        }
    }

    /// A token as `tikwire token add` makes it; returns what the client sends.
    pub async fn token(&self, name: &str, tenant: Option<&str>, role: TokenRole) -> String {
        self.token_expiring(name, tenant, role, None).await
    }

    pub async fn token_expiring(
        &self,
        name: &str,
        tenant: Option<&str>,
        role: TokenRole,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> String {
        let (secret, hash) = token::generate();
        let info = self
            .provisioner
            .store()
            .add_token(name, tenant, role, &hash, expires_at)
            .await
            .unwrap();
        token::presented(info.id, &secret).to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; returns the status, the JSON body (Null when not JSON) and the raw body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value, String) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let (s, j, _) = self.send(Method::GET, path, Some(token), None).await;
        (s, j)
    }

    pub async fn post(&self, token: &str, body: &str) -> (StatusCode, Value) {
        let (s, j, _) = self
            .send(Method::POST, "/api/vpn", Some(token), Some(body))
            .await;
        (s, j)
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let (s, j, _) = self.send(Method::DELETE, path, Some(token), None).await;
        (s, j)
    }

    /// Provisions through the API and returns the new configuration's id.
    pub async fn create(&self, token: &str, router_id: i64) -> i64 {
        let (status, body) = self
            .post(token, &format!(r#"{{"router_id": {router_id}}}"#))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}\n{}", logs());
        body["data"]["id"].as_i64().unwrap()
    }

    /// Runs the real binary on this test's database.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tikwire"))
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", common::master_key_base64())
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"))
            .output()
            .expect("run tikwire")
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// An error response in the envelope, with the expected status.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["data"].is_null(), "{body}");
}
