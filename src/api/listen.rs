//! Listening: plain HTTP on loopback, TLS (rustls, ring) when given a certificate, graceful
//! shutdown on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// How long open requests (and event streams) get to finish after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub addr: SocketAddr,
    /// Certificate chain and private key, PEM.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow plain HTTP on an address other than loopback.
    pub insecure_listen: bool,
}

impl ListenOptions {
    /// Plain HTTP beyond loopback would carry bearer tokens and scripts with keys in clear.
    pub fn check(&self) -> Result<()> {
        if self.tls.is_none() && !self.addr.ip().is_loopback() && !self.insecure_listen {
            return Err(Error::Usage(format!(
                "refusing plain HTTP on {}: tokens and scripts would cross the network unencrypted; \
                 give --tls-cert and --tls-key, listen on 127.0.0.1 behind a TLS proxy, or pass --insecure-listen",
                self.addr
            )));
        }
        Ok(())
    }
}

/// Serves until SIGTERM or Ctrl-C, then lets open requests finish.
pub async fn serve(app: axum::Router, options: &ListenOptions) -> Result<()> {
    options.check()?;
    let make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: letting open requests finish");
        stopper.graceful_shutdown(Some(SHUTDOWN_GRACE));
    });
    match &options.tls {
        Some((cert, key)) => {
            let config = tls_config(cert, key).await?;
            tracing::info!("listening on https://{}", options.addr);
            axum_server::bind_rustls(options.addr, config)
                .handle(handle)
                .serve(make_service)
                .await
        }
        None => {
            tracing::info!("listening on http://{}", options.addr);
            axum_server::bind(options.addr)
                .handle(handle)
                .serve(make_service)
                .await
        }
    }
    .map_err(|err| Error::io(format!("serving on {}", options.addr), err))
}

async fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<axum_server::tls_rustls::RustlsConfig> {
    // One provider for the process: ring, the one already in the dependency tree.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|err| {
            Error::Config(format!(
                "cannot load the TLS certificate {} and key {}: {err}",
                cert.display(),
                key.display()
            ))
        })
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
