//! PostgreSQL: the pool, migrations, and the queries the rest of tikwire uses.

/// The SQL migrations in `migrations/`, embedded into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
