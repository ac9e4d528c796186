//! The operator's hook command (`[alerts] command`): each event's JSON body on its stdin, one
//! run per event, bounded by a timeout. A failure is logged, never retried: the webhook
//! outbox is the durable path, the hook a convenience.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

/// How a hook run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    Done,
    Failed(String),
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct HookCommand {
    pub program: PathBuf,
    pub timeout: Duration,
}

impl HookCommand {
    /// Runs the command with `body` on stdin; killed if it outlives the timeout.
    pub async fn run(&self, body: &[u8]) -> HookOutcome {
        let mut child = match Command::new(&self.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(child) => child,
            Err(err) => {
                return HookOutcome::Failed(format!(
                    "cannot start {}: {err}",
                    self.program.display()
                ));
            }
        };
        let stdin = child.stdin.take();
        let run = async move {
            if let Some(mut stdin) = stdin {
                // A hook that ignores its input closes the pipe early: not a failure.
                let _ = stdin.write_all(body).await;
                drop(stdin);
            }
            child.wait_with_output().await
        };
        match tokio::time::timeout(self.timeout, run).await {
            Err(_) => HookOutcome::TimedOut,
            Ok(Err(err)) => HookOutcome::Failed(err.to_string()),
            Ok(Ok(output)) if output.status.success() => HookOutcome::Done,
            Ok(Ok(output)) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let last = stderr.lines().last().unwrap_or("").chars().take(200);
                HookOutcome::Failed(format!("{}: {}", output.status, last.collect::<String>()))
            }
        }
    }

    /// Runs the hook for each body in turn, logging failures.
    pub async fn run_all(&self, bodies: &[String]) {
        for body in bodies {
            match self.run(body.as_bytes()).await {
                HookOutcome::Done => {}
                HookOutcome::TimedOut => tracing::warn!(
                    "alert hook {} ran longer than {:?}: killed",
                    self.program.display(),
                    self.timeout
                ),
                HookOutcome::Failed(why) => {
                    tracing::warn!("alert hook {} failed: {why}", self.program.display())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(script: &str, timeout_ms: u64) -> (tempfile_dir::Dir, HookCommand) {
        let dir = tempfile_dir::Dir::new();
        let path = dir.0.join("hook.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (
            dir,
            HookCommand {
                program: path,
                timeout: Duration::from_millis(timeout_ms),
            },
        )
    }

    /// A scratch directory removed at the end of the test.
    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let path = std::env::temp_dir().join(format!(
                    "tikwire-hook-{}-{}",
                    std::process::id(),
                    rand::random::<u64>()
                ));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn the_hook_gets_the_body_on_stdin() {
        let (dir, hook) = hook("cat > \"$(dirname \"$0\")/got\"", 5000);
        assert_eq!(hook.run(br#"{"type":"hub.down"}"#).await, HookOutcome::Done);
        let got = std::fs::read_to_string(dir.0.join("got")).unwrap();
        assert_eq!(got, r#"{"type":"hub.down"}"#);
    }

    #[tokio::test]
    async fn failures_and_hangs_are_reported() {
        let (_dir, failing) = hook("echo nope >&2; exit 3", 5000);
        match failing.run(b"{}").await {
            HookOutcome::Failed(why) => assert!(why.contains("nope"), "{why}"),
            other => panic!("{other:?}"),
        }
        let (_dir, hanging) = hook("sleep 30", 200);
        assert_eq!(hanging.run(b"{}").await, HookOutcome::TimedOut);
        let missing = HookCommand {
            program: "/nonexistent/notify".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(missing.run(b"{}").await, HookOutcome::Failed(_)));
    }
}
