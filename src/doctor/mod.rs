//! `tikwire doctor` and `tikwire router diagnose`: what is wrong on the hub, and with one router.
//!
//! Each check is a value: a name, ok / warn / fail, one line of detail and, when not ok, one
//! line of what to do. The checks are pure functions over gathered facts ([`facts`], judged in
//! [`judge`] and [`diagnose`]); gathering them (`ip -j`, `wg show`, `nft -j`, `/proc`, the
//! database) is apart in [`gather`], so the judgement is tested without root.

pub mod diagnose;
pub mod facts;
pub mod gather;
pub mod judge;
pub mod nft;

use serde::Serialize;

/// `tikwire router diagnose`: one router's facts gathered and judged. The command line and
/// the console both run this.
pub async fn diagnose_router(
    provisioner: &crate::provision::Provisioner,
    tenant: &str,
    name: &str,
    online_secs: i64,
    tools: &gather::HostTools,
) -> crate::Result<Report> {
    let facts = gather::router_facts(provisioner, tenant, name, online_secs, tools).await?;
    Ok(Report {
        checks: diagnose::router_checks(&facts),
    })
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        })
    }
}

/// One check's result. `fix` is `None` exactly when the status is ok.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::not_ok(Status::Warn, name.into(), detail.into(), fix.into())
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::not_ok(Status::Fail, name.into(), detail.into(), fix.into())
    }

    /// A check that is not ok always says what to do.
    fn not_ok(status: Status, name: String, detail: String, fix: String) -> Self {
        Self {
            name,
            status,
            detail,
            fix: Some(fix),
        }
    }
}

/// The JSON document: `{"checks": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// True when any check failed (exit status 1).
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The text form: one line per check, and the fix indented under it.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                check.status, check.name, check.detail
            ));
            if let Some(fix) = &check.fix {
                for line in fix.lines() {
                    out.push_str(&format!("      {:<width$}  -> {line}\n", ""));
                }
            }
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "{} ok, {} warn, {} fail\n",
            count(Status::Ok),
            count(Status::Warn),
            count(Status::Fail)
        ));
        out
    }
}
