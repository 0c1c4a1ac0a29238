//! `--on-change` end to end: the real binary on UDP (loopback), our commissioner completing PASE
//! against it over a real socket and invoking On/Off Toggle on endpoint 1; the command runs once
//! at start with the start-up state and again with the toggled state, with the state as `$1`,
//! `MATTER_ON_OFF` and `MATTER_ENDPOINT`. The state survives a restart ("on-off" record).

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use matter_ble::commissioner::{Commissioner, CommissionerEvent, InvokeOutcome};
use matter_ble::im::Status;
use matter_ble::node::PeerAddr;
use matter_ble::rng::TestRng;
use matter_ble::time::Instant as CoreInstant;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("matter-ble-light-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{e}"));
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The device on UDP only with `--on-change` appending `$1 $MATTER_ON_OFF $MATTER_ENDPOINT` to
/// `log`; returns it with its stderr lines and its UDP address (from its log).
fn device(t: &TempDir, log: &std::path::Path) -> (Child, mpsc::Receiver<String>, SocketAddr) {
    let script = format!(
        "echo \"$1 $MATTER_ON_OFF $MATTER_ENDPOINT\" >> '{}'",
        log.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_matter-ble"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("XDG_STATE_HOME")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .args([
            "--passcode",
            "20202021",
            "--qr",
            "none",
            "--transport",
            "udp",
            "--udp-port",
            "0",
            "--on-change",
            &script,
            "--state-dir",
        ])
        .arg(t.0.join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn matter-ble: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let port = loop {
        let l = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("no 'listening' line: {e}"));
        if l.contains("listening for Matter over UDP") {
            let addr = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .unwrap_or_else(|| panic!("no addr in {l:?}"));
            let a: SocketAddr = addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
            break a.port();
        }
    };
    (child, rx, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Our commissioner over a real loopback socket, in real time.
struct Controller {
    sock: UdpSocket,
    device: SocketAddr,
    c: Commissioner<TestRng>,
    start: Instant,
}

impl Controller {
    fn now(&self) -> CoreInstant {
        CoreInstant::from_millis(self.start.elapsed().as_millis() as u64)
    }

    fn connect(device: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        let c = Commissioner::start(
            CoreInstant::ZERO,
            PeerAddr::Udp(device),
            20202021,
            TestRng::new(7),
            TestRng::new(8),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut me = Self {
            sock,
            device,
            c,
            start,
        };
        let ev = me.run_until(|e| {
            matches!(
                e,
                CommissionerEvent::PaseEstablished { .. } | CommissionerEvent::PaseFailed(_)
            )
        });
        assert!(
            matches!(ev, CommissionerEvent::PaseEstablished { .. }),
            "{ev:?}"
        );
        me
    }

    fn run_until(&mut self, mut done: impl FnMut(&CommissionerEvent) -> bool) -> CommissionerEvent {
        let end = Instant::now() + Duration::from_secs(20);
        let mut buf = Vec::new();
        let mut rx = [0u8; 1500];
        while Instant::now() < end {
            let now = self.now();
            buf.clear();
            while self.c.poll_transmit(now, &mut buf).is_some() {
                self.sock
                    .send_to(&buf, self.device)
                    .unwrap_or_else(|e| panic!("{e}"));
                buf.clear();
            }
            while let Some(e) = self.c.poll_event() {
                if done(&e) {
                    return e;
                }
            }
            match self.sock.recv_from(&mut rx) {
                Ok((n, _)) => {
                    let now = self.now();
                    self.c.handle_datagram(now, &rx[..n]);
                }
                Err(_) => {
                    let now = self.now();
                    self.c.handle_timeout(now);
                }
            }
        }
        panic!("no answer from the device in 20 s");
    }

    fn toggle(&mut self) {
        let now = self.now();
        // On/Off cluster 0x0006, Toggle 0x02, no fields (an empty structure).
        self.c
            .invoke(now, 1, 0x0006, 0x02, &[0x15, 0x18], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let ev = self.run_until(|e| {
            matches!(
                e,
                CommissionerEvent::InvokeDone(_) | CommissionerEvent::InvokeFailed(_)
            )
        });
        let CommissionerEvent::InvokeDone(InvokeOutcome::Status { status, .. }) = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(status, Status::SUCCESS);
    }
}

fn wait_for(log: &std::path::Path, want: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = fs::read_to_string(log).unwrap_or_default();
        if got == want {
            return;
        }
        assert!(Instant::now() < end, "log is {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(mut child: Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -TERM");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            assert!(st.success(), "{st}");
            return;
        }
        assert!(Instant::now() < end, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn on_change_runs_at_start_and_after_a_toggle_and_the_state_survives_a_restart() {
    let t = TempDir::new("on-change");
    let log = t.0.join("relay.log");
    let (child, lines, addr) = device(&t, &log);
    // At start, with the start-up state (factory-new: off).
    wait_for(&log, "off 0 1\n");
    let mut ctl = Controller::connect(addr);
    ctl.toggle();
    wait_for(&log, "off 0 1\non 1 1\n");
    let switched = lines
        .try_iter()
        .chain(std::iter::from_fn(|| {
            lines.recv_timeout(Duration::from_secs(2)).ok()
        }))
        .find(|l| l.contains("light switched"));
    assert!(
        switched
            .as_deref()
            .is_some_and(|l| l.contains("state=\"on\"") || l.contains("state=on")),
        "{switched:?}"
    );
    stop(child);
    // Restarted (StartUpOnOff null: the previous value), the output is set to on again.
    fs::remove_file(&log).unwrap_or_else(|e| panic!("{e}"));
    let (child, _lines, _) = device(&t, &log);
    wait_for(&log, "on 1 1\n");
    stop(child);
}
