//! Key rotation against a real PostgreSQL: staged keys sealed to their row and column, the
//! script material and the hub's peers while staged, abort, `--all` / `--due`, and the
//! cut-over as one transaction.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::PgPool;
use tikwire::Error;
use tikwire::keys::{PrivateKey, PublicKey};
use tikwire::model::{RotationState, RouterName, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};
use tikwire::store::rotation::RotationScope;

async fn fleet(pool: &PgPool, routers: &[&str]) -> Provisioner {
    let p = common::provisioner(pool);
    common::add_hub(&p, "wg0").await;
    p.add_tenant(&TenantName::parse("acme").unwrap())
        .await
        .unwrap();
    for name in routers {
        p.add_router(&NewRouter {
            tenant: TenantName::parse("acme").unwrap(),
            hub: None,
            spec: RouterSpec::named(RouterName::parse(name).unwrap()),
        })
        .await
        .unwrap();
    }
    p
}

/// The public key of a base64 private key, as a router would derive it.
fn public_of(private_base64: &str) -> PublicKey {
    let bytes: [u8; 32] = STANDARD.decode(private_base64).unwrap().try_into().unwrap();
    PrivateKey::from_bytes(bytes).public_key()
}

async fn sealed(pool: &PgPool, router_id: i64, column: &str) -> Option<Vec<u8>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {column} FROM vpn_configurations WHERE router_id = $1"
    )))
    .bind(router_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn audit_actions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'router.rotate%' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn staging_seals_new_keys_and_leaves_the_current_ones() {
    let db = common::test_db().await;
    let p = fleet(&db.pool, &["r1", "r2"]).await;
    let before = p.store().router("acme", "r1").await.unwrap();
    let private_before = sealed(&db.pool, before.id, "client_private_key_sealed").await;
    assert_eq!(before.rotation_state, RotationState::None);
    assert_eq!(before.pending_public_key, None);

    let (after, report) = p.stage_rotation("acme", "r1").await.unwrap();
    assert_eq!((report.staged, report.already_staged), (1, 0));
    assert_eq!(after.rotation_state, RotationState::Staged);
    assert!(after.rotation_staged_at.is_some());
    let pending = after.pending_public_key.expect("a staged key");
    assert_ne!(pending, before.public_key);
    // The current keys are untouched: same public key, same sealed bytes.
    assert_eq!(after.public_key, before.public_key);
    assert_eq!(
        sealed(&db.pool, before.id, "client_private_key_sealed").await,
        private_before
    );
    assert_eq!(after.keys_created_at, before.keys_created_at);

    // The script renders the staged keys; the hub has the staged key as a second peer with
    // the staged preshared key.
    let material = p.router_material("acme", "r1").await.unwrap();
    assert_eq!(public_of(&material.private_key), pending);
    let hub = p.hub_material("hub1").await.unwrap();
    let peer = hub.peers.iter().find(|h| h.router == "r1").unwrap();
    let staged = peer.staged.as_ref().expect("the staged peer");
    assert_eq!(staged.public_key, pending);
    assert_eq!(
        staged.preshared_key.as_str(),
        material.preshared_key.as_str()
    );
    assert_ne!(peer.preshared_key.as_str(), material.preshared_key.as_str());
    assert!(
        hub.peers
            .iter()
            .find(|h| h.router == "r2")
            .unwrap()
            .staged
            .is_none()
    );
    assert_eq!(audit_actions(&db.pool).await, ["router.rotate"]);
}

#[tokio::test]
async fn a_staged_value_moved_or_altered_does_not_open() {
    let db = common::test_db().await;
    let p = fleet(&db.pool, &["r1", "r2"]).await;
    p.stage_rotation("acme", "r1").await.unwrap();
    p.stage_rotation("acme", "r2").await.unwrap();
    let r1 = p.store().router("acme", "r1").await.unwrap().id;
    let r2 = p.store().router("acme", "r2").await.unwrap().id;

    // r1's staged private key copied onto r2's row: bound to r1, it fails on r2.
    sqlx::query(
        "UPDATE vpn_configurations SET pending_private_key_sealed =
             (SELECT pending_private_key_sealed FROM vpn_configurations WHERE router_id = $1)
         WHERE router_id = $2",
    )
    .bind(r1)
    .bind(r2)
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(matches!(
        p.router_material("acme", "r2").await,
        Err(Error::Vault(_))
    ));

    // A staged value passed off as the current one (same row, other column) fails too.
    sqlx::query(
        "UPDATE vpn_configurations SET client_private_key_sealed = pending_private_key_sealed,
             pending_public_key = NULL, pending_private_key_sealed = NULL,
             pending_preshared_key_sealed = NULL, rotation_staged_at = NULL
         WHERE router_id = $1",
    )
    .bind(r1)
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(matches!(
        p.router_material("acme", "r1").await,
        Err(Error::Vault(_))
    ));
}

#[tokio::test]
async fn a_tampered_staged_value_does_not_open() {
    let db = common::test_db().await;
    let p = fleet(&db.pool, &["r1"]).await;
    p.stage_rotation("acme", "r1").await.unwrap();
    sqlx::query(
        "UPDATE vpn_configurations SET pending_preshared_key_sealed =
             set_byte(pending_preshared_key_sealed, 20, get_byte(pending_preshared_key_sealed, 20) # 1)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(matches!(
        p.router_material("acme", "r1").await,
        Err(Error::Vault(_))
    ));
}

#[tokio::test]
async fn staging_twice_keeps_the_first_and_abort_wipes_it() {
    let db = common::test_db().await;
    let p = fleet(&db.pool, &["r1"]).await;
    let (first, _) = p.stage_rotation("acme", "r1").await.unwrap();
    let (again, report) = p.stage_rotation("acme", "r1").await.unwrap();
    assert_eq!((report.staged, report.already_staged), (0, 1));
    assert_eq!(again.pending_public_key, first.pending_public_key);

    let aborted = p.abort_rotation("acme", "r1").await.unwrap();
    assert_eq!(aborted.rotation_state, RotationState::None);
    assert_eq!(aborted.pending_public_key, None);
    assert_eq!(aborted.public_key, first.public_key);
    for column in ["pending_private_key_sealed", "pending_preshared_key_sealed"] {
        assert_eq!(sealed(&db.pool, first.id, column).await, None, "{column}");
    }
    // The router's own keys still open: its script is the one it had.
    let material = p.router_material("acme", "r1").await.unwrap();
    assert_eq!(public_of(&material.private_key), first.public_key);

    let err = p.abort_rotation("acme", "r1").await.unwrap_err();
    assert!(err.to_string().contains("no staged rotation"), "{err}");
    assert_eq!(
        audit_actions(&db.pool).await,
        ["router.rotate", "router.rotate.abort"]
    );
}

#[tokio::test]
async fn all_and_due_stage_many_in_one_go() {
    let db = common::test_db().await;
    let names = ["r1", "r2", "r3", "r4", "r5"];
    let p = fleet(&db.pool, &names).await;
    sqlx::query(
        "UPDATE vpn_configurations SET keys_created_at = now() - interval '100 days'
         WHERE router_id IN (SELECT id FROM routers WHERE name IN ('r2', 'r4'))",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let due = p
        .stage_rotations("acme", RotationScope::Due(chrono::Duration::days(90)))
        .await
        .unwrap();
    assert_eq!((due.staged, due.already_staged), (2, 0));
    let staged: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM routers r JOIN vpn_configurations c ON c.router_id = r.id
         WHERE c.pending_public_key IS NOT NULL ORDER BY r.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(staged, ["r2", "r4"]);

    let all = p.stage_rotations("acme", RotationScope::All).await.unwrap();
    assert_eq!((all.staged, all.already_staged), (3, 2));
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT pending_public_key) FROM vpn_configurations")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(distinct, 5);

    let unknown = p
        .stage_rotations("nobody", RotationScope::All)
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown}");
}

#[tokio::test]
async fn cut_over_makes_the_staged_keys_the_routers_keys() {
    let db = common::test_db().await;
    let p = fleet(&db.pool, &["r1", "r2"]).await;
    let (staged, _) = p.stage_rotation("acme", "r1").await.unwrap();
    p.stage_rotation("acme", "r2").await.unwrap();
    let old_private = sealed(&db.pool, staged.id, "client_private_key_sealed").await;
    let new_key = staged.pending_public_key.unwrap();
    let script_before = p.router_material("acme", "r1").await.unwrap();

    // A key nobody staged changes nothing.
    let stranger = PrivateKey::generate().public_key();
    assert!(
        p.cut_over(staged.hub_id, &[stranger])
            .await
            .unwrap()
            .is_empty()
    );

    let done = p.cut_over(staged.hub_id, &[new_key]).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].label, "acme/r1");
    assert_eq!(
        (done[0].old_key, done[0].new_key),
        (staged.public_key, new_key)
    );

    let after = p.store().router("acme", "r1").await.unwrap();
    assert_eq!(after.public_key, new_key);
    assert_eq!(after.rotation_state, RotationState::None);
    assert_eq!(after.pending_public_key, None);
    assert!(after.keys_created_at > staged.keys_created_at);
    assert_ne!(
        sealed(&db.pool, staged.id, "client_private_key_sealed").await,
        old_private,
        "the old sealed key is gone"
    );
    assert_eq!(
        sealed(&db.pool, staged.id, "pending_private_key_sealed").await,
        None
    );
    // The same keys the router was given while staged, now sealed as its own.
    let script_after = p.router_material("acme", "r1").await.unwrap();
    assert_eq!(
        script_after.private_key.as_str(),
        script_before.private_key.as_str()
    );
    assert_eq!(
        script_after.preshared_key.as_str(),
        script_before.preshared_key.as_str()
    );
    let hub = p.hub_material("hub1").await.unwrap();
    let peer = hub.peers.iter().find(|h| h.router == "r1").unwrap();
    assert_eq!(peer.public_key, new_key);
    assert!(peer.staged.is_none());
    assert_eq!(
        peer.preshared_key.as_str(),
        script_before.preshared_key.as_str()
    );
    // r2 is still staged; a second cut-over of r1's key finds nothing.
    assert_eq!(
        p.store().router("acme", "r2").await.unwrap().rotation_state,
        RotationState::Staged
    );
    assert!(
        p.cut_over(staged.hub_id, &[new_key])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        audit_actions(&db.pool)
            .await
            .contains(&"router.rotate.cutover".to_owned())
    );
}

#[tokio::test]
async fn a_cut_over_that_fails_before_commit_leaves_the_old_keys_and_the_rotation() {
    let db = common::test_db().await;
    let p = fleet(&db.pool, &["r1"]).await;
    let (staged, _) = p.stage_rotation("acme", "r1").await.unwrap();
    let old_private = sealed(&db.pool, staged.id, "client_private_key_sealed").await;
    // The last statement of the cut-over's transaction fails: as a crash before the commit.
    sqlx::raw_sql(
        "CREATE FUNCTION fail_cutover() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'injected failure before commit'; END $$;
         CREATE TRIGGER fail_cutover BEFORE INSERT ON audit_log FOR EACH ROW
             WHEN (NEW.action = 'router.rotate.cutover') EXECUTE FUNCTION fail_cutover();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let err = p
        .cut_over(staged.hub_id, &[staged.pending_public_key.unwrap()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");

    let after = p.store().router("acme", "r1").await.unwrap();
    assert_eq!(after.public_key, staged.public_key);
    assert_eq!(after.rotation_state, RotationState::Staged);
    assert_eq!(after.pending_public_key, staged.pending_public_key);
    assert_eq!(
        sealed(&db.pool, staged.id, "client_private_key_sealed").await,
        old_private
    );
    // Both key sets still open: the hub can keep serving either.
    let hub = p.hub_material("hub1").await.unwrap();
    assert!(hub.peers[0].staged.is_some());
}
