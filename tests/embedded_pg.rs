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
