//! The state folder from the command line: `--state-dir` validation and defaults, the device
//! opening (and locking) its folder, and `factory-reset` with its confirmation and refusals.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use matter_ble::store::Store;

fn matter_ble() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_matter-ble"));
    c.env_remove("RUST_LOG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    matter_ble()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run matter-ble: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "matter-ble-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        Self(p)
    }

    fn s(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A state folder holding records `names`.
fn with_records(dir: &Path, names: &[&str]) {
    let mut s = Store::open(dir).unwrap_or_else(|e| panic!("{e}"));
    for n in names {
        s.write(n, n.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn names(dir: &Path) -> Vec<String> {
    Store::open(dir)
        .and_then(|s| s.names())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn factory_reset_removes_the_records_and_says_which() {
    let t = TempDir::new("reset");
    with_records(&t.0, &["fabric-1", "acl", "counters"]);
    let out = run(&["factory-reset", "--yes", "--state-dir", &t.s()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "Removed 3 record(s) from {}: acl, counters, fabric-1",
            t.s()
        )),
        "{stdout}"
    );
    assert!(names(&t.0).is_empty());
    // Again: nothing left to remove.
    let out = run(&["factory-reset", "-y", "--state-dir", &t.s()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("holds no records: nothing to remove"));
}

#[test]
fn factory_reset_needs_confirmation_and_a_terminal_to_ask_on() {
    let t = TempDir::new("confirm");
    with_records(&t.0, &["fabric-1"]);
    // stdin is /dev/null, not a terminal: refused without --yes, nothing removed.
    let out = run(&["factory-reset", "--state-dir", &t.s()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(
        stderr.contains(&t.s()) && stderr.contains("fabric-1"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(names(&t.0), vec!["fabric-1".to_owned()]);
}

#[test]
fn factory_reset_refuses_a_folder_in_use_or_not_ours() {
    let t = TempDir::new("locked");
    with_records(&t.0, &["fabric-1"]);
    let held = Store::open(&t.0).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["factory-reset", "--yes", "--state-dir", &t.s()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the state folder {} is in use by another running matter-ble",
            t.s()
        )),
        "{stderr}"
    );
    assert_eq!(held.names().ok(), Some(vec!["fabric-1".to_owned()]));
    drop(held);

    // A folder of other files (a mistyped --state-dir) is never emptied.
    let foreign = TempDir::new("foreign");
    fs::create_dir_all(&foreign.0).unwrap_or_else(|e| panic!("{e}"));
    fs::write(foreign.0.join("thesis.tex"), b"years of work").unwrap_or_else(|e| panic!("{e}"));
    let out = run(&["factory-reset", "--yes", "--state-dir", &foreign.s()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("refusing to use"));
    assert!(foreign.0.join("thesis.tex").exists());

    // A folder that does not exist is not created.
    let absent = TempDir::new("absent");
    let out = run(&["factory-reset", "--yes", "--state-dir", &absent.s()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("nothing to remove"));
    assert!(!absent.0.exists());
}

#[test]
fn the_default_folder_follows_the_environment() {
    let t = TempDir::new("env");
    // $XDG_STATE_HOME/matter-ble...
    let xdg = t.0.join("xdg");
    with_records(&xdg.join("matter-ble"), &["from-xdg"]);
    let out = matter_ble()
        .args(["factory-reset", "--yes"])
        .env("XDG_STATE_HOME", &xdg)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text(&out.stdout).contains("from-xdg"),
        "{}",
        text(&out.stderr)
    );
    // ...unless systemd's $STATE_DIRECTORY is set...
    let sd = t.0.join("systemd");
    with_records(&sd, &["from-systemd"]);
    with_records(&xdg.join("matter-ble"), &["from-xdg"]);
    let out = matter_ble()
        .args(["factory-reset", "--yes"])
        .env("XDG_STATE_HOME", &xdg)
        .env("STATE_DIRECTORY", &sd)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text(&out.stdout).contains("from-systemd"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(names(&xdg.join("matter-ble")), vec!["from-xdg".to_owned()]);
    // ...and --state-dir wins over both; without any of them, $HOME/.local/state.
    let home = t.0.join("home");
    with_records(&home.join(".local/state/matter-ble"), &["from-home"]);
    let out = matter_ble()
        .args(["factory-reset", "--yes"])
        .env("HOME", &home)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text(&out.stdout).contains("from-home"),
        "{}",
        text(&out.stderr)
    );
    let out = matter_ble()
        .args([
            "factory-reset",
            "--yes",
            "--state-dir",
            &xdg.join("matter-ble").to_string_lossy(),
        ])
        .env("STATE_DIRECTORY", &sd)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text(&out.stdout).contains("from-xdg"),
        "{}",
        text(&out.stderr)
    );
    let out = matter_ble()
        .args(["factory-reset", "--yes"])
        .env_remove("HOME")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("pass --state-dir"));
}

#[test]
fn state_dir_values_are_checked() {
    let t = TempDir::new("flag");
    fs::create_dir_all(&t.0).unwrap_or_else(|e| panic!("{e}"));
    let file = t.0.join("a-file");
    fs::write(&file, b"").unwrap_or_else(|e| panic!("{e}"));
    for (value, message) in [
        (String::new(), "the path is empty"),
        (
            file.to_string_lossy().into_owned(),
            "it exists and is not a folder",
        ),
    ] {
        let out = run(&[
            "pairing-code",
            "--passcode",
            "20202021",
            "--state-dir",
            &value,
        ]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value:?}: {stderr}");
        assert!(stderr.contains(message), "{value:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let help = text(&run(&["--help"]).stdout);
    assert!(help.contains("--state-dir <DIR>"), "{help}");
    assert!(help.contains("$STATE_DIRECTORY") && help.contains("~/.local/state/matter-ble"));
    assert!(help.contains("factory-reset"));
    let help = text(&run(&["factory-reset", "--help"]).stdout);
    assert!(
        help.contains("--yes") && help.contains("--state-dir"),
        "{help}"
    );
}

/// Starts the device on UDP only, with its state in `dir`.
fn device(dir: &str) -> Child {
    matter_ble()
        .args([
            "--passcode",
            "20202021",
            "--qr",
            "none",
            "--transport",
            "udp",
            // No mDNS on the machine's real networks from a test.
            "--mdns",
            "off",
            "--udp-port",
            "0",
            "--state-dir",
            dir,
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn matter-ble: {e}"))
}

#[test]
fn the_device_opens_and_locks_its_state_folder() {
    let t = TempDir::new("device");
    let mut child = device(&t.s());
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let state_line = lines
        .by_ref()
        .find(|l| l.contains("state folder") && l.contains("chosen by"))
        .unwrap_or_default();
    assert!(
        state_line.contains(&format!("state folder {} (chosen by --state-dir)", t.s())),
        "{state_line}"
    );
    assert!(lines.any(|l| l.contains("listening for Matter over UDP")));
    assert!(t.0.is_dir());
    // While it runs: a second device and a factory reset on the same folder are refused.
    let second = run(&[
        "--passcode",
        "20202021",
        "--transport",
        "udp",
        // No mDNS on the machine's real networks from a test.
        "--mdns",
        "off",
        "--udp-port",
        "0",
        "--state-dir",
        &t.s(),
    ]);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains("in use by another running matter-ble"),
        "{err}"
    );
    assert!(second.stdout.is_empty(), "the second device printed codes");
    let reset = run(&["factory-reset", "--yes", "--state-dir", &t.s()]);
    assert_eq!(reset.status.code(), Some(1));
    assert!(text(&reset.stderr).contains("in use by another running matter-ble"));
    // Stopped gracefully, it releases the folder.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            assert!(st.success(), "{st}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(Store::open(&t.0).unwrap_or_else(|e| panic!("{e}")));
}

#[test]
fn factory_reset_asks_on_a_terminal() {
    // util-linux `script` gives the command a pseudo-terminal (bsdutils is Essential on Debian).
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to provide a terminal");
        return;
    }
    let t = TempDir::new("tty");
    with_records(&t.0, &["fabric-1", "fabric-2"]);
    let ask = |answer: &str| -> Output {
        use std::io::Write;
        let cmd = format!(
            "'{}' factory-reset --state-dir '{}'",
            env!("CARGO_BIN_EXE_matter-ble"),
            t.s()
        );
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("script: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(answer.as_bytes());
        }
        child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
    };
    let out = ask("no\n");
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("(2 record(s): fabric-1, fabric-2)") && shown.contains("Type \"yes\""),
        "{shown}"
    );
    assert!(shown.contains("Aborted: nothing was removed."), "{shown}");
    assert_eq!(names(&t.0).len(), 2);
    let out = ask("yes\n");
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("Removed 2 record(s)"), "{shown}");
    assert!(names(&t.0).is_empty());
}
