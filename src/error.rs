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
        // Only the first line: server messages may carry a DETAIL block.
        let text = err.to_string();
        let line = text.lines().next().unwrap_or("unknown error").to_owned();
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Error::Database(format!("cannot reach the database ({line})"))
            }
            _ => Error::Database(line),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Error::Database(format!("migration failed: {err}"))
    }
}
