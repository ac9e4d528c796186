//! The private PostgreSQL cluster (src/embedded_pg.rs) and the test-database harness
//! (tests/common), against the real server binaries.

mod common;

use sqlx::Row;

#[tokio::test]
async fn test_dbs_are_isolated_and_migrated() {
    let a = common::test_db().await;
    let b = common::test_db().await;
    assert_ne!(a.name, b.name);

    for db in [&a, &b] {
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = 'public' AND table_name IN ('tenants', 'hubs', 'routers')",
        )
        .fetch_one(&db.pool)
        .await
        .expect("count tables");
        assert_eq!(tables, 3, "schema migrated in {}", db.name);
        let current: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&db.pool)
            .await
            .expect("db");
        assert_eq!(current, db.name);
    }

    sqlx::query("INSERT INTO tenants (name) VALUES ('acme')")
        .execute(&a.pool)
        .await
        .expect("insert");
    let in_a: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&a.pool)
        .await
        .expect("a");
    let in_b: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&b.pool)
        .await
        .expect("b");
    assert_eq!((in_a, in_b), (1, 0));
}

/// Tests run in parallel: many databases copied from the one template at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_test_dbs_can_be_created_at_once() {
    let handles: Vec<_> = (0..12).map(|_| tokio::spawn(common::test_db())).collect();
    let mut names = Vec::new();
    for handle in handles {
        let db = handle.await.expect("test_db");
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&db.pool)
            .await
            .expect("select");
        assert_eq!(one, 1);
        names.push(db.name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 12);
}

#[tokio::test]
async fn test_db_url_reaches_the_same_database() {
    let db = common::test_db().await;
    assert_eq!(db.url, common::server_url_for(&db.name));
    let pool = sqlx::PgPool::connect(&db.url)
        .await
        .expect("connect by url");
    let row = sqlx::query("SELECT current_database() AS name")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert_eq!(row.get::<String, _>("name"), db.name);
}

// ---------------------------------------------------------------------------------------------
// The app's private cluster

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection};
use tikwire::embedded_pg::{self, EmbeddedPostgres, PgBinaries, ServerUser};

/// A data directory under /tmp (reachable by the `postgres` user when we are root); stops its
/// cluster and removes itself when dropped, also when a test fails.
struct DataDir {
    /// A directory of our own (0711) holding the data directory.
    base: PathBuf,
    path: PathBuf,
}

impl DataDir {
    fn new() -> Self {
        Self::with_name("data")
    }

    fn with_name(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = PathBuf::from(format!(
            "/tmp/tikwire-pgtest-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::DirBuilder::new()
            .mode(0o711)
            .create(&base)
            .expect("create test dir");
        let path = base.join(name);
        Self { base, path }
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let socket_dir = embedded_pg::status(&self.path)
            .ok()
            .flatten()
            .map(|s| s.socket_dir);
        let _ = embedded_pg::stop(&self.path);
        if let Some(dir) = socket_dir.filter(|d| !d.starts_with(&self.base)) {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

async fn select_one(pg: &EmbeddedPostgres) -> (i32, String, String) {
    let mut conn = PgConnection::connect(&pg.url())
        .await
        .expect("connect over the socket");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect("select 1");
    let row = sqlx::query("SELECT current_user::text AS u, current_database()::text AS d")
        .fetch_one(&mut conn)
        .await
        .expect("who");
    let _ = conn.close().await;
    (one, row.get("u"), row.get("d"))
}

fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("thread")
}

#[tokio::test]
async fn ensure_running_creates_reuses_and_stops_the_cluster() {
    let dir = DataDir::new();
    let data = dir.path.clone();
    assert_eq!(embedded_pg::status(&data).expect("status"), None);

    let pg = blocking({
        let data = data.clone();
        move || embedded_pg::ensure_running(&data)
    })
    .expect("first start");
    assert_eq!(
        select_one(&pg).await,
        (1, "tikwire".into(), "tikwire".into())
    );
    assert_eq!(pg.socket_dir(), data.join("pg/run"));
    assert_eq!(pg.cluster_dir(), data.join("pg"));

    // Private: the socket directory and the cluster directory are closed to everyone else,
    // and the server opens no TCP port.
    let server_user = ServerUser::for_this_process().expect("user");
    for private in [pg.socket_dir(), pg.cluster_dir()] {
        let meta = std::fs::metadata(private).expect("stat");
        assert_eq!(
            meta.permissions().mode() & 0o077,
            0,
            "{}",
            private.display()
        );
        assert_eq!(meta.uid(), server_user.uid, "{}", private.display());
    }
    let mut conn = PgConnection::connect(&pg.url()).await.expect("connect");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .expect("show");
    assert_eq!(listen, "");
    let _ = conn.close().await;

    // Reused, not restarted.
    let again = embedded_pg::ensure_running(&data).expect("second start");
    assert_eq!(again.pid(), pg.pid());
    let status = embedded_pg::status(&data)
        .expect("status")
        .expect("a cluster");
    assert_eq!(status.pid, Some(pg.pid()));
    assert_eq!(status.url, pg.url());

    assert!(embedded_pg::stop(&data).expect("stop"));
    assert!(
        PgConnection::connect(&pg.url()).await.is_err(),
        "stopped server still answers"
    );
    assert!(
        !pg.socket_dir().exists(),
        "stop removes the socket directory it made"
    );
    let status = embedded_pg::status(&data)
        .expect("status")
        .expect("still a cluster");
    assert_eq!(status.pid, None);
    assert!(
        !embedded_pg::stop(&data).expect("second stop"),
        "nothing left to stop"
    );

    // Restart of the existing cluster: the data survives.
    let restarted = embedded_pg::ensure_running(&data).expect("restart");
    assert_ne!(restarted.pid(), pg.pid());
    assert_eq!(select_one(&restarted).await.0, 1);
}

#[test]
fn concurrent_starts_share_one_cluster() {
    let dir = DataDir::new();
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let data = dir.path.clone();
            std::thread::spawn(move || embedded_pg::ensure_running(&data))
        })
        .collect();
    let pids: Vec<u32> = starts
        .into_iter()
        .map(|t| t.join().expect("thread").expect("ensure_running").pid())
        .collect();
    assert!(
        pids.iter().all(|&p| p == pids[0]),
        "one server for all: {pids:?}"
    );
    let status = embedded_pg::status(&dir.path)
        .expect("status")
        .expect("cluster");
    assert_eq!(status.pid, Some(pids[0]));
}

#[tokio::test]
async fn a_data_dir_too_long_for_a_socket_path_still_works() {
    let dir = DataDir::with_name(&"long-data-dir-".repeat(8));
    assert!(dir.path.join("pg/run/.s.PGSQL.5432").as_os_str().len() > 107);
    let data = dir.path.clone();
    let pg = blocking(move || embedded_pg::ensure_running(&data)).expect("start");
    assert!(
        pg.socket_dir()
            .to_string_lossy()
            .starts_with("/tmp/tikwire-"),
        "{}",
        pg.socket_dir().display()
    );
    assert!(!pg.socket_dir().starts_with(&dir.base));
    let meta = std::fs::metadata(pg.socket_dir()).expect("socket dir");
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let recorded = std::fs::read_to_string(dir.path.join("pg/socket-dir")).expect("recorded");
    assert_eq!(recorded.trim(), pg.socket_dir().to_str().expect("utf-8"));
    assert_eq!(select_one(&pg).await.0, 1);
}

#[test]
fn missing_server_binaries_give_one_clear_error_and_change_nothing() {
    let empty = DataDir::with_name("bin");
    std::fs::create_dir(&empty.path).expect("empty bin dir");
    let nowhere = Path::new("/nonexistent/postgresql");
    let err = PgBinaries::find_in(Some(empty.path.as_os_str()), nowhere).expect_err("no binaries");
    assert_eq!(
        err.to_string(),
        "embedded PostgreSQL: no PostgreSQL server binaries found (looked on PATH and in \
         /nonexistent/postgresql/*/bin): install them (Debian: apt-get install postgresql) or \
         set DATABASE_URL"
    );

    let dir = DataDir::new();
    let err = embedded_pg::ensure_running_with(&dir.path, || {
        PgBinaries::find_in(Some(empty.path.as_os_str()), nowhere)
    })
    .expect_err("cannot start without binaries");
    assert!(
        err.to_string()
            .contains("no PostgreSQL server binaries found"),
        "{err}"
    );
    assert!(!err.to_string().contains('\n'));
    assert!(!dir.path.exists(), "nothing created");
}

#[test]
fn binaries_come_from_path_first_then_the_newest_versioned_dir() {
    let root = DataDir::with_name("postgresql");
    let fake_bin = |dir: &Path| {
        std::fs::create_dir_all(dir).expect("mkdir");
        for name in ["postgres", "initdb"] {
            let file = dir.join(name);
            std::fs::write(&file, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    };
    for version in ["9.6", "13", "16"] {
        fake_bin(&root.path.join(version).join("bin"));
    }
    // A directory with only one of the two programs does not count.
    let half = root.base.join("half");
    std::fs::create_dir_all(&half).expect("mkdir");
    std::fs::write(half.join("postgres"), "").expect("write");

    let found = PgBinaries::find_in(Some(half.as_os_str()), &root.path).expect("versioned");
    assert_eq!(found.postgres, root.path.join("16/bin/postgres"));
    assert_eq!(found.initdb, root.path.join("16/bin/initdb"));

    let on_path = root.base.join("onpath");
    fake_bin(&on_path);
    let path_var = std::env::join_paths([half.clone(), on_path.clone()]).expect("PATH");
    let found = PgBinaries::find_in(Some(&path_var), &root.path).expect("on PATH");
    assert_eq!(found.postgres, on_path.join("postgres"));
}

#[tokio::test]
async fn a_server_that_fails_to_start_is_reported_in_one_line_with_its_log() {
    let dir = DataDir::new();
    let data = dir.path.clone();
    blocking(move || embedded_pg::ensure_running(&data)).expect("start");
    assert!(embedded_pg::stop(&dir.path).expect("stop"));

    let conf = dir.path.join("pg/data/postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).expect("conf");
    text.push_str("shared_buffers = 'plenty'\n");
    std::fs::write(&conf, text).expect("conf");

    let err = embedded_pg::ensure_running(&dir.path).expect_err("bad config");
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(
        message.starts_with("embedded PostgreSQL: the server exited"),
        "{message}"
    );
    assert!(message.contains("server.log"), "{message}");
    assert!(
        message.contains("shared_buffers"),
        "log tail included: {message}"
    );
}

#[tokio::test]
async fn a_stale_pid_file_from_another_process_does_not_block_the_start() {
    let dir = DataDir::new();
    let data = dir.path.clone();
    blocking(move || embedded_pg::ensure_running(&data)).expect("start");
    assert!(embedded_pg::stop(&dir.path).expect("stop"));

    // As after a reboot: the recorded pid now belongs to some other live process (this one).
    let pid_file = dir.path.join("pg/data/postmaster.pid");
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", std::process::id(), dir.path.display()),
    )
    .expect("write pid file");
    let data = dir.path.clone();
    let pg =
        blocking(move || embedded_pg::ensure_running(&data)).expect("start over a stale pid file");
    assert_ne!(pg.pid(), std::process::id());
    assert_eq!(select_one(&pg).await.0, 1);
}

#[test]
fn a_data_dir_the_postgres_user_cannot_reach_is_refused_clearly() {
    if ServerUser::for_this_process().expect("user").uid == unsafe { libc::geteuid() } {
        eprintln!("skipped: only meaningful as root (the server runs as `postgres`)");
        return;
    }
    let dir = DataDir::new();
    let closed = dir.base.join("closed");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&closed)
        .expect("mkdir");
    let data = closed.join("data");
    let err = embedded_pg::ensure_running(&data).expect_err("unreachable");
    let message = err.to_string();
    assert!(message.contains("cannot reach"), "{message}");
    assert!(message.contains(&closed.display().to_string()), "{message}");
    assert!(message.contains("--data-dir /var/lib/tikwire"), "{message}");
    assert!(!data.join("pg").exists(), "no cluster created");
}

#[tokio::test]
async fn a_socket_lock_left_by_a_killed_server_does_not_block_the_start() {
    let dir = DataDir::new();
    let data = dir.path.clone();
    let pg = blocking(move || embedded_pg::ensure_running(&data)).expect("start");
    let socket_dir = pg.socket_dir().to_owned();
    assert!(embedded_pg::stop(&dir.path).expect("stop"));

    // As after a SIGKILL whose pid now belongs to another live process (this one): the
    // socket directory still holds the dead server's lock file, and PostgreSQL alone refuses
    // to start ("lock file ... already exists").
    let user = ServerUser::for_this_process().expect("user");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&socket_dir)
        .expect("socket dir");
    std::os::unix::fs::chown(&socket_dir, Some(user.uid), Some(user.gid)).expect("chown");
    let lock = socket_dir.join(".s.PGSQL.5432.lock");
    std::fs::write(
        &lock,
        format!(
            "{}\n{}\n",
            std::process::id(),
            dir.path.join("pg/data").display()
        ),
    )
    .expect("write lock");
    std::os::unix::fs::chown(&lock, Some(user.uid), Some(user.gid)).expect("chown");

    let data = dir.path.clone();
    let pg = blocking(move || embedded_pg::ensure_running(&data))
        .expect("start over a stale socket lock");
    assert_eq!(select_one(&pg).await.0, 1);
}

#[test]
fn a_data_dir_owned_by_another_user_is_refused() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to give a directory away");
        return;
    }
    let dir = DataDir::new();
    std::fs::DirBuilder::new()
        .mode(0o711)
        .create(&dir.path)
        .expect("mkdir");
    std::os::unix::fs::chown(&dir.path, Some(65534), Some(65534)).expect("chown");
    let err = embedded_pg::ensure_running(&dir.path).expect_err("someone else's data dir");
    let message = err.to_string();
    assert!(message.contains("belongs to another user"), "{message}");
    assert!(!dir.path.join("pg").exists(), "no cluster created");
}
