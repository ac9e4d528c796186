//! Configuration: defaults, then the config file, then environment, then flags.
//!
//! The config file is `$XDG_CONFIG_HOME/tikwire/config.toml` (or `--config`/`TIKWIRE_CONFIG`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ipam::IpamConfig;
use crate::{Error, Result};

pub const DATA_DIR_ENV: &str = "TIKWIRE_DATA_DIR";
pub const CONFIG_ENV: &str = "TIKWIRE_CONFIG";
pub const ROUTERS_PER_TENANT_ENV: &str = "TIKWIRE_ROUTERS_PER_TENANT";
/// Where tikwire keeps its data when run as root: `/root` is closed to the `postgres` user
/// that the private cluster runs as.
pub const ROOT_DATA_DIR: &str = "/var/lib/tikwire";

/// Router status thresholds, in seconds since the last handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusThresholds {
    pub online_secs: u64,
    pub stale_secs: u64,
}

impl Default for StatusThresholds {
    fn default() -> Self {
        Self {
            online_secs: 180,
            stale_secs: 600,
        }
    }
}

/// The `wg show` poller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollConfig {
    pub interval_secs: u64,
    /// The `wg` program; tests point it at a scripted stand-in.
    pub wg_command: PathBuf,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval_secs: 5,
            wg_command: PathBuf::from("wg"),
        }
    }
}

/// Key rotation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationConfig {
    /// Keys older than this are due for rotation (`router list --due-rotation`, the console's
    /// marker, `router rotate --due`); 0 turns the policy off.
    pub max_age_days: u32,
}

impl Default for RotationConfig {
    fn default() -> Self {
        Self { max_age_days: 90 }
    }
}

impl RotationConfig {
    /// The maximum key age, or `None` when the policy is off.
    pub fn max_age(&self) -> Option<chrono::Duration> {
        (self.max_age_days > 0).then(|| chrono::Duration::days(i64::from(self.max_age_days)))
    }
}

/// How long router history is kept (the agent drops older partitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// 5-minute traffic buckets, in days.
    pub traffic_days: u32,
    /// Hourly traffic roll-ups, in days.
    pub rollup_days: u32,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            traffic_days: 14,
            rollup_days: 400,
        }
    }
}

/// Alerts (`[alerts]`): when a status change is worth a message, and the hook command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// false: the agent writes no alerts (webhooks already queued are still delivered).
    pub enabled: bool,
    /// "stale" (default: the first sign of trouble) or "offline".
    pub down_on: crate::alerts::DownOn,
    /// How long a router back online must stay online before "back online" is sent.
    pub recover_secs: u64,
    /// Flapping starts above this weighted percentage of state changes over 21 polls...
    pub flap_high_percent: f64,
    /// ...and ends below this one.
    pub flap_low_percent: f64,
    /// More than this percentage of a hub's online routers dropping in one poll is a storm.
    pub hub_storm_percent: u32,
    /// ...if at least this many routers drop.
    pub hub_storm_min_routers: u32,
    /// Run for each alert with its JSON on stdin.
    pub command: Option<PathBuf>,
    pub command_timeout_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let rules = crate::alerts::AlertRules::default();
        Self {
            enabled: true,
            down_on: rules.down_on,
            recover_secs: rules.recover.num_seconds() as u64,
            flap_high_percent: rules.flap_high,
            flap_low_percent: rules.flap_low,
            hub_storm_percent: rules.storm_percent,
            hub_storm_min_routers: rules.storm_min_routers,
            command: None,
            command_timeout_secs: 10,
        }
    }
}

impl HistoryConfig {
    pub fn retention(&self) -> crate::history::Retention {
        crate::history::Retention {
            traffic_days: self.traffic_days,
            rollup_days: self.rollup_days,
        }
    }
}

impl AlertsConfig {
    /// The engine's rules, checked.
    pub fn rules(&self) -> Result<crate::alerts::AlertRules> {
        Ok(crate::alerts::AlertRules::new(
            self.down_on,
            self.recover_secs,
            self.flap_low_percent,
            self.flap_high_percent,
            self.hub_storm_percent,
            self.hub_storm_min_routers,
        )?)
    }
}

/// The console.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Theme name (built in: default, light, high-contrast) or a file in the themes dir.
    pub theme: Option<String>,
    /// Action name -> key, e.g. `quit = "q"`.
    pub keys: BTreeMap<String, String>,
}

/// What the config file may hold.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub ipam: IpamConfig,
    pub status: StatusThresholds,
    pub poll: PollConfig,
    pub rotation: RotationConfig,
    pub history: HistoryConfig,
    pub ui: UiConfig,
    pub alerts: AlertsConfig,
}

/// Values given on the command line; they win over everything else.
#[derive(Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub theme: Option<String>,
}

/// The settled configuration.
#[derive(Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    /// None: use the private cluster under `data_dir`.
    pub database_url: Option<String>,
    pub config_dir: PathBuf,
    pub log_dir: PathBuf,
    pub ipam: IpamConfig,
    pub status: StatusThresholds,
    pub poll: PollConfig,
    pub rotation: RotationConfig,
    pub history: HistoryConfig,
    pub ui: UiConfig,
    pub alerts: AlertsConfig,
}

/// A database URL for messages and `Debug`: the password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<database url>".into();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn redacted(url: &Option<String>) -> Option<String> {
    url.as_deref().map(redact_url)
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("database_url", &redacted(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("ipam", &self.ipam)
            .field("status", &self.status)
            .field("poll", &self.poll)
            .field("rotation", &self.rotation)
            .field("history", &self.history)
            .field("ui", &self.ui)
            .field("alerts", &self.alerts)
            .finish()
    }
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides")
            .field("config_file", &self.config_file)
            .field("database_url", &redacted(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("theme", &self.theme)
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redacted(&self.database_url))
            .field("config_dir", &self.config_dir)
            .field("log_dir", &self.log_dir)
            .field("ipam", &self.ipam)
            .field("status", &self.status)
            .field("poll", &self.poll)
            .field("rotation", &self.rotation)
            .field("history", &self.history)
            .field("ui", &self.ui)
            .field("alerts", &self.alerts)
            .finish()
    }
}

impl Config {
    /// Defaults, config file, environment (`DATABASE_URL` is read by the flag parser), flags.
    pub fn load(overrides: Overrides) -> Result<Self> {
        let dirs = directories::ProjectDirs::from("", "", "tikwire");
        let config_dir = dirs
            .as_ref()
            .map(|d| d.config_dir().to_owned())
            .unwrap_or_else(|| PathBuf::from(".tikwire"));
        let explicit_file = overrides
            .config_file
            .clone()
            .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
        let file = match &explicit_file {
            Some(path) => read_config_file(path)?.ok_or_else(|| {
                Error::Config(format!("config file {} does not exist", path.display()))
            })?,
            None => read_config_file(&config_dir.join("config.toml"))?.unwrap_or_default(),
        };

        let data_dir = overrides
            .data_dir
            .or_else(|| {
                std::env::var_os(DATA_DIR_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or(file.data_dir)
            .unwrap_or_else(|| default_data_dir(dirs.as_ref()));
        let data_dir = absolute(&data_dir)?;
        let log_dir = if is_root() {
            data_dir.join("log")
        } else {
            dirs.as_ref()
                .and_then(|d| d.state_dir().map(Path::to_owned))
                .unwrap_or_else(|| data_dir.join("log"))
        };

        let mut ipam = file.ipam;
        if let Ok(value) = std::env::var(ROUTERS_PER_TENANT_ENV) {
            ipam.routers_per_tenant = value.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "{ROUTERS_PER_TENANT_ENV} {value:?} is not a number"
                ))
            })?;
        }
        ipam.validate()?;
        if file.status.online_secs == 0 || file.status.online_secs > file.status.stale_secs {
            return Err(Error::Config(
                "status: online_secs must be above 0 and not above stale_secs".into(),
            ));
        }
        if file.poll.interval_secs == 0 {
            return Err(Error::Config(
                "poll: interval_secs must be at least 1".into(),
            ));
        }
        // Hourly roll-ups are made from the 5-minute buckets, so they must outlive them.
        let history = file.history;
        if !(1..=366).contains(&history.traffic_days)
            || history.rollup_days < history.traffic_days
            || history.rollup_days > 3660
        {
            return Err(Error::Config(format!(
                "history: need 1 <= traffic_days ({}) <= 366 and traffic_days <= rollup_days ({}) <= 3660",
                history.traffic_days, history.rollup_days
            )));
        }

        file.alerts
            .rules()
            .map_err(|err| Error::Config(err.to_string()))?;

        let mut ui = file.ui;
        if let Some(theme) = overrides.theme {
            ui.theme = Some(theme);
        }
        Ok(Self {
            data_dir,
            database_url: overrides
                .database_url
                .or(file.database_url)
                .filter(|u| !u.is_empty()),
            config_dir,
            log_dir,
            ipam,
            status: file.status,
            poll: file.poll,
            rotation: file.rotation,
            history: file.history,
            ui,
            alerts: file.alerts,
        })
    }

    /// The master key file used when `TIKWIRE_MASTER_KEY` is not set.
    pub fn master_key_file(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }
}

fn read_config_file(path: &Path) -> Result<Option<ConfigFile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io(format!("cannot read {}", path.display()), err)),
    };
    toml::from_str(&text).map(Some).map_err(|err| {
        let why = err
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_owned();
        Error::Config(format!("config file {}: {why}", path.display()))
    })
}

fn default_data_dir(dirs: Option<&directories::ProjectDirs>) -> PathBuf {
    if is_root() {
        return PathBuf::from(ROOT_DATA_DIR);
    }
    dirs.map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".tikwire"))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|err| Error::io(format!("data dir {}", path.display()), err))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_never_show() {
        assert_eq!(
            redact_url("postgres://u:s3cret@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(
            redact_url("postgres://u@db/x?host=/run"),
            "postgres://u@db/x?host=/run"
        );
        let file = ConfigFile {
            database_url: Some("postgres://u:s3cret@db/x".into()),
            ..Default::default()
        };
        assert!(!format!("{file:?}").contains("s3cret"));
    }

    #[test]
    fn config_file_parses_and_rejects_unknown_keys() {
        let file: ConfigFile = toml::from_str(
            "[ipam]\nrouters_per_tenant = 10\n[status]\nonline_secs = 60\n[ui.keys]\nquit = \"x\"\n",
        )
        .unwrap();
        assert_eq!(file.ipam.routers_per_tenant, 10);
        assert_eq!(file.ipam.first_tenant_octet, 100);
        assert_eq!(file.status.online_secs, 60);
        assert_eq!(file.status.stale_secs, 600);
        assert_eq!(file.ui.keys["quit"], "x");
        assert!(toml::from_str::<ConfigFile>("colour = 1").is_err());
    }

    #[test]
    fn alerts_section_parses_and_is_checked() {
        let example: ConfigFile =
            toml::from_str(include_str!("../contrib/config.example.toml")).unwrap();
        assert_eq!(example.alerts, AlertsConfig::default());
        let file: ConfigFile = toml::from_str(
            "[alerts]\ndown_on = \"offline\"\nrecover_secs = 5\ncommand = \"/usr/local/bin/notify\"\n",
        )
        .unwrap();
        assert_eq!(file.alerts.down_on, crate::alerts::DownOn::Offline);
        assert_eq!(file.alerts.rules().unwrap().recover.num_seconds(), 5);
        assert!(toml::from_str::<ConfigFile>("[alerts]\ndown_on = \"late\"\n").is_err());
        let bad: ConfigFile = toml::from_str("[alerts]\nhub_storm_percent = 0\n").unwrap();
        assert!(bad.alerts.rules().is_err());
    }
}
