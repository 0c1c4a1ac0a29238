//! `--on-change CMD`: runs the user's command whenever the light's state changes, so a relay, a
//! GPIO line, a script or a service follows the Matter light (shell side; the node reports the
//! changes as [`crate::node::NodeEvent::OnOffChanged`]).
//!
//! The command runs as `sh -c CMD matter-ble-on-change STATE`, so `$1` is `on` or `off`, with
//! `MATTER_ON_OFF=1|0` and `MATTER_ENDPOINT=<endpoint>` in its environment. It runs in a task of
//! its own, so the device's event loop never waits for it.
//!
//! One command at a time, never a queue: when the state changes while a command is still
//! running, the runner waits for that command to end and then runs it once more with the
//! *latest* state (changes in between are coalesced), and not at all if the latest state is the
//! one the last command was given. So a slow command never piles up processes, and the output
//! always ends in the light's final state. A command that fails to start or exits non-zero is
//! logged at warn; the next change runs it again.

use std::process::ExitStatus;

use tokio::process::Command;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// The light state a command is run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LightChange {
    /// The endpoint (1).
    pub endpoint: u16,
    /// On or off.
    pub on: bool,
}

/// Handle to the runner task: [`OnChange::notify`] hands it the new state.
#[derive(Debug)]
pub struct OnChange {
    tx: watch::Sender<Option<LightChange>>,
    task: tokio::task::JoinHandle<()>,
}

impl OnChange {
    /// Starts the runner task for `command` (a `sh -c` script). Must be called inside a tokio
    /// runtime.
    pub fn spawn(command: String) -> Self {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(run(command, rx));
        Self { tx, task }
    }

    /// The light is now `change`: the command runs with it as soon as no earlier run is busy.
    pub fn notify(&self, change: LightChange) {
        // The receiver lives as long as the task; if the task is gone there is nothing to do.
        let _ = self.tx.send(Some(change));
    }

    /// Waits until the runner has nothing more to run (the last state it was given has run),
    /// then stops it. Used at shutdown and by tests.
    pub async fn finish(self) {
        drop(self.tx);
        if let Err(e) = self.task.await {
            warn!(error = %e, "--on-change runner ended abnormally");
        }
    }
}

async fn run(command: String, mut rx: watch::Receiver<Option<LightChange>>) {
    let mut last: Option<LightChange> = None;
    // `changed` fails once the sender is dropped and the latest value has been seen.
    while rx.changed().await.is_ok() {
        let Some(change) = *rx.borrow_and_update() else {
            continue;
        };
        if last == Some(change) {
            debug!(?change, "--on-change: state already applied");
            continue;
        }
        last = Some(change);
        match run_once(&command, change).await {
            Ok(status) if status.success() => debug!(?change, "--on-change command done"),
            Ok(status) => warn!(%status, on = change.on, "--on-change command failed"),
            Err(e) => warn!(error = %e, "--on-change command could not be started"),
        }
    }
}

/// Runs the command once with `change` and waits for it (the child is reaped).
///
/// # Errors
/// The command could not be started (no `sh`, out of processes).
pub async fn run_once(command: &str, change: LightChange) -> std::io::Result<ExitStatus> {
    let state = if change.on { "on" } else { "off" };
    info!(
        state,
        endpoint = change.endpoint,
        "running --on-change command"
    );
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .arg("matter-ble-on-change")
        .arg(state)
        .env("MATTER_ON_OFF", if change.on { "1" } else { "0" })
        .env("MATTER_ENDPOINT", change.endpoint.to_string())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(false)
        .status()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(out: &std::path::Path) -> String {
        format!(
            "echo \"$1 $MATTER_ON_OFF $MATTER_ENDPOINT\" >> '{}'",
            out.display()
        )
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "matter-ble-on-change-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("log")
    }

    #[tokio::test]
    async fn runs_with_state_as_argument_and_environment() {
        let out = temp("args");
        let status = run_once(
            &script(&out),
            LightChange {
                endpoint: 1,
                on: true,
            },
        )
        .await
        .expect("sh runs");
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(&out).expect("log"), "on 1 1\n");
    }

    #[tokio::test]
    async fn changes_during_a_run_coalesce_to_the_latest_state() {
        let out = temp("coalesce");
        // Each run takes a while, so the later changes arrive while the first is running.
        let cmd = format!("sleep 0.3; {}", script(&out));
        let r = OnChange::spawn(cmd);
        let ch = |on| LightChange { endpoint: 1, on };
        r.notify(ch(true));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        for on in [false, true, false, true, false] {
            r.notify(ch(on));
        }
        r.finish().await;
        // The first run, then one run with the final state: never one per change.
        assert_eq!(
            std::fs::read_to_string(&out).expect("log"),
            "on 1 1\noff 0 1\n"
        );
    }

    #[tokio::test]
    async fn the_same_state_twice_runs_once_and_failures_do_not_stop_the_runner() {
        let out = temp("dedupe");
        let cmd = format!("{}; [ \"$1\" = on ] || exit 3", script(&out));
        let r = OnChange::spawn(cmd);
        let ch = |on| LightChange { endpoint: 1, on };
        r.notify(ch(false));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        r.notify(ch(false));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        r.notify(ch(true));
        r.finish().await;
        assert_eq!(
            std::fs::read_to_string(&out).expect("log"),
            "off 0 1\non 1 1\n"
        );
    }
}
