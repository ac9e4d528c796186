//! `tikwire agent --metrics-listen`: the real binary against a real PostgreSQL, scraped over
//! HTTP; its output through `promtool check metrics`; a real Prometheus scraping it.
//!
//! - Without root: an agent whose interface does not exist serves failed polls and no router
//!   figures (nothing invented); bad flags are one clear error.
//! - With root, wireguard-go and Prometheus: a hub and a router namespace, the router comes
//!   online through the agent, and `/metrics` (classic and OpenMetrics) says so, promtool
//!   accepts it, Prometheus scrapes it (`up` is 1 and the router series are queryable).
//! - The README's alert rules pass `promtool check rules`.

mod common;
mod wg_support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use wg_support::e2e::{REACHES, RemoveOnDrop, Tikwire, configure_router, diagnose, pings};
use wg_support::{Netns, live_unavailable, run};

const OPENMETRICS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A child process killed on drop, panics included.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tikwire_for(db: &common::TestDb, tag: &str) -> (Tikwire, RemoveOnDrop) {
    Tikwire::with_data_dir(
        common::server_url_for(&db.name),
        &db.name,
        &format!("metrics-{tag}"),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn has_tool(tool: &str) -> bool {
    !run("sh", &["-c", &format!("command -v {tool} || true")])
        .trim()
        .is_empty()
}

/// `promtool check metrics` on `body`: its exit status and what it said.
fn promtool_check_metrics(body: &str) -> Output {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn assert_promtool_accepts(body: &str) {
    let out = promtool_check_metrics(body);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {:?}\n{}{}\n--- body\n{body}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample written exactly as `series` (name and labels), if present.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

#[tokio::test]
async fn an_agent_without_its_interface_serves_failed_polls_and_no_invented_figures() {
    if !has_tool("promtool") {
        eprintln!("SKIPPED metrics test: promtool is not installed");
        return;
    }
    let db = common::test_db().await;
    let (tikwire, _dir) = tikwire_for(&db, "fail");
    tikwire.ok(&[
        "hub",
        "add",
        "hub1",
        "--endpoint",
        "vpn.example.com:51820",
        "--interface",
        "twnosuchif0",
    ]);
    tikwire.ok(&["tenant", "add", "acme"]);
    tikwire.ok(&["router", "add", "r1", "--tenant", "acme"]);

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(tikwire.data_dir.join("agent.log")).unwrap();
    let _agent = Killed(
        tikwire
            .prepared(
                None,
                &[
                    "agent",
                    "--hub",
                    "hub1",
                    "--interval",
                    "1",
                    "--metrics-listen",
                    &addr,
                ],
            )
            .env("PATH", "/nonexistent") // no `wg`: every poll fails, whoever runs the test
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(response) = client.get(&url).send().await {
            assert_eq!(
                response.headers()["content-type"],
                "text/plain; version=0.0.4; charset=utf-8"
            );
            body = response.text().await.unwrap();
            if sample(
                &body,
                "tikwire_agent_polls_total{hub=\"hub1\",result=\"failure\"}",
            )
            .is_some_and(|n| n >= 2.0)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(tikwire.data_dir.join("agent.log")).unwrap_or_default();
    assert!(
        sample(
            &body,
            "tikwire_agent_polls_total{hub=\"hub1\",result=\"failure\"}"
        )
        .is_some_and(|n| n >= 2.0),
        "failed polls are counted\n{body}\n--- agent log\n{log}"
    );
    assert_eq!(
        sample(
            &body,
            "tikwire_agent_polls_total{hub=\"hub1\",result=\"success\"}"
        ),
        Some(0.0)
    );
    assert!(
        sample(&body, "tikwire_agent_reconcile_errors_total{hub=\"hub1\"}")
            .is_some_and(|n| n >= 1.0),
        "{body}"
    );
    assert!(body.contains(&format!(
        "tikwire_agent_build_info{{hub=\"hub1\",version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
    for absent in [
        "tikwire_routers",
        "tikwire_hub_peers",
        "tikwire_agent_last_poll_success_timestamp_seconds",
        "tikwire_webhook_",
        "tikwire_router_",
    ] {
        assert!(
            !body.contains(absent),
            "{absent}: nothing is known, so nothing is said\n{body}"
        );
    }
    assert_promtool_accepts(&body);

    // The same scrape as OpenMetrics: the format Prometheus asks for, which promtool's lint
    // of the classic format rejects (counter families without `_total`), hence both.
    let om = client
        .get(&url)
        .header("accept", OPENMETRICS_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        om.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let om = om.text().await.unwrap();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(!promtool_check_metrics(&om).status.success());

    let other = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(other.status(), 404);
}

#[test]
fn metrics_flags_fail_with_one_clear_error() {
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::test_db());
    let (tikwire, _dir) = tikwire_for(&db, "flags");

    let out = tikwire.command(None, &["agent", "--hub", "hub1", "--metrics-per-router"]);
    assert_eq!(out.status.code(), Some(2), "per-router needs a listener");
    let out = tikwire.command(
        None,
        &["agent", "--hub", "hub1", "--metrics-listen", "localhost"],
    );
    assert_eq!(out.status.code(), Some(2), "an address is IP:PORT");
    let out = tikwire.command(
        None,
        &[
            "agent",
            "--hub",
            "hub1",
            "--once",
            "--metrics-listen",
            "127.0.0.1:9586",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "--once serves nothing");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tikwire.command(None, &["agent", "--hub", "hub1", "--metrics-listen", &addr]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for metrics on {addr}")),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn readme_alert_rules_pass_promtool() {
    if !has_tool("promtool") {
        eprintln!("SKIPPED: promtool is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules =
        std::fs::read_to_string(root.join("contrib/prometheus/tikwire-alerts.yml")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&rules),
        "README.md shows contrib/prometheus/tikwire-alerts.yml as it is"
    );
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(root.join("contrib/prometheus/tikwire-alerts.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("SUCCESS: 2 rules found"), "{said}");
}

/// `curl` inside `ns`: the status line and headers, and the body.
fn curl_in(ns: &Netns, url: &str, accept: Option<&str>) -> Option<(String, String)> {
    let mut command = Command::new("ip");
    command.args([
        "netns",
        "exec",
        &ns.name,
        "curl",
        "-sS",
        "--max-time",
        "5",
        "-D",
        "-",
    ]);
    if let Some(accept) = accept {
        command.arg("-H").arg(format!("Accept: {accept}"));
    }
    let out = command.arg(url).output().unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.to_ascii_lowercase(), body.to_owned()))
}

/// A Prometheus instant query inside `ns`: the first result's value, if any.
fn prometheus_query(ns: &Netns, web: &str, query: &str) -> Option<f64> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "curl",
            "-sS",
            "--max-time",
            "5",
            "-G",
            &format!("http://{web}/api/v1/query"),
            "--data-urlencode",
            &format!("query={query}"),
        ])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[tokio::test]
async fn a_live_agent_is_scraped_by_promtool_and_prometheus() {
    if let Some(reason) = live_unavailable() {
        eprintln!("SKIPPED live metrics test: {reason}");
        return;
    }
    for tool in ["wg-quick", "ping", "curl", "promtool", "prometheus"] {
        if !has_tool(tool) {
            eprintln!("SKIPPED live metrics test: `{tool}` is not installed");
            return;
        }
    }
    let db = common::test_db().await;
    if common::socket_dir().is_none() {
        eprintln!("SKIPPED live metrics test: DATABASE_URL is unreachable from a namespace");
        return;
    }
    let (tikwire, _dir) = tikwire_for(&db, "live");

    // A hub and one router, joined by a veth pair.
    let mut hub = Netns::new("mh");
    let mut router = Netns::new("mr");
    let (hub_if, router_if) = (hub.name.clone(), router.name.clone());
    let (veth_hub, veth_router) = (format!("{}v", hub.name), format!("{}v", router.name));
    run(
        "ip",
        &[
            "link",
            "add",
            &veth_hub,
            "netns",
            &hub.name,
            "type",
            "veth",
            "peer",
            "name",
            &veth_router,
            "netns",
            &router.name,
        ],
    );
    hub.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &veth_hub]);
    router.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &veth_router]);
    hub.exec(&["ip", "link", "set", &veth_hub, "up"]);
    router.exec(&["ip", "link", "set", &veth_router, "up"]);
    hub.add_wireguard(&hub_if);
    router.add_wireguard(&router_if);

    tikwire.ok(&[
        "hub",
        "add",
        "hub1",
        "--endpoint",
        "192.0.2.1:51820",
        "--interface",
        &hub_if,
    ]);
    tikwire.ok(&["tenant", "add", "acme"]);
    tikwire.ok(&["tenant", "add", "beta"]);
    tikwire.ok(&["router", "add", "r1", "--tenant", "acme"]);
    tikwire.ok(&["router", "add", "r2", "--tenant", "acme"]); // never dials: pending
    tikwire.ok(&["router", "add", "b1", "--tenant", "beta"]); // never dials: pending
    let info = tikwire.json(&["router", "show", "r1", "--tenant", "acme", "--json"]);
    let hub_ip = info["hub_ip"].as_str().unwrap().to_owned();
    let r1_ip = info["vpn_ip"].as_str().unwrap().to_owned();
    configure_router(
        &router,
        &router_if,
        &tikwire.ok(&["script", "r1", "--tenant", "acme", "--format", "wg-quick"]),
    );

    let metrics_addr = "127.0.0.1:9586";
    let agent_log = tikwire.data_dir.join("agent.log");
    let _agent = Killed(
        tikwire
            .prepared(
                Some(&hub.name),
                &[
                    "agent",
                    "--hub",
                    "hub1",
                    "--interval",
                    "1",
                    "--metrics-listen",
                    metrics_addr,
                    "--metrics-per-router",
                ],
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&agent_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://{metrics_addr}/metrics");
    let online = "tikwire_routers{hub=\"hub1\",tenant=\"acme\",status=\"online\"}";
    let mut seen = String::new();
    for _ in 0..100 {
        // Traffic through the tunnel, so the router shakes hands and its counters move.
        pings(&router, &hub_ip, 1);
        if let Some((_, body)) = curl_in(&hub, &url, None) {
            seen = body;
            if sample(&seen, online) == Some(1.0) {
                break;
            }
        }
        // The agent polls every second: a few scrapes per poll are enough.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        sample(&seen, online),
        Some(1.0),
        "the router comes online\n{seen}\n--- agent log\n{}\n{}",
        std::fs::read_to_string(&agent_log).unwrap_or_default(),
        diagnose(&[&hub, &router])
    );
    assert!(pings(&router, &hub_ip, REACHES));

    // Classic text to a plain request; promtool lints it clean.
    let (head, body) = curl_in(&hub, &url, None).expect("scrape");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert_promtool_accepts(&body);
    for (series, value) in [
        (
            "tikwire_routers{hub=\"hub1\",tenant=\"acme\",status=\"pending\"}",
            1.0,
        ),
        (
            "tikwire_routers{hub=\"hub1\",tenant=\"acme\",status=\"offline\"}",
            0.0,
        ),
        (
            "tikwire_routers{hub=\"hub1\",tenant=\"beta\",status=\"pending\"}",
            1.0,
        ),
        ("tikwire_hub_peers{hub=\"hub1\"}", 3.0),
        ("tikwire_hub_unknown_peers{hub=\"hub1\"}", 0.0),
        ("tikwire_agent_reconcile_errors_total{hub=\"hub1\"}", 0.0),
    ] {
        assert_eq!(sample(&body, series), Some(value), "{series}\n{body}");
    }
    let r1 = format!("{{hub=\"hub1\",tenant=\"acme\",router=\"r1\",vpn_ip=\"{r1_ip}\"}}");
    assert!(
        sample(&body, &format!("tikwire_router_receive_bytes_total{r1}")).is_some_and(|n| n > 0.0),
        "{body}"
    );
    assert!(
        sample(&body, &format!("tikwire_router_transmit_bytes_total{r1}")).is_some_and(|n| n > 0.0),
        "{body}"
    );
    let handshake = sample(
        &body,
        &format!("tikwire_router_last_handshake_timestamp_seconds{r1}"),
    )
    .expect("r1 shook hands");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - 600.0..=now + 5.0).contains(&handshake),
        "{handshake}"
    );
    assert!(
        !body.contains("tikwire_router_last_handshake_timestamp_seconds{hub=\"hub1\",tenant=\"acme\",router=\"r2\""),
        "a router that never shook hands has no handshake sample"
    );
    assert!(
        sample(
            &body,
            "tikwire_agent_polls_total{hub=\"hub1\",result=\"success\"}"
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        sample(
            &body,
            "tikwire_agent_poll_duration_seconds_count{hub=\"hub1\"}"
        )
        .is_some_and(|n| n >= 1.0)
    );

    // OpenMetrics when asked for it, as Prometheus does.
    let (head, om) = curl_in(&hub, &url, Some(OPENMETRICS_ACCEPT)).expect("scrape");
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("\n# TYPE tikwire_agent_polls counter\n"),
        "{om}"
    );
    assert!(
        om.contains("\n# TYPE tikwire_router_receive_bytes counter\n"),
        "{om}"
    );

    // A real Prometheus in the hub's namespace, scraping every second.
    let prom_dir = tikwire.data_dir.join("prometheus");
    std::fs::create_dir_all(prom_dir.join("data")).unwrap();
    let config = prom_dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tikwire\n    static_configs:\n      - targets: ['{metrics_addr}']\n"
        ),
    )
    .unwrap();
    let web = "127.0.0.1:9090";
    let prom_log = prom_dir.join("prometheus.log");
    let _prometheus = Killed(
        Command::new("ip")
            .args(["netns", "exec", &hub.name, "prometheus"])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&prom_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let queries = [
        "up{job=\"tikwire\"}",
        "tikwire_routers{tenant=\"acme\",status=\"online\"}",
        "tikwire_router_receive_bytes_total{router=\"r1\"} > 0",
        "tikwire_agent_build_info",
    ];
    let mut answers = [None; 4];
    for _ in 0..300 {
        answers = queries.map(|q| prometheus_query(&hub, web, q));
        if answers.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        answers[0],
        Some(1.0),
        "Prometheus scraped the agent: {answers:?}\n--- prometheus log\n{}",
        std::fs::read_to_string(&prom_log).unwrap_or_default()
    );
    assert_eq!(answers[1], Some(1.0), "{answers:?}");
    assert!(answers[2].is_some_and(|n| n > 0.0), "{answers:?}");
    assert_eq!(answers[3], Some(1.0), "{answers:?}");
}
