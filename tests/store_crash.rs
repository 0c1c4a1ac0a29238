//! The state folder across processes: a writer `kill -9`ed at random moments never leaves a torn
//! record, and the lock keeps a second process out until the first ends (however it ends).
//!
//! The child processes are this test binary re-executed with `MATTER_BLE_STORE_CHILD` set, running
//! only the `child` test, which then acts as the writer or the lock holder instead of returning.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use matter_ble::rng::{OsRng, Rng};
use matter_ble::store::{Store, StoreError, TEMP_PREFIX};

const CHILD_ENV: &str = "MATTER_BLE_STORE_CHILD";

/// The two versions the writer alternates between: small and large (its write and fsync take
/// milliseconds, so kills often land between the temporary file's creation and its rename).
fn version_a() -> Vec<u8> {
    b"version A: a small record".to_vec()
}

fn version_b() -> Vec<u8> {
    (0..256 * 1024u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect()
}

/// The version written in the writer's cycle `n` (from 1): A, B, A, B, ...
fn version(n: u64) -> Vec<u8> {
    if n % 2 == 1 {
        version_a()
    } else {
        version_b()
    }
}

/// The re-executed test binary's role. In a normal run this test does nothing.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, dir) = role.split_once(':').unwrap_or(("", ""));
    let mut store = Store::open(dir).unwrap_or_else(|e| panic!("child: {e}"));
    match role {
        "writer" => {
            // The counter continues from what the last (killed) writer managed to store: it
            // must never go backwards, the high-water-mark rule of message counters.
            let mut n = match store.read("counter") {
                Ok(Some(v)) => u64::from_le_bytes(v.as_slice().try_into().unwrap_or([0; 8])),
                Ok(None) => 0,
                Err(e) => panic!("child: {e}"),
            };
            ready();
            loop {
                // Record `rec` gets version(n), then `counter` gets n: so after any kill,
                // `rec` is version(counter) or, killed between the two writes, the next one.
                n += 1;
                store
                    .write("rec", &version(n))
                    .and_then(|()| store.write("counter", &n.to_le_bytes()))
                    .unwrap_or_else(|e| panic!("child: {e}"));
            }
        }
        "holder" => {
            ready();
            // Hold the lock until the parent closes our stdin.
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        other => panic!("unknown child role {other:?}"),
    }
}

fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "child ready");
    let _ = out.flush();
}

fn spawn(role: &str, dir: &Path) -> Child {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(exe)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role}:{}", dir.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot re-run the test binary: {e}"));
    let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    // Read on a thread, so a child that never gets ready fails the test instead of hanging it;
    // the thread drains the pipe to the end so the child's later output never hits a closed
    // pipe.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            // libtest may print "test child ... " before it on the same line.
            if line.trim_end().ends_with("child ready") {
                let _ = tx.send(true);
            }
        }
        let _ = tx.send(false);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(true) => child,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the {role} child did not get ready: {other:?}");
        }
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("matter-ble-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn kill_9_during_writes_leaves_the_old_or_the_new_record() {
    let t = TempDir::new("store-crash");
    let dir = &t.0;
    let a = version_a();
    let temp = dir.join(format!("{TEMP_PREFIX}rec"));
    let (mut kills, mut seen_a, mut seen_b, mut seen_temp) = (0, 0, 0, 0);
    let mut last_counter = 0u64;
    let mut rng = OsRng;
    let started = Instant::now();
    // At least 50 kills; more (up to 300) until a kill has landed in a write of each version
    // and between a temporary file's creation and its rename, so the test is known to have
    // exercised the moments that matter.
    while kills < 50 || ((seen_a == 0 || seen_b == 0 || seen_temp == 0) && kills < 300) {
        let mut child = spawn("writer", dir);
        // Anywhere in the first 60 ms: a few write cycles of the child.
        std::thread::sleep(Duration::from_micros(u64::from(rng.next_u32() % 60_000)));
        // SIGKILL: no destructor, no flush, the process is gone between two instructions.
        child.kill().unwrap_or_else(|e| panic!("{e}"));
        let _ = child.wait();
        kills += 1;
        if temp.exists() {
            seen_temp += 1;
        }
        let store = Store::open(dir).unwrap_or_else(|e| panic!("after kill {kills}: {e}"));
        assert!(!temp.exists(), "the stale temporary file survived the open");
        let counter = match store.read("counter") {
            Ok(Some(v)) => u64::from_le_bytes(
                v.as_slice()
                    .try_into()
                    .unwrap_or_else(|_| panic!("kill {kills}: counter of {} bytes", v.len())),
            ),
            Ok(None) => 0,
            Err(e) => panic!("kill {kills}: {e}"),
        };
        assert!(
            counter >= last_counter,
            "kill {kills}: counter went back from {last_counter} to {counter}"
        );
        let rec = match store.read("rec") {
            Ok(v) => v,
            Err(e) => panic!("kill {kills}: {e}"),
        };
        let expected = [
            (counter > 0).then(|| version(counter)),
            Some(version(counter + 1)),
        ];
        match rec.as_deref().map(|v| &v[..]) {
            Some(v) if expected.iter().flatten().any(|e| e[..] == *v) => {
                if *v == a[..] {
                    seen_a += 1;
                } else {
                    seen_b += 1;
                }
            }
            None if counter == 0 => {}
            other => panic!(
                "kill {kills}: counter {counter} but a record of {:?} bytes, not version {counter} \
                 or {}",
                other.map(<[u8]>::len),
                counter + 1
            ),
        }
        last_counter = counter;
    }
    eprintln!(
        "{kills} kills in {:?}: {seen_a} left version A, {seen_b} version B, {seen_temp} \
         interrupted a write (temporary file present); counter reached {last_counter}",
        started.elapsed()
    );
    assert!(
        seen_a > 0 && seen_b > 0 && seen_temp > 0,
        "the kills never hit a write"
    );
}

#[test]
fn the_lock_keeps_a_second_process_out_until_the_first_ends() {
    let t = TempDir::new("store-lock");
    let dir = &t.0;
    // Ended by closing its stdin: a clean exit releases the lock.
    let mut holder = spawn("holder", dir);
    let err = Store::open(dir).err();
    assert!(matches!(err, Some(StoreError::Locked { .. })), "{err:?}");
    drop(holder.stdin.take());
    assert!(holder.wait().is_ok_and(|s| s.success()));
    drop(Store::open(dir).unwrap_or_else(|e| panic!("after a clean exit: {e}")));
    // Ended by SIGKILL: the kernel releases the lock all the same.
    let mut holder = spawn("holder", dir);
    assert!(matches!(Store::open(dir), Err(StoreError::Locked { .. })));
    holder.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = holder.wait();
    drop(Store::open(dir).unwrap_or_else(|e| panic!("after kill -9: {e}")));
    // And the other way round: the child cannot take a folder this process holds.
    let _held = Store::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(exe)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("holder:{}", dir.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("another running matter-ble"), "{text}");
}
