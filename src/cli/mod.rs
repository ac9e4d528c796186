//! The command line: argument definitions and the context each subcommand runs in.
//! Each command group lives in its own module.

mod agent;
mod audit;
mod completions;
mod db;
mod demo;
mod demo_scale;
mod doctor;
mod history;
mod hub;
mod import;
pub mod output;
mod router;
mod script;
mod serve;
mod subnet;
mod tenant;
mod token;
mod webhook;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, Overrides};
use crate::provision::Provisioner;
use crate::store::Store;
use crate::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "tikwire",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TIKWIRE_GIT_COMMIT"), ")"),
    about = "Bring remote MikroTik routers under management over WireGuard",
    long_about = "Bring remote MikroTik routers under management over WireGuard.\n\n\
                  Without a subcommand tikwire opens the console. Without DATABASE_URL it starts \
                  (or reuses) a private PostgreSQL cluster under the data directory."
)]
pub struct Cli {
    /// PostgreSQL server to use instead of the private cluster.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Data directory (private cluster, master key); default: the XDG data dir, /var/lib/tikwire as root.
    #[arg(long, env = "TIKWIRE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Config file (default: $XDG_CONFIG_HOME/tikwire/config.toml).
    #[arg(long, env = "TIKWIRE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Console colour theme: default, light, high-contrast, or a theme file name.
    #[arg(long, env = "TIKWIRE_THEME", global = true)]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// WireGuard hubs that routers dial.
    #[command(subcommand)]
    Hub(HubCommand),
    /// Tenants, each with its own 10.X.0.0/16.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Routers: provision, list, show, remove, import.
    #[command(subcommand)]
    Router(RouterCommand),
    /// Print a router's script (it contains the router's private key).
    Script(ScriptArgs),
    /// Address usage.
    #[command(subcommand)]
    Subnet(SubnetCommand),
    /// Fill the database with sample data to try the console.
    Demo(DemoArgs),
    /// Apply peers to the hub's live interface and poll its status.
    Agent(AgentArgs),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Check the hub host: interface, firewall, sysctls, clock, database, agent, peers.
    Doctor(DoctorArgs),
    /// Print shell completions (bash, zsh, fish) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Write the man pages (tikwire.1 and one per subcommand) into DIR.
    #[command(hide = true)]
    Man { dir: PathBuf },
    /// Serve the HTTP API (the hotspot platform's VPN endpoints).
    Serve(ServeArgs),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Who did what: console, command line and API actions.
    Audit(AuditArgs),
    /// Routers' status changes, first handshakes and alerts across the fleet, newest last.
    Events(EventsArgs),
    /// Where alerts go: Standard Webhooks endpoints.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint and print its signing secret (whsec_...) once.
    Add {
        /// http:// or https:// URL the events are POSTed to.
        url: String,
        /// Name to refer to it by (default: the URL's host).
        #[arg(long)]
        name: Option<String>,
        /// Only this tenant's events (default: all tenants and the hub events).
        #[arg(long)]
        tenant: Option<String>,
        /// Only these event types, comma-separated (e.g. router.offline,router.online,hub.down).
        #[arg(long)]
        events: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List endpoints with their deliveries and last attempt (never the secret).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint and its pending deliveries.
    Rm { name: String },
    /// Send a signed test event now and report the answer.
    Test {
        /// The endpoint's name or URL.
        target: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Hub to check (default: the only hub).
    #[arg(long)]
    pub hub: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// TLS certificate chain (PEM); with --tls-key the server speaks HTTPS.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address other than loopback (tokens would cross the network in clear).
    #[arg(long)]
    pub insecure_listen: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Add {
        name: String,
        /// The tenant the token acts on.
        #[arg(long, requires = "role", conflicts_with = "system")]
        tenant: Option<String>,
        /// admin: list, show, create, delete, download; user: list and show.
        #[arg(long, value_enum, requires = "tenant")]
        role: Option<TokenRoleArg>,
        /// A system admin token: every tenant, every action.
        #[arg(long)]
        system: bool,
        /// Lifetime, e.g. 90d, 24h (default: no expiry).
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once.
    Rm { name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRoleArg {
    Admin,
    User,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only events this recent, e.g. 1h, 7d (default 1h).
    #[arg(long)]
    pub since: Option<String>,
    /// Keep printing events as they happen (with --json: one JSON object per line).
    #[arg(long)]
    pub follow: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only entries this recent, e.g. 24h, 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Add a hub and generate its keypair.
    Add {
        name: String,
        /// Where routers reach the hub: HOST:PORT.
        #[arg(long)]
        endpoint: String,
        /// The hub's WireGuard interface.
        #[arg(long, default_value = crate::model::DEFAULT_HUB_INTERFACE)]
        interface: String,
        /// UDP port the hub listens on.
        #[arg(long, default_value_t = crate::model::DEFAULT_LISTEN_PORT.to_string())]
        listen_port: String,
        /// How many routers its tenants may have together.
        #[arg(long, default_value_t = crate::model::DEFAULT_MAX_PEERS.to_string())]
        max_peers: String,
        /// Its IPv4 address on the management network (default: the endpoint's, when an IPv4
        /// address; a DNS name is not resolved).
        #[arg(long)]
        mgmt_address: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Change a hub's capacity or management address.
    Set {
        name: String,
        #[arg(long)]
        max_peers: Option<String>,
        #[arg(long)]
        mgmt_address: Option<String>,
    },
    /// Print the management network's routes: each tenant's /16 via its hub.
    Routes {
        #[arg(long, value_enum, default_value_t = RoutesFormat::Ip)]
        format: RoutesFormat,
    },
    /// List hubs with their load, capacity and agent heartbeat.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one hub.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Print the hub interface's config with all its peers (contains the hub's private key).
    Config {
        name: String,
        #[arg(long, value_enum, default_value_t = HubConfigFormat::WgQuick)]
        format: HubConfigFormat,
    },
    /// Print the nftables ruleset that isolates tenants.
    Firewall {
        name: String,
        /// Let routers of the same tenant reach each other (default: management only).
        #[arg(long)]
        allow_same_tenant: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoutesFormat {
    /// `ip route replace` commands.
    Ip,
    /// FRR staticd configuration.
    Frr,
    /// A BIRD 2 static protocol.
    Bird,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HubConfigFormat {
    /// wg-quick file with addresses (IFACE.conf).
    WgQuick,
    /// What `wg setconf`/`wg syncconf` take.
    Setconf,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Add a tenant; it gets the lowest free 10.X.0.0/16 and a home hub.
    Add {
        name: String,
        /// Its home hub, where its routers live (default: the hub with the most room).
        #[arg(long)]
        hub: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a tenant with all its routers and release its subnet.
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum RouterCommand {
    /// Provision a router: address, keys, configuration.
    Add {
        name: String,
        #[arg(long)]
        tenant: String,
        /// The tenant's home hub, if given (routers live on their tenant's home hub).
        #[arg(long)]
        hub: Option<String>,
        /// Name of the WireGuard interface on the router.
        #[arg(long, default_value = crate::model::DEFAULT_ROUTER_INTERFACE)]
        interface_name: String,
        /// Persistent keepalive in seconds (the router is behind NAT).
        #[arg(long, default_value_t = crate::model::DEFAULT_KEEPALIVE.to_string())]
        keepalive: String,
        #[arg(long)]
        json: bool,
    },
    /// List routers.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        hub: Option<String>,
        /// Only routers whose keys are older than `[rotation] max_age_days` with no rotation staged.
        #[arg(long)]
        due_rotation: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one router (never its keys).
    Show {
        name: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a router and release its address.
    Rm {
        name: String,
        #[arg(long)]
        tenant: String,
    },
    /// Disable a router: the hub drops its peer, its address stays reserved.
    Disable {
        name: String,
        #[arg(long)]
        tenant: String,
    },
    /// Enable a disabled router again.
    Enable {
        name: String,
        #[arg(long)]
        tenant: String,
    },
    /// Why a router is not online or not manageable: its peer, handshake, ping and services.
    Diagnose {
        name: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// A router's traffic (5-minute buckets up to 2 days, hourly beyond), status transitions
    /// and NAT endpoints over a span.
    History {
        name: String,
        #[arg(long)]
        tenant: String,
        /// How far back, e.g. 24h, 7d, 30d.
        #[arg(long, default_value = history::HISTORY_SINCE)]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Stage a key rotation: new keys beside the current ones; the router's script carries
    /// them and the hub's agent cuts over on their first handshake.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["name", "all", "due"])))]
    Rotate {
        /// Router name (or --all / --due for many in one transaction).
        name: Option<String>,
        #[arg(long)]
        tenant: String,
        /// Drop the router's staged rotation (its current keys stay).
        #[arg(long, requires = "name", conflicts_with_all = ["all", "due"])]
        abort: bool,
        /// Every router of the tenant.
        #[arg(long)]
        all: bool,
        /// Routers whose keys are older than `[rotation] max_age_days`.
        #[arg(long)]
        due: bool,
        #[arg(long)]
        json: bool,
    },
    /// Provision every router in a CSV file (name[,interface_name[,keepalive]]): all or nothing.
    Import {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        hub: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// Router name.
    pub name: String,
    #[arg(long)]
    pub tenant: String,
    #[arg(long, value_enum)]
    pub format: ScriptFormat,
    /// Print the script that removes what the provisioning script added.
    #[arg(long)]
    pub undo: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptFormat {
    /// RouterOS v7 script to paste into a Winbox or SSH terminal.
    Routeros,
    /// wg-quick config for a Linux or mobile client.
    WgQuick,
}

#[derive(Debug, Subcommand)]
pub enum SubnetCommand {
    /// Per-tenant address usage.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Tenants to create.
    #[arg(long, default_value_t = 6)]
    pub tenants: u32,
    /// Routers per tenant (on average).
    #[arg(long, default_value_t = 120)]
    pub routers: u32,
    /// Instead: a sample fleet of this many routers for benchmarks, written in bulk by SQL
    /// (tenants sample-001, sample-002, ... of 65,278 routers each; keys not usable).
    #[arg(long, value_name = "ROUTERS", conflicts_with_all = ["tenants", "routers"])]
    pub scale: Option<u64>,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[arg(long)]
    pub hub: String,
    /// Seconds between polls (default from config: 5).
    #[arg(long)]
    pub interval: Option<u64>,
    /// One reconcile and one poll, then exit.
    #[arg(long)]
    pub once: bool,
    /// Leave peers the database does not know on the interface (they are still reported).
    #[arg(long)]
    pub keep_unknown_peers: bool,
    /// Serve Prometheus metrics on ADDR at /metrics (e.g. 127.0.0.1:9586).
    #[arg(long, value_name = "ADDR", conflicts_with = "once")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Also export every router's traffic and last handshake (one series per router each).
    #[arg(long, requires = "metrics_listen")]
    pub metrics_per_router: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Bring the schema up to date.
    Migrate,
    /// Where the database is and whether it answers.
    Status,
    /// Stop the private PostgreSQL cluster (it starts again on the next command).
    Stop,
}

/// What every command runs with: the settled configuration, and the database on demand.
pub struct Context {
    pub config: Config,
    /// Resolved once: a command that needs both a store and the URL starts no cluster twice.
    url: tokio::sync::OnceCell<String>,
}

impl Context {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            url: tokio::sync::OnceCell::new(),
        }
    }

    /// The database URL: the configured one, or the private cluster's (started if needed).
    pub async fn database_url(&self) -> Result<String> {
        let url = self
            .url
            .get_or_try_init(|| async {
                if let Some(url) = &self.config.database_url {
                    return Ok(url.clone());
                }
                let data_dir = self.config.data_dir.clone();
                let cluster = tokio::task::spawn_blocking(move || {
                    crate::embedded_pg::ensure_running(&data_dir)
                })
                .await
                .map_err(|e| Error::Other(format!("starting PostgreSQL: {e}")))??;
                Ok::<_, Error>(cluster.url())
            })
            .await?;
        Ok(url.clone())
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Result<Store> {
        Store::connect(&self.database_url().await?).await
    }

    /// Connects, migrates and loads the master key.
    pub async fn provisioner(&self) -> Result<Provisioner> {
        Provisioner::open(self.store().await?, &self.config).await
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli, log_to_stderr: bool) -> Result<()> {
    // Generated from the argument definitions alone: no config, no log file, no database.
    match &cli.command {
        Some(Command::Completions { shell }) => return completions::completions(*shell),
        Some(Command::Man { dir }) => return completions::man_pages(dir),
        _ => {}
    }
    let config = Config::load(Overrides {
        config_file: cli.config,
        database_url: cli.database_url,
        data_dir: cli.data_dir,
        theme: cli.theme,
    })?;
    let _log_guard = crate::logging::init(&config.log_dir, log_to_stderr);
    let ctx = Context::new(config);
    match cli.command {
        None => {
            use std::io::IsTerminal as _;
            if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
                return Err(Error::Other(
                    "the console needs a terminal on stdin and stdout; for scripts use a subcommand (tikwire --help)".into(),
                ));
            }
            let provisioner = ctx.provisioner().await?;
            let url = ctx.database_url().await?;
            crate::tui::run(ctx.config, provisioner, url).await
        }
        Some(Command::Hub(cmd)) => hub::run(&ctx, cmd).await,
        Some(Command::Tenant(cmd)) => tenant::run(&ctx, cmd).await,
        Some(Command::Router(cmd)) => router::run(&ctx, cmd).await,
        Some(Command::Script(args)) => script::run(&ctx, args).await,
        Some(Command::Subnet(cmd)) => subnet::run(&ctx, cmd).await,
        Some(Command::Demo(args)) => demo::run(&ctx, args).await,
        Some(Command::Agent(args)) => agent::run(&ctx, args).await,
        Some(Command::Db(cmd)) => db::run(&ctx, cmd).await,
        Some(Command::Doctor(args)) => doctor::run(&ctx, args).await,
        Some(Command::Completions { .. } | Command::Man { .. }) => Ok(()),
        Some(Command::Serve(args)) => serve::run(&ctx, args).await,
        Some(Command::Token(cmd)) => token::run(&ctx, cmd).await,
        Some(Command::Audit(args)) => audit::run(&ctx, args).await,
        Some(Command::Events(args)) => history::events(&ctx, args).await,
        Some(Command::Webhook(cmd)) => webhook::run(&ctx, cmd).await,
    }
}
