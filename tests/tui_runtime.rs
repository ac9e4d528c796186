//! The real event loop: the `tikwire` binary in tmux against a real PostgreSQL must react to
//! every key, one at a time, and quit on `q` and on Ctrl-C.
//!
//! Regression test for a hang: the loop once polled crossterm's `EventStream` with a no-op
//! waker while draining, so the stream's reader thread woke nobody when the next key came and
//! the console froze (keys, Esc and Ctrl-C ignored) until some other event happened to wake it.
//! The data here has no relative ages on screen, so there is no clock tick to mask a lost
//! wake-up: every reaction below must come from the key itself.

mod common;
#[path = "common_tui/tmux.rs"]
mod tmux;

use tmux::{Env, Tmux};

async fn fleet() -> (common::TestDb, Env) {
    let db = common::test_db().await;
    let env = Env::new(&db.url, &db.name);
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);
    for name in ["r-alpha", "r-bravo", "r-charlie"] {
        env.cli(&["router", "add", name, "--tenant", "acme"]);
    }
    (db, env)
}

/// The title of the pane shown at 80x24 (only one pane fits).
fn pane_title(screen: &str) -> &str {
    screen.lines().find(|l| l.starts_with('┌')).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn reacts_to_every_key_and_quits_on_q() {
    let (_db, env) = fleet().await;
    let tmux = Tmux::console(&env, "keys", 80, 24);
    tmux.wait_until("the routers loaded", |s| pane_title(s).contains("3 of 3"));

    // One key at a time, each awaited on screen before the next is sent: a lost wake-up
    // shows as a key that never takes effect.
    let steps: &[(&str, &str)] = &[
        ("1", "1 Tenants"),
        ("2", "2 Subnet"),
        ("3", "3 Routers"),
        ("1", "1 Tenants"),
        ("3", "3 Routers"),
    ];
    for (key, title) in steps {
        tmux.text(key);
        tmux.wait_until(&format!("pane {title} after {key}"), |s| {
            pane_title(s).contains(title)
        });
    }
    tmux.text("/");
    tmux.wait_for("enter keeps");
    tmux.text("b");
    tmux.wait_until("filter b", |s| pane_title(s).contains("1 of 3"));
    tmux.text("r");
    tmux.wait_until("filter br", |s| s.contains("/br"));
    tmux.keys(&["BSpace"]);
    tmux.wait_until("filter b again", |s| s.contains("/b") && !s.contains("/br"));
    tmux.keys(&["Escape"]);
    tmux.wait_until("the filter cleared", |s| {
        pane_title(s).contains("3 of 3") && !s.contains("enter keeps")
    });
    tmux.text("?");
    let help = tmux.wait_for(" Keys ");
    assert!(
        !help.contains("┌ 3 Routers"),
        "help covers the pane:\n{help}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_until("back from help", |s| pane_title(s).contains("3 Routers"));
    // Esc at top level goes back one level: there is none, so the console stays.
    tmux.keys(&["Escape"]);
    tmux.text("1");
    tmux.wait_until("still alive after Esc", |s| {
        pane_title(s).contains("1 Tenants")
    });
    assert!(!tmux.exited(), "Esc must never quit");

    tmux.text("q");
    assert_eq!(tmux.wait_exit(), "0", "q quits cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_quits_from_anywhere() {
    let (_db, env) = fleet().await;
    let tmux = Tmux::console(&env, "ctrlc", 80, 24);
    tmux.wait_until("the routers loaded", |s| pane_title(s).contains("3 of 3"));
    tmux.text("1");
    tmux.wait_until("pane 1", |s| pane_title(s).contains("1 Tenants"));
    tmux.text("n");
    tmux.wait_for("Provision a router");
    tmux.text("x");
    tmux.keys(&["C-c"]);
    assert_eq!(tmux.wait_exit(), "0", "Ctrl-C quits even inside a form");
}
