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
    // The help's own title: " Keys " alone also matches the routers table's Keys column.
    let help = tmux.wait_for("┌ Keys ");
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

/// On the hub host with privileges (tests run as root) the console polls the interface
/// itself: here a scripted stand-in `wg` (config poll.wg_command) prints a dump with the
/// hub's key, one router that shook hands, one that never did, and a peer nobody owns.
#[tokio::test(flavor = "multi_thread")]
async fn polls_the_hub_interface_live_when_it_may() {
    let (_db, env) = fleet().await;
    let hubs: serde_json::Value =
        serde_json::from_str(&env.cli(&["hub", "list", "--json"])).unwrap();
    let hub_key = hubs[0]["public_key"].as_str().unwrap().to_owned();
    let iface = hubs[0]["interface"].as_str().unwrap().to_owned();
    let routers: serde_json::Value =
        serde_json::from_str(&env.cli(&["router", "list", "--json"])).unwrap();
    let key_of = |name: &str| {
        routers
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["public_key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let now = chrono::Utc::now().timestamp();
    let unknown = "VU5LTk9XTnBlZXJVTktOT1dOcGVlclVOS05PV05wZWU=";
    let peer = |key: &str, ip: &str, handshake: i64, rx: u64| {
        format!(
            "{key}\t(none)\t203.0.113.9:40001\t{ip}/32\t{handshake}\t{rx}\t{}\t25\n",
            rx / 2
        )
    };
    let interface_line =
        format!("cFJpdmF0ZUtleVByaXZhdGVLZXlQcml2YXRlS2V5MDA=\t{hub_key}\t51820\toff\n");
    let dump_file = env.data_dir.join("dump.txt");
    let write_dump = |with_unknown: bool| {
        let mut text = interface_line.clone();
        text += &peer(&key_of("r-alpha"), "10.100.1.1", now - 5, 4_000_000);
        text += &peer(&key_of("r-bravo"), "10.100.1.2", 0, 0);
        if with_unknown {
            text += &peer(unknown, "10.250.0.9", now - 30, 1234);
        }
        std::fs::write(&dump_file, text).unwrap();
    };
    write_dump(true);
    let script = env.data_dir.join("fake-wg");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1 $3\" = 'show dump' ] || exit 2\n\
             [ \"$2\" = '{iface}' ] || {{ echo \"Unable to access interface: No such device\" >&2; exit 1; }}\n\
             cat '{}'\n",
            dump_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config_dir = env.data_dir.join("config/tikwire");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[poll]\ninterval_secs = 1\nwg_command = \"{}\"\n",
            script.display()
        ),
    )
    .unwrap();

    let tmux = Tmux::console(&env, "live", 120, 40);
    // The poll may land before the router rows do: wait for both.
    let live = format!("live from {iface} · updated ≤2s ago");
    let screen = tmux.wait_until(&format!("{live:?} with the router rows"), |s| {
        s.contains(&live) && s.contains("acme/r-alpha") && s.contains(" r-alpha ")
    });
    assert!(screen.contains("? unknown VU5LTk9X"), "{screen}");
    // r-alpha shook hands 5 s ago on the interface, but no agent ever wrote its status: both
    // panes show the stored one (pending), as the command line and the API do, beside the
    // live handshake and traffic; r-bravo never shook hands: pending; r-charlie is not on the
    // interface at all.
    let peers_pane: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.split_once("││").map(|(_, right)| right))
        .collect();
    let row = |name: &str| {
        peers_pane
            .iter()
            .find(|l| l.contains(name))
            .copied()
            .unwrap_or_default()
    };
    assert!(row("acme/r-alpha").contains("◌ pending"), "{screen}");
    assert!(row("acme/r-bravo").contains("◌ pending"), "{screen}");
    assert!(row("acme/r-charlie").is_empty(), "{screen}");
    let routers_row = screen
        .lines()
        .find(|l| l.contains(" r-alpha "))
        .unwrap_or_default();
    assert!(routers_row.contains("◌ pending"), "{screen}");
    assert!(!routers_row.contains("never"), "live handshake: {screen}");
    assert!(routers_row.contains("3.8M"), "live traffic: {screen}");

    // The peer leaves the interface: the next poll drops it.
    write_dump(false);
    tmux.wait_until("the unknown peer gone", |s| !s.contains("? unknown"));
    tmux.text("q");
    assert_eq!(tmux.wait_exit(), "0");
}

/// A fleet larger than the router list's window (503 routers; at 80x24 the window holds a
/// few dozen): keys scroll across its edge, `G` and `g` reach the list's ends, a filter is
/// counted by the database, and a router added elsewhere shows in the count.
#[tokio::test(flavor = "multi_thread")]
async fn scrolls_a_fleet_larger_than_its_window() {
    let (db, env) = fleet().await;
    let p = common::provisioner(&db.pool);
    let hub = p.store().list_hubs().await.unwrap().remove(0);
    p.store()
        .fill_sample_routers("acme", &hub, 500, "s")
        .await
        .unwrap();
    let tmux = Tmux::console(&env, "window", 80, 24);
    tmux.wait_until("the routers loaded", |s| {
        pane_title(s).contains("503 of 503")
    });
    // By name: r-alpha, r-bravo, r-charlie, then the samples named by host number from
    // s-00004: line 120 (from 0) is s-00121, past the
    // first window. Ten keys at a time, a pause between: a read a page before the edge
    // lands while the next batch is typed (keys past the loaded rows would stop at its edge,
    // as a held key does until the read lands).
    for _ in 0..12 {
        tmux.text(&"j".repeat(10));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    tmux.keys(&["Enter"]);
    tmux.wait_for("Router · acme/s-00121");
    tmux.keys(&["Escape"]);
    tmux.wait_until("back to the list", |s| pane_title(s).contains("503 of 503"));
    tmux.text("G");
    tmux.wait_for(" s-00503 ");
    tmux.text("g");
    tmux.wait_for(" r-alpha ");
    tmux.text("/s-0049");
    tmux.wait_until("the filter counted", |s| {
        pane_title(s).contains("10 of 503")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_until("the filter cleared", |s| {
        pane_title(s).contains("503 of 503")
    });
    env.cli(&["router", "add", "a-first", "--tenant", "acme"]);
    // Counted at once; the selection stays on its router (s-00490, where the filter left
    // it), so the new first row shows at the top.
    tmux.wait_until("the new router counted", |s| {
        pane_title(s).contains("504 of 504")
    });
    tmux.text("g");
    tmux.wait_for(" a-first ");
    tmux.text("q");
    assert_eq!(tmux.wait_exit(), "0");
}
