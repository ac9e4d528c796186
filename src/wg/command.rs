//! The one way this crate runs `wg` and `ip`: arguments never carry a secret (keys go over
//! stdin), output is read in bounded memory into buffers wiped on drop (`wg show dump` prints
//! the interface's private key and every preshared key), and a command that hangs is killed.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use zeroize::Zeroizing;

/// The most output read from one command: a 100,000-peer dump is about 25 MiB.
pub const MAX_OUTPUT: usize = 256 * 1024 * 1024;
/// What is kept of a command's error output (the rest is read and dropped).
const MAX_ERROR_OUTPUT: usize = 4096;
const CHUNK: usize = 16 * 1024;

/// What a finished command printed.
pub struct Output {
    pub status: ExitStatus,
    /// Wiped from memory when dropped.
    pub stdout: Zeroizing<Vec<u8>>,
    /// The first [`MAX_ERROR_OUTPUT`] bytes.
    pub stderr: Vec<u8>,
}

/// Why a command could not be run to its end. Never holds the command's input.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Spawn(std::io::Error),
    #[error("writing its input failed: {0}")]
    WriteInput(std::io::Error),
    #[error("{0}")]
    Read(std::io::Error),
    #[error("its output exceeds {} MiB", MAX_OUTPUT / (1024 * 1024))]
    TooLarge,
    #[error("did not finish in time")]
    Timeout,
}

/// Runs `program` with `args`, feeding it `stdin` if given, and waits at most `timeout`. The
/// input is written while the output is read, so neither side can stall on a full pipe.
pub async fn run(
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, RunError> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => RunError::NotFound,
            _ => RunError::Spawn(err),
        })?;
    let (input, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let work = async {
        let write = async {
            if let (Some(bytes), Some(mut pipe)) = (stdin, input) {
                pipe.write_all(bytes).await.map_err(RunError::WriteInput)?;
                // Dropping the pipe closes it, so the program sees the end of its input.
            }
            Ok(())
        };
        let ((), stdout, stderr) =
            tokio::try_join!(write, read_secret(stdout, MAX_OUTPUT), read_errors(stderr))?;
        let status = child.wait().await.map_err(RunError::Read)?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| RunError::Timeout)?
}

/// Reads a pipe that may carry keys, up to `limit` bytes. The buffer grows by copying into a
/// new wiped-on-drop buffer, so no freed allocation is left holding a key (a plain `Vec`
/// would leave each outgrown buffer behind as it reallocates).
async fn read_secret(
    pipe: Option<impl AsyncRead + Unpin>,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, RunError> {
    let mut out = Zeroizing::new(Vec::with_capacity(64 * 1024));
    let Some(mut pipe) = pipe else {
        return Ok(out);
    };
    let mut chunk = Zeroizing::new([0u8; CHUNK]);
    loop {
        let n = pipe.read(&mut chunk[..]).await.map_err(RunError::Read)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(RunError::TooLarge);
        }
        if out.len() + n > out.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity((out.capacity() * 2).max(out.len() + n)));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a pipe to its end, keeping the first [`MAX_ERROR_OUTPUT`] bytes.
async fn read_errors(pipe: Option<impl AsyncRead + Unpin>) -> Result<Vec<u8>, RunError> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return Ok(kept);
    };
    let mut chunk = [0u8; CHUNK];
    loop {
        let n = pipe.read(&mut chunk).await.map_err(RunError::Read)?;
        if n == 0 {
            return Ok(kept);
        }
        let room = MAX_ERROR_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
}

/// The first non-empty line of a command's error output, at most 200 characters.
pub fn first_line(stderr: &[u8]) -> Option<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn input_goes_over_stdin_and_output_comes_back() {
        let out = run(
            Path::new("cat"),
            &[],
            Some(b"secret\n"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.as_slice(), b"secret\n");
    }

    #[tokio::test]
    async fn output_beyond_the_bound_is_refused() {
        let output = vec![7u8; 100_000];
        let err = read_secret(Some(&output[..]), 99_999).await.err();
        assert!(matches!(err, Some(RunError::TooLarge)), "{err:?}");
        let whole = read_secret(Some(&output[..]), 100_000).await.unwrap();
        assert_eq!(whole.as_slice(), &output[..]);
    }

    #[tokio::test]
    async fn missing_program_and_error_output() {
        let missing = run(
            Path::new("/nonexistent/tikwire-no-such-program"),
            &[],
            None,
            Duration::from_secs(10),
        )
        .await
        .err();
        assert!(matches!(missing, Some(RunError::NotFound)), "{missing:?}");
        let failed = run(
            Path::new("sh"),
            &[
                "-c",
                "printf '\\n  first problem  \\nsecond\\n' >&2; exit 3",
            ],
            None,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert!(!failed.status.success());
        assert_eq!(first_line(&failed.stderr).as_deref(), Some("first problem"));
    }
}
