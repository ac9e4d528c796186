//! The console's defects found by probing it in tmux, each tested the way it failed: the
//! real binary in a private tmux server against a real PostgreSQL.
//!
//! - the save dialog owns every key while open: typed one key at a time with pauses and as
//!   one burst, no key reaches the script view under it (no key revealed, nothing copied),
//!   the path arrives whole, Esc cancels;
//! - a paste is one edit of the focused field (a TAB in it moves nothing) and a 100 KB
//!   paste is cut at the field's limit without freezing the console;
//! - SIGTERM, SIGINT, SIGHUP and SIGQUIT leave the terminal usable (main screen, canonical
//!   mode with echo).

mod common;
#[path = "common_tui/tmux.rs"]
mod tmux;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tmux::{Env, REACTION_BOUND, Tmux};

/// Between keys typed "by hand": long enough for the console to handle each one alone.
const KEY_PAUSE: Duration = Duration::from_millis(120);

fn private_key_of(script: &str) -> String {
    script
        .lines()
        .find_map(|l| l.trim().strip_prefix(":local privateKey \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the script sets the private key")
        .to_owned()
}

fn wait_for_file(path: &Path) -> String {
    let start = std::time::Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        assert!(
            start.elapsed() < REACTION_BOUND,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn env_with_router() -> (common::TestDb, Env) {
    let db = common::test_db().await;
    let env = Env::new(&db.url, &db.name);
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);
    env.cli(&["router", "add", "r1", "--tenant", "acme"]);
    (db, env)
}

/// Opens the RouterOS script of acme/r1 and waits until it is on screen.
fn open_script(tmux: &Tmux) {
    tmux.wait_for("10.100.1.1");
    tmux.keys(&[":"]);
    tmux.text("router acme/r1");
    tmux.keys(&["Enter", "c"]);
    tmux.wait_for("/interface/wireguard/add");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_save_dialog_owns_every_key_while_open() {
    let (_db, env) = env_with_router().await;
    let script = env.cli(&["script", "r1", "--tenant", "acme", "--format", "routeros"]);
    let key = private_key_of(&script);
    let dir = env.data_dir.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    // 'p' reveals and 'c' copies in the script view: both, at odd and even positions.
    let path = dir.join("ppcc-pcpc.rsc");
    let path_text = path.display().to_string();

    let tmux = Tmux::console(&env, "savekeys", 120, 40);
    open_script(&tmux);
    let prefilled = "acme-r1.rsc";

    // One key at a time, with pauses: the path is typed whole, nothing leaks, Esc cancels.
    tmux.keys(&["s"]);
    tmux.wait_for(prefilled);
    for _ in 0..prefilled.len() {
        tmux.keys(&["BSpace"]);
        std::thread::sleep(KEY_PAUSE);
    }
    for c in path_text.chars() {
        tmux.text(&c.to_string());
        std::thread::sleep(KEY_PAUSE);
        let screen = tmux.screen();
        assert!(
            !screen.contains(&key),
            "a key reached the script view:\n{screen}"
        );
    }
    let screen = tmux.wait_for(&format!("> {path_text}"));
    assert!(screen.contains("Save to file"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_until("the dialog closed over the script", |s| {
        !s.contains("Save to file") && s.contains("/interface/wireguard/add")
    });
    std::thread::sleep(KEY_PAUSE * 4);
    assert!(!path.exists(), "Esc cancels: nothing saved");

    // The same as one burst, then Enter: saved under exactly that path.
    tmux.keys(&["s"]);
    tmux.wait_for(prefilled);
    let erase: Vec<&str> = (0..prefilled.len()).map(|_| "BSpace").collect();
    tmux.keys(&erase);
    tmux.text(&path_text);
    tmux.keys(&["Enter"]);
    let saved = wait_for_file(&path);
    assert_eq!(saved, script, "the file holds exactly the script");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let screen = tmux.wait_for("saved to");
    assert!(!screen.contains(&key), "{screen}");
    assert!(
        tmux.buffers().trim().is_empty(),
        "nothing was copied: {:?}",
        tmux.buffers()
    );

    // Saving again to the same path asks before replacing; Enter then replaces.
    std::fs::write(&path, "planted").unwrap();
    tmux.keys(&["s"]);
    tmux.wait_for(prefilled);
    tmux.keys(&erase);
    tmux.text(&path_text);
    tmux.keys(&["Enter"]);
    tmux.wait_for("A file is there already");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "planted");
    tmux.keys(&["Enter"]);
    // The first save's toast may still be up: wait for the file itself to be replaced.
    tmux.wait_until("the file replaced", |_| {
        std::fs::read_to_string(&path).is_ok_and(|text| text == script)
    });
    tmux.keys(&["Escape"]);
    tmux.wait_until("back at the panes", |s| !s.contains("RouterOS script ·"));
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paste_is_one_edit_of_the_focused_field() {
    let (_db, env) = env_with_router().await;
    let tmux = Tmux::console(&env, "paste", 120, 40);
    tmux.wait_for("10.100.1.1");
    tmux.keys(&["n"]);
    tmux.wait_for("Provision a router");

    // A TAB inside the paste is not a key: the text stays in the router name field.
    tmux.paste("new\tsite");
    let screen = tmux.wait_for("newsite");
    let focused = screen
        .lines()
        .find(|l| l.contains('▶'))
        .expect("a focused field");
    assert!(focused.contains("Router name"), "focus moved:\n{screen}");
    assert!(
        screen.contains("tabs in the paste were left out"),
        "{screen}"
    );

    // 100 KB: cut at the field's limit with a message, and the console still answers.
    tmux.paste(&"x".repeat(100 * 1024));
    tmux.wait_for("paste cut to");
    tmux.keys(&["Escape"]);
    tmux.wait_until("the form closed", |s| !s.contains("Provision a router"));
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_leave_the_terminal_usable() {
    let (_db, env) = env_with_router().await;
    let tmux = Tmux::shell("signals", 100, 30);
    for (i, signal) in ["TERM", "INT", "HUP", "QUIT"].into_iter().enumerate() {
        tmux.start_console(&env);
        tmux.wait_for("10.100.1.1");
        assert_eq!(tmux.format("#{alternate_on}"), "1");
        let pid = tmux.child_pid();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // The shell only runs this if the terminal is back in canonical mode: in raw mode
        // Enter is a bare CR and the line never ends.
        let out = env.data_dir.join(format!("stty-{i}"));
        tmux.wait_until("the shell prompt on the main screen", |_| {
            tmux.format("#{alternate_on}") == "0"
        });
        tmux.text(&format!("stty -a > {}", out.display()));
        tmux.keys(&["Enter"]);
        let modes = wait_for_file(&out);
        let words: Vec<&str> = modes.split_whitespace().collect();
        for mode in ["icanon", "echo", "icrnl", "isig"] {
            assert!(
                words.contains(&mode),
                "after SIG{signal}: {mode} is off:\n{modes}"
            );
        }
    }
}
