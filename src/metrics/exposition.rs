//! Renders a [`MetricsSnapshot`] in the Prometheus text formats. Pure: no clock, no I/O.
//!
//! Two formats, because they disagree on counters: the classic text format (what
//! `promtool check metrics` lints, and what a plain `curl` gets) names a counter's family
//! after its sample (`# TYPE x_total counter`), while OpenMetrics names the family without the
//! suffix (`# TYPE x counter`, sample `x_total`) and ends with `# EOF`. Crates that encode
//! only OpenMetrics fail promtool on every counter, hence this small encoder.

use std::fmt::Write as _;

use super::MetricsSnapshot;
use super::histogram::Histogram;
use crate::model::RouterStatus;

/// Which text format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`
    Classic,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

const OPENMETRICS: &str = "application/openmetrics-text";

impl Format {
    /// Chooses by the scraper's `Accept` header: OpenMetrics when it asks for it at least as
    /// strongly as for plain text (Prometheus sends both, OpenMetrics first); otherwise, and
    /// without the header, the classic format.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Classic;
        };
        let (mut openmetrics, mut text) = (0.0_f64, 0.0_f64);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(1.0);
            if media == OPENMETRICS {
                openmetrics = openmetrics.max(quality);
            } else if media == "text/plain" {
                text = text.max(quality);
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Self::OpenMetrics
        } else {
            Self::Classic
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Classic => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// The agent's version, for `tikwire_agent_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole exposition of one scrape.
pub fn render(snapshot: &MetricsSnapshot, format: Format) -> String {
    let per_router = snapshot
        .hub_figures
        .as_ref()
        .and_then(|f| f.routers.as_ref())
        .map_or(0, Vec::len);
    // About 120 bytes per router line, three lines per router: one allocation up front.
    let mut out = Exposition {
        out: String::with_capacity(8192 + per_router * 360),
        format,
    };
    let hub = &*snapshot.hub;
    let hub_label = [("hub", hub)];

    out.family(
        "tikwire_agent_build_info",
        Kind::Gauge,
        "The agent's version (always 1).",
    );
    out.sample(
        "tikwire_agent_build_info",
        "",
        &[("hub", hub), ("version", VERSION)],
        "1",
    );

    out.family(
        "tikwire_agent_poll_interval_seconds",
        Kind::Gauge,
        "Configured seconds between polls of the interface.",
    );
    out.float(
        "tikwire_agent_poll_interval_seconds",
        &hub_label,
        snapshot.interval.as_secs_f64(),
    );

    out.family(
        "tikwire_agent_polls",
        Kind::Counter,
        "Polls of the interface (read it and store the routers' status), by result.",
    );
    for (result, count) in [
        ("success", snapshot.polls_succeeded),
        ("failure", snapshot.polls_failed),
    ] {
        out.int(
            "tikwire_agent_polls",
            "_total",
            &[("hub", hub), ("result", result)],
            count,
        );
    }

    out.histogram(
        "tikwire_agent_poll_duration_seconds",
        "Seconds one poll took: reading the interface and storing what changed.",
        &hub_label,
        &snapshot.poll_seconds,
    );

    if let Some(at) = snapshot.last_poll_success {
        out.family(
            "tikwire_agent_last_poll_success_timestamp_seconds",
            Kind::Gauge,
            "When the last successful poll read the interface (Unix time).",
        );
        out.float(
            "tikwire_agent_last_poll_success_timestamp_seconds",
            &hub_label,
            unix_seconds(at),
        );
    }

    out.histogram(
        "tikwire_agent_reconcile_duration_seconds",
        "Seconds one reconcile took: making the interface match the database.",
        &hub_label,
        &snapshot.reconcile_seconds,
    );
    out.family(
        "tikwire_agent_reconcile_errors",
        Kind::Counter,
        "Reconciles that failed.",
    );
    out.int(
        "tikwire_agent_reconcile_errors",
        "_total",
        &hub_label,
        snapshot.reconcile_errors,
    );

    if let Some(outbox) = snapshot.outbox {
        out.family(
            "tikwire_webhook_outbox_pending",
            Kind::Gauge,
            "Webhook deliveries waiting to be sent or retried.",
        );
        out.int("tikwire_webhook_outbox_pending", "", &[], outbox.pending);
        out.family(
            "tikwire_webhook_outbox_failed",
            Kind::Gauge,
            "Webhook deliveries given up on.",
        );
        out.int("tikwire_webhook_outbox_failed", "", &[], outbox.failed);
    }

    if let Some(figures) = &snapshot.hub_figures {
        out.family(
            "tikwire_hub_peers",
            Kind::Gauge,
            "Peers on the hub's WireGuard interface at the last poll.",
        );
        out.int("tikwire_hub_peers", "", &hub_label, figures.peers);
        out.family(
            "tikwire_hub_unknown_peers",
            Kind::Gauge,
            "Peers on the hub's interface that no router owns, at the last poll.",
        );
        out.int(
            "tikwire_hub_unknown_peers",
            "",
            &hub_label,
            figures.unknown_peers,
        );

        out.family(
            "tikwire_routers",
            Kind::Gauge,
            "Routers of the hub by tenant and status, at the last poll.",
        );
        for tenant in &figures.tenants {
            for status in RouterStatus::ALL {
                out.int(
                    "tikwire_routers",
                    "",
                    &[
                        ("hub", hub),
                        ("tenant", &tenant.tenant),
                        ("status", status.as_str()),
                    ],
                    tenant.count(status),
                );
            }
        }

        if let Some(routers) = &figures.routers {
            out.family(
                "tikwire_router_receive_bytes",
                Kind::Counter,
                "Bytes the hub received from the router (kept across interface restarts).",
            );
            out.router_series(
                hub,
                routers,
                "tikwire_router_receive_bytes",
                "_total",
                |r| Some(r.rx_bytes.max(0) as f64),
            );
            out.family(
                "tikwire_router_transmit_bytes",
                Kind::Counter,
                "Bytes the hub sent to the router (kept across interface restarts).",
            );
            out.router_series(
                hub,
                routers,
                "tikwire_router_transmit_bytes",
                "_total",
                |r| Some(r.tx_bytes.max(0) as f64),
            );
            out.family(
                "tikwire_router_last_handshake_timestamp_seconds",
                Kind::Gauge,
                "When the router last completed a handshake (Unix time); absent if never.",
            );
            out.router_series(
                hub,
                routers,
                "tikwire_router_last_handshake_timestamp_seconds",
                "",
                |r| r.last_handshake_at.map(unix_seconds),
            );
        }
    }

    if format == Format::OpenMetrics {
        out.out.push_str("# EOF\n");
    }
    out.out
}

fn unix_seconds(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

struct Exposition {
    out: String,
    format: Format,
}

impl Exposition {
    /// `# HELP` and `# TYPE` of a family. `name` is the family name without `_total`.
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert!(
            !help.contains(['\\', '\n', '"']),
            "help text needs no escaping"
        );
        let suffix = match (self.format, kind) {
            (Format::Classic, Kind::Counter) => "_total",
            _ => "",
        };
        let kind = kind.as_str();
        let _ = write!(
            self.out,
            "# HELP {name}{suffix} {help}\n# TYPE {name}{suffix} {kind}\n"
        );
    }

    fn labels(&mut self, labels: &[(&str, &str)], extra: Option<(&str, &str)>) {
        if labels.is_empty() && extra.is_none() {
            return;
        }
        self.out.push('{');
        for (i, (key, value)) in labels.iter().chain(extra.as_ref()).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_label_value(&mut self.out, value);
            self.out.push('"');
        }
        self.out.push('}');
    }

    fn sample(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], value: &str) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        self.labels(labels, None);
        self.out.push(' ');
        self.out.push_str(value);
        self.out.push('\n');
    }

    fn int(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], value: u64) {
        self.sample(name, suffix, labels, &value.to_string());
    }

    fn float(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.sample(name, "", labels, &float(value));
    }

    fn histogram(&mut self, name: &str, help: &str, labels: &[(&str, &str)], h: &Histogram) {
        self.family(name, Kind::Histogram, help);
        for (bound, count) in h.cumulative() {
            self.out.push_str(name);
            self.out.push_str("_bucket");
            self.labels(labels, Some(("le", &float(bound))));
            let _ = writeln!(self.out, " {count}");
        }
        self.out.push_str(name);
        self.out.push_str("_bucket");
        self.labels(labels, Some(("le", "+Inf")));
        let _ = writeln!(self.out, " {}", h.count());
        self.sample(name, "_sum", labels, &float(h.sum()));
        self.sample(name, "_count", labels, &h.count().to_string());
    }

    /// One sample per router (those for which `value` has one), labelled hub, tenant, router
    /// and vpn_ip.
    fn router_series(
        &mut self,
        hub: &str,
        routers: &[super::RouterFigures],
        name: &str,
        suffix: &str,
        value: impl Fn(&super::RouterFigures) -> Option<f64>,
    ) {
        let mut ip = String::with_capacity(15);
        for router in routers {
            let Some(value) = value(router) else {
                continue;
            };
            ip.clear();
            let _ = write!(ip, "{}", router.vpn_ip);
            self.out.push_str(name);
            self.out.push_str(suffix);
            self.labels(
                &[
                    ("hub", hub),
                    ("tenant", &router.tenant),
                    ("router", &router.name),
                    ("vpn_ip", &ip),
                ],
                None,
            );
            self.out.push(' ');
            self.out.push_str(&float(value));
            self.out.push('\n');
        }
    }
}

/// A sample value or `le` bound: integers without a fraction (`1024`), others in the
/// shortest form that reads back exactly (`0.0025`), non-finite values as Prometheus spells
/// them.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Escapes a label value as both formats require: backslash, double quote and line feed.
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::DateTime;

    use super::*;
    use crate::metrics::{AgentMetrics, HubFigures, OutboxFigures, Outcome, RouterFigures};

    fn snapshot(per_router: bool) -> MetricsSnapshot {
        let metrics = AgentMetrics::new("hub1", Duration::from_secs(5), per_router);
        let at = DateTime::from_timestamp(1_764_680_000, 250_000_000).unwrap();
        let acme: Arc<str> = "acme".into();
        let routers = vec![
            RouterFigures {
                tenant: acme.clone(),
                name: "r1".into(),
                vpn_ip: Ipv4Addr::new(10, 100, 1, 1),
                status: RouterStatus::Online,
                rx_bytes: 1024,
                tx_bytes: 2048,
                last_handshake_at: Some(DateTime::from_timestamp(1_764_679_990, 0).unwrap()),
            },
            RouterFigures {
                tenant: acme,
                name: "r2".into(),
                vpn_ip: Ipv4Addr::new(10, 100, 1, 2),
                status: RouterStatus::Pending,
                rx_bytes: 0,
                tx_bytes: 0,
                last_handshake_at: None,
            },
        ];
        let figures = HubFigures::from_routers(routers.into_iter(), 3, 1, at, per_router);
        metrics.record_poll(Duration::from_millis(3), Outcome::Success, Some(figures));
        metrics.record_poll(Duration::from_millis(40), Outcome::Failure, None);
        metrics.record_reconcile(Duration::from_millis(20), Outcome::Failure);
        metrics.snapshot()
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn classic_format_names_counter_families_after_their_samples() {
        let text = render(&snapshot(false), Format::Classic);
        let lines = lines(&text);
        for expected in [
            "# TYPE tikwire_agent_polls_total counter",
            "tikwire_agent_polls_total{hub=\"hub1\",result=\"success\"} 1",
            "tikwire_agent_polls_total{hub=\"hub1\",result=\"failure\"} 1",
            "# TYPE tikwire_agent_reconcile_errors_total counter",
            "tikwire_agent_reconcile_errors_total{hub=\"hub1\"} 1",
            "# TYPE tikwire_agent_poll_duration_seconds histogram",
            "tikwire_agent_poll_duration_seconds_bucket{hub=\"hub1\",le=\"0.0025\"} 0",
            "tikwire_agent_poll_duration_seconds_bucket{hub=\"hub1\",le=\"0.005\"} 1",
            "tikwire_agent_poll_duration_seconds_bucket{hub=\"hub1\",le=\"0.05\"} 2",
            "tikwire_agent_poll_duration_seconds_bucket{hub=\"hub1\",le=\"+Inf\"} 2",
            "tikwire_agent_poll_duration_seconds_count{hub=\"hub1\"} 2",
            "tikwire_agent_last_poll_success_timestamp_seconds{hub=\"hub1\"} 1764680000.25",
            "tikwire_agent_poll_interval_seconds{hub=\"hub1\"} 5",
            "tikwire_hub_peers{hub=\"hub1\"} 3",
            "tikwire_hub_unknown_peers{hub=\"hub1\"} 1",
            "tikwire_routers{hub=\"hub1\",tenant=\"acme\",status=\"online\"} 1",
            "tikwire_routers{hub=\"hub1\",tenant=\"acme\",status=\"pending\"} 1",
            "tikwire_routers{hub=\"hub1\",tenant=\"acme\",status=\"offline\"} 0",
        ] {
            assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
        }
        assert!(text.contains(&format!(
            "tikwire_agent_build_info{{hub=\"hub1\",version=\"{VERSION}\"}} 1\n"
        )));
        // 0.003 + 0.04 in binary floating point.
        assert!(text.contains("\ntikwire_agent_poll_duration_seconds_sum{hub=\"hub1\"} 0.043"));
        assert!(!text.contains("# EOF"));
        assert!(!text.contains("# TYPE tikwire_agent_polls counter"));
        assert!(
            !text.contains("tikwire_router_"),
            "no per-router series by default"
        );
        assert!(
            !text.contains("webhook"),
            "no outbox series until it is wired"
        );
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let text = render(&snapshot(false), Format::OpenMetrics);
        let lines = lines(&text);
        assert!(
            lines.contains(&"# TYPE tikwire_agent_polls counter"),
            "{text}"
        );
        assert!(lines.contains(&"tikwire_agent_polls_total{hub=\"hub1\",result=\"success\"} 1"));
        assert!(lines.contains(&"# TYPE tikwire_agent_reconcile_errors counter"));
        assert_eq!(lines.last(), Some(&"# EOF"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    #[test]
    fn per_router_series_only_when_asked_and_only_for_what_is_known() {
        let text = render(&snapshot(true), Format::Classic);
        let lines = lines(&text);
        for expected in [
            "# TYPE tikwire_router_receive_bytes_total counter",
            "tikwire_router_receive_bytes_total{hub=\"hub1\",tenant=\"acme\",router=\"r1\",vpn_ip=\"10.100.1.1\"} 1024",
            "tikwire_router_transmit_bytes_total{hub=\"hub1\",tenant=\"acme\",router=\"r1\",vpn_ip=\"10.100.1.1\"} 2048",
            "tikwire_router_receive_bytes_total{hub=\"hub1\",tenant=\"acme\",router=\"r2\",vpn_ip=\"10.100.1.2\"} 0",
            "tikwire_router_last_handshake_timestamp_seconds{hub=\"hub1\",tenant=\"acme\",router=\"r1\",vpn_ip=\"10.100.1.1\"} 1764679990",
        ] {
            assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
        }
        assert!(
            !text.contains(
                "last_handshake_timestamp_seconds{hub=\"hub1\",tenant=\"acme\",router=\"r2\""
            ),
            "a router that never shook hands has no handshake sample"
        );
    }

    #[test]
    fn outbox_figures_appear_once_wired() {
        let mut snap = snapshot(false);
        snap.outbox = Some(OutboxFigures {
            pending: 7,
            failed: 2,
        });
        let text = render(&snap, Format::Classic);
        assert!(
            text.contains("\ntikwire_webhook_outbox_pending 7\n"),
            "{text}"
        );
        assert!(
            text.contains("\ntikwire_webhook_outbox_failed 2\n"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        // Names tikwire accepts are [A-Za-z0-9._-], but the encoder must not rely on it.
        let mut out = String::new();
        escape_label_value(&mut out, "a\"b\\c\nd é");
        assert_eq!(out, "a\\\"b\\\\c\\nd é");

        let mut snap = snapshot(true);
        snap.hub = "h\"ub\\1".into();
        let text = render(&snap, Format::Classic);
        assert!(
            text.contains("tikwire_hub_peers{hub=\"h\\\"ub\\\\1\"} 3\n"),
            "{text}"
        );
    }

    #[test]
    fn accept_header_picks_the_format() {
        // What Prometheus 2.42 sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(None), Format::Classic);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Classic);
        assert_eq!(
            Format::from_accept(Some("text/plain;version=0.0.4")),
            Format::Classic
        );
        assert_eq!(
            Format::from_accept(Some("text/plain, application/openmetrics-text;q=0.5")),
            Format::Classic
        );
        assert_eq!(
            Format::from_accept(Some("Application/OpenMetrics-Text; version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;q=0")),
            Format::Classic
        );
    }

    #[test]
    fn floats_are_written_as_prometheus_reads_them() {
        assert_eq!(float(1.0), "1");
        assert_eq!(float(0.0025), "0.0025");
        assert_eq!(float(1764680000.25), "1764680000.25");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
