//! End to end: the real binary in tmux against a real PostgreSQL. Provision a router through
//! the form, open its RouterOS script, copy it (tmux `set-clipboard on`: the tmux buffer must
//! then hold exactly the script `tikwire script` prints), open the QR view, quit. The screen
//! is checked with `tmux capture-pane` along the way.

mod common;
#[path = "common_tui/tmux.rs"]
mod tmux;

use tmux::{Env, Tmux};

#[tokio::test(flavor = "multi_thread")]
async fn provision_copy_qr_quit_in_tmux() {
    let db = common::test_db().await;
    let env = Env::new(&db.url, &db.name);
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);

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
    tmux.keys(&["Enter", "Enter"]);
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
