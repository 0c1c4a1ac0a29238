//! The binary refuses every bad flag value with exit status 2, a message naming the problem on
//! stderr, and nothing on stdout.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matter-ble"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run matter-ble: {e}"))
}

/// Runs `args` (as `pairing-code`, so nothing needs a radio) and checks the rejection.
fn rejects(args: &[&str], message: &str) {
    let mut full = vec!["pairing-code"];
    full.extend_from_slice(args);
    let out = run(&full);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: status; stderr: {stderr}"
    );
    assert!(
        stderr.contains(message),
        "{args:?}: stderr lacks {message:?}:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "{args:?}: printed codes anyway");
}

/// The verifier of passcode 20202021 with salt "SPAKE2P Key Salt" and 1000 iterations (the CHIP
/// SDK's test parameters), as hex, derived by our PASE layer.
fn verifier_hex() -> String {
    let v = matter_ble::pase::PaseVerifier::from_passcode(20_202_021, b"SPAKE2P Key Salt", 1000)
        .unwrap_or_else(|e| panic!("{e}"));
    v.spake2p()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SALT: &str = "5350414b453250204b65792053616c74"; // "SPAKE2P Key Salt", 16 bytes

#[test]
fn passcodes() {
    for forbidden in [
        "00000000", "11111111", "22222222", "33333333", "44444444", "55555555", "66666666",
        "77777777", "88888888", "99999999", "12345678", "87654321", "0",
    ] {
        rejects(&["--passcode", forbidden], "is not allowed: Matter forbids");
    }
    rejects(
        &["--passcode", "100000000"],
        "out of range: it must be between 1 and 99999998",
    );
    rejects(&["--passcode", "4294967296"], "out of range");
    rejects(&["--passcode", "2020x021"], "is not a number");
    rejects(&["--passcode", ""], "is not a number");
}

#[test]
fn discriminators() {
    rejects(&["--discriminator", "4096"], "between 0 and 4095");
    rejects(&["--discriminator", "0x1000"], "between 0 and 4095");
    rejects(&["--discriminator=-1"], "\"-1\" is not a number");
    rejects(&["--discriminator", "ten"], "is not a number");
}

#[test]
fn ids_and_ports() {
    rejects(&["--vendor-id", "65536"], "out of range: at most 65535");
    rejects(&["--vendor-id", "0x1FFF1"], "out of range: at most 65535");
    rejects(&["--product-id", "0xZZ"], "is not a number");
    rejects(&["--udp-port", "70000"], "out of range: at most 65535");
}

#[test]
fn pbkdf_parameters() {
    rejects(&["--iterations", "999"], "Matter allows 1000 to 100000");
    rejects(&["--iterations", "100001"], "Matter allows 1000 to 100000");
    rejects(&["--salt", &"00".repeat(15)], "the salt is 15 bytes long");
    rejects(&["--salt", &"00".repeat(33)], "the salt is 33 bytes long");
    rejects(&["--salt", "abc"], "odd number");
    rejects(&["--salt", &"zz".repeat(16)], "is not a hex digit");
}

#[test]
fn verifiers() {
    let v = verifier_hex();
    rejects(
        &[
            "--verifier",
            &v[..192],
            "--salt",
            SALT,
            "--iterations",
            "1000",
        ],
        "the verifier is 96 bytes long",
    );
    let mut bad_point = v.clone();
    bad_point.replace_range(192.., if v.ends_with('0') { "01" } else { "00" });
    rejects(
        &[
            "--verifier",
            &bad_point,
            "--salt",
            SALT,
            "--iterations",
            "1000",
        ],
        "the verifier is not valid",
    );
    let zero_w0 = format!("{}{}", "0".repeat(64), &v[64..]);
    rejects(
        &[
            "--verifier",
            &zero_w0,
            "--salt",
            SALT,
            "--iterations",
            "1000",
        ],
        "the verifier is not valid",
    );
    // Combinations clap enforces.
    rejects(
        &[
            "--verifier",
            &v,
            "--passcode",
            "20202021",
            "--salt",
            SALT,
            "--iterations",
            "1000",
        ],
        "cannot be used with",
    );
    rejects(&["--verifier", &v, "--iterations", "1000"], "--salt");
    rejects(&["--verifier", &v, "--salt", SALT], "--iterations");
    // A valid verifier, but the pairing codes need the passcode.
    rejects(
        &["--verifier", &v, "--salt", SALT, "--iterations", "1000"],
        "the pairing codes carry the passcode",
    );
}

#[test]
fn timeouts_transports_adapters_names() {
    rejects(
        &["--commissioning-timeout", "179"],
        "is out of range: it must be between 180s",
    );
    rejects(&["--commissioning-timeout", "2m"], "is out of range");
    rejects(&["--commissioning-timeout", "25h"], "is out of range");
    rejects(&["--commissioning-timeout", "5x"], "is not a duration");
    rejects(
        &["--transport", "wifi"],
        "[possible values: auto, ble, udp, both]",
    );
    rejects(&["--adapter", "eth0"], "is not a Bluetooth adapter name");
    rejects(&["--adapter", "hci"], "is not a Bluetooth adapter name");
    rejects(&["--device-name", ""], "device name \"\" is not usable");
    rejects(&["--device-name", &"x".repeat(249)], "is not usable");
    rejects(&["--qr", "sixel"], "[possible values: dark, light, none]");
}

#[test]
fn passcode_files() {
    let dir = std::env::temp_dir().join(format!("matter-ble-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let trivial = dir.join("trivial");
    std::fs::write(&trivial, "87654321\n").unwrap_or_else(|e| panic!("{e}"));
    let trivial = trivial.to_string_lossy().into_owned();
    rejects(
        &["--passcode-file", &trivial],
        "is not allowed: Matter forbids",
    );
    let absent = dir.join("absent").to_string_lossy().into_owned();
    rejects(&["--passcode-file", &absent], "passcode file");
    let good = dir.join("good");
    std::fs::write(&good, "20202021").unwrap_or_else(|e| panic!("{e}"));
    let good = good.to_string_lossy().into_owned();
    rejects(
        &["--passcode-file", &good, "--passcode", "20202021"],
        "cannot be used with",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_main_job_refuses_bad_values_too() {
    let out = run(&["--passcode", "12345678"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn basic_information_strings_and_interfaces() {
    rejects(&["--vendor-name", ""], "--vendor-name");
    rejects(&["--product-name", &"x".repeat(33)], "1 to 32 bytes");
    rejects(&["--serial-number", "a\u{7}b"], "--serial-number");
    rejects(&["--network-interface", "eth0/1"], "network interface name");
    rejects(
        &["--network-interface", "averyveryverylongname"],
        "network interface name",
    );
    rejects(&["--on-change", "  "], "--on-change needs a command");
}

#[test]
fn attestation_files_go_together_and_must_be_readable() {
    let dir = std::env::temp_dir().join(format!("matter-ble-cli-att-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let f = dir.join("dac.der");
    std::fs::write(&f, [0x30u8, 0x00]).unwrap_or_else(|e| panic!("{e}"));
    let f = f.to_string_lossy().into_owned();
    rejects(&["--dac", &f], "required arguments were not provided");
    let absent = dir.join("absent").to_string_lossy().into_owned();
    rejects(
        &["--dac", &absent, "--pai", &f, "--dac-key", &f, "--cd", &f],
        "--dac ",
    );
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap_or_else(|e| panic!("{e}"));
    let empty = empty.to_string_lossy().into_owned();
    rejects(
        &["--dac", &f, "--pai", &empty, "--dac-key", &f, "--cd", &f],
        "empty",
    );
    let big = dir.join("big");
    std::fs::write(&big, vec![0u8; 17 * 1024]).unwrap_or_else(|e| panic!("{e}"));
    let big = big.to_string_lossy().into_owned();
    rejects(
        &["--dac", &f, "--pai", &f, "--dac-key", &big, "--cd", &f],
        "too large",
    );
    let d = dir.to_string_lossy().into_owned();
    rejects(
        &["--dac", &f, "--pai", &f, "--dac-key", &f, "--cd", &d],
        "not a regular file",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_file_sets_flags_and_the_command_line_wins() {
    let dir = std::env::temp_dir().join(format!("matter-ble-cli-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("matter-ble.toml");
    std::fs::write(
        &file,
        "passcode = 20202021\ndiscriminator = \"0xF00\"\nproduct-id = \"0x8002\"\nqr = \"none\"\n\
         on-change = \"gpioset gpiochip0 17=$MATTER_ON_OFF\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file = file.to_string_lossy().into_owned();
    let out = run(&["pairing-code", "--config", &file]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0xFFF1 / 0x8002"), "{stdout}");
    assert!(stdout.contains("Passcode:            20202021"), "{stdout}");
    let out = run(&["pairing-code", "--config", &file, "--product-id", "0x8003"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0xFFF1 / 0x8003"), "{stdout}");
    // A bad value in the file gets the flag's own message.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "discriminator = 5000\n").unwrap_or_else(|e| panic!("{e}"));
    let bad = bad.to_string_lossy().into_owned();
    rejects(&["--config", &bad], "discriminator");
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "prodcut-id = 1\n").unwrap_or_else(|e| panic!("{e}"));
    let typo = typo.to_string_lossy().into_owned();
    rejects(&["--config", &typo], "unknown key \"prodcut-id\"");
    let _ = std::fs::remove_dir_all(&dir);
}
