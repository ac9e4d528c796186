//! The poller against a scripted stand-in for `wg`: snapshots, and every failure it must
//! report and survive (no permission, no interface, garbled output, no `wg` at all).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tikwire::wg::poller::{PollerConfig, PollerState, poll_once, spawn_poller};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const HUB: &str = include_str!("fixtures/wg/hub-live.dump");

/// A temporary directory holding the stand-in `wg` and its mode file; removed on drop.
struct FakeWg {
    dir: PathBuf,
}

impl FakeWg {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tikwire-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hub.dump"), HUB).unwrap();
        let script = format!(
            r#"#!/bin/sh
dir='{dir}'
echo "$@" >> "$dir/calls"
case "$(cat "$dir/mode")" in
  ok) cat "$dir/hub.dump" ;;
  denied) echo "Unable to access interface: Permission denied" >&2; exit 1 ;;
  missing) echo "Unable to access interface: No such device" >&2; exit 1 ;;
  garbled) head -c 150 "$dir/hub.dump"; echo ;;
  weird) echo "something unexpected happened" >&2; exit 3 ;;
esac
"#,
            dir = dir.display()
        );
        let wg = dir.join("wg");
        std::fs::write(&wg, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wg, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fake = Self { dir };
        fake.set_mode("ok");
        fake
    }

    fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).unwrap();
    }

    fn wg(&self) -> PathBuf {
        self.dir.join("wg")
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.join("calls")).unwrap_or_default()
    }
}

impl Drop for FakeWg {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (bounded, so a broken poller fails instead of hanging) for a state matching `want`.
async fn wait_for(
    rx: &mut watch::Receiver<PollerState>,
    want: impl Fn(&PollerState) -> bool,
) -> PollerState {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let state = rx.borrow_and_update().clone();
            if want(&state) {
                return state;
            }
            rx.changed().await.expect("poller stopped");
        }
    })
    .await;
    found.expect("the poller never reached the expected state")
}

fn error_containing(needle: &'static str) -> impl Fn(&PollerState) -> bool {
    move |s| matches!(s, PollerState::Error(m) if m.contains(needle))
}

#[tokio::test]
async fn poll_once_reads_only_the_named_interface() {
    let fake = FakeWg::new("poll-once");
    let snapshot = poll_once(&fake.wg(), "wg-hub7").await.unwrap();
    assert_eq!(fake.calls(), "show wg-hub7 dump\n");
    assert_eq!(snapshot.interface, "wg-hub7");
    assert_eq!(snapshot.listen_port, 51820);
    assert_eq!(snapshot.peers.len(), 4);
    let v6 = &snapshot.peers[&"ZAFhZci3x+Ff80U+lvElZerQTHdh6jCd+aAGjec5Q2E="
        .parse()
        .unwrap()];
    assert_eq!(v6.endpoint.unwrap().to_string(), "[fd00:db8::2]:54047");
}

#[tokio::test]
async fn failures_are_reported_and_polling_goes_on() {
    let fake = FakeWg::new("poller-states");
    let cancel = CancellationToken::new();
    let config = PollerConfig {
        wg_command: fake.wg(),
        interval: Duration::from_millis(100),
        ..PollerConfig::new("wg0")
    };
    let (mut rx, handle) = spawn_poller(config, cancel.clone());

    let ready = wait_for(&mut rx, |s| matches!(s, PollerState::Ready(_))).await;
    let PollerState::Ready(snapshot) = ready else {
        unreachable!()
    };
    assert_eq!(snapshot.peers.len(), 4);

    fake.set_mode("denied");
    let state = wait_for(&mut rx, error_containing("permission denied")).await;
    assert!(
        matches!(&state, PollerState::Error(m) if m.contains("CAP_NET_ADMIN")),
        "{state:?}"
    );

    fake.set_mode("missing");
    wait_for(&mut rx, error_containing("interface wg0 does not exist")).await;

    fake.set_mode("garbled");
    let state = wait_for(&mut rx, error_containing("wg dump line 2")).await;
    assert!(
        matches!(&state, PollerState::Error(m) if !m.contains('\n')),
        "{state:?}"
    );

    fake.set_mode("weird");
    wait_for(&mut rx, error_containing("something unexpected happened")).await;

    fake.set_mode("ok");
    wait_for(&mut rx, |s| matches!(s, PollerState::Ready(_))).await;

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("stops on cancel")
        .unwrap();
}

#[tokio::test]
async fn missing_wg_command_is_a_state_not_a_crash() {
    let cancel = CancellationToken::new();
    let config = PollerConfig {
        wg_command: Path::new("/nonexistent/tikwire-test/wg").to_owned(),
        interval: Duration::from_millis(100),
        ..PollerConfig::new("wg0")
    };
    let (mut rx, handle) = spawn_poller(config, cancel.clone());
    let state = wait_for(&mut rx, |s| matches!(s, PollerState::Error(_))).await;
    assert!(
        matches!(&state, PollerState::Error(m) if m.contains("not found") && m.contains("wireguard-tools")),
        "{state:?}"
    );
    // Still alive and polling: it publishes the error again on the next tick.
    rx.mark_unchanged();
    tokio::time::timeout(Duration::from_secs(10), rx.changed())
        .await
        .expect("keeps polling")
        .unwrap();
    cancel.cancel();
    handle.await.unwrap();
}
