//! The real `tikwire` binary in a private tmux server (its own socket, killed on drop), and the
//! `tikwire` command line against the same database, for end-to-end console tests.
//!
//! Waits are bounded: a console that stops reacting fails the test with the last screen
//! instead of hanging it. The bounds are generous; they detect hangs, they do not measure speed.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long a reaction may take before the console counts as hung.
pub const REACTION_BOUND: Duration = Duration::from_secs(15);

/// The environment a `tikwire` process runs with: database, data dir, master key, config dir.
pub struct Env {
    pub url: String,
    pub data_dir: PathBuf,
    pub key: String,
}

impl Env {
    /// A fresh data directory for database `db_name` (removed on drop).
    pub fn new(url: &str, db_name: &str) -> Env {
        let data_dir = std::env::temp_dir().join(format!("tikwire-tui-e2e-{db_name}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        Env {
            url: url.to_owned(),
            data_dir,
            key,
        }
    }

    fn vars(&self) -> [(&'static str, String); 4] {
        [
            ("DATABASE_URL", self.url.clone()),
            ("TIKWIRE_DATA_DIR", self.data_dir.display().to_string()),
            ("TIKWIRE_MASTER_KEY", self.key.clone()),
            (
                "XDG_CONFIG_HOME",
                self.data_dir.join("config").display().to_string(),
            ),
        ]
    }

    /// Runs a `tikwire` subcommand; panics unless it succeeds; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_tikwire"))
            .args(args)
            .envs(self.vars())
            .output()
            .expect("run tikwire");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The shell command that opens the console with this environment.
    fn console_command(&self) -> String {
        let vars: Vec<String> = self
            .vars()
            .iter()
            .map(|(k, v)| format!("{k}='{v}'"))
            .collect();
        format!("env {} {}", vars.join(" "), env!("CARGO_BIN_EXE_tikwire"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// One tmux server with one session `t` running the console.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts the console at `width`x`height`; the pane stays after the console exits, so its
    /// exit can be observed.
    pub fn console(env: &Env, tag: &str, width: u16, height: u16) -> Tmux {
        Self::start(tag, width, height, &env.console_command())
    }

    /// A shell (`sh`) at `width`x`height`, to start the console from and to look at the
    /// terminal it leaves behind.
    pub fn shell(tag: &str, width: u16, height: u16) -> Tmux {
        Self::start(tag, width, height, "sh")
    }

    /// Types the command that opens the console into the shell of [`Tmux::shell`].
    pub fn start_console(&self, env: &Env) {
        self.text(&env.console_command());
        self.keys(&["Enter"]);
    }

    /// The pid of the process the pane's first process runs (the console started from
    /// [`Tmux::shell`]), once there is one.
    pub fn child_pid(&self) -> u32 {
        let out = self.cmd(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let start = Instant::now();
        loop {
            let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
                .unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                return pid.parse().unwrap();
            }
            assert!(start.elapsed() < REACTION_BOUND, "no console under {shell}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A tmux format of pane `t`, e.g. `#{alternate_on}`.
    pub fn format(&self, format: &str) -> String {
        let out = self.cmd(&["display-message", "-p", "-t", "t", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The names of tmux's paste buffers (copies land there).
    pub fn buffers(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["list-buffers", "-F", "#{buffer_name}"]).stdout)
            .into_owned()
    }

    /// Pastes `text` into the pane the way a terminal does (bracketed, if the program
    /// asked for it), through a named buffer that is deleted afterwards.
    pub fn paste(&self, text: &str) {
        let file = std::env::temp_dir().join(format!("{}-paste", self.socket));
        std::fs::write(&file, text).unwrap();
        let file_arg = file.display().to_string();
        assert!(
            self.cmd(&["load-buffer", "-b", "paste", &file_arg])
                .status
                .success()
        );
        let _ = std::fs::remove_file(&file);
        assert!(
            self.cmd(&["paste-buffer", "-p", "-d", "-b", "paste", "-t", "t"])
                .status
                .success()
        );
    }

    fn start(tag: &str, width: u16, height: u16, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("tikwire-{tag}-{}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        // The server options first (a detached session with a harmless shell keeps it up),
        // then the console in its own window, so nothing races the console's start.
        let out = tmux.cmd(&[
            "new-session",
            "-d",
            "-s",
            "boot",
            "-x",
            &w,
            "-y",
            &h,
            "sleep 600",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux.cmd(&["set-option", "-s", "set-clipboard", "on"]);
        tmux.cmd(&["set-option", "-g", "remain-on-exit", "on"]);
        let out = tmux.cmd(&["new-session", "-d", "-s", "t", "-x", &w, "-y", &h, command]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Named keys (tmux key names: `Enter`, `Escape`, `C-c`, `Tab`, ...).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", "-t", "t", k]);
            assert!(out.status.success(), "send-keys {k}");
        }
    }

    /// Literal text, typed as keys.
    pub fn text(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "t", "-l", text])
                .status
                .success()
        );
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after [`REACTION_BOUND`].
    pub fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < REACTION_BOUND,
                "console never showed {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the screen to contain `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?}"), |s| s.contains(needle))
    }

    /// True once the console process has exited.
    pub fn exited(&self) -> bool {
        let dead = self.cmd(&["display-message", "-p", "-t", "t", "#{pane_dead}"]);
        String::from_utf8_lossy(&dead.stdout).trim() == "1"
    }

    /// Waits for the console to exit; panics with the screen after [`REACTION_BOUND`]. Its status.
    pub fn wait_exit(&self) -> String {
        let start = Instant::now();
        loop {
            // tmux marks the pane dead when its terminal closes, and records the exit status
            // only once it has reaped the process: wait for both.
            if self.exited() {
                let status = self.cmd(&[
                    "display-message",
                    "-p",
                    "-t",
                    "t",
                    "#{pane_dead_status}#{?pane_dead_signal,signal #{pane_dead_signal},}",
                ]);
                let status = String::from_utf8_lossy(&status.stdout).trim().to_owned();
                if !status.is_empty() {
                    return status;
                }
                // tmux 3.3 sometimes leaves the dead console a zombie for a long while (a lost
                // SIGCHLD): tell it again.
                let server = self.cmd(&["display-message", "-p", "#{pid}"]);
                let server = String::from_utf8_lossy(&server.stdout).trim().to_owned();
                let _ = Command::new("kill").args(["-CHLD", &server]).status();
            }
            assert!(
                start.elapsed() < REACTION_BOUND,
                "console did not quit ({}); screen:\n{}",
                self.process_state(),
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The console process as the kernel sees it, for a failure message.
    fn process_state(&self) -> String {
        let out = self.cmd(&[
            "display-message",
            "-p",
            "-t",
            "t",
            "#{pane_pid} #{pane_dead}",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let pid = text.split(' ').next().unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let state = status
            .lines()
            .find(|l| l.starts_with("State:"))
            .unwrap_or("gone");
        let stacks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.flatten()
                    .map(|t| {
                        let comm =
                            std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                        let wchan =
                            std::fs::read_to_string(t.path().join("wchan")).unwrap_or_default();
                        format!("{}:{}", comm.trim(), wchan.trim())
                    })
                    .collect()
            })
            .unwrap_or_default();
        format!("tmux: {text}; pid {pid} {state}; threads {stacks:?}")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
