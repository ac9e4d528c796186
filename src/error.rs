//! The library's error type. Every message is one line an operator can act on, and none
//! ever carries a key.

use crate::model::InvalidInput;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the operator can correct.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Arguments that do not go together (exit status 2, like other usage errors).
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A pool (tenant subnets, router addresses) has nothing left.
    #[error("{0}")]
    Exhausted(String),
    /// Sealing, unsealing or master key problems.
    #[error("{0}")]
    Vault(String),
    /// The database cannot be reached or refused a statement.
    #[error("database: {0}")]
    Database(String),
    /// The private PostgreSQL cluster could not be set up or started.
    #[error("embedded PostgreSQL: {0}")]
    EmbeddedPg(String),
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit status: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // The server's own message, without sqlx's "at line N" (a line of PostgreSQL's C
            // source, meaningless to an operator).
            sqlx::Error::Database(db) => Error::Database(first_line(db.message()).to_owned()),
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Error::Database(format!(
                    "cannot reach the database ({})",
                    first_line(&err.to_string())
                ))
            }
            // Only the first line: messages may carry a DETAIL block.
            _ => Error::Database(first_line(&err.to_string()).to_owned()),
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("unknown error")
}

/// Why a first connection failed, in an operator's words: connection refused, no such host,
/// authentication failed... `server` names the server without its password.
pub fn connect_failure(err: &sqlx::Error, server: &str) -> Error {
    use std::io::ErrorKind;
    let why = match err {
        sqlx::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => {
                format!(
                    "connection refused by {server} (is PostgreSQL running and listening there?)"
                )
            }
            ErrorKind::NotFound => format!("no PostgreSQL socket at {server}"),
            ErrorKind::PermissionDenied => format!("permission denied opening {server}"),
            ErrorKind::TimedOut => format!("{server} did not answer (timed out)"),
            _ if is_unknown_host(io) => format!("no such host: {server}"),
            _ => format!("{server}: {}", first_line(&io.to_string())),
        },
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => format!(
                "authentication failed at {server}: {}",
                first_line(db.message())
            ),
            _ => format!("{server}: {}", first_line(db.message())),
        },
        sqlx::Error::PoolTimedOut => format!("{server} did not answer in time"),
        sqlx::Error::Tls(tls) => {
            format!("TLS with {server} failed: {}", first_line(&tls.to_string()))
        }
        other => format!("{server}: {}", first_line(&other.to_string())),
    };
    Error::Database(format!("cannot connect to the database: {why}"))
}

/// Name resolution failures come back from the resolver as "other" I/O errors.
fn is_unknown_host(io: &std::io::Error) -> bool {
    let text = io.to_string().to_ascii_lowercase();
    [
        "failed to lookup address",
        "name or service not known",
        "no address associated",
        "nodename nor servname",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Error::Database(format!("migration failed: {err}"))
    }
}
