//! End to end: the real binary in tmux against a real PostgreSQL. Provision a router through
//! the form, open its RouterOS script, copy it (tmux `set-clipboard on`: the tmux buffer must
//! then hold exactly the script `tikwire script` prints), open the QR view, quit. The screen
//! is checked with `tmux capture-pane` along the way.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", "-t", "e2e", k]);
            assert!(out.status.success(), "send-keys {k}");
        }
    }

    fn text(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "e2e", "-l", text])
                .status
                .success()
        );
    }

    /// Waits for the screen to show `needle` (the console works in the background).
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "never showed {needle:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

struct Env {
    url: String,
    data_dir: PathBuf,
    key: String,
}

impl Env {
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_tikwire"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", &self.key)
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"))
            .output()
            .expect("run tikwire");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs crate::scripts on main: until then the script view says \"script generation is not built yet\" (everything up to it passes)"]
async fn provision_copy_qr_quit_in_tmux() {
    let db = common::test_db().await;
    let data_dir = std::env::temp_dir().join(format!("tikwire-tui-e2e-{}", db.name));
    std::fs::create_dir_all(&data_dir).unwrap();
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let env = Env {
        url: db.url.clone(),
        data_dir: data_dir.clone(),
        key,
    };
    env.cli(&["hub", "add", "main", "--endpoint", "vpn.example.net:51820"]);
    env.cli(&["tenant", "add", "acme"]);

    let tmux = Tmux {
        socket: format!("tikwire-e2e-{}", std::process::id()),
    };
    let launch = format!(
        "env DATABASE_URL='{}' TIKWIRE_DATA_DIR='{}' TIKWIRE_MASTER_KEY='{}' XDG_CONFIG_HOME='{}' {}",
        env.url,
        data_dir.display(),
        env.key,
        data_dir.join("config").display(),
        env!("CARGO_BIN_EXE_tikwire"),
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "45",
        &launch,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.cmd(&["set-option", "-s", "set-clipboard", "on"]);
    tmux.cmd(&["set-option", "-t", "e2e", "remain-on-exit", "on"]);
    tmux.wait_for("1 Tenants");

    // provision through the form
    tmux.keys(&["n"]);
    tmux.wait_for("Provision a router");
    tmux.text("e2e-rtr");
    tmux.keys(&["Tab"]);
    tmux.text("acme");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("provisioned at");
    assert!(screen.contains("e2e-rtr"), "{screen}");
    assert!(
        env.cli(&["router", "list", "--tenant", "acme"])
            .contains("e2e-rtr")
    );

    // its RouterOS script, copied
    tmux.keys(&[":"]);
    tmux.text("router acme/e2e-rtr");
    tmux.keys(&["Enter", "Enter"]);
    let screen = tmux.wait_for("RouterOS script · acme/e2e-rtr");
    assert!(
        screen.contains("/interface wireguard"),
        "script shown:\n{screen}"
    );
    tmux.keys(&["c"]);
    tmux.wait_for("copied RouterOS script");
    let buffer = String::from_utf8(tmux.cmd(&["show-buffer"]).stdout).unwrap();
    let script = env.cli(&[
        "script", "e2e-rtr", "--tenant", "acme", "--format", "routeros",
    ]);
    assert_eq!(buffer, script, "the tmux buffer holds exactly the script");

    // QR view of the wg-quick config, then back out and quit
    tmux.keys(&["Q"]);
    let screen = tmux.wait_for("wg-quick config of acme/e2e-rtr");
    assert!(screen.contains('▀') || screen.contains('▄'), "{screen}");
    tmux.keys(&["Escape", "Escape", "q"]);
    let start = Instant::now();
    loop {
        let dead = tmux.cmd(&["display-message", "-p", "-t", "e2e", "#{pane_dead}"]);
        if String::from_utf8_lossy(&dead.stdout).trim() == "1" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "console did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}
