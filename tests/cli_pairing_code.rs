//! What the binary prints: the pairing codes (checked against the CHIP SDK's well-known values and
//! against our own decoder), generated values, the QR drawing, `--help`, and the main job serving
//! UDP until SIGTERM.

use std::process::{Command, Output};

use matter_ble::setup_payload::{ManualCode, SetupPayload};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matter-ble"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run matter-ble: {e}"))
}

fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("stdout is not UTF-8: {e}"))
}

/// The value after `label` on its line.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"))
}

fn block_lines(text: &str) -> usize {
    text.lines().filter(|l| l.contains(['█', '▀', '▄'])).count()
}

#[test]
fn well_known_chip_codes() {
    // The CHIP SDK example apps' codes for passcode 20202021, discriminator 3840, vendor 0xFFF1,
    // product 0x8001, BLE (printed by chip-all-clusters-app; used in the CHIP SDK's
    // src/python_testing/TC_BRBINFO_4_1.py and run_python_setup_payload_test.py).
    let out = stdout_of(&[
        "pairing-code",
        "--passcode",
        "20202021",
        "--discriminator",
        "3840",
        "--transport",
        "ble",
    ]);
    assert_eq!(field(&out, "QR code:"), "MT:-24J042C00KA0648G00");
    assert_eq!(
        field(&out, "Manual pairing code:"),
        "34970112332 (3497-011-2332)"
    );
    assert_eq!(field(&out, "Passcode:"), "20202021");
    assert_eq!(field(&out, "Discriminator:"), "3840 (0xF00)");
    assert_eq!(field(&out, "Vendor / product id:"), "0xFFF1 / 0x8001");
    assert_eq!(field(&out, "Discovery:"), "BLE");
    // 22 alphanumeric characters at error correction level M need a version-2 symbol (25
    // modules); with the 4-module quiet zone that is 33 rows, two per line.
    assert_eq!(block_lines(&out), 17);
    // Flag order does not matter, and hex works as well as decimal.
    let again = stdout_of(&[
        "--discriminator",
        "0xF00",
        "--vendor-id",
        "65521",
        "pairing-code",
        "--passcode",
        "20202021",
        "--product-id",
        "32769",
        "--transport",
        "ble",
    ]);
    assert_eq!(again, out);
    // The default, auto, announces BLE only (no DNS-SD yet): the same well-known code.
    let auto = stdout_of(&[
        "pairing-code",
        "--passcode",
        "20202021",
        "--discriminator",
        "3840",
    ]);
    assert_eq!(field(&auto, "Discovery:"), "BLE");
    assert_eq!(field(&auto, "QR code:"), "MT:-24J042C00KA0648G00");
}

#[test]
fn passcode_from_a_file() {
    let path = std::env::temp_dir().join(format!("matter-ble-passcode-{}", std::process::id()));
    std::fs::write(&path, "20202021\n").unwrap_or_else(|e| panic!("{e}"));
    let path_text = path.to_string_lossy().into_owned();
    let out = stdout_of(&[
        "pairing-code",
        "--passcode-file",
        &path_text,
        "--discriminator",
        "3840",
        "--transport",
        "ble",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(field(&out, "QR code:"), "MT:-24J042C00KA0648G00");
    assert_eq!(field(&out, "Passcode:"), "20202021");
}

#[test]
fn codes_follow_the_flags() {
    // run_python_setup_payload_test.py: discriminator 3840, passcode 20202021, vendor 0,
    // product 0, on-network -> MT:00000CQM00KA0648G00.
    let out = stdout_of(&[
        "pairing-code",
        "--passcode",
        "20202021",
        "--discriminator",
        "3840",
        "--vendor-id",
        "0",
        "--product-id",
        "0",
        "--transport",
        "udp",
        // No mDNS on the machine's real networks from a test.
        "--mdns",
        "off",
        "--qr",
        "none",
    ]);
    assert_eq!(field(&out, "QR code:"), "MT:00000CQM00KA0648G00");
    assert_eq!(field(&out, "Discovery:"), "on-network (UDP)");
    assert_eq!(block_lines(&out), 0);
    let both = stdout_of(&[
        "pairing-code",
        "--passcode",
        "20202021",
        "--transport",
        "both",
    ]);
    let payload =
        SetupPayload::parse_qr_code(field(&both, "QR code:")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(payload.discovery.bits(), 0x06);
    assert_eq!(field(&both, "Discovery:"), "BLE + on-network (UDP)");
}

#[test]
fn generated_values_are_valid_printed_and_fresh() {
    let first = stdout_of(&["pairing-code"]);
    let second = stdout_of(&["pairing-code"]);
    for out in [&first, &second] {
        let payload = SetupPayload::parse_qr_code(field(out, "QR code:"))
            .unwrap_or_else(|e| panic!("{e}\n{out}"));
        let manual = field(out, "Manual pairing code:");
        let manual = ManualCode::parse(manual.split(' ').next().unwrap_or(manual))
            .unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(manual.passcode, payload.passcode);
        assert_eq!(manual.short_discriminator, payload.discriminator.short());
        let passcode = field(out, "Passcode:");
        assert!(passcode.starts_with(&format!("{:08} (random", payload.passcode.value())));
        assert!(field(out, "Discriminator:").contains("(random; pass --discriminator"));
    }
    // 2^-26 odds of a false failure.
    assert_ne!(field(&first, "QR code:"), field(&second, "QR code:"));
}

#[test]
fn main_job_prints_codes_serves_udp_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    // Its own state folder, so the test neither touches nor depends on the user's.
    let state = std::env::temp_dir().join(format!("matter-ble-main-job-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let mut child = Command::new(env!("CARGO_BIN_EXE_matter-ble"))
        .arg("--state-dir")
        .arg(&state)
        .args([
            "--passcode",
            "20202021",
            "--discriminator",
            "3840",
            "--product-id",
            "0x8000",
            "--qr",
            "none",
            "--transport",
            "udp",
            // No mDNS on the machine's real networks from a test.
            "--mdns",
            "off",
            "--udp-port",
            "0",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn matter-ble");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("Discovery:"))
        .collect();
    let text = lines.join("\n");
    let payload =
        SetupPayload::parse_qr_code(field(&text, "QR code:")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(payload.passcode.value(), 20202021);
    assert_eq!(
        payload.discovery.bits(),
        0x04,
        "UDP only: on-network discovery"
    );
    // Wait for the UDP listener, then ask for a graceful stop.
    let stderr = child.stderr.take().expect("stderr");
    let mut err_lines = BufReader::new(stderr).lines();
    let listening = err_lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening for Matter over UDP"));
    assert!(listening, "the device never started listening");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            assert!(st.success(), "exit status after SIGTERM: {st}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "no exit within 5 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn help_and_version() {
    let help = stdout_of(&["--help"]);
    for flag in [
        "--passcode",
        "--discriminator",
        "--vendor-id",
        "--product-id",
        "--adapter",
        "--device-name",
        "--iterations",
        "--salt",
        "--verifier",
        "--commissioning-timeout",
        "--transport",
        "--udp-port",
        "--qr",
        "pairing-code",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("[default: 900s]") && help.contains("[default: 0xFFF1]"));
    let sub = stdout_of(&["pairing-code", "--help"]);
    assert!(sub.contains("--passcode"));
    assert!(stdout_of(&["--version"]).starts_with("matter-ble "));
}

/// Starts the device with `args` on `state`, reads the printed codes, stops it with SIGTERM.
/// Its stderr is closed once it listens: a device whose log reader is gone must still stop
/// cleanly (it once panicked on the next log line, exit 101).
fn device_codes(state: &std::path::Path, args: &[&str]) -> String {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_matter-ble"))
        .arg("--state-dir")
        .arg(state)
        .args([
            "--qr",
            "none",
            "--transport",
            "udp",
            "--udp-port",
            "0",
            "--mdns",
            "off",
        ])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn matter-ble");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("Discovery:"))
        .collect();
    let stderr = child.stderr.take().expect("stderr");
    let listening = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("listening for Matter over UDP"));
    assert!(listening, "the device never started listening");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let st = child.wait().expect("wait");
    assert!(st.success(), "exit status after SIGTERM: {st}");
    lines.join("\n")
}

#[test]
fn generated_codes_are_kept_in_the_state_folder() {
    let state = std::env::temp_dir().join(format!("matter-ble-kept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let first = device_codes(&state, &[]);
    let second = device_codes(&state, &[]);
    assert_eq!(
        field(&first, "QR code:"),
        field(&second, "QR code:"),
        "the random codes changed between runs:\n{first}\n--\n{second}"
    );
    assert!(
        first.contains("kept in the state folder"),
        "no note that the random passcode is kept:\n{first}"
    );
    // An explicit passcode wins over the kept one for that run, and is not stored.
    let explicit = device_codes(&state, &["--passcode", "20202021"]);
    assert!(
        explicit.contains("Passcode:            20202021"),
        "{explicit}"
    );
    let third = device_codes(&state, &[]);
    assert_eq!(field(&first, "QR code:"), field(&third, "QR code:"));
    // A fresh folder is a new device: other codes.
    let other = std::env::temp_dir().join(format!("matter-ble-kept2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&other);
    let fresh = device_codes(&other, &[]);
    assert_ne!(field(&first, "QR code:"), field(&fresh, "QR code:"));
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir_all(&other);
}

#[test]
fn bad_attestation_files_stop_the_device_before_it_prints_codes() {
    let dir = std::env::temp_dir().join(format!("matter-ble-badatt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let junk = dir.join("junk.der");
    std::fs::write(&junk, b"not a certificate").expect("write");
    let junk = junk.to_string_lossy().into_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_matter-ble"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args([
            "--transport",
            "udp",
            "--udp-port",
            "0",
            "--qr",
            "none",
            "--mdns",
            "off",
        ])
        .args([
            "--dac",
            &junk,
            "--pai",
            &junk,
            "--dac-key",
            &junk,
            "--cd",
            &junk,
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("run matter-ble");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("attestation credentials"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "codes printed for a device that cannot attest: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
