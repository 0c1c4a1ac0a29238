//! The sans-IO rule, checked: core modules never use tokio, bluer, D-Bus, sockets, a clock or
//! sleeps. Only the shell modules (`ble`, `udp`, `runtime`) and the binaries may.

use std::fs;
use std::path::{Path, PathBuf};

/// Core modules: everything the engines are made of.
const CORE: &[&str] = &[
    "src/tlv",
    "src/message",
    "src/setup_payload",
    "src/btp",
    "src/session",
    "src/exchange",
    "src/pase",
    "src/case",
    "src/im",
    "src/cert",
    "src/fabric",
    "src/node.rs",
    "src/commissioner.rs",
    "src/commissioner_flow.rs",
    "src/commissioner_flow",
    "src/attestation",
    "src/time.rs",
    "src/rng.rs",
    "src/error.rs",
    "src/dnssd/records.rs",
    "src/dnssd/records",
];

const FORBIDDEN: &[&str] = &[
    "tokio",
    "bluer",
    "dbus",
    "btleplug",
    "std::net::UdpSocket",
    "Instant::now",
    "SystemTime::now",
    "thread::sleep",
];

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in fs::read_dir(p).expect("read_dir").flatten() {
            rust_files(&e.path(), out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

#[test]
fn core_modules_do_no_io_and_read_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for c in CORE {
        rust_files(&root.join(c), &mut files);
    }
    assert!(files.len() > 20, "core module list out of date: {files:?}");
    let mut offences = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).expect("read");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "core modules doing IO:\n{}",
        offences.join("\n")
    );
}
