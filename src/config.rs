//! What a matter-ble run is configured with: the command line ([`Cli`], clap) and the validated
//! [`Config`] the runtime consumes, plus the value parsers behind every flag.
//!
//! Every flag is checked here, with a message that says what was wrong and what is allowed, so the
//! runtime never sees an out-of-range value. Values the user leaves out are filled in by
//! [`Config::from_args`]: a random passcode, discriminator and salt (drawn from the caller's
//! [`Rng`]), the CHIP SDK's test vendor and product id, 1000 PBKDF2 iterations.

use core::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::pase::{PaseVerifier, VerifierError};
use crate::rng::Rng;
use crate::setup_payload::{
    DiscoveryCapabilities, Discriminator, Passcode, SetupPayload, SetupPayloadError,
};
use crate::store::{StateDir, StateEnv, StoreError};

/// PBKDF2 iteration bounds (Matter 1.3 §3.9 "Password-Based Key Derivation Function").
pub const ITERATIONS: core::ops::RangeInclusive<u32> = 1000..=100_000;
/// Salt length bounds in bytes (same section).
pub const SALT_LEN: core::ops::RangeInclusive<usize> = 16..=32;
/// The commissioning window may not be shorter (Matter 1.3 §5.4.2.3: at least 3 minutes).
pub const MIN_COMMISSIONING_TIMEOUT: Duration = Duration::from_secs(180);
/// An upper bound that keeps a typo (`900h`) from advertising for a month.
pub const MAX_COMMISSIONING_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// The default commissioning window: 15 minutes, as the CHIP SDK opens on boot.
pub const DEFAULT_COMMISSIONING_TIMEOUT: Duration = Duration::from_secs(900);
/// Default PBKDF2 iterations: the spec's minimum, which the CHIP SDK's examples also use.
pub const DEFAULT_ITERATIONS: u32 = 1000;
/// The Matter UDP port (Matter 1.3 §2.5.6.2).
pub const DEFAULT_UDP_PORT: u16 = 5540;
/// The first test vendor id (Matter 1.3 §2.5.2: 0xFFF1..=0xFFF4 are for testing).
pub const DEFAULT_VENDOR_ID: u16 = 0xFFF1;
/// The product id of the CHIP SDK's example apps.
pub const DEFAULT_PRODUCT_ID: u16 = 0x8001;
/// Bytes in a verifier: w0 (32, big-endian scalar) || L (65, uncompressed SEC1 point).
pub const VERIFIER_LEN: usize = 32 + 65;
/// The longest GAP device name (Bluetooth Core 5.3 Vol 3 Part C §12.1).
pub const MAX_DEVICE_NAME_LEN: usize = 248;

/// A value on the command line that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The passcode or discriminator failed the onboarding payload's rules.
    #[error(transparent)]
    Payload(#[from] SetupPayloadError),
    /// Not an integer.
    #[error("{0:?} is not a number: use decimal (65521) or hex with 0x (0xFFF1)")]
    NotANumber(String),
    /// An integer too large for its field.
    #[error("{value} is out of range: at most {max}")]
    TooLarge {
        /// What was given.
        value: String,
        /// The largest allowed value.
        max: u64,
    },
    /// PBKDF2 iterations outside 1000..=100000.
    #[error("{0} PBKDF2 iterations is out of range: Matter allows 1000 to 100000")]
    Iterations(u32),
    /// Not a hex string.
    #[error("not valid hex: {0}")]
    Hex(String),
    /// A salt outside 16..=32 bytes.
    #[error("the salt is {0} bytes long: Matter allows 16 to 32 bytes (32 to 64 hex digits)")]
    SaltLength(usize),
    /// A verifier that is not 97 bytes.
    #[error(
        "the verifier is {0} bytes long: it must be 97 bytes (194 hex digits), w0 (32 bytes) \
         followed by L as an uncompressed P-256 point (65 bytes, starting with 04)"
    )]
    VerifierLength(usize),
    /// w0 is not a non-zero scalar below the group order, or L not a point on P-256.
    #[error(
        "the verifier is not valid: w0 (its first 32 bytes) must be a non-zero P-256 scalar below \
         the group order and L (the other 65) an uncompressed point on the curve (04 || x || y)"
    )]
    VerifierInvalid,
    /// A verifier without the PBKDF2 parameters it was computed with.
    #[error(
        "--verifier needs --salt and --iterations: the commissioner derives the same w0 and L \
         from the passcode only with the salt and iteration count the verifier was made with"
    )]
    VerifierWithoutPbkdfParameters,
    /// The passcode file cannot be read or holds something other than one passcode.
    #[error("passcode file {path}: {reason}")]
    PasscodeFile {
        /// The path given.
        path: String,
        /// What went wrong (never the file's content).
        reason: String,
    },
    /// Some but not all of --dac, --pai, --dac-key, --cd.
    #[error("--dac, --pai, --dac-key and --cd go together: give all four, or none for development credentials")]
    AttestationIncomplete,
    /// Both `--passcode` and `--passcode-file`.
    #[error("--passcode and --passcode-file exclude each other: give the passcode once")]
    PasscodeTwice,
    /// Both a verifier and a passcode.
    #[error("--verifier and --passcode exclude each other: give the passcode or its verifier")]
    VerifierWithPasscode,
    /// The pairing codes were asked for but only a verifier is known.
    #[error(
        "the pairing codes carry the passcode, and only a verifier was given: pass --passcode \
         instead of --verifier to print them"
    )]
    CodesNeedPasscode,
    /// A duration that cannot be read.
    #[error("{0:?} is not a duration: use seconds (900) or a number with a unit (900s, 15m, 1h)")]
    Duration(String),
    /// A commissioning timeout outside the allowed window.
    #[error(
        "a commissioning timeout of {}s is out of range: it must be between {}s (3 minutes, \
         the spec's minimum) and {}s (24 hours)",
        .0.as_secs(), MIN_COMMISSIONING_TIMEOUT.as_secs(), MAX_COMMISSIONING_TIMEOUT.as_secs()
    )]
    CommissioningTimeout(Duration),
    /// Not a BlueZ adapter name.
    #[error("{0:?} is not a Bluetooth adapter name: expected hci0, hci1, ...")]
    Adapter(String),
    /// A credential file (--dac, --pai, --dac-key, --cd) that cannot be read.
    #[error("{flag} {path}: {reason}")]
    CredentialFile {
        /// The flag.
        flag: &'static str,
        /// The path given.
        path: String,
        /// What went wrong (never the file's content).
        reason: String,
    },
    /// A Basic Information string that is empty, too long or holds control characters.
    #[error("{flag} {value:?} is not usable: it must be 1 to {max} bytes of UTF-8 without control characters")]
    InfoString {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// Longest allowed, in bytes (Matter 1.3 §11.1.5).
        max: usize,
    },
    /// An empty `--on-change` command.
    #[error("--on-change needs a command (run by sh -c with \"on\" or \"off\" as $1)")]
    EmptyCommand,
    /// Not a network interface name.
    #[error("{0:?} is not a network interface name: 1 to 15 bytes, no '/', whitespace or control characters (see `ip link`)")]
    Interface(String),
    /// A device name that is empty, too long or holds control characters.
    #[error(
        "device name {0:?} is not usable: it must be 1 to 248 bytes of UTF-8 without control \
         characters"
    )]
    DeviceName(String),
    /// A `--state-dir` that cannot be a folder.
    #[error("--state-dir {path:?} is not usable: {reason}")]
    StateDir {
        /// The path given.
        path: String,
        /// Why not.
        reason: &'static str,
    },
}

/// The `matter-ble` command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "matter-ble",
    version,
    about = "Make this Linux host a Matter device that a phone or chip-tool can commission over \
             Bluetooth LE (BlueZ) or UDP.",
    long_about = "Make this Linux host a Matter device that a phone or chip-tool can commission \
                  over Bluetooth LE (BlueZ) or UDP.\n\n\
                  On start it prints the QR code and the manual pairing code, then opens the \
                  commissioning window. Numbers are accepted in decimal (65521) or hex (0xFFF1). \
                  Without --passcode (or --verifier) a random passcode and discriminator are \
                  generated and printed. Set RUST_LOG=debug for protocol logs.",
    after_help = "Examples:\n  \
                  matter-ble --passcode 20202021 --discriminator 3840\n  \
                  matter-ble pairing-code --passcode 20202021 --discriminator 3840\n  \
                  matter-ble --transport udp --udp-port 5540\n  \
                  matter-ble factory-reset --state-dir /var/lib/matter-ble"
)]
pub struct Cli {
    /// What to do; without a subcommand the device runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The device's settings.
    #[command(flatten)]
    pub args: DeviceArgs,
}

/// Subcommands. Exhaustive on purpose: the binary matches on every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Print the QR code and the manual pairing code for the given settings, then exit (no
    /// Bluetooth or network needed).
    PairingCode,
    /// Delete the device's persistent state (fabrics, keys, access control, counters) from the
    /// state folder, so it must be commissioned again. Asks for confirmation on a terminal;
    /// refuses while a running matter-ble uses the folder.
    FactoryReset(FactoryResetArgs),
}

/// The `factory-reset` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Args)]
pub struct FactoryResetArgs {
    /// Do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Which transports commissioning runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
#[non_exhaustive]
pub enum Transport {
    /// Bluetooth LE and UDP when a Bluetooth adapter is usable, UDP alone otherwise (with a
    /// warning that says why BLE is unavailable).
    #[default]
    Auto,
    /// Bluetooth LE only (BTP over GATT, via BlueZ).
    Ble,
    /// UDP only (the device must already be on the IP network).
    Udp,
    /// Both Bluetooth LE and UDP.
    Both,
}

impl Transport {
    /// Whether the BLE transport runs (for `Auto`: is tried).
    pub fn ble(self) -> bool {
        matches!(self, Self::Ble | Self::Both | Self::Auto)
    }

    /// Whether the UDP transport runs.
    pub fn udp(self) -> bool {
        matches!(self, Self::Udp | Self::Both | Self::Auto)
    }

    /// Whether a BLE start-up failure is fatal (`ble`, `both`) or means UDP only (`auto`).
    pub fn ble_required(self) -> bool {
        matches!(self, Self::Ble | Self::Both)
    }

    /// The discovery capabilities the QR code announces for these transports.
    pub fn discovery_capabilities(self) -> DiscoveryCapabilities {
        match self {
            Self::Ble => DiscoveryCapabilities::BLE,
            Self::Udp => DiscoveryCapabilities::ON_NETWORK,
            Self::Both => DiscoveryCapabilities::BLE | DiscoveryCapabilities::ON_NETWORK,
            // `auto` keeps the well-known BLE-only code (the CHIP example apps' one). DNS-SD
            // does publish `_matterc._udp` whenever UDP runs (crate::dnssd), so commissioners
            // that also look on the network (chip-tool with a manual code, onnetwork-long) find
            // us; whether the QR code of `auto` should set the on-network bit too is open.
            Self::Auto => DiscoveryCapabilities::BLE,
        }
    }
}

/// How the device publishes its DNS-SD services (`_matterc._udp`, `_matter._tcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
#[non_exhaustive]
pub enum Mdns {
    /// Through avahi-daemon when it is on the system bus, else the embedded responder.
    #[default]
    Auto,
    /// Through avahi-daemon's D-Bus API (coexists with the host's own mDNS responder).
    Avahi,
    /// Our own mDNS responder on UDP port 5353 (for hosts without avahi-daemon).
    Embedded,
    /// Publish nothing (commissioners must be given the address).
    Off,
}

/// How the QR code is drawn on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
#[non_exhaustive]
pub enum QrStyle {
    /// For a dark terminal background: light modules are drawn as blocks.
    #[default]
    Dark,
    /// For a light terminal background: dark modules are drawn as blocks.
    Light,
    /// Do not draw the QR code (its text is still printed).
    None,
}

/// Which Network Commissioning feature the device announces (`--network-commissioning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum NetworkCommissioningMode {
    /// Wi-Fi (host-managed): commissioners that provision Wi-Fi over BLE (the CHIP SDK's
    /// controllers, phones) can finish; the credentials are stored, not applied to the host.
    Wifi,
    /// Ethernet: nothing to configure (enough for on-network commissioning over UDP).
    Ethernet,
}

impl NetworkCommissioningMode {
    /// The default for `transport`: Wi-Fi when BLE is used, since a BLE commissioner requires
    /// network setup (the CHIP SDK's AutoCommissioner stops without it); Ethernet for UDP only.
    pub fn default_for(transport: Transport) -> Self {
        if transport.ble() {
            Self::Wifi
        } else {
            Self::Ethernet
        }
    }
}

/// The device's settings as given on the command line, each value already parsed and checked.
/// [`Config::from_args`] fills in defaults and checks the combination.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// Setup passcode (the SPAKE2+ password), 1 to 99999998; 00000000, 11111111, ..., 99999999,
    /// 12345678 and 87654321 are forbidden. Default: a random one, printed on start.
    #[arg(long, global = true, value_name = "PASSCODE", value_parser = parse_passcode)]
    pub passcode: Option<Passcode>,

    /// Read the setup passcode from this file (its only content, surrounding whitespace allowed),
    /// so it does not appear in the process list. Same rules as --passcode.
    #[arg(long, global = true, value_name = "PATH", value_parser = parse_passcode_file,
          conflicts_with_all = ["passcode", "verifier"])]
    pub passcode_file: Option<Passcode>,

    /// 12-bit discriminator (0 to 4095, e.g. 3840 or 0xF00) that tells devices apart in BLE
    /// advertisements and DNS-SD. Default: a random one, printed on start.
    #[arg(long, global = true, value_name = "0..4095", value_parser = parse_discriminator)]
    pub discriminator: Option<Discriminator>,

    /// Vendor id (16 bits). 0xFFF1 to 0xFFF4 are test vendors: phones accept them only with
    /// developer mode enabled.
    #[arg(long, global = true, value_name = "ID", value_parser = parse_u16,
          default_value = "0xFFF1")]
    pub vendor_id: u16,

    /// Product id (16 bits). The default is the CHIP SDK example apps' product id.
    #[arg(long, global = true, value_name = "ID", value_parser = parse_u16,
          default_value = "0x8001")]
    pub product_id: u16,

    /// BlueZ adapter to advertise on (see `bluetoothctl list` or `hciconfig`).
    #[arg(long, global = true, value_name = "hciN", value_parser = parse_adapter,
          default_value = "hci0")]
    pub adapter: String,

    /// Bluetooth device name (GAP name in the scan response). Default: "MATTER-" and the
    /// discriminator in 4 digits (MATTER-3840), as the CHIP SDK's Linux devices use.
    #[arg(long, global = true, value_name = "NAME", value_parser = parse_device_name)]
    pub device_name: Option<String>,

    /// PBKDF2 iterations the commissioner must run on the passcode, 1000 to 100000. Default: 1000.
    /// Required with --verifier (the value it was computed with).
    #[arg(long, global = true, value_name = "N", value_parser = parse_iterations)]
    pub iterations: Option<u32>,

    /// PBKDF2 salt as hex, 16 to 32 bytes (32 to 64 hex digits). Default: 32 random bytes.
    /// Required with --verifier (the salt it was computed with).
    #[arg(long, global = true, value_name = "HEX", value_parser = parse_salt)]
    pub salt: Option<Salt>,

    /// Precomputed SPAKE2+ verifier as hex: w0 (32 bytes) followed by L as an uncompressed P-256
    /// point (65 bytes) — 194 hex digits. The passcode then never has to be on this host; needs
    /// --salt and --iterations, excludes --passcode, and no pairing codes can be printed.
    #[arg(long, global = true, value_name = "HEX", value_parser = parse_verifier,
          conflicts_with = "passcode", requires_all = ["salt", "iterations"])]
    pub verifier: Option<Verifier>,

    /// How long the commissioning window stays open: seconds (900) or with a unit (900s, 15m,
    /// 1h); at least 180s.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_commissioning_timeout,
          default_value = "900s")]
    pub commissioning_timeout: Duration,

    /// Transports to commission on: auto = BLE and UDP when a Bluetooth adapter is usable, UDP
    /// alone otherwise. The QR code's discovery capabilities follow: ble and auto = BLE,
    /// udp = on-network, both = BLE and on-network.
    #[arg(long, global = true, value_enum, default_value_t = Transport::Auto)]
    pub transport: Transport,

    /// UDP port for the Matter message layer (with --transport auto, udp or both). 0 picks a free
    /// port (printed at start).
    #[arg(long, global = true, value_name = "PORT", value_parser = parse_u16,
          default_value = "5540")]
    pub udp_port: u16,

    /// DNS-SD publishing: auto = through avahi-daemon when it runs (on the system bus), else an
    /// embedded mDNS responder; off publishes nothing. Used with --transport auto, udp or both.
    #[arg(long, global = true, value_enum, default_value_t = Mdns::Auto)]
    pub mdns: Mdns,

    /// How to draw the QR code on the terminal: for a dark or a light background, or not at all.
    #[arg(long, global = true, value_enum, default_value_t = QrStyle::Dark)]
    pub qr: QrStyle,

    /// Folder for the device's persistent state (fabrics, keys, access control, counters),
    /// created with mode 0700 and locked while matter-ble runs. Default: $STATE_DIRECTORY (set by
    /// systemd's StateDirectory=, /var/lib/matter-ble for the system service), else
    /// $XDG_STATE_HOME/matter-ble, else ~/.local/state/matter-ble.
    #[arg(long, global = true, value_name = "DIR", value_parser = parse_state_dir)]
    pub state_dir: Option<PathBuf>,
    /// Read settings from this TOML file: the keys are these long flags without `--`
    /// (`product-id = "0x8002"`, `transport = "ble"`, `passcode-file = "/etc/..."`). A flag on
    /// the command line replaces the same key of the file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// VendorName the Basic Information cluster reports (1 to 32 bytes).
    #[arg(long, global = true, value_name = "TEXT", value_parser = parse_vendor_name,
          default_value = "matter-ble")]
    pub vendor_name: String,

    /// ProductName the Basic Information cluster reports (1 to 32 bytes).
    #[arg(long, global = true, value_name = "TEXT", value_parser = parse_product_name,
          default_value = "matter-ble device")]
    pub product_name: String,

    /// SerialNumber the Basic Information cluster reports (1 to 32 bytes). Default: none.
    #[arg(long, global = true, value_name = "TEXT", value_parser = parse_serial)]
    pub serial_number: Option<String>,

    /// Device Attestation Certificate (PEM or DER) for a real product; needs --pai, --dac-key
    /// and --cd. Default: development credentials (the CSA's test PAI for vendor 0xFFF1 and a
    /// DAC issued for this device at first start), which commissioners accept only in their
    /// development or test mode.
    #[arg(long, global = true, value_name = "PATH", value_parser = parse_dac,
          requires_all = ["pai", "dac_key", "cd"])]
    pub dac: Option<CredentialBytes>,

    /// Product Attestation Intermediate certificate (PEM or DER) that issued --dac.
    #[arg(long, global = true, value_name = "PATH", value_parser = parse_pai,
          requires_all = ["dac", "dac_key", "cd"])]
    pub pai: Option<CredentialBytes>,

    /// The DAC's private key (PEM: "EC PRIVATE KEY" or "PRIVATE KEY", or DER). Keep it readable
    /// by this user only.
    #[arg(long, global = true, value_name = "PATH", value_parser = parse_dac_key,
          requires_all = ["dac", "pai", "cd"])]
    pub dac_key: Option<CredentialBytes>,

    /// Certification Declaration (DER, as the CSA issues it) for the product.
    #[arg(long, global = true, value_name = "PATH", value_parser = parse_cd,
          requires_all = ["dac", "pai", "dac_key"])]
    pub cd: Option<CredentialBytes>,

    /// Network interface the Network Commissioning cluster reports as this host's (Ethernet)
    /// network, e.g. eth0. Default: the first interface that is up and not loopback.
    #[arg(long, global = true, value_name = "NAME", value_parser = parse_interface)]
    pub network_interface: Option<String>,

    /// Command run (by `sh -c`) whenever the light on endpoint 1 turns on or off, and once at
    /// start: $1 is "on" or "off", MATTER_ON_OFF is 1 or 0, MATTER_ENDPOINT is 1. One run at a
    /// time: changes during a run are coalesced into one more run with the latest state.
    #[arg(long, global = true, value_name = "CMD", value_parser = parse_on_change)]
    pub on_change: Option<String>,
    /// The Network Commissioning feature announced for that interface: wifi = a Wi-Fi server
    /// whose credentials are stored but not applied (this host keeps its own network
    /// configuration; ConnectNetwork succeeds while the interface is up), as commissioners over
    /// BLE require; ethernet = nothing to configure. Default: wifi when BLE is used (--transport
    /// auto, ble, both), ethernet for udp.
    #[arg(long, global = true, value_enum, value_name = "KIND")]
    pub network_commissioning: Option<NetworkCommissioningMode>,
}

/// The bytes of a credential file, read when the flag is parsed. Debug output shows only the
/// length: the DAC key is a secret; the buffer is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialBytes(Zeroizing<Vec<u8>>);

impl CredentialBytes {
    /// The file's content.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CredentialBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialBytes({} bytes)", self.0.len())
    }
}

/// Attestation credentials given on the command line (all four, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationFiles {
    /// --dac.
    pub dac: CredentialBytes,
    /// --pai.
    pub pai: CredentialBytes,
    /// --dac-key.
    pub dac_key: CredentialBytes,
    /// --cd.
    pub cd: CredentialBytes,
}

/// A PBKDF2 salt of 16 to 32 bytes. Public (it is sent in PBKDFParamResponse).
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(Vec<u8>);

impl Salt {
    /// Checks the length.
    ///
    /// # Errors
    /// [`ConfigError::SaltLength`] outside 16..=32 bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, ConfigError> {
        if SALT_LEN.contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(ConfigError::SaltLength(bytes.len()))
        }
    }

    /// 32 random bytes.
    pub fn random(rng: &mut dyn Rng) -> Self {
        let mut bytes = vec![0u8; 32];
        rng.fill(&mut bytes);
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex(&self.0))
    }
}

/// A SPAKE2+ verifier (w0, L) computed elsewhere from the passcode, salt and iterations
/// (Matter 1.3 §3.10 "Password-Authenticated Key Exchange"), validated by the PASE layer's decoder
/// ([`crate::pase::spake2p::Verifier::from_bytes`]). Wiped on drop; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Verifier {
    w0: [u8; 32],
    l: [u8; 65],
}

impl Verifier {
    /// Parses and validates `w0 || L` (97 bytes).
    ///
    /// # Errors
    /// [`ConfigError::VerifierLength`], [`ConfigError::VerifierInvalid`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConfigError> {
        let length_error = || ConfigError::VerifierLength(bytes.len());
        if bytes.len() != VERIFIER_LEN {
            return Err(length_error());
        }
        // The PASE layer's own decoder decides what a usable verifier is, so the flag accepts
        // exactly what the responder will.
        crate::pase::spake2p::Verifier::from_bytes(bytes)
            .map_err(|_| ConfigError::VerifierInvalid)?;
        let (w0, l) = bytes.split_at(32);
        // The length was checked, so both conversions succeed.
        Ok(Self {
            w0: w0.try_into().map_err(|_| length_error())?,
            l: l.try_into().map_err(|_| length_error())?,
        })
    }

    /// w0 as a big-endian scalar.
    pub fn w0(&self) -> &[u8; 32] {
        &self.w0
    }

    /// L = w1·G, uncompressed SEC1.
    pub fn l(&self) -> &[u8; 65] {
        &self.l
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier(<redacted>)")
    }
}

/// The secret the PASE responder proves knowledge of.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// The passcode itself: the PASE layer derives (w0, L) with PBKDF2.
    Passcode(Passcode),
    /// A precomputed verifier; the passcode is not on this host.
    Verifier(Verifier),
}

/// PBKDF2 parameters announced in PBKDFParamResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbkdfParams {
    /// Iterations, within [`ITERATIONS`].
    pub iterations: u32,
    /// The salt, within [`SALT_LEN`].
    pub salt: Salt,
}

/// Which values were generated because the user left them out (to tell the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generated {
    /// The passcode is random.
    pub passcode: bool,
    /// The discriminator is random.
    pub discriminator: bool,
    /// The salt is random.
    pub salt: bool,
    /// The random values are the device's kept ones (from the state folder), the same on every
    /// run; false when nothing keeps them (e.g. `pairing-code`).
    pub kept: bool,
}

/// A validated configuration: everything the runtime needs to commission this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The PASE secret: the passcode or its verifier.
    pub credentials: Credentials,
    /// PBKDF2 iterations and salt.
    pub pbkdf: PbkdfParams,
    /// The discriminator advertised over BLE and DNS-SD.
    pub discriminator: Discriminator,
    /// Vendor id (advertisement, QR code, Basic Information cluster).
    pub vendor_id: u16,
    /// Product id (same places).
    pub product_id: u16,
    /// BlueZ adapter name, `hciN`.
    pub adapter: String,
    /// Bluetooth device name.
    pub device_name: String,
    /// The device name is the default one, derived from the discriminator.
    pub device_name_is_default: bool,
    /// How long the commissioning window stays open.
    pub commissioning_timeout: Duration,
    /// Transports to commission on.
    pub transport: Transport,
    /// UDP port (0 = any free port).
    pub udp_port: u16,
    /// DNS-SD publishing.
    pub mdns: Mdns,
    /// How to draw the QR code.
    pub qr_style: QrStyle,
    /// `--state-dir`, if given (see [`Config::state_dir`] for the folder used).
    pub state_dir: Option<PathBuf>,
    /// Which values were generated.
    pub generated: Generated,
    /// Basic Information VendorName.
    pub vendor_name: String,
    /// Basic Information ProductName.
    pub product_name: String,
    /// Basic Information SerialNumber.
    pub serial_number: Option<String>,
    /// Attestation credentials from files; `None` = development credentials.
    pub attestation: Option<AttestationFiles>,
    /// The network interface Network Commissioning reports (None: the runtime picks one).
    pub network_interface: Option<String>,
    /// `--on-change`: the command run when the light changes.
    pub on_change: Option<String>,
    /// The Network Commissioning feature (the flag, or the transport's default).
    pub network_commissioning: NetworkCommissioningMode,
}

impl Config {
    /// Fills in defaults (random values from `rng`) and checks the combination of flags.
    ///
    /// # Errors
    /// [`ConfigError::PasscodeTwice`], [`ConfigError::VerifierWithPasscode`] and
    /// [`ConfigError::VerifierWithoutPbkdfParameters`] (clap enforces these on the command line;
    /// this covers callers that build [`DeviceArgs`] themselves).
    pub fn from_args(args: DeviceArgs, rng: &mut dyn Rng) -> Result<Self, ConfigError> {
        let mut generated = Generated::default();
        let passcode = match (args.passcode, args.passcode_file) {
            (Some(_), Some(_)) => return Err(ConfigError::PasscodeTwice),
            (p, f) => p.or(f),
        };
        let credentials = match (passcode, args.verifier) {
            (Some(_), Some(_)) => return Err(ConfigError::VerifierWithPasscode),
            (Some(p), None) => Credentials::Passcode(p),
            (None, Some(v)) => {
                if args.salt.is_none() || args.iterations.is_none() {
                    return Err(ConfigError::VerifierWithoutPbkdfParameters);
                }
                Credentials::Verifier(v)
            }
            (None, None) => {
                generated.passcode = true;
                Credentials::Passcode(Passcode::random(rng))
            }
        };
        let discriminator = args.discriminator.unwrap_or_else(|| {
            generated.discriminator = true;
            Discriminator::random(rng)
        });
        let salt = args.salt.unwrap_or_else(|| {
            generated.salt = true;
            Salt::random(rng)
        });
        let device_name_is_default = args.device_name.is_none();
        let device_name = args
            .device_name
            .unwrap_or_else(|| default_device_name(discriminator));
        Ok(Self {
            credentials,
            pbkdf: PbkdfParams {
                iterations: args.iterations.unwrap_or(DEFAULT_ITERATIONS),
                salt,
            },
            discriminator,
            vendor_id: args.vendor_id,
            product_id: args.product_id,
            adapter: args.adapter,
            device_name,
            device_name_is_default,
            commissioning_timeout: args.commissioning_timeout,
            transport: args.transport,
            udp_port: args.udp_port,
            mdns: args.mdns,
            qr_style: args.qr,
            state_dir: args.state_dir,
            generated,
            vendor_name: args.vendor_name,
            product_name: args.product_name,
            serial_number: args.serial_number,
            attestation: match (args.dac, args.pai, args.dac_key, args.cd) {
                (Some(dac), Some(pai), Some(dac_key), Some(cd)) => Some(AttestationFiles {
                    dac,
                    pai,
                    dac_key,
                    cd,
                }),
                (None, None, None, None) => None,
                _ => return Err(ConfigError::AttestationIncomplete),
            },
            network_interface: args.network_interface,
            on_change: args.on_change,
            network_commissioning: args
                .network_commissioning
                .unwrap_or_else(|| NetworkCommissioningMode::default_for(args.transport)),
        })
    }

    /// The passcode, when it is known (not with a verifier).
    pub fn passcode(&self) -> Option<&Passcode> {
        match &self.credentials {
            Credentials::Passcode(p) => Some(p),
            Credentials::Verifier(_) => None,
        }
    }

    /// The PASE responder's verifier with its PBKDF2 parameters: derived from the passcode (runs
    /// PBKDF2, the slow step: call it once per commissioning window) or taken from `--verifier`.
    ///
    /// # Errors
    /// A [`VerifierError`] only if the PASE layer's checks are stricter than this module's (the
    /// values were validated when the configuration was built).
    pub fn pase_verifier(&self) -> Result<PaseVerifier, VerifierError> {
        let (iterations, salt) = (self.pbkdf.iterations, self.pbkdf.salt.as_bytes());
        match &self.credentials {
            Credentials::Passcode(p) => PaseVerifier::from_passcode(p.value(), salt, iterations),
            Credentials::Verifier(v) => {
                let mut bytes = Zeroizing::new([0u8; VERIFIER_LEN]);
                bytes[..32].copy_from_slice(v.w0());
                bytes[32..].copy_from_slice(v.l());
                PaseVerifier::from_serialized(&*bytes, salt, iterations)
            }
        }
    }

    /// The state folder: `--state-dir`, or the default derived from `env` (see
    /// [`crate::store::location`]).
    ///
    /// # Errors
    /// [`StoreError::NoStateDir`] without `--state-dir` when `env` gives no usable default.
    pub fn state_dir(&self, env: &StateEnv) -> Result<StateDir, StoreError> {
        crate::store::resolve_state_dir(self.state_dir.as_deref(), env)
    }

    /// The onboarding payload behind the QR and manual codes.
    ///
    /// # Errors
    /// [`ConfigError::CodesNeedPasscode`] with a verifier instead of a passcode.
    pub fn setup_payload(&self) -> Result<SetupPayload, ConfigError> {
        let passcode = self.passcode().ok_or(ConfigError::CodesNeedPasscode)?;
        Ok(SetupPayload::new(
            self.vendor_id,
            self.product_id,
            self.discriminator,
            passcode.clone(),
            self.transport.discovery_capabilities(),
        ))
    }
}

/// The default Bluetooth device name for a discriminator: the CHIP SDK's BLEManagerImpl names a
/// device "MATTER-" + the discriminator as "%04u".
pub fn default_device_name(discriminator: Discriminator) -> String {
    format!("MATTER-{:04}", discriminator.value())
}

/// Parses an unsigned integer in decimal or `0x` hex (underscores allowed as separators).
///
/// # Errors
/// [`ConfigError::NotANumber`], [`ConfigError::TooLarge`] above `max`.
pub fn parse_number(text: &str, max: u64) -> Result<u64, ConfigError> {
    let trimmed = text.trim();
    let cleaned: String = trimmed.chars().filter(|&c| c != '_').collect();
    let (digits, radix) = match cleaned
        .strip_prefix("0x")
        .or_else(|| cleaned.strip_prefix("0X"))
    {
        Some(hex) => (hex, 16),
        None => (cleaned.as_str(), 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(ConfigError::NotANumber(text.to_owned()));
    }
    match u64::from_str_radix(digits, radix) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(ConfigError::TooLarge {
            value: trimmed.to_owned(),
            max,
        }),
    }
}

/// A number of any size, saturated at `u64::MAX`, so that the caller's range check reports a
/// huge value as out of range rather than as "not a number".
fn parse_saturating(text: &str) -> Result<u64, ConfigError> {
    match parse_number(text, u64::MAX) {
        Err(ConfigError::TooLarge { .. }) => Ok(u64::MAX),
        other => other,
    }
}

/// `--vendor-id`, `--product-id`, `--udp-port`: a 16-bit number.
///
/// # Errors
/// As [`parse_number`].
pub fn parse_u16(text: &str) -> Result<u16, ConfigError> {
    // parse_number caps the value at u16::MAX, so the conversion cannot fail.
    parse_number(text, u16::MAX.into()).map(|v| v as u16)
}

/// `--passcode`.
///
/// # Errors
/// [`ConfigError::NotANumber`], or the passcode rules ([`SetupPayloadError::PasscodeForbidden`],
/// [`SetupPayloadError::PasscodeOutOfRange`]).
pub fn parse_passcode(text: &str) -> Result<Passcode, ConfigError> {
    let value = Zeroizing::new(parse_saturating(text)?);
    let narrow = u32::try_from(*value).unwrap_or(u32::MAX);
    Ok(Passcode::new(narrow)?)
}

/// `--passcode-file`: a file holding one passcode (decimal or hex), surrounding whitespace allowed.
///
/// # Errors
/// [`ConfigError::PasscodeFile`] when the file cannot be read, is larger than a passcode can be,
/// or does not hold a valid passcode (the reason names the rule, never the content).
pub fn parse_passcode_file(path: &str) -> Result<Passcode, ConfigError> {
    use std::io::Read;
    let fail = |reason: String| ConfigError::PasscodeFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    // Read at most a little more than any sane content, so a wrong path (a device, a huge log)
    // is refused instead of read whole.
    let mut content = Zeroizing::new(Vec::with_capacity(64));
    file.take(65)
        .read_to_end(&mut content)
        .map_err(|e| fail(e.to_string()))?;
    if content.len() > 64 {
        return Err(fail(
            "longer than 64 bytes: it should hold only the passcode".to_owned(),
        ));
    }
    let text = core::str::from_utf8(&content).map_err(|_| fail("not text".to_owned()))?;
    parse_passcode(text).map_err(|e| match e {
        ConfigError::NotANumber(_) => fail("does not hold a number".to_owned()),
        other => fail(other.to_string()),
    })
}

/// `--discriminator`.
///
/// # Errors
/// [`ConfigError::NotANumber`], [`SetupPayloadError::DiscriminatorOutOfRange`].
pub fn parse_discriminator(text: &str) -> Result<Discriminator, ConfigError> {
    let value = parse_saturating(text)?;
    match u16::try_from(value) {
        Ok(v) => Ok(Discriminator::new(v)?),
        Err(_) => Err(SetupPayloadError::DiscriminatorOutOfRange(
            u32::try_from(value).unwrap_or(u32::MAX),
        )
        .into()),
    }
}

/// `--iterations`.
///
/// # Errors
/// [`ConfigError::NotANumber`], [`ConfigError::Iterations`].
pub fn parse_iterations(text: &str) -> Result<u32, ConfigError> {
    let value = u32::try_from(parse_saturating(text)?).unwrap_or(u32::MAX);
    if ITERATIONS.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Iterations(value))
    }
}

/// Decodes hex (an optional `0x` prefix, `:` and whitespace between bytes allowed).
///
/// # Errors
/// [`ConfigError::Hex`] for a non-hex character or an odd number of digits.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, ConfigError> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let digits: Vec<u8> = body
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| {
            c.to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| ConfigError::Hex(format!("{c:?} is not a hex digit")))
        })
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err(ConfigError::Hex(format!(
            "{} hex digits is an odd number; each byte takes two",
            digits.len()
        )));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// `--salt`.
///
/// # Errors
/// [`ConfigError::Hex`], [`ConfigError::SaltLength`].
pub fn parse_salt(text: &str) -> Result<Salt, ConfigError> {
    Salt::new(parse_hex(text)?)
}

/// `--verifier`.
///
/// # Errors
/// [`ConfigError::Hex`] and the [`Verifier::from_bytes`] errors.
pub fn parse_verifier(text: &str) -> Result<Verifier, ConfigError> {
    let bytes = Zeroizing::new(parse_hex(text)?);
    Verifier::from_bytes(&bytes)
}

/// Parses `900`, `900s`, `15m`, `15min`, `1h`, `1h30m` (units s/sec, m/min, h; no unit = seconds).
///
/// # Errors
/// [`ConfigError::Duration`].
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    let err = || ConfigError::Duration(text.to_owned());
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(split);
        let value: u64 = number.parse().map_err(|_| err())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale = match unit.trim() {
            "" if next.is_empty() && total == 0 => 1,
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            _ => return Err(err()),
        };
        total = value
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
        rest = next;
    }
    Ok(Duration::from_secs(total))
}

/// `--commissioning-timeout`: a duration within 180 s ..= 24 h.
///
/// # Errors
/// [`ConfigError::Duration`], [`ConfigError::CommissioningTimeout`].
pub fn parse_commissioning_timeout(text: &str) -> Result<Duration, ConfigError> {
    let d = parse_duration(text)?;
    if (MIN_COMMISSIONING_TIMEOUT..=MAX_COMMISSIONING_TIMEOUT).contains(&d) {
        Ok(d)
    } else {
        Err(ConfigError::CommissioningTimeout(d))
    }
}

/// `--adapter`: `hci` followed by a number, as BlueZ names adapters.
///
/// # Errors
/// [`ConfigError::Adapter`].
pub fn parse_adapter(text: &str) -> Result<String, ConfigError> {
    match text.strip_prefix("hci") {
        Some(n) if !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(text.to_owned())
        }
        _ => Err(ConfigError::Adapter(text.to_owned())),
    }
}

/// `--device-name`: 1 to 248 bytes of UTF-8 without control characters.
///
/// # Errors
/// [`ConfigError::DeviceName`].
pub fn parse_device_name(text: &str) -> Result<String, ConfigError> {
    if text.is_empty() || text.len() > MAX_DEVICE_NAME_LEN || text.chars().any(char::is_control) {
        Err(ConfigError::DeviceName(text.to_owned()))
    } else {
        Ok(text.to_owned())
    }
}

/// `--state-dir`: a non-empty path that is not an existing file. The folder is created (and
/// checked further) when the store opens it.
///
/// # Errors
/// [`ConfigError::StateDir`].
pub fn parse_state_dir(text: &str) -> Result<PathBuf, ConfigError> {
    let fail = |reason| {
        Err(ConfigError::StateDir {
            path: text.to_owned(),
            reason,
        })
    };
    if text.trim().is_empty() {
        return fail("the path is empty");
    }
    if text.chars().any(char::is_control) {
        return fail("the path holds control characters");
    }
    let path = Path::new(text);
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => fail("it exists and is not a folder"),
        _ => Ok(path.to_path_buf()),
    }
}

/// Largest credential file accepted: certificates and keys are well under 1 KiB; a CD under 1 KiB
/// too (Matter 1.3 §6.3.1). The bound keeps a wrong path (a disk image) from being read whole.
pub const MAX_CREDENTIAL_FILE: u64 = 16 * 1024;

fn read_credential(flag: &'static str, path: &str) -> Result<CredentialBytes, ConfigError> {
    let err = |reason: String| ConfigError::CredentialFile {
        flag,
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > MAX_CREDENTIAL_FILE {
        return Err(err(format!(
            "{} bytes is too large for a certificate or key (at most {MAX_CREDENTIAL_FILE})",
            meta.len()
        )));
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| err(e.to_string()))?);
    if bytes.is_empty() {
        return Err(err("the file is empty".into()));
    }
    Ok(CredentialBytes(bytes))
}

/// `--dac`: reads the file (the content is checked when the credentials are loaded).
///
/// # Errors
/// [`ConfigError::CredentialFile`].
pub fn parse_dac(path: &str) -> Result<CredentialBytes, ConfigError> {
    read_credential("--dac", path)
}

/// `--pai`.
///
/// # Errors
/// [`ConfigError::CredentialFile`].
pub fn parse_pai(path: &str) -> Result<CredentialBytes, ConfigError> {
    read_credential("--pai", path)
}

/// `--dac-key`.
///
/// # Errors
/// [`ConfigError::CredentialFile`].
pub fn parse_dac_key(path: &str) -> Result<CredentialBytes, ConfigError> {
    read_credential("--dac-key", path)
}

/// `--cd`.
///
/// # Errors
/// [`ConfigError::CredentialFile`].
pub fn parse_cd(path: &str) -> Result<CredentialBytes, ConfigError> {
    read_credential("--cd", path)
}

fn info_string(flag: &'static str, text: &str, max: usize) -> Result<String, ConfigError> {
    if text.is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return Err(ConfigError::InfoString {
            flag,
            value: text.to_owned(),
            max,
        });
    }
    Ok(text.to_owned())
}

/// `--vendor-name`: 1 to 32 bytes (Matter 1.3 §11.1.5.2).
///
/// # Errors
/// [`ConfigError::InfoString`].
pub fn parse_vendor_name(text: &str) -> Result<String, ConfigError> {
    info_string("--vendor-name", text, 32)
}

/// `--product-name`: 1 to 32 bytes (Matter 1.3 §11.1.5.4).
///
/// # Errors
/// [`ConfigError::InfoString`].
pub fn parse_product_name(text: &str) -> Result<String, ConfigError> {
    info_string("--product-name", text, 32)
}

/// `--serial-number`: 1 to 32 bytes (Matter 1.3 §11.1.5.16).
///
/// # Errors
/// [`ConfigError::InfoString`].
pub fn parse_serial(text: &str) -> Result<String, ConfigError> {
    info_string("--serial-number", text, 32)
}

/// `--network-interface`: a Linux interface name (IFNAMSIZ is 16 with the terminator).
///
/// # Errors
/// [`ConfigError::Interface`].
pub fn parse_interface(text: &str) -> Result<String, ConfigError> {
    if text.is_empty()
        || text.len() > 15
        || text
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(ConfigError::Interface(text.to_owned()));
    }
    Ok(text.to_owned())
}

/// `--on-change`: any non-blank shell command.
///
/// # Errors
/// [`ConfigError::EmptyCommand`].
pub fn parse_on_change(text: &str) -> Result<String, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError::EmptyCommand);
    }
    Ok(text.to_owned())
}

/// The long flags a `--config` file may set (every device flag but `config` itself), for
/// [`crate::config_file::expand`].
pub fn file_flags() -> Vec<crate::config_file::FlagSpec> {
    use clap::CommandFactory;
    Cli::command()
        .get_arguments()
        .filter_map(|a| {
            let name = a.get_long()?;
            (name != "config" && name != "help" && name != "version").then(|| {
                crate::config_file::FlagSpec {
                    name: name.to_owned(),
                    takes_value: a.get_action().takes_values(),
                }
            })
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::TestRng;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("matter-ble").chain(args.iter().copied()))
    }

    fn config(args: &[&str]) -> Config {
        let cli = parse(args).unwrap_or_else(|e| panic!("{e}"));
        Config::from_args(cli.args, &mut TestRng::new(3)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The verifier of passcode 20202021 with salt "SPAKE2P Key Salt" and 1000 iterations (the
    /// CHIP SDK's test parameters), derived by the PASE layer.
    fn verifier_hex() -> String {
        let v =
            PaseVerifier::from_passcode(20_202_021, SALT, 1000).unwrap_or_else(|e| panic!("{e}"));
        hex(&*v.spake2p().to_bytes())
    }

    const SALT: &[u8] = b"SPAKE2P Key Salt";

    #[test]
    fn mdns_flag() {
        assert_eq!(config(&[]).mdns, Mdns::Auto);
        for (text, want) in [
            ("auto", Mdns::Auto),
            ("avahi", Mdns::Avahi),
            ("embedded", Mdns::Embedded),
            ("off", Mdns::Off),
        ] {
            assert_eq!(config(&["--mdns", text]).mdns, want, "{text}");
        }
        let err = parse(&["--mdns", "bonjour"])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[possible values: auto, avahi, embedded, off]"),
            "{err}"
        );
        // A --config file can set it like every other flag.
        assert!(file_flags()
            .iter()
            .any(|f| f.name == "mdns" && f.takes_value));
    }

    #[test]
    fn numbers_in_decimal_and_hex() {
        assert_eq!(parse_u16("65521"), Ok(0xFFF1));
        assert_eq!(parse_u16("0xFFF1"), Ok(0xFFF1));
        assert_eq!(parse_u16("0Xfff1"), Ok(0xFFF1));
        assert_eq!(parse_u16("0x_FF_F1"), Ok(0xFFF1));
        assert_eq!(parse_u16(" 5540 "), Ok(5540));
        assert!(matches!(
            parse_u16("65536"),
            Err(ConfigError::TooLarge { max: 65535, .. })
        ));
        assert!(matches!(
            parse_u16("0x10000"),
            Err(ConfigError::TooLarge { .. })
        ));
        for bad in ["", "0x", "-1", "12a", "1.5", "0xg", "+5", "٣"] {
            assert!(
                matches!(parse_u16(bad), Err(ConfigError::NotANumber(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_number("99999999999999999999999", u64::MAX),
            Err(ConfigError::TooLarge { .. })
        ));
    }

    #[test]
    fn passcode_and_discriminator_rules() {
        assert_eq!(
            parse_passcode("20202021").map(|p| p.value()),
            Ok(20_202_021)
        );
        assert_eq!(parse_passcode("00000001").map(|p| p.value()), Ok(1));
        assert_eq!(
            parse_passcode("11111111"),
            Err(SetupPayloadError::PasscodeForbidden(11_111_111).into())
        );
        assert_eq!(
            parse_passcode("0"),
            Err(SetupPayloadError::PasscodeForbidden(0).into())
        );
        assert_eq!(
            parse_passcode("100000000"),
            Err(SetupPayloadError::PasscodeOutOfRange(100_000_000).into())
        );
        assert_eq!(
            parse_passcode("99999999999999999999"),
            Err(SetupPayloadError::PasscodeOutOfRange(u32::MAX).into())
        );
        assert!(matches!(
            parse_passcode("abc"),
            Err(ConfigError::NotANumber(_))
        ));
        assert_eq!(
            parse_discriminator("0xF00").map(Discriminator::value),
            Ok(3840)
        );
        assert_eq!(
            parse_discriminator("4096"),
            Err(SetupPayloadError::DiscriminatorOutOfRange(4096).into())
        );
        assert_eq!(
            parse_discriminator("70000"),
            Err(SetupPayloadError::DiscriminatorOutOfRange(70000).into())
        );
    }

    #[test]
    fn iterations_salt_and_hex() {
        assert_eq!(parse_iterations("1000"), Ok(1000));
        assert_eq!(parse_iterations("100000"), Ok(100_000));
        assert_eq!(parse_iterations("999"), Err(ConfigError::Iterations(999)));
        assert_eq!(
            parse_iterations("100001"),
            Err(ConfigError::Iterations(100_001))
        );
        assert_eq!(parse_hex("0x0aFF"), Ok(vec![0x0A, 0xFF]));
        assert_eq!(parse_hex("0a:ff 01"), Ok(vec![0x0A, 0xFF, 0x01]));
        assert!(matches!(parse_hex("abc"), Err(ConfigError::Hex(_))));
        assert!(matches!(parse_hex("zz"), Err(ConfigError::Hex(_))));
        let salt16 = "53".repeat(16);
        assert_eq!(parse_salt(&salt16).map(|s| s.as_bytes().len()), Ok(16));
        assert_eq!(
            parse_salt(&"00".repeat(32)).map(|s| s.as_bytes().len()),
            Ok(32)
        );
        assert_eq!(
            parse_salt(&"00".repeat(15)),
            Err(ConfigError::SaltLength(15))
        );
        assert_eq!(
            parse_salt(&"00".repeat(33)),
            Err(ConfigError::SaltLength(33))
        );
    }

    #[test]
    fn verifier_checks() {
        let v = parse_verifier(&verifier_hex()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.l()[0], 0x04);
        assert!(!format!("{v:?}").contains(&hex(&v.w0()[..4])));
        let bytes = parse_hex(&verifier_hex()).unwrap_or_default();
        assert_eq!(
            Verifier::from_bytes(&bytes[..96]),
            Err(ConfigError::VerifierLength(96))
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Verifier::from_bytes(&longer),
            Err(ConfigError::VerifierLength(98))
        );
        let mut bad = Vec::new();
        // w0 = 0; w0 >= n; L off the curve; L in compressed form.
        let mut zero = bytes.clone();
        zero[..32].fill(0);
        bad.push(zero);
        let mut all_ones = bytes.clone();
        all_ones[..32].fill(0xFF);
        bad.push(all_ones);
        let mut off_curve = bytes.clone();
        off_curve[96] ^= 1;
        bad.push(off_curve);
        let mut tag = bytes.clone();
        tag[32] = 0x02;
        bad.push(tag);
        for b in bad {
            assert_eq!(Verifier::from_bytes(&b), Err(ConfigError::VerifierInvalid));
        }
    }

    #[test]
    fn pase_verifier_from_either_credential_agrees() {
        let salt = hex(SALT);
        let from_passcode = config(&["--passcode", "20202021", "--salt", &salt]);
        let a = from_passcode
            .pase_verifier()
            .unwrap_or_else(|e| panic!("{e}"));
        let vhex = verifier_hex();
        let from_verifier = config(&["--verifier", &vhex, "--salt", &salt, "--iterations", "1000"]);
        let b = from_verifier
            .pase_verifier()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(*a.spake2p().to_bytes(), *b.spake2p().to_bytes());
        assert_eq!((a.iterations(), a.salt()), (1000, SALT));
        assert_eq!((b.iterations(), b.salt()), (1000, SALT));
        // A different passcode gives a different verifier.
        let other = config(&["--passcode", "20202022", "--salt", &salt]);
        let c = other.pase_verifier().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(*a.spake2p().to_bytes(), *c.spake2p().to_bytes());
    }

    #[test]
    fn passcode_file() {
        let dir = std::env::temp_dir().join(format!("matter-ble-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let write = |name: &str, content: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
            path.to_string_lossy().into_owned()
        };
        let good = write("good", b" 20202021\n");
        assert_eq!(
            parse_passcode_file(&good).map(|p| p.value()),
            Ok(20_202_021)
        );
        let reason = |path: &str| match parse_passcode_file(path) {
            Err(ConfigError::PasscodeFile { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(&write("trivial", b"12345678")).contains("not allowed"));
        let secret_ish = write("words", b"hunter2 hunter2");
        assert_eq!(reason(&secret_ish), "does not hold a number");
        assert!(!reason(&secret_ish).contains("hunter2"));
        assert!(reason(&write("big", &[b'1'; 100])).contains("longer than 64 bytes"));
        assert_eq!(reason(&write("binary", &[0xFF, 0xFE])), "not text");
        assert!(!reason(&dir.join("absent").to_string_lossy()).is_empty());
        let cli = parse(&["--passcode-file", &good]).unwrap_or_else(|e| panic!("{e}"));
        let c = Config::from_args(cli.args.clone(), &mut TestRng::new(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.passcode().map(Passcode::value), Some(20_202_021));
        assert!(!c.generated.passcode);
        assert!(parse(&["--passcode-file", &good, "--passcode", "20202021"]).is_err());
        let mut both = cli.args;
        both.passcode = parse_passcode("20202021").ok();
        assert_eq!(
            Config::from_args(both, &mut TestRng::new(1)),
            Err(ConfigError::PasscodeTwice)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn durations() {
        let secs = |s: u64| Ok(Duration::from_secs(s));
        assert_eq!(parse_duration("900"), secs(900));
        assert_eq!(parse_duration("900s"), secs(900));
        assert_eq!(parse_duration("15m"), secs(900));
        assert_eq!(parse_duration("15min"), secs(900));
        assert_eq!(parse_duration("1h30m"), secs(5400));
        assert_eq!(parse_duration("1h 30m"), secs(5400));
        for bad in [
            "",
            "m",
            "15x",
            "1.5m",
            "-5",
            "15m30",
            "99999999999999999999h",
        ] {
            assert!(
                matches!(parse_duration(bad), Err(ConfigError::Duration(_))),
                "{bad:?}"
            );
        }
        assert_eq!(parse_commissioning_timeout("3m"), secs(180));
        assert_eq!(
            parse_commissioning_timeout("179"),
            Err(ConfigError::CommissioningTimeout(Duration::from_secs(179)))
        );
        assert_eq!(
            parse_commissioning_timeout("25h"),
            Err(ConfigError::CommissioningTimeout(Duration::from_secs(
                90_000
            )))
        );
    }

    #[test]
    fn adapter_and_device_name() {
        assert_eq!(parse_adapter("hci0").as_deref(), Ok("hci0"));
        assert_eq!(parse_adapter("hci12").as_deref(), Ok("hci12"));
        for bad in [
            "",
            "hci",
            "hcix",
            "eth0",
            "hci0 ",
            "/org/bluez/hci0",
            "hci999999",
        ] {
            assert_eq!(
                parse_adapter(bad),
                Err(ConfigError::Adapter(bad.to_owned()))
            );
        }
        assert_eq!(parse_device_name("Kitchen").as_deref(), Ok("Kitchen"));
        assert!(parse_device_name(&"x".repeat(248)).is_ok());
        for bad in [String::new(), "x".repeat(249), "a\nb".to_owned()] {
            assert_eq!(
                parse_device_name(&bad),
                Err(ConfigError::DeviceName(bad.clone()))
            );
        }
    }

    #[test]
    fn network_commissioning_follows_the_transport_unless_given() {
        use NetworkCommissioningMode::{Ethernet, Wifi};
        for (args, want) in [
            (&[][..], Wifi),
            (&["--transport", "ble"][..], Wifi),
            (&["--transport", "both"][..], Wifi),
            (&["--transport", "udp"][..], Ethernet),
            (
                &["--transport", "udp", "--network-commissioning", "wifi"][..],
                Wifi,
            ),
            (&["--network-commissioning", "ethernet"][..], Ethernet),
        ] {
            assert_eq!(config(args).network_commissioning, want, "{args:?}");
        }
        assert!(parse(&["--network-commissioning", "thread"]).is_err());
        // A --config file may set it too (the keys are the long flags).
        assert!(file_flags()
            .iter()
            .any(|f| f.name == "network-commissioning" && f.takes_value));
    }

    #[test]
    fn defaults_and_generated_values() {
        let c = config(&[]);
        assert!(c.generated.passcode && c.generated.discriminator && c.generated.salt);
        assert!(c.passcode().is_some());
        assert_eq!(c.vendor_id, 0xFFF1);
        assert_eq!(c.product_id, 0x8001);
        assert_eq!(c.adapter, "hci0");
        assert_eq!(
            c.device_name,
            format!("MATTER-{:04}", c.discriminator.value())
        );
        assert_eq!(c.pbkdf.iterations, 1000);
        assert_eq!(c.pbkdf.salt.as_bytes().len(), 32);
        assert_eq!(c.commissioning_timeout, Duration::from_secs(900));
        assert_eq!(c.transport, Transport::Auto);
        assert!(c.transport.ble() && c.transport.udp() && !c.transport.ble_required());
        // No DNS-SD yet: auto announces BLE discovery only.
        assert_eq!(
            c.transport.discovery_capabilities(),
            DiscoveryCapabilities::BLE
        );
        assert_eq!(c.udp_port, 5540);
        // Different seeds give different passcodes: they really are drawn from the rng.
        let other = Config::from_args(
            parse(&[]).unwrap_or_else(|e| panic!("{e}")).args,
            &mut TestRng::new(4),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            other.passcode().map(Passcode::value),
            c.passcode().map(Passcode::value)
        );
    }

    #[test]
    fn explicit_values_and_the_well_known_codes() {
        let c = config(&[
            "--passcode",
            "20202021",
            "--discriminator",
            "3840",
            "--vendor-id",
            "65521",
            "--product-id",
            "0x8001",
            "--device-name",
            "Lamp",
            "--transport",
            "both",
            "--udp-port",
            "5541",
            "--commissioning-timeout",
            "10m",
        ]);
        assert_eq!(
            c.generated,
            Generated {
                salt: true,
                ..Generated::default()
            }
        );
        assert_eq!(c.device_name, "Lamp");
        assert_eq!(c.udp_port, 5541);
        assert_eq!(c.commissioning_timeout, Duration::from_secs(600));
        let p = c.setup_payload().unwrap_or_else(|e| panic!("{e}"));
        // BLE + on-network differs from the CHIP apps' BLE-only code only in the discovery bits.
        assert_eq!(p.discovery.bits(), 0x06);
        let ble_only = config(&[
            "--passcode",
            "20202021",
            "--discriminator",
            "3840",
            "--transport",
            "ble",
        ]);
        let p = ble_only.setup_payload().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.qr_code(), "MT:-24J042C00KA0648G00");
        assert_eq!(p.manual_code().to_string(), "34970112332");
    }

    #[test]
    fn verifier_combinations() {
        let salt = "53".repeat(16);
        let vhex = verifier_hex();
        let c = config(&["--verifier", &vhex, "--salt", &salt, "--iterations", "1000"]);
        assert!(matches!(c.credentials, Credentials::Verifier(_)));
        assert_eq!(c.setup_payload(), Err(ConfigError::CodesNeedPasscode));
        assert!(!c.generated.passcode);
        // clap refuses the combinations...
        for args in [
            vec!["--verifier", vhex.as_str()],
            vec!["--verifier", vhex.as_str(), "--salt", &salt],
            vec![
                "--verifier",
                vhex.as_str(),
                "--passcode",
                "20202021",
                "--salt",
                &salt,
                "--iterations",
                "1000",
            ],
        ] {
            assert!(parse(&args).is_err(), "{args:?}");
        }
        // ...and so does Config for callers that build DeviceArgs by hand.
        let mut args = parse(&["--verifier", &vhex, "--salt", &salt, "--iterations", "1000"])
            .unwrap_or_else(|e| panic!("{e}"))
            .args;
        args.passcode = parse_passcode("20202021").ok();
        assert_eq!(
            Config::from_args(args.clone(), &mut TestRng::new(1)),
            Err(ConfigError::VerifierWithPasscode)
        );
        args.passcode = None;
        args.salt = None;
        assert_eq!(
            Config::from_args(args, &mut TestRng::new(1)),
            Err(ConfigError::VerifierWithoutPbkdfParameters)
        );
    }

    #[test]
    fn subcommand_and_global_flags() {
        let cli =
            parse(&["pairing-code", "--passcode", "20202021"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.command, Some(Command::PairingCode));
        assert_eq!(cli.args.passcode.map(|p| p.value()), Some(20_202_021));
        let cli =
            parse(&["--passcode", "20202021", "pairing-code"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.command, Some(Command::PairingCode));
        assert!(parse(&["--transport", "wifi"]).is_err());
        assert!(parse(&["--no-such-flag"]).is_err());
    }

    #[test]
    fn state_dir_flag_and_factory_reset() {
        use crate::store::StateDirSource;
        let cli = parse(&["factory-reset", "--yes", "--state-dir", "/srv/m"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cli.command,
            Some(Command::FactoryReset(FactoryResetArgs { yes: true }))
        );
        let cli = parse(&["--state-dir", "/srv/m", "factory-reset", "-y"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cli.command,
            Some(Command::FactoryReset(FactoryResetArgs { yes: true }))
        );
        assert_eq!(
            parse(&["factory-reset"]).map(|c| c.command).ok(),
            Some(Some(Command::FactoryReset(FactoryResetArgs { yes: false })))
        );
        let env = StateEnv {
            home: Some("/home/u".into()),
            ..StateEnv::default()
        };
        let c = config(&["--state-dir", "/srv/m"]);
        assert_eq!(
            c.state_dir(&env).ok(),
            Some(StateDir {
                path: "/srv/m".into(),
                source: StateDirSource::Flag
            })
        );
        assert_eq!(
            config(&[]).state_dir(&env).ok().map(|d| d.path),
            Some("/home/u/.local/state/matter-ble".into())
        );
        assert!(matches!(
            config(&[]).state_dir(&StateEnv::default()),
            Err(StoreError::NoStateDir)
        ));
        // A file is not a folder; empty paths and control characters are refused.
        let file =
            std::env::temp_dir().join(format!("matter-ble-statefile-{}", std::process::id()));
        std::fs::write(&file, b"").unwrap_or_else(|e| panic!("{e}"));
        let file_s = file.to_string_lossy().into_owned();
        for (bad, reason) in [
            ("", "empty"),
            (" ", "empty"),
            ("a\nb", "control characters"),
            (file_s.as_str(), "is not a folder"),
        ] {
            match parse_state_dir(bad) {
                Err(ConfigError::StateDir { reason: r, .. }) => {
                    assert!(r.contains(reason), "{bad:?}: {r}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let _ = std::fs::remove_file(&file);
        // A folder that does not exist yet is fine (the store creates it).
        assert!(parse_state_dir("/nonexistent/matter-ble/state").is_ok());
    }

    #[test]
    fn on_change_is_a_config_file_key_and_takes_any_command() {
        assert!(file_flags()
            .iter()
            .any(|f| f.name == "on-change" && f.takes_value));
        assert_eq!(
            parse_on_change("echo $1 > /run/relay"),
            Ok("echo $1 > /run/relay".into())
        );
        assert_eq!(parse_on_change(" \t"), Err(ConfigError::EmptyCommand));
    }

    #[test]
    fn help_documents_every_flag() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--passcode",
            "--passcode-file",
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
            "--mdns",
            "--qr",
            "--state-dir",
            "--config",
            "--vendor-name",
            "--product-name",
            "--serial-number",
            "--dac",
            "--pai",
            "--dac-key",
            "--cd",
            "--network-interface",
            "--on-change",
            "--network-commissioning",
            "pairing-code",
            "factory-reset",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        Cli::command().debug_assert();
    }

    proptest::proptest! {
        #[test]
        fn u16_round_trips_in_decimal_and_hex(v in proptest::num::u16::ANY) {
            proptest::prop_assert_eq!(parse_u16(&v.to_string()), Ok(v));
            proptest::prop_assert_eq!(parse_u16(&format!("{v:#x}")), Ok(v));
            proptest::prop_assert_eq!(parse_u16(&format!("0X{v:X}")), Ok(v));
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,24}") {
            let _ = parse_number(&text, u64::MAX);
            let _ = parse_passcode(&text);
            let _ = parse_discriminator(&text);
            let _ = parse_iterations(&text);
            let _ = parse_hex(&text);
            let _ = parse_duration(&text);
            let _ = parse_adapter(&text);
            let _ = parse_device_name(&text);
            let _ = parse_state_dir(&text);
            let _ = parse_on_change(&text);
        }

        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            proptest::prop_assert_eq!(parse_hex(&hex(&bytes)), Ok(bytes));
        }
    }
}
