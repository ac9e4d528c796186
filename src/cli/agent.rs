//! `tikwire agent --hub NAME [--interval SECS] [--once]`: apply the database's peers to the
//! hub's live interface and store what `wg show` reports. Runs as root (CAP_NET_ADMIN).

use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{AgentArgs, Context};
use crate::alerts::delivery::DeliveryWorker;
use crate::alerts::hook::HookCommand;
use crate::alerts::monitor::AlertSetup;
use crate::metrics::{self, AgentMetrics};
use crate::model::InvalidInput;
use crate::provision::Provisioner;
use crate::wg::agent::{Agent, AgentConfig};
use crate::wg::apply::Tools;
use crate::wg::plan::ReconcileOptions;
use crate::wg::status::Thresholds;
use crate::{Error, Result};

pub async fn run(ctx: &Context, args: AgentArgs) -> Result<()> {
    let interval_secs = args.interval.unwrap_or(ctx.config.poll.interval_secs);
    if !(1..=3600).contains(&interval_secs) {
        return Err(InvalidInput(format!(
            "--interval {interval_secs} is not a number of seconds from 1 to 3600"
        ))
        .into());
    }
    let config = AgentConfig {
        hub: args.hub,
        interval: Duration::from_secs(interval_secs),
        thresholds: Thresholds::try_from(&ctx.config.status)?,
        tools: Tools {
            wg: ctx.config.poll.wg_command.clone(),
            ip: PathBuf::from("ip"),
        },
        options: ReconcileOptions {
            remove_unknown: !args.keep_unknown_peers,
        },
        retention: ctx.config.history.retention(),
        alerts: None,
    };
    let hook = hook_command(ctx);
    let wake = Arc::new(Notify::new());
    let config = AgentConfig {
        alerts: ctx
            .config
            .alerts
            .enabled
            .then(|| {
                Ok::<_, Error>(AlertSetup {
                    rules: ctx.config.alerts.rules()?,
                    hook: hook.clone(),
                    wake: wake.clone(),
                })
            })
            .transpose()?,
        ..config
    };
    if args.once {
        let provisioner = ctx.provisioner().await?;
        let mut agent = Agent::new(provisioner.clone(), ctx.database_url().await?, config);
        agent.run_once().await?;
        // What this poll queued goes out now, once; failures stay queued for the next run.
        let worker = DeliveryWorker::new(provisioner, wake, hook)?;
        worker.watch_hubs().await?;
        worker.deliver_due().await?;
        return Ok(());
    }
    let cancel = CancellationToken::new();
    // Listening before the database is there: a scrape then shows an agent that is up and
    // not polling, which is what the operator needs to know.
    let metrics = match args.metrics_listen {
        Some(addr) => {
            let listener = metrics::server::bind(addr).await?;
            let recorder = AgentMetrics::new(&config.hub, config.interval, args.metrics_per_router);
            tokio::spawn(serve_metrics(listener, recorder.clone(), cancel.clone()));
            tracing::info!(%addr, per_router = args.metrics_per_router, "serving /metrics");
            Some(recorder)
        }
        None => None,
    };
    tokio::spawn(cancel_on_signal(cancel.clone()));
    let Some((provisioner, url)) = connect(ctx, config.interval, &cancel).await else {
        return Ok(());
    };
    tracing::info!(hub = %config.hub, interval_secs, "agent started");
    // Webhook delivery and the watchdog of every hub's agent run beside the polling.
    let worker = DeliveryWorker::new(provisioner.clone(), wake, hook)?;
    let delivering = tokio::spawn(worker.run(cancel.clone()));
    let agent = Agent::new(provisioner, url, config);
    match metrics {
        Some(metrics) => agent.with_metrics(metrics).run(cancel).await,
        None => agent.run(cancel).await,
    }
    let _ = delivering.await;
    Ok(())
}

/// `[alerts] command`, if set.
pub(super) fn hook_command(ctx: &Context) -> Option<HookCommand> {
    let alerts = &ctx.config.alerts;
    alerts.command.clone().map(|program| HookCommand {
        program,
        timeout: Duration::from_secs(alerts.command_timeout_secs.max(1)),
    })
}

async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: AgentMetrics,
    cancel: CancellationToken,
) {
    if let Err(err) = metrics::server::serve(listener, metrics, cancel).await {
        tracing::warn!("{err}; /metrics is no longer served");
    }
}

/// Connects, waiting for the database if it is not there yet; `None` when cancelled first.
async fn connect(
    ctx: &Context,
    retry: Duration,
    cancel: &CancellationToken,
) -> Option<(Provisioner, String)> {
    let mut logged = None;
    loop {
        let attempt =
            async { Ok::<_, Error>((ctx.provisioner().await?, ctx.database_url().await?)) };
        match attempt.await {
            Ok(connected) => return Some(connected),
            Err(err) => {
                let message = err.to_string();
                if logged.as_ref() != Some(&message) {
                    tracing::warn!("{message} (retrying)");
                    logged = Some(message);
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::sleep(retry) => {}
        }
    }
}

/// SIGTERM (systemd stop) or Ctrl-C ends the agent cleanly.
async fn cancel_on_signal(cancel: CancellationToken) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    cancel.cancel();
}
