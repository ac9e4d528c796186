//! End to end: the real binary in tmux against a real PostgreSQL. Provision a router through
//! the form, open its RouterOS script, copy it (tmux `set-clipboard on`: the tmux buffer must
//! then hold exactly the script `tikwire script` prints), open the QR view, quit. The screen
//! is checked with `tmux capture-pane` along the way. And a router's diagnosis, run from the
//! console in the background. And a key rotation staged and aborted from the router's row.

mod common;
#[path = "common_tui/tmux.rs"]
mod tmux;

use tmux::{Env, Tmux};

/// A fresh database with hub `main` and tenant `acme`.
async fn hub_and_tenant() -> (common::TestDb, Env) {
    let db = common::test_db().await;
    let env = Env::new(&db.url, &db.name);
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);
    (db, env)
}

#[tokio::test(flavor = "multi_thread")]
async fn provision_copy_qr_quit_in_tmux() {
    let (_db, env) = hub_and_tenant().await;

    let tmux = Tmux::console(&env, "e2e", 120, 45);
    // The pane title shows before the rows: wait for the tenant itself, which the form fills in.
    tmux.wait_for("10.100.0.0/16");

    // provision through the form
    tmux.keys(&["n"]);
    tmux.wait_for("Provision a router");
    tmux.text("e2e-rtr");
    // The only tenant is filled in already.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("provisioned at");
    assert!(screen.contains("e2e-rtr"), "{screen}");
    assert!(
        env.cli(&["router", "list", "--tenant", "acme"])
            .contains("e2e-rtr")
    );

    // its RouterOS script: keys masked on screen, copied whole
    tmux.keys(&[":"]);
    tmux.text("router acme/e2e-rtr");
    tmux.keys(&["Enter", "c"]);
    let screen = tmux.wait_for("RouterOS script · acme/e2e-rtr");
    let screen = if screen.contains("/interface/wireguard/add") {
        screen
    } else {
        tmux.wait_for("/interface/wireguard/add")
    };
    let script = env.cli(&[
        "script", "e2e-rtr", "--tenant", "acme", "--format", "routeros",
    ]);
    let private_key = script
        .lines()
        .find_map(|l| l.trim().strip_prefix(":local privateKey \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the script sets the private key");
    assert!(
        !screen.contains(private_key),
        "the key is masked on screen:\n{screen}"
    );
    tmux.keys(&["c"]);
    tmux.wait_for("copied RouterOS script");
    let buffer = String::from_utf8(tmux.cmd(&["show-buffer"]).stdout).unwrap();
    assert_eq!(buffer, script, "the tmux buffer holds exactly the script");

    // QR view of the wg-quick config, then back out and quit
    tmux.keys(&["Q"]);
    let screen = tmux.wait_for("wg-quick config of acme/e2e-rtr");
    assert!(screen.contains('▀') || screen.contains('▄'), "{screen}");
    tmux.keys(&["Escape", "Escape"]);
    tmux.wait_until("back at the panes", |s| {
        s.contains("1 Tenants") && !s.contains("RouterOS script ·")
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}

/// A router that never connected, diagnosed from its row: the checks run in the background
/// (the same as `tikwire router diagnose`) and the view shows the never-connected guidance
/// with the RouterOS commands to paste; Esc closes it. Waits are for the checks' content,
/// never for a title or a toast.
#[tokio::test(flavor = "multi_thread")]
async fn diagnose_a_router_that_never_connected_in_tmux() {
    let (_db, env) = hub_and_tenant().await;
    env.cli(&["router", "add", "r1", "--tenant", "acme"]);

    let tmux = Tmux::console(&env, "diagnose", 120, 45);
    // The router's row (its address), selected: the only one.
    tmux.wait_for("10.100.1.1");
    tmux.keys(&["D"]);
    let screen = tmux.wait_for("never connected; provisioned");
    for guidance in [
        "tikwire script r1 --tenant acme --format routeros",
        "/interface wireguard peers print detail where interface=\"wg-hotspot\"",
        "/ping 10.100.0.1 count=3",
        "/system clock print",
    ] {
        assert!(screen.contains(guidance), "{guidance:?} missing:\n{screen}");
    }
    assert!(screen.contains("✗ fail  handshake"), "{screen}");

    tmux.keys(&["Escape"]);
    tmux.wait_until("the diagnosis closed, the router row back", |s| {
        !s.contains("never connected") && s.contains("10.100.1.1")
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}

/// Key rotation from the router's row at 80x24: K asks first, Enter stages new keys in the
/// background, the row marks the rotation staged (a word, not a colour) and the command line
/// sees it too; K again offers to abort, Enter aborts, the marker goes.
#[tokio::test(flavor = "multi_thread")]
async fn stage_and_abort_a_key_rotation_in_tmux() {
    let (_db, env) = hub_and_tenant().await;
    env.cli(&["router", "add", "r1", "--tenant", "acme"]);

    let tmux = Tmux::console(&env, "rotate", 80, 24);
    // The router's row (its address), selected: the only one.
    tmux.wait_for("10.100.1.1");
    let row = |screen: &str| {
        screen
            .lines()
            .find(|l| l.contains("10.100.1.1"))
            .unwrap_or_default()
            .to_owned()
    };

    tmux.keys(&["K"]);
    tmux.wait_for("Stage new keys for router acme/r1?");
    // Esc asks for nothing.
    tmux.keys(&["Escape"]);
    tmux.wait_until("the confirmation closed", |s| {
        !s.contains("Stage new keys for router") && s.contains("10.100.1.1")
    });
    assert!(
        !env.cli(&["router", "list", "--tenant", "acme"])
            .contains("staged")
    );

    tmux.keys(&["K"]);
    tmux.wait_for("Stage new keys for router acme/r1?");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until("the row marks the rotation staged", |s| {
        row(s).contains(" staged") && !s.contains("Stage new keys for router")
    });
    assert!(
        screen.contains("new keys staged for acme/r1"),
        "told in a toast:\n{screen}"
    );
    assert!(
        env.cli(&["router", "list", "--tenant", "acme"])
            .contains("staged"),
        "staged in the database"
    );

    tmux.keys(&["K"]);
    tmux.wait_for("Abort the key rotation staged for router acme/r1?");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until("the marker gone", |s| {
        !row(s).contains("staged") && s.contains("aborted")
    });
    assert!(row(&screen).contains("r1"), "{screen}");
    assert!(
        !env.cli(&["router", "list", "--tenant", "acme"])
            .contains("staged")
    );

    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}
