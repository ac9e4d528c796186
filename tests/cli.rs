//! The command-line contract, run through the real binary against a real PostgreSQL:
//! outputs, JSON fields, and one clear error line (exit 1) for every kind of bad input.

mod common;
mod webhook_support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Cli {
    url: String,
    data_dir: PathBuf,
    master_key: String,
}

impl Cli {
    async fn new() -> (Self, common::TestDb) {
        let db = common::test_db().await;
        let data_dir = std::env::temp_dir().join(format!("tikwire-cli-{}", db.name));
        std::fs::create_dir_all(&data_dir).unwrap();
        let cli = Self {
            url: db.url.clone(),
            data_dir,
            master_key: common::master_key_base64(),
        };
        (cli, db)
    }

    fn run_with(&self, args: &[&str], key: &str, url: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tikwire"))
            .args(args)
            .env("DATABASE_URL", url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", key)
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"))
            .output()
            .expect("run tikwire")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &self.master_key, &self.url)
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

    /// Runs a command that must fail with exit 1 and exactly one line on stderr.
    fn fails(&self, args: &[&str], expect: &str) -> String {
        let out = self.run(args);
        one_line_error(&out, args, expect)
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn one_line_error(out: &Output, args: &[&str], expect: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should exit 1; stderr: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?} should print one line, got: {stderr:?}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains(expect),
        "{args:?}: expected {expect:?} in {stderr:?}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout for a failure");
    stderr
}

fn base64_key(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn count(db: &common::TestDb, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_contract_end_to_end() {
    let (cli, _db) = Cli::new().await;
    cli.ok(&["db", "migrate"]);
    let hub = cli.json(&[
        "hub",
        "add",
        "hub1",
        "--endpoint",
        "vpn.example.com:51820",
        "--json",
    ]);
    assert_eq!(hub["name"], "hub1");
    assert_eq!(hub["listen_port"], 51820);
    assert_eq!(hub["interface"], "wg0");
    let tenant = cli.json(&["tenant", "add", "acme", "--json"]);
    assert_eq!(tenant["subnet_cidr"], "10.100.0.0/16");
    let router = cli.json(&["router", "add", "r1", "--tenant", "acme", "--json"]);
    for field in [
        "name",
        "tenant",
        "vpn_ip",
        "subnet_cidr",
        "public_key",
        "status",
        "last_handshake_at",
        "rx_bytes",
        "tx_bytes",
        "created_at",
    ] {
        assert!(
            router.get(field).is_some(),
            "router JSON lacks {field}: {router}"
        );
    }
    assert_eq!(router["vpn_ip"], "10.100.1.1");
    assert_eq!(router["status"], "pending");
    assert_eq!(router["rx_bytes"], 0);
    assert!(router["last_handshake_at"].is_null());

    let list = cli.json(&["router", "list", "--tenant", "acme", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let shown = cli.json(&["router", "show", "r1", "--tenant", "acme", "--json"]);
    assert_eq!(shown["public_key"], router["public_key"]);
    let tenants = cli.json(&["tenant", "list", "--json"]);
    assert_eq!(tenants[0]["routers"], 1);
    let subnets = cli.json(&["subnet", "list", "--json"]);
    assert_eq!(subnets["tenants"][0]["capacity"], 65_278);
    assert_eq!(subnets["pool"]["tenants_capacity"], 155);
    assert_eq!(cli.json(&["hub", "list", "--json"])[0]["routers"], 1);
    assert_eq!(cli.json(&["hub", "show", "hub1", "--json"])["name"], "hub1");

    assert!(cli.ok(&["router", "list"]).contains("10.100.1.1"));
    assert!(
        cli.ok(&["router", "show", "r1", "--tenant", "acme"])
            .contains("pending")
    );
    assert!(cli.ok(&["subnet", "list"]).contains("1 of 155"));
    assert!(
        cli.ok(&["router", "rm", "r1", "--tenant", "acme"])
            .contains("10.100.1.1 is free again")
    );
    assert!(
        cli.ok(&["tenant", "rm", "acme"])
            .contains("10.100.0.0/16 is free again")
    );
    assert_eq!(
        cli.json(&["tenant", "list", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        cli.json(&["router", "list", "--json"]),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn json_and_show_never_contain_keys() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "203.0.113.7:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    cli.ok(&["router", "add", "r1", "--tenant", "acme"]);
    let p = common::provisioner(&db.pool);
    let m = p.router_material("acme", "r1").await.unwrap();
    let hub_key = p
        .hub_material("hub1")
        .await
        .unwrap()
        .private_key
        .to_string();
    let mut everything = String::new();
    for args in [
        &["router", "list", "--json"][..],
        &["router", "show", "r1", "--tenant", "acme", "--json"],
        &["router", "show", "r1", "--tenant", "acme"],
        &["router", "list"],
        &["hub", "list", "--json"],
        &["hub", "show", "hub1", "--json"],
        &["hub", "show", "hub1"],
        &["tenant", "list", "--json"],
        &["subnet", "list", "--json"],
    ] {
        everything.push_str(&cli.ok(args));
    }
    for secret in [
        m.private_key.as_str(),
        m.preshared_key.as_str(),
        hub_key.as_str(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret leaked into listings"
        );
    }
    let log = std::fs::read_to_string(cli.data_dir.join("log/tikwire.log")).unwrap_or_default();
    for secret in [
        m.private_key.as_str(),
        m.preshared_key.as_str(),
        hub_key.as_str(),
    ] {
        assert!(!log.contains(secret), "a secret leaked into the log");
    }
}

#[tokio::test]
async fn bad_input_gets_one_clear_line_and_changes_nothing() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    cli.ok(&["router", "add", "r1", "--tenant", "acme"]);
    let before = [
        count(&db, "hubs").await,
        count(&db, "tenants").await,
        count(&db, "routers").await,
    ];

    cli.fails(&["tenant", "add", "ac me"], "contains a space");
    cli.fails(&["tenant", "add", "a\"b"], "allowed are ASCII letters");
    cli.fails(&["tenant", "add", "acme"], "already exists");
    cli.fails(&["tenant", "rm", "nope"], "no tenant named");
    cli.fails(
        &["hub", "add", "h2", "--endpoint", "vpn.example.com"],
        "has no port",
    );
    cli.fails(
        &["hub", "add", "h2", "--endpoint", "vpn.example.com:0"],
        "not a port",
    );
    cli.fails(
        &["hub", "add", "h2", "--endpoint", "vpn;reboot:51820"],
        "host name",
    );
    cli.fails(
        &[
            "hub",
            "add",
            "h2",
            "--endpoint",
            "vpn.example.com:1",
            "--listen-port",
            "70000",
        ],
        "listen port",
    );
    cli.fails(
        &[
            "hub",
            "add",
            "h2",
            "--endpoint",
            "vpn.example.com:1",
            "--interface",
            "wg$0",
        ],
        "interface name",
    );
    cli.fails(
        &["hub", "add", "hub1", "--endpoint", "vpn.example.com:1"],
        "already exists",
    );
    cli.fails(&["hub", "show", "nope"], "no hub named");
    cli.fails(&["router", "add", "r[1]", "--tenant", "acme"], "'['");
    cli.fails(&["router", "add", "r$x", "--tenant", "acme"], "'$'");
    cli.fails(&["router", "add", "r;x", "--tenant", "acme"], "';'");
    cli.fails(
        &["router", "add", "caf\u{e9}", "--tenant", "acme"],
        "U+00E9",
    );
    cli.fails(
        &["router", "add", &"x".repeat(64), "--tenant", "acme"],
        "at most 63",
    );
    cli.fails(
        &[
            "router",
            "add",
            "r2",
            "--tenant",
            "acme",
            "--keepalive",
            "0",
        ],
        "keepalive",
    );
    cli.fails(
        &[
            "router",
            "add",
            "r2",
            "--tenant",
            "acme",
            "--interface-name",
            "wg-hotspot-too-long",
        ],
        "at most 15",
    );
    cli.fails(
        &["router", "add", "r2", "--tenant", "nope"],
        "no tenant named",
    );
    cli.fails(
        &["router", "add", "r2", "--tenant", "acme", "--hub", "nope"],
        "no hub named",
    );
    cli.fails(
        &["router", "add", "r1", "--tenant", "acme"],
        "already has router r1",
    );
    cli.fails(
        &["router", "show", "nope", "--tenant", "acme"],
        "no router named",
    );
    cli.fails(
        &["router", "rm", "nope", "--tenant", "acme"],
        "no router named",
    );
    cli.fails(&["router", "list", "--tenant", "nope"], "no tenant named");

    let csv = cli.data_dir.join("bad.csv");
    std::fs::write(&csv, "name\nsite-1\nsite 2\n").unwrap();
    cli.fails(
        &[
            "router",
            "import",
            csv.to_str().unwrap(),
            "--tenant",
            "acme",
        ],
        "line 3",
    );
    cli.fails(
        &["router", "import", "/nonexistent.csv", "--tenant", "acme"],
        "cannot read",
    );

    // Usage errors exit 2.
    let out = cli.run(&["router", "add", "r2"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    let after = [
        count(&db, "hubs").await,
        count(&db, "tenants").await,
        count(&db, "routers").await,
    ];
    assert_eq!(before, after, "failed commands changed nothing");
}

#[tokio::test]
async fn wrong_master_key_and_database_down_are_one_line_each() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    let out = cli.run_with(
        &["router", "add", "r1", "--tenant", "acme"],
        &base64_key(1),
        &cli.url,
    );
    one_line_error(&out, &["router add with another key"], "wrong master key");
    let out = cli.run_with(
        &["router", "add", "r1", "--tenant", "acme"],
        "not-base64!",
        &cli.url,
    );
    one_line_error(
        &out,
        &["router add with a malformed key"],
        "TIKWIRE_MASTER_KEY",
    );
    assert_eq!(count(&db, "routers").await, 0);

    let down = "postgres://tikwire@localhost/none?host=/nonexistent-tikwire-socket-dir";
    let out = cli.run_with(&["tenant", "list"], &cli.master_key, down);
    one_line_error(
        &out,
        &["tenant list with the database down"],
        "cannot connect to the database",
    );
}

#[tokio::test]
async fn import_reports_what_it_did() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    let csv = cli.data_dir.join("fleet.csv");
    let mut text = String::from("name,interface_name,keepalive\n");
    for i in 0..300 {
        text.push_str(&format!("site-{i},wg-mgmt,{}\n", 10 + i % 20));
    }
    std::fs::write(&csv, text).unwrap();
    let out = cli.ok(&[
        "router",
        "import",
        csv.to_str().unwrap(),
        "--tenant",
        "acme",
    ]);
    assert!(
        out.contains("imported 300 routers into tenant acme"),
        "{out}"
    );
    assert!(out.contains("10.100.1.1 to 10.100.2.44"), "{out}");
    assert_eq!(count(&db, "routers").await, 300);
    let r = cli.json(&["router", "show", "site-7", "--tenant", "acme", "--json"]);
    assert_eq!(r["interface_name"], "wg-mgmt");
    assert_eq!(r["keepalive"], 17);
}

#[tokio::test]
async fn a_killed_import_leaves_nothing_half_written() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    let csv = cli.data_dir.join("big.csv");
    let text: String = (0..5000).map(|i| format!("site-{i}\n")).collect();
    std::fs::write(&csv, text).unwrap();
    // Kill the importer at several points of its life; whatever it had done must be all or nothing.
    for delay_ms in [30, 120, 250] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tikwire"))
            .args([
                "router",
                "import",
                csv.to_str().unwrap(),
                "--tenant",
                "acme",
            ])
            .env("DATABASE_URL", &cli.url)
            .env("TIKWIRE_DATA_DIR", &cli.data_dir)
            .env("TIKWIRE_MASTER_KEY", &cli.master_key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        let _ = child.kill();
        let finished = child.wait().unwrap().success();
        // PostgreSQL rolls back the dead connection's transaction; wait for it to notice.
        let mut routers = count(&db, "routers").await;
        for _ in 0..50 {
            let active: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tikwire'",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            routers = count(&db, "routers").await;
            if active == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let (allocated, next, released): (i32, i32, i64) = sqlx::query_as(
            "SELECT allocated_ips, next_host_index, (SELECT count(*) FROM released_host_indexes) FROM vpn_subnet_allocations",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(
            routers == 0 || routers == 5000,
            "half-written import: {routers} routers"
        );
        assert_eq!(
            i64::from(allocated),
            routers,
            "allocation count matches the routers"
        );
        assert_eq!(i64::from(next), routers + released, "no leaked address");
        assert_eq!(count(&db, "vpn_configurations").await, routers);
        if finished || routers == 5000 {
            break;
        }
    }
}

#[tokio::test]
async fn scripts_and_hub_outputs_come_from_the_sealed_keys() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    cli.ok(&["router", "add", "r1", "--tenant", "acme"]);
    let p = common::provisioner(&db.pool);
    let m = p.router_material("acme", "r1").await.unwrap();

    let routeros = cli.ok(&["script", "r1", "--tenant", "acme", "--format", "routeros"]);
    assert!(
        routeros.contains(m.private_key.as_str()),
        "the router's script carries its key"
    );
    assert!(routeros.contains(m.preshared_key.as_str()));
    assert!(routeros.contains("10.100.1.1/32"));
    let undo = cli.ok(&[
        "script", "r1", "--tenant", "acme", "--format", "routeros", "--undo",
    ]);
    assert!(!undo.contains(m.private_key.as_str()) && !undo.contains(m.preshared_key.as_str()));
    assert!(undo.contains("remove"));
    let wg = cli.ok(&["script", "r1", "--tenant", "acme", "--format", "wg-quick"]);
    assert!(wg.contains(&format!("PrivateKey = {}", m.private_key.as_str())));
    assert!(wg.contains("Endpoint = vpn.example.com:51820"));
    let out = cli.run(&[
        "script", "r1", "--tenant", "acme", "--format", "wg-quick", "--undo",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--undo with wg-quick is a usage error"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    cli.fails(
        &["script", "nope", "--tenant", "acme", "--format", "routeros"],
        "no router named",
    );
    let out = cli.run(&["script", "r1", "--tenant", "acme", "--format", "pdf"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown format is a usage error"
    );

    let hub = cli.ok(&["hub", "config", "hub1"]);
    assert!(hub.contains("Address = 10.100.0.1/16"), "{hub}");
    assert!(hub.contains(&format!("PublicKey = {}", m.router.public_key)));
    assert!(hub.contains("AllowedIPs = 10.100.1.1/32"));
    let setconf = cli.ok(&["hub", "config", "hub1", "--format", "setconf"]);
    assert!(!setconf.contains("Address ="), "setconf has no addresses");
    let nft = cli.ok(&["hub", "firewall", "hub1"]);
    assert!(nft.contains("table inet"), "{nft}");
    // Disabled routers leave the hub's peer list.
    cli.ok(&["router", "disable", "r1", "--tenant", "acme"]);
    assert!(
        !cli.ok(&["hub", "config", "hub1"])
            .contains(&m.router.public_key.to_string())
    );
}

/// The child's peak memory (KiB), reaped with wait4 so it is this child's alone.
#[expect(
    clippy::zombie_processes,
    reason = "reaped with wait4, which std cannot do"
)]
fn run_measured(mut cmd: Command) -> (Output, i64) {
    use std::io::Read as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let status = std::os::unix::process::ExitStatusExt::from_raw(status);
    (
        Output {
            status,
            stdout,
            stderr,
        },
        usage.ru_maxrss,
    )
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tikwire"));
        cmd.args(args)
            .env("DATABASE_URL", &self.url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", &self.master_key)
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"));
        cmd
    }
}

#[tokio::test]
async fn import_refuses_devices_fifos_and_runaway_input_in_bounded_memory() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    const MAX_RSS_KIB: i64 = 200 * 1024;

    // Not a regular file: refused before anything is read.
    cli.fails(
        &["router", "import", "/dev/zero", "--tenant", "acme"],
        "is not a regular file (a character device)",
    );
    let fifo = cli.data_dir.join("fleet.fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    cli.fails(
        &[
            "router",
            "import",
            fifo.to_str().unwrap(),
            "--tenant",
            "acme",
        ],
        "is not a regular file (a FIFO)",
    );
    cli.fails(
        &[
            "router",
            "import",
            cli.data_dir.to_str().unwrap(),
            "--tenant",
            "acme",
        ],
        "is not a regular file (a directory)",
    );

    // stdin fed from /dev/zero: one endless line.
    let mut cmd = cli.command(&["router", "import", "-", "--tenant", "acme"]);
    cmd.stdin(std::fs::File::open("/dev/zero").unwrap());
    let (out, rss) = run_measured(cmd);
    one_line_error(
        &out,
        &["import - < /dev/zero"],
        "stdin: line 1 is longer than 1024 bytes",
    );
    assert!(rss < MAX_RSS_KIB, "peak memory {rss} KiB");

    // A huge (sparse) file of 8 GiB.
    let huge = cli.data_dir.join("huge.csv");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let (out, rss) = run_measured(cli.command(&[
        "router",
        "import",
        huge.to_str().unwrap(),
        "--tenant",
        "acme",
    ]));
    one_line_error(
        &out,
        &["import huge file"],
        "line 1 is longer than 1024 bytes",
    );
    assert!(rss < MAX_RSS_KIB, "peak memory {rss} KiB");
    std::fs::remove_file(&huge).unwrap();

    // More rows than the tenant has free addresses: stops at the first one too many.
    let many = cli.data_dir.join("many.csv");
    let text: String = (0..70_000).map(|i| format!("site-{i}\n")).collect();
    std::fs::write(&many, text).unwrap();
    cli.fails(
        &[
            "router",
            "import",
            many.to_str().unwrap(),
            "--tenant",
            "acme",
        ],
        "more routers than tenant acme has free addresses (65,278)",
    );
    assert_eq!(count(&db, "routers").await, 0);
}

#[tokio::test]
async fn import_takes_spreadsheet_csv_and_counts_in_words() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    let csv = cli.data_dir.join("export.csv");
    std::fs::write(
        &csv,
        "\u{feff}Name,Interface_Name,Keepalive\r\nsite-1,wg-mgmt,15\r\n",
    )
    .unwrap();
    let out = cli.ok(&[
        "router",
        "import",
        csv.to_str().unwrap(),
        "--tenant",
        "acme",
    ]);
    assert!(out.contains("imported 1 router into tenant acme"), "{out}");
    let r = cli.json(&["router", "show", "site-1", "--tenant", "acme", "--json"]);
    assert_eq!(r["interface_name"], "wg-mgmt");
    assert_eq!(r["keepalive"], 15);
    // A bad row in such a file is blamed for its own fault.
    std::fs::write(&csv, "\u{feff}NAME\r\nsite 2\r\n").unwrap();
    cli.fails(
        &[
            "router",
            "import",
            csv.to_str().unwrap(),
            "--tenant",
            "acme",
        ],
        "line 2: router name \"site 2\" contains a space",
    );
    // stdin works too.
    let mut cmd = cli.command(&["router", "import", "-", "--tenant", "acme"]);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"site-3\nsite-4\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 routers"));
    assert_eq!(count(&db, "routers").await, 3);
}

#[tokio::test]
async fn control_characters_from_the_database_never_reach_the_terminal_raw() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    cli.ok(&["router", "add", "r1", "--tenant", "acme"]);
    // Written behind tikwire's back, as with psql.
    let evil = "r1\x1b]0;PWNED\x07\u{9b}31m\x7f";
    sqlx::query("UPDATE routers SET name = $1")
        .bind(evil)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE tenants SET name = $1")
        .bind("acme\x1b[2J")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE hubs SET name = $1")
        .bind("hub\x1b[31m")
        .execute(&db.pool)
        .await
        .unwrap();
    let raw = |text: &[u8]| {
        let text = String::from_utf8_lossy(text);
        text.chars().any(|c| c.is_control() && c != '\n')
    };
    let mut printed = String::new();
    for args in [
        &["router", "list"][..],
        &["router", "show", evil, "--tenant", "acme\x1b[2J"],
        &["tenant", "list"],
        &["hub", "list"],
        &["hub", "show", "hub\x1b[31m"],
        &["subnet", "list"],
    ] {
        let out = cli.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !raw(&out.stdout),
            "{args:?} printed a raw control character"
        );
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert!(
        printed.contains("r1\\x1b]0;PWNED\\x07\\u{9b}31m\\x7f"),
        "{printed}"
    );
    for args in [
        &["router", "list", "--json"][..],
        &["router", "show", evil, "--tenant", "acme\x1b[2J", "--json"],
        &["tenant", "list", "--json"],
        &["hub", "list", "--json"],
    ] {
        let out = cli.run(args);
        assert!(out.status.success());
        assert!(
            !raw(&out.stdout),
            "{args:?} printed a raw control character"
        );
        let value: Value = serde_json::from_slice(&out.stdout).expect("still JSON");
        let text = value.to_string();
        assert!(text.contains("acme") || text.contains("r1") || text.contains("hub"));
    }
    let list = cli.json(&["router", "list", "--json"]);
    assert_eq!(list[0]["name"], evil, "JSON escapes mean the same text");
    // Errors quoting what they did not find.
    let out = cli.run(&["router", "show", "x\x1b]0;PWNED\x07", "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !raw(&out.stderr),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[tokio::test]
async fn errors_say_why_and_quote_once() {
    let (cli, _db) = Cli::new().await;
    let refused = "postgres://tikwire@127.0.0.1:1/none";
    let out = cli.run_with(&["tenant", "list"], &cli.master_key, refused);
    let err = one_line_error(
        &out,
        &["tenant list, nothing listening"],
        "connection refused",
    );
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("pool timed out"), "{err}");
    let nohost = "postgres://tikwire@no-such-host.invalid/none";
    let out = cli.run_with(&["tenant", "list"], &cli.master_key, nohost);
    one_line_error(&out, &["tenant list, unknown host"], "no such host");
    let bad_role = cli
        .url
        .replacen("postgres://", "postgres://nobody-here@", 1);
    let bad_role = if cli.url.contains('@') {
        let (_, rest) = cli.url.split_once('@').unwrap();
        format!("postgres://nobody-here@{rest}")
    } else {
        bad_role
    };
    let out = cli.run_with(&["tenant", "list"], &cli.master_key, &bad_role);
    one_line_error(
        &out,
        &["tenant list, unknown role"],
        "authentication failed",
    );

    let err = cli.fails(
        &["tenant", "add", "a'b"],
        "tenant name \"a'b\" contains a quote",
    );
    assert!(!err.contains("\\'"), "escaped twice: {err}");
    cli.fails(
        &["router", "add", "ca\u{f1}on", "--tenant", "acme"],
        "U+00F1 (\u{f1}), which is not an ASCII letter",
    );

    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    for endpoint in [
        "host:+5",
        "host:051820",
        "host: 51820",
        "0.0.0.0:51820",
        "255.255.255.255:51820",
        "[::]:51820",
        "0x7f.1:51820",
    ] {
        cli.fails(&["hub", "add", "h2", "--endpoint", endpoint], "endpoint");
    }
    // A statement the server refuses: its message, not PostgreSQL's C source line.
    sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_gone")
        .execute(&_db.pool)
        .await
        .unwrap();
    let err = cli.fails(&["tenant", "add", "beta"], "audit_log");
    assert!(!err.contains(" at line "), "{err}");
    for port in ["+5", "051820", " 51820"] {
        cli.fails(
            &[
                "hub",
                "add",
                "h2",
                "--endpoint",
                "vpn.example.com:51820",
                "--listen-port",
                port,
            ],
            "listen port",
        );
    }
}

#[tokio::test]
async fn the_log_file_is_private_and_follows_no_link() {
    let (cli, _db) = Cli::new().await;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the log is under the data dir only as root");
        return;
    }
    let log_dir = cli.data_dir.join("log");
    std::fs::create_dir_all(&log_dir).unwrap();
    let victim = cli.data_dir.join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    std::os::unix::fs::symlink(&victim, log_dir.join("tikwire.log")).unwrap();
    cli.fails(
        &["router", "show", "nope", "--tenant", "nope"],
        "no tenant named",
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");

    std::fs::remove_file(log_dir.join("tikwire.log")).unwrap();
    cli.fails(
        &["router", "show", "nope", "--tenant", "nope"],
        "no tenant named",
    );
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(log_dir.join("tikwire.log")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_fifo_at_master_key_is_refused_instead_of_hanging() {
    let (cli, _db) = Cli::new().await;
    cli.ok(&["tenant", "add", "acme"]);
    let key = cli.data_dir.join("master.key");
    let c_path = std::ffi::CString::new(key.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let mut cmd = cli.command(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cmd.env_remove("TIKWIRE_MASTER_KEY");
    let (out, _) = run_measured(cmd);
    one_line_error(
        &out,
        &["hub add with a FIFO key file"],
        "not a regular file",
    );
}

/// The public key of the `PrivateKey = ` line of a wg-quick config.
fn config_public_key(conf: &str) -> String {
    use base64::Engine as _;
    let private = conf
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey = "))
        .expect("a PrivateKey line");
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(private.trim())
        .unwrap()
        .try_into()
        .unwrap();
    tikwire::keys::PrivateKey::from_bytes(bytes)
        .public_key()
        .to_string()
}

#[tokio::test]
async fn rotation_is_staged_shown_scripted_and_aborted() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["hub", "add", "hub1", "--endpoint", "vpn.example.com:51820"]);
    cli.ok(&["tenant", "add", "acme"]);
    cli.ok(&["router", "add", "r1", "--tenant", "acme"]);
    cli.ok(&["router", "add", "r2", "--tenant", "acme"]);
    let listing = cli.ok(&["router", "list", "--tenant", "acme"]);
    assert!(
        listing.lines().next().unwrap().ends_with("KEYS"),
        "{listing}"
    );

    let show = |name: &str| cli.json(&["router", "show", name, "--tenant", "acme", "--json"]);
    let before = show("r1");
    assert_eq!(before["rotation_state"], "none");
    assert!(before["pending_public_key"].is_null() && before["rotation_staged_at"].is_null());
    assert!(before["keys_created_at"].is_string(), "{before}");

    let staged = cli.json(&["router", "rotate", "r1", "--tenant", "acme", "--json"]);
    assert_eq!(staged["rotation_state"], "staged");
    assert_eq!(
        staged["public_key"], before["public_key"],
        "current key untouched"
    );
    let pending = staged["pending_public_key"].as_str().unwrap().to_owned();
    assert!(staged["rotation_staged_at"].is_string());
    assert_eq!(show("r1")["pending_public_key"], pending.as_str());
    assert_eq!(show("r2")["rotation_state"], "none");
    let text = cli.ok(&["router", "show", "r1", "--tenant", "acme"]);
    assert!(
        text.contains("staged rotation") && text.contains(&pending),
        "{text}"
    );
    assert!(
        cli.ok(&["router", "list", "--tenant", "acme"])
            .contains("staged")
    );

    // The usual script carries the staged keys, and says so on stderr; the undo script does not.
    let out = cli.run(&["script", "r1", "--tenant", "acme", "--format", "wg-quick"]);
    assert!(out.status.success());
    assert_eq!(
        config_public_key(&String::from_utf8_lossy(&out.stdout)),
        pending
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("staged rotation"));
    let undo = cli.run(&[
        "script", "r1", "--tenant", "acme", "--format", "routeros", "--undo",
    ]);
    assert!(undo.status.success() && undo.stderr.is_empty());
    let r2 = cli.ok(&["script", "r2", "--tenant", "acme", "--format", "wg-quick"]);
    assert_eq!(
        config_public_key(&r2),
        show("r2")["public_key"].as_str().unwrap()
    );

    // Staging again keeps the first rotation.
    let again = cli.ok(&["router", "rotate", "r1", "--tenant", "acme"]);
    assert!(again.contains("staged already"), "{again}");
    assert_eq!(show("r1")["pending_public_key"], pending.as_str());

    cli.ok(&["router", "rotate", "r1", "--tenant", "acme", "--abort"]);
    assert_eq!(show("r1")["rotation_state"], "none");
    cli.fails(
        &["router", "rotate", "r1", "--tenant", "acme", "--abort"],
        "no staged rotation",
    );
    cli.fails(
        &["router", "rotate", "nope", "--tenant", "acme"],
        "no router named",
    );

    let all = cli.json(&["router", "rotate", "--tenant", "acme", "--all", "--json"]);
    assert_eq!(
        (all["staged"].as_u64(), all["already_staged"].as_u64()),
        (Some(2), Some(0))
    );
    cli.ok(&["router", "rotate", "r2", "--tenant", "acme", "--abort"]);

    // Key age policy: r2's keys made 100 days old are due; r1's (staged) are not.
    assert!(
        cli.ok(&["router", "list", "--tenant", "acme", "--due-rotation"])
            .contains("no router is due")
    );
    sqlx::query(
        "UPDATE vpn_configurations SET keys_created_at = now() - interval '100 days'
         WHERE router_id IN (SELECT id FROM routers WHERE name IN ('r1', 'r2'))",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let due = cli.json(&[
        "router",
        "list",
        "--tenant",
        "acme",
        "--due-rotation",
        "--json",
    ]);
    let names: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["r2"]);
    assert!(
        cli.ok(&["router", "list", "--tenant", "acme"])
            .contains("100d due")
    );
    let staged_due = cli.json(&["router", "rotate", "--tenant", "acme", "--due", "--json"]);
    assert_eq!(
        (
            staged_due["staged"].as_u64(),
            staged_due["already_staged"].as_u64()
        ),
        (Some(1), Some(1))
    );

    // Usage errors exit 2: nothing named, a name with --all, --due with the policy off.
    for args in [
        &["router", "rotate", "--tenant", "acme"][..],
        &["router", "rotate", "r1", "--tenant", "acme", "--all"],
        &["router", "rotate", "--tenant", "acme", "--all", "--abort"],
    ] {
        assert_eq!(cli.run(args).status.code(), Some(2), "{args:?}");
    }
    let config_dir = cli.data_dir.join("config/tikwire");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        "[rotation]\nmax_age_days = 0\n",
    )
    .unwrap();
    let off = cli.run(&["router", "list", "--due-rotation"]);
    assert_eq!(off.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&off.stderr).contains("max_age_days"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_added_listed_tested_and_removed_and_bad_input_changes_nothing() {
    let (cli, db) = Cli::new().await;
    cli.ok(&["tenant", "add", "acme"]);
    let (receiver, url, _stop) = webhook_support::start_receiver().await;

    cli.fails(
        &["webhook", "add", "ftp://example.com/x"],
        "http:// or https://",
    );
    cli.fails(
        &["webhook", "add", &url, "--events", "router.gone"],
        "unknown event type",
    );
    cli.fails(
        &["webhook", "add", &url, "--tenant", "nosuch"],
        "no tenant named",
    );
    cli.fails(
        &["webhook", "add", &url, "--name", "Bad Name"],
        "webhook name",
    );
    assert_eq!(count(&db, "webhook_endpoints").await, 0);

    let created = cli.json(&[
        "webhook",
        "add",
        &url,
        "--name",
        "noc",
        "--events",
        "router.offline,hub.down",
        "--json",
    ]);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["name"], "noc");
    assert_eq!(
        created["event_types"],
        serde_json::json!(["router.offline", "hub.down"])
    );
    cli.fails(&["webhook", "add", &url, "--name", "noc"], "exists already");
    assert_eq!(count(&db, "webhook_endpoints").await, 1);

    // Shown once: never in the listing, nor in the database in clear.
    let listed = cli.ok(&["webhook", "list", "--json"]);
    assert!(!listed.contains(&secret[6..]) && !listed.contains("secret"));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["name"], "noc");
    assert_eq!(listed[0]["delivered"], 0);
    let table = cli.ok(&["webhook", "list"]);
    assert!(
        table.contains("noc") && table.contains("router.offline,hub.down"),
        "{table}"
    );

    // A signed test event, sent now, by name or by URL.
    let tested = cli.json(&["webhook", "test", "noc", "--json"]);
    assert_eq!(tested["accepted"], true);
    cli.ok(&["webhook", "test", &url]);
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    let key = tikwire::alerts::signature::SigningKey::parse(&secret).unwrap();
    let body = webhook_support::verified(&got[0], &key);
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(
        got[0].headers["webhook-id"],
        tested["webhook_id"].as_str().unwrap()
    );
    // A receiver that refuses: the command says so and fails.
    receiver.answer(&[(500, None)]);
    cli.fails(
        &["webhook", "test", "noc"],
        "did not accept the test event: HTTP 500",
    );
    cli.fails(&["webhook", "test", "nosuch"], "no webhook named");

    cli.ok(&["webhook", "rm", "noc"]);
    cli.fails(&["webhook", "rm", "noc"], "no webhook named");
    assert_eq!(count(&db, "webhook_endpoints").await, 0);

    // Both are in the audit log, by name and host: never the URL's path, nor the secret.
    let audit = cli.ok(&["audit", "--json"]);
    let entries: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("webhook."))
        .collect();
    assert_eq!(actions.len(), 2, "{audit}");
    assert!(actions.contains(&"webhook.add") && actions.contains(&"webhook.rm"));
    assert!(
        !audit.contains(&secret[6..]) && !audit.contains(&url),
        "{audit}"
    );
}
