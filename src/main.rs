//! `matter-ble`, the binary: parses and validates the command line ([`matter_ble::config`]),
//! opens the state folder ([`matter_ble::store`]), prints the pairing codes with the QR code
//! drawn on the terminal, then starts the runtime. `factory-reset` clears the state folder.
//!
//! Exit status: 0 on success, 2 for a bad command line (clap's convention, kept for our own
//! validation errors), 1 when the device cannot run.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use matter_ble::config::{self, Cli, Command, Config, ConfigError, FactoryResetArgs, QrStyle};
use matter_ble::config_file;
use matter_ble::rng::OsRng;
use matter_ble::setup_payload::{DiscoveryCapabilities, SetupPayload};
use matter_ble::state;
use matter_ble::store::{StateEnv, Store};
use qrcode::{Color, QrCode};
use tracing::info;

/// `eprintln!` that never panics: a closed stderr (the reader of a pipe gone) must not turn a
/// clean exit into a panic; the message is simply lost.
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(io::stderr(), $($t)*);
    }};
}

fn main() -> ExitCode {
    let args = match config_file::expand(std::env::args_os().collect(), &config::file_flags()) {
        Ok(a) => a,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    // Without RUST_LOG the user still sees start-up warnings (BLE unavailable, the UDP port in
    // use) and each commissioning step at info; RUST_LOG=debug adds the protocol steps.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        // Its default reports a failed write with eprintln!, which panics when stderr is closed.
        .log_internal_errors(false)
        .init();

    let config = match Config::from_args(cli.args, &mut OsRng) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };

    match cli.command {
        Some(Command::PairingCode) => match config.setup_payload() {
            Ok(payload) => print_or_fail(&config, &payload),
            Err(e) => usage_error(&e),
        },
        Some(Command::FactoryReset(args)) => factory_reset(&config, args),
        None => run_device(config),
    }
}

/// The main job: open the state folder, print the codes, then run the device.
fn run_device(mut config: Config) -> ExitCode {
    // First, so that a second instance on the same folder stops before it prints codes that
    // would not work. The store stays open (and locked) until the device stops.
    let mut store = match open_store(&config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The device's identity: generated setup values are kept, so the codes printed below are
    // the same on every start.
    let identity = match state::apply_identity(&mut store, &mut config, &mut OsRng) {
        Ok(i) => i,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The attestation credentials before the codes too: bad --dac/--pai/--dac-key/--cd files stop
    // the start-up before a QR code that could not be commissioned is shown.
    let attestation = match state::attestation(&mut store, &config, &mut OsRng) {
        Ok(a) => a,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match config.setup_payload() {
        Ok(payload) => {
            if print_or_fail(&config, &payload) != ExitCode::SUCCESS {
                return ExitCode::FAILURE;
            }
        }
        Err(_) => say!(
            "note: started with --verifier, so the pairing codes cannot be shown here (they \
             carry the passcode); use the codes made together with the verifier, for \
             discriminator {}{}",
            config.discriminator.value(),
            if config.generated.discriminator && !config.generated.kept {
                " (random: pass --discriminator to match codes made earlier)"
            } else {
                ""
            }
        ),
    }
    say!(
        "matter-ble: commissioning window {}s on {}{}",
        config.commissioning_timeout.as_secs(),
        transports(&config),
        if config.generated.salt && !config.generated.kept {
            ", random PBKDF2 salt"
        } else {
            ""
        }
    );
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = match rt.block_on(matter_ble::runtime::run(
        config,
        &mut store,
        identity,
        attestation,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    drop(store);
    status
}

/// Opens and locks the state folder, logging where it is; on failure says why (exit status 1).
fn open_store(config: &Config) -> Result<Store, ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        say!("error: {e}");
        ExitCode::FAILURE
    };
    let dir = config
        .state_dir(&StateEnv::from_process())
        .map_err(|e| fail(&e))?;
    let store = Store::open(&dir.path).map_err(|e| fail(&e))?;
    info!(
        "state folder {} (chosen by {})",
        store.dir().display(),
        dir.source
    );
    Ok(store)
}

/// `matter-ble factory-reset`: removes every record from the state folder, after confirmation.
/// Exit status 0 when done (or nothing to do), 1 when refused or declined, 2 when confirmation
/// is needed but standard input is not a terminal.
fn factory_reset(config: &Config, args: FactoryResetArgs) -> ExitCode {
    let dir = match config.state_dir(&StateEnv::from_process()) {
        Ok(d) => d,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Do not create a folder just to empty it.
    if !dir.path.try_exists().unwrap_or(true) {
        println!(
            "No state folder at {}: nothing to remove.",
            dir.path.display()
        );
        return ExitCode::SUCCESS;
    }
    // Opening takes the lock: a running device keeps its folder, and the folder checks refuse
    // one that holds other files.
    let mut store = match Store::open(&dir.path) {
        Ok(s) => s,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let names = match store.names() {
        Ok(n) => n,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !names.is_empty() && !args.yes {
        match confirm(store.dir(), &names) {
            Ok(true) => {}
            Ok(false) => {
                say!("Aborted: nothing was removed.");
                return ExitCode::FAILURE;
            }
            Err(message) => {
                say!("error: {message}");
                return ExitCode::from(2);
            }
        }
    }
    match store.factory_reset() {
        Ok(report) => {
            if report.removed.is_empty() {
                println!(
                    "The state folder {} holds no records: nothing to remove.",
                    store.dir().display()
                );
            } else {
                println!(
                    "Removed {} record(s) from {}: {}",
                    report.removed.len(),
                    store.dir().display(),
                    report.removed.join(", ")
                );
            }
            if !report.left.is_empty() {
                println!(
                    "Left in place (not matter-ble records): {}",
                    report.left.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Asks on the terminal; `Err` when standard input is not one.
fn confirm(dir: &Path, names: &[String]) -> Result<bool, String> {
    let mut listed = names.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 8 {
        listed.push_str(", ...");
    }
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "factory-reset would remove {} record(s) from {} ({listed}) and asks for \
             confirmation on a terminal; standard input is not one: pass --yes",
            names.len(),
            dir.display()
        ));
    }
    eprint!(
        "This deletes all matter-ble state in {} ({} record(s): {listed}). The device forgets \
         every fabric and must be commissioned again.\nType \"yes\" to continue: ",
        dir.display(),
        names.len()
    );
    let _ = io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "yes" | "y"
    ))
}

fn transports(config: &Config) -> String {
    let mut parts = Vec::new();
    if config.transport.ble() {
        parts.push(format!(
            "BLE ({}, as {:?})",
            config.adapter, config.device_name
        ));
    }
    if config.transport.udp() {
        parts.push(format!("UDP port {}", config.udp_port));
    }
    parts.join(" and ")
}

fn usage_error(e: &ConfigError) -> ExitCode {
    say!("error: {e}");
    ExitCode::from(2)
}

fn print_or_fail(config: &Config, payload: &SetupPayload) -> ExitCode {
    let mut out = io::stdout().lock();
    match print_codes(&mut out, config, payload).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: cannot write the pairing codes: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the codes: the lines `QR code:` and `Manual pairing code:` are meant for people and
/// scripts alike, and stay stable.
fn print_codes(out: &mut impl Write, config: &Config, payload: &SetupPayload) -> io::Result<()> {
    let manual = payload.manual_code();
    writeln!(out, "QR code:             {}", payload.qr_code())?;
    writeln!(out, "Manual pairing code: {manual} ({})", manual.grouped())?;
    writeln!(
        out,
        "Passcode:            {:08}{}",
        payload.passcode.value(),
        generated_note(config, config.generated.passcode, "--passcode")
    )?;
    writeln!(
        out,
        "Discriminator:       {} (0x{:03X}){}",
        payload.discriminator,
        payload.discriminator.value(),
        generated_note(config, config.generated.discriminator, "--discriminator")
    )?;
    writeln!(
        out,
        "Vendor / product id: 0x{:04X} / 0x{:04X}",
        payload.vendor_id, payload.product_id
    )?;
    writeln!(
        out,
        "Discovery:           {}",
        discovery_names(payload.discovery)
    )?;
    if config.qr_style != QrStyle::None {
        match render_qr(&payload.qr_code(), config.qr_style == QrStyle::Dark) {
            Some(art) => {
                writeln!(out)?;
                out.write_all(art.as_bytes())?;
            }
            None => writeln!(out, "(the QR code could not be drawn; use the text above)")?,
        }
    }
    Ok(())
}

fn generated_note(config: &Config, generated: bool, flag: &str) -> String {
    match (generated, config.generated.kept) {
        (false, _) => String::new(),
        // The device run keeps it in the state folder; `factory-reset` makes a new one.
        (true, true) => " (random at first start, kept in the state folder)".into(),
        (true, false) => format!(" (random; pass {flag} to keep it across runs)"),
    }
}

fn discovery_names(d: DiscoveryCapabilities) -> String {
    let mut names = Vec::new();
    for (flag, name) in [
        (DiscoveryCapabilities::BLE, "BLE"),
        (DiscoveryCapabilities::ON_NETWORK, "on-network (UDP)"),
        (DiscoveryCapabilities::SOFT_AP, "soft-AP"),
    ] {
        if d.contains(flag) {
            names.push(name);
        }
    }
    names.join(" + ")
}

/// Draws `text` as a QR code with Unicode half blocks, two module rows per text line, inside a
/// quiet zone of 4 modules (ISO/IEC 18004 §6.3.8). For a dark terminal background (`light_on_dark`) the light modules
/// are the printed blocks, so the code reads as dark-on-light like paper.
fn render_qr(text: &str, light_on_dark: bool) -> Option<String> {
    const QUIET: usize = 4;
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET;
    // Whether the module at (x, y) of the bordered grid is drawn as ink.
    let ink = |x: usize, y: usize| -> bool {
        let dark = x >= QUIET
            && y >= QUIET
            && x < QUIET + width
            && y < QUIET + width
            && colors.get((y - QUIET) * width + (x - QUIET)) == Some(&Color::Dark);
        dark != light_on_dark
    };
    let mut art = String::new();
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = ink(x, y);
            // Below the last row is more quiet zone, which `ink` already answers for.
            let bottom = ink(x, y + 1);
            art.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        art.push('\n');
    }
    Some(art)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the modules back out of the half-block art.
    fn modules(art: &str) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in art.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for c in line.chars() {
                top.push(matches!(c, '█' | '▀'));
                bottom.push(matches!(c, '█' | '▄'));
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn art_matches_the_qr_modules_in_both_styles() {
        let text = "MT:-24J042C00KA0648G00";
        let code = QrCode::new(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        // The qrcode crate's own character renderer, one char per module, as the reference.
        let reference: Vec<Vec<bool>> = code
            .render::<char>()
            .quiet_zone(true)
            .module_dimensions(1, 1)
            .dark_color('#')
            .light_color(' ')
            .build()
            .lines()
            .map(|l| l.chars().map(|c| c == '#').collect())
            .collect();
        let size = code.width() + 8;
        assert_eq!(reference.len(), size);
        for light_on_dark in [false, true] {
            let art = render_qr(text, light_on_dark).unwrap_or_default();
            let got = modules(&art);
            for (y, row) in reference.iter().enumerate() {
                let expected: Vec<bool> = row.iter().map(|&d| d != light_on_dark).collect();
                assert_eq!(got[y], expected, "row {y}, light_on_dark {light_on_dark}");
            }
        }
    }
}
