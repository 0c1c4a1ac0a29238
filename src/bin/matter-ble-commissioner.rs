//! `matter-ble-commissioner`: our own BLE central as a test commissioner (issue 6, "Real input"
//! item 4). It scans with btleplug for a commissionable Matter advertisement with the given
//! discriminator, connects, runs the BTP central ([`BtpEngine::central`]) over the GATT service
//! (C1 written with response, C2 indications subscribed), PASE with the passcode and a read of
//! Basic Information VendorName/ProductID over the PASE session ([`Commissioner`]), then closes
//! the session with CloseSession and disconnects.
//!
//! It only moves bytes: every protocol rule lives in the sans-IO engines, the same ones the
//! device runs. One JSON object goes to stdout with the wall times (scan → device found →
//! connected; from connected: → BTP established (GATT discovery included), → PASE established,
//! → first encrypted response, → read done); logs go to stderr (`RUST_LOG`).
//!
//! `--drop-mid-pase` makes it a misbehaving central for the device's tests: it sends Pake1, waits
//! for the device's Pake2 and then drops the link instead of sending Pake3 (exit 0 when it got
//! that far). The advertisement as received (service data bytes, discriminator, vendor and
//! product id, local name) goes into the JSON too, so a test can check what BlueZ delivered.
//!
//! `--commission --udp ADDR [--toggle]` commissions instead of reading, with the library's
//! driver ([`CommissioningFlow`]) on a fabric generated for the run: ArmFailSafe, attestation,
//! CSR, root, AddNOC and Wi-Fi setup over the PASE session on BLE, then CASE over UDP to ADDR
//! (given: this tool does no DNS-SD discovery), CommissioningComplete, and with `--toggle` On/Off
//! Toggle on endpoint 1 between two OnOff reads. The BLE link stays up until
//! CommissioningComplete (the device's fail-safe is bound to it); the JSON then has the phase
//! times (`ble_connect_ms`, `pase_ms`, `attestation_ms`, `addnoc_ms`, `network_ms`, `case_ms`,
//! `complete_ms`, `total_ms`) and `on_off_before`/`on_off_after`.
//!
//! Exit status: 0 read done (or dropped as asked; or commissioned and toggled); 7 a commissioning
//! step failed; 8 the Toggle or an OnOff read over CASE failed; 3 PASE failed; 4 PASE worked, the read failed; 5 no device with
//! that discriminator was found; 6 connecting, GATT discovery or BTP failed; 1 other errors;
//! 2 bad command line.

use std::collections::VecDeque;
use std::io::Write as _;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant as WallInstant};

use anyhow::{anyhow, bail, Context, Result};
use btleplug::api::{
    Central, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter,
    ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use clap::Parser;
use futures::{Stream, StreamExt};
use tracing::{debug, info, warn};

use matter_ble::ble::gatt::{C1_UUID, C2_UUID, MATTER_SERVICE_UUID};
use matter_ble::ble::LinkClock;
use matter_ble::btp::{BtpConfig, BtpEngine, BtpEvent, SendError};
use matter_ble::commissioner::{AttributeReport, Commissioner, CommissionerEvent, InvokeOutcome};
use matter_ble::commissioner_flow::{
    CommissionerFabric, CommissioningFlow, FlowConfig, FlowProgress, Phase, Step, WifiCredentials,
};
use matter_ble::im::{AttributePath, Status};
use matter_ble::message::{Message, Packet, SecureChannelOpcode};
use matter_ble::node::{BleLinkId, PeerAddr};
use matter_ble::rng::OsRng;
use matter_ble::time::Instant;
use matter_ble::tlv::TlvValue;

/// Scan for a Matter device by discriminator, connect over BLE, PASE, read Basic Information.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "matter-ble's test commissioner: scan for a Matter device by discriminator, connect \
             over BLE, run BTP and PASE, read Basic Information VendorName and ProductID",
    after_help = "Prints one JSON line with the wall time of each step. Exit status: 0 ok, 3 \
                  PASE failed, 4 read failed, 5 device not found, 6 connect/GATT/BTP failed, \
                  7 commissioning failed, 8 toggle/read over CASE failed, 1 other errors."
)]
struct Args {
    /// Bluetooth adapter to scan with (e.g. hci1); default: the first one BlueZ lists.
    #[arg(long)]
    adapter: Option<String>,
    /// The device's 12-bit discriminator (0..=4095), as advertised.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=0xFFF))]
    discriminator: u16,
    /// The setup passcode for PASE (a wrong one is allowed: it tests the device's rejection).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=0x7FF_FFFF))]
    passcode: u32,
    /// Seconds allowed for the whole run (scan, connect, BTP, PASE, read).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Drop the link in the middle of PASE (after the device's Pake2, before Pake3) and exit:
    /// tests that the device recovers for the next central.
    #[arg(long)]
    drop_mid_pase: bool,
    /// Commission the device instead of reading: after PASE, ArmFailSafe, attestation, CSR,
    /// root + AddNOC on a fabric generated for this run, Wi-Fi setup when the device has the
    /// Wi-Fi feature (with --wifi-ssid), then CASE over UDP to --udp and CommissioningComplete.
    #[arg(long, requires = "udp")]
    commission: bool,
    /// The device's operational UDP address for CASE (no DNS-SD discovery: given here).
    #[arg(long, value_name = "ADDR:PORT")]
    udp: Option<std::net::SocketAddr>,
    /// With --commission: then invoke On/Off Toggle on endpoint 1 and read OnOff before and
    /// after, over the CASE session.
    #[arg(long, requires = "commission")]
    toggle: bool,
    /// SSID sent with AddOrUpdateWiFiNetwork to a Wi-Fi device.
    #[arg(long, requires = "commission")]
    wifi_ssid: Option<String>,
    /// Wi-Fi passphrase sent with the SSID (default: empty, an open network).
    #[arg(long, requires = "wifi_ssid", default_value = "")]
    wifi_passphrase: String,
}

/// Basic Information (cluster 0x0028) on endpoint 0: VendorName (0x0001), ProductID (0x0004).
const BASIC_INFORMATION: u32 = 0x0028;
const VENDOR_NAME: u32 = 0x0001;
const PRODUCT_ID: u32 = 0x0004;

/// Matter BLE service data: opcode 0x00 = commissionable (Matter Core spec §5.4.2.5.6 "Advertising Data", 1.4 numbering).
const OPCODE_COMMISSIONABLE: u8 = 0x00;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Ok = 0,
    Internal = 1,
    Pase = 3,
    Read = 4,
    NotFound = 5,
    Link = 6,
    /// --commission: a commissioning step (CASE included) failed.
    Commission = 7,
    /// --toggle: the Toggle or an OnOff read over CASE failed.
    Operate = 8,
}

/// What the run measured and found; printed as JSON.
#[derive(Default)]
struct Report {
    adapter: Option<String>,
    device: Option<String>,
    att_mtu: Option<u16>,
    fragment_size: Option<u16>,
    window: Option<u8>,
    scan_ms: Option<f64>,
    scan_to_connect_ms: Option<f64>,
    connect_ms: Option<f64>,
    connect_to_btp_ms: Option<f64>,
    connect_to_pase_ms: Option<f64>,
    pase_ms: Option<f64>,
    connect_to_first_encrypted_ms: Option<f64>,
    connect_to_read_ms: Option<f64>,
    read_ms: Option<f64>,
    btp_established: bool,
    pase_ok: bool,
    vendor_name: Option<String>,
    product_id: Option<u64>,
    /// The 0xFFF6 service data as BlueZ delivered it, and what it says.
    adv_service_data: Option<Vec<u8>>,
    adv_local_name: Option<String>,
    /// `--drop-mid-pase`: the link was dropped after Pake2 arrived.
    dropped_mid_pase: bool,
    /// --commission: the step the flow was at when it stopped (or "Done").
    commission_step: Option<String>,
    /// --commission: phase times, ms (the flow's clock).
    attestation_ms: Option<f64>,
    addnoc_ms: Option<f64>,
    network_ms: Option<f64>,
    case_ms: Option<f64>,
    complete_ms: Option<f64>,
    /// From the start of the scan to CommissioningComplete's response.
    total_ms: Option<f64>,
    commissioned: bool,
    device_has_wifi: Option<bool>,
    node_id: Option<u64>,
    fabric_id: Option<u64>,
    /// The BLE link/BTP session ended by the device after CommissioningComplete.
    ble_closed_by_device: bool,
    /// --toggle: OnOff before and after the Toggle, and the Toggle's time.
    on_off_before: Option<bool>,
    on_off_after: Option<bool>,
    toggle_ms: Option<f64>,
    error: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        // Its default reports a failed write with eprintln!, which panics when stderr is closed.
        .log_internal_errors(false)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::from(Exit::Internal as u8);
        }
    };
    let mut report = Report::default();
    let timeout = Duration::from_secs(args.timeout);
    let exit = rt.block_on(async {
        match tokio::time::timeout(timeout, run(&args, &mut report)).await {
            Ok(Ok(())) => Exit::Ok,
            Ok(Err(failure)) => {
                report.error = Some(format!("{:#}", failure.error));
                failure.exit
            }
            Err(_) => {
                report.error = Some(format!("timed out after {} s", args.timeout));
                if report.commissioned {
                    Exit::Operate
                } else if report.commission_step.is_some() {
                    Exit::Commission
                } else if report.device.is_none() {
                    Exit::NotFound
                } else if !report.btp_established {
                    Exit::Link
                } else if !report.pase_ok {
                    Exit::Pase
                } else {
                    Exit::Read
                }
            }
        }
    });
    // Give btleplug's D-Bus tasks no chance to hold the process: the JSON is the result.
    // A closed stdout loses the result but must not panic.
    let _ = writeln!(std::io::stdout(), "{}", report.to_json(exit));
    ExitCode::from(exit as u8)
}

struct Failure {
    exit: Exit,
    error: anyhow::Error,
}

trait ExitContext<T> {
    fn exit(self, exit: Exit) -> Result<T, Failure>;
}

impl<T> ExitContext<T> for Result<T> {
    fn exit(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|error| Failure { exit, error })
    }
}

async fn run(args: &Args, report: &mut Report) -> Result<(), Failure> {
    let adapter = open_adapter(args.adapter.as_deref())
        .await
        .exit(Exit::Internal)?;
    report.adapter = Some(
        adapter
            .adapter_info()
            .await
            .unwrap_or_else(|_| args.adapter.clone().unwrap_or_default()),
    );

    let t_scan = WallInstant::now();
    let (peripheral, service_data, local_name) = scan(&adapter, args.discriminator)
        .await
        .exit(Exit::NotFound)?;
    report.adv_service_data = Some(service_data);
    report.adv_local_name = local_name;
    report.device = Some(peripheral.address().to_string());
    let t_found = WallInstant::now();
    report.scan_ms = Some(ms(t_scan, t_found));
    peripheral
        .connect()
        .await
        .context("connecting")
        .exit(Exit::Link)?;
    // "Connected" as the CHIP central logs it ("New device connected"): the link is up, GATT
    // discovery comes next and counts toward connect -> BTP, as it does there.
    let t_connect = WallInstant::now();
    report.connect_ms = Some(ms(t_found, t_connect));
    report.scan_to_connect_ms = Some(ms(t_scan, t_connect));

    let link = Link::discover(&peripheral).await.exit(Exit::Link)?;
    report.att_mtu = Some(link.mtu);
    let result = drive(args, &link, t_scan, t_connect, report).await;
    if let Err(e) = peripheral.disconnect().await {
        debug!(error = %e, "disconnect");
    }
    result
}

async fn open_adapter(name: Option<&str>) -> Result<Adapter> {
    let manager = Manager::new()
        .await
        .context("connecting to BlueZ over the system bus (is bluetoothd running?)")?;
    let adapters = manager.adapters().await.context("listing adapters")?;
    let mut names = Vec::new();
    for a in adapters {
        // BlueZ backend: "hci1 (usb:v1D6Bp0246d0540)".
        let info = a.adapter_info().await.unwrap_or_default();
        let id = info
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        if name.is_none_or(|n| n == id) {
            return Ok(a);
        }
        names.push(id);
    }
    match name {
        Some(n) => bail!("adapter {n} not found (adapters: {})", names.join(", ")),
        None => bail!("no Bluetooth adapter"),
    }
}

/// The discriminator of a commissionable Matter advertisement (service data of 0xFFF6:
/// opcode, then u16 LE with the discriminator in bits 0-11), Matter Core spec §5.4.2.5.6 (1.4 numbering).
fn advertised_discriminator(service_data: &[u8]) -> Option<u16> {
    match service_data {
        [OPCODE_COMMISSIONABLE, lo, hi, ..] => Some(u16::from_le_bytes([*lo, *hi]) & 0x0FFF),
        _ => None,
    }
}

/// The advertisement of `p` if it is a commissionable Matter one with this discriminator:
/// (0xFFF6 service data, local name).
async fn matches(p: &Peripheral, discriminator: u16) -> Option<(Vec<u8>, Option<String>)> {
    let props = p.properties().await.ok()??;
    let data = props.service_data.get(&MATTER_SERVICE_UUID)?;
    (advertised_discriminator(data)? == discriminator).then(|| (data.clone(), props.local_name))
}

async fn scan(
    adapter: &Adapter,
    discriminator: u16,
) -> Result<(Peripheral, Vec<u8>, Option<String>)> {
    let mut events = adapter
        .events()
        .await
        .context("subscribing to scan events")?;
    adapter
        .start_scan(ScanFilter::default())
        .await
        .context("starting the scan")?;
    info!(discriminator, "scanning for a commissionable Matter device");
    // Devices BlueZ already knows come as synthesised DeviceDiscovered events first.
    let found = loop {
        let Some(ev) = events.next().await else {
            bail!("the adapter's event stream ended");
        };
        let id = match ev {
            CentralEvent::DeviceDiscovered(id)
            | CentralEvent::DeviceUpdated(id)
            | CentralEvent::ServiceDataAdvertisement { id, .. }
            | CentralEvent::ServicesAdvertisement { id, .. } => id,
            _ => continue,
        };
        let Ok(p) = adapter.peripheral(&id).await else {
            continue;
        };
        if let Some((data, name)) = matches(&p, discriminator).await {
            break (p, data, name);
        }
    };
    if let Err(e) = adapter.stop_scan().await {
        debug!(error = %e, "stop scan");
    }
    info!(device = %found.0.address(), "found the device");
    Ok(found)
}

/// A connected Matter GATT service.
struct Link<'a> {
    peripheral: &'a Peripheral,
    c1: Characteristic,
    c2: Characteristic,
    mtu: u16,
}

impl<'a> Link<'a> {
    /// GATT discovery on a connected peripheral: the Matter service's C1 and C2.
    async fn discover(peripheral: &'a Peripheral) -> Result<Self> {
        peripheral
            .discover_services()
            .await
            .context("discovering GATT services")?;
        let find = |uuid| {
            peripheral
                .characteristics()
                .into_iter()
                .find(|c| c.uuid == uuid && c.service_uuid == MATTER_SERVICE_UUID)
                .ok_or_else(|| anyhow!("the Matter service lacks characteristic {uuid}"))
        };
        let c1 = find(C1_UUID)?;
        let c2 = find(C2_UUID)?;
        let mtu = peripheral.mtu();
        info!(mtu, "Matter service found");
        Ok(Self {
            peripheral,
            c1,
            c2,
            mtu,
        })
    }
}

type Notifications = Pin<Box<dyn Stream<Item = ValueNotification> + Send>>;

/// The BTP + commissioner loop: one input at a time, then drain every output (style §3).
async fn drive(
    args: &Args,
    link: &Link<'_>,
    t_scan: WallInstant,
    t_connect: WallInstant,
    report: &mut Report,
) -> Result<(), Failure> {
    let clock = LinkClock::new();
    let mut notifications: Notifications = link
        .peripheral
        .notifications()
        .await
        .context("C2 notification stream")
        .exit(Exit::Link)?;
    // The ATT MTU goes into the handshake request (BlueZ reports the negotiated one).
    let mut btp = BtpEngine::central(BtpConfig::default(), Some(link.mtu));
    let mut commissioner: Option<Commissioner<OsRng>> = None;
    let mut to_device: VecDeque<Vec<u8>> = VecDeque::new();
    let mut subscribed = false;
    let mut t_pase_start = None;
    let mut t_read_start = None;
    // --drop-mid-pase: set once Pake1 went to BTP; the next Pake2 then ends the run.
    let mut pake1_sent = false;
    let mut buf = Vec::new();
    // --commission: the flow, then (after AddNOC) the CASE commissioner over UDP.
    let mut flow: Option<CommissioningFlow> = None;
    let mut op: Option<Commissioner<OsRng>> = None;
    let mut sock: Option<tokio::net::UdpSocket> = None;
    let mut ble_alive = true;
    let mut toggle = Toggle::ReadBefore;
    let mut t_toggle = None;
    let mut rbuf = vec![0u8; 2048];
    let peer = PeerAddr::Ble(BleLinkId(0));
    let paths = [
        AttributePath::concrete(0, BASIC_INFORMATION, VENDOR_NAME),
        AttributePath::concrete(0, BASIC_INFORMATION, PRODUCT_ID),
    ];

    loop {
        // D: BTP segments out (each write waits for its response: one in flight).
        let now = clock.now();
        buf.clear();
        if ble_alive && btp.poll_transmit(now, &mut buf).is_some() {
            debug!(len = buf.len(), "C1 write");
            let written = link
                .peripheral
                .write(&link.c1, &buf, WriteType::WithResponse)
                .await;
            if written.is_err() && op.is_some() {
                // After the hand-over to CASE the device may end the BLE link at any time.
                info!("BLE link gone after the hand-over to UDP");
                ble_alive = false;
                report.ble_closed_by_device = true;
                continue;
            }
            written.context("writing C1").exit(Exit::Link)?;
            btp.handle_indication_done(clock.now());
            // The handshake request is written first, then C2 is subscribed (as the CHIP
            // central does; the device answers once both happened).
            if !subscribed {
                link.peripheral
                    .subscribe(&link.c2)
                    .await
                    .context("subscribing to C2")
                    .exit(Exit::Link)?;
                subscribed = true;
                btp.handle_subscribed(clock.now());
            }
            continue;
        }
        let now = clock.now();
        while let Some(ev) = btp.poll_event() {
            match ev {
                BtpEvent::Established {
                    fragment_size,
                    window,
                    ..
                } => {
                    report.btp_established = true;
                    report.fragment_size = Some(fragment_size);
                    report.window = Some(window);
                    report.connect_to_btp_ms = Some(ms(t_connect, WallInstant::now()));
                    info!(fragment_size, window, "BTP session established");
                    t_pase_start = Some(WallInstant::now());
                    let c = Commissioner::start(now, peer, args.passcode, OsRng, OsRng)
                        .map_err(|e| anyhow!("starting PASE: {e}"))
                        .exit(Exit::Internal)?;
                    commissioner = Some(c);
                }
                BtpEvent::SduReceived(sdu) => {
                    if report.pase_ok && report.connect_to_first_encrypted_ms.is_none() {
                        report.connect_to_first_encrypted_ms =
                            Some(ms(t_connect, WallInstant::now()));
                    }
                    if args.drop_mid_pase
                        && pake1_sent
                        && unsecured_opcode(&sdu) == Some(SecureChannelOpcode::PASE_PAKE2)
                    {
                        // Pake3 is never sent: the device is left waiting in the middle of
                        // PASE, and run() disconnects.
                        info!("Pake2 received: dropping the link in the middle of PASE, as asked");
                        report.dropped_mid_pase = true;
                        return Ok(());
                    }
                    if let Some(c) = commissioner.as_mut() {
                        c.handle_datagram(now, &sdu);
                    }
                }
                BtpEvent::DataLost {
                    outbound_sdus,
                    inbound_bytes,
                } => warn!(outbound_sdus, inbound_bytes, "BTP closing with data lost"),
                BtpEvent::Closed { reason } if op.is_some() => {
                    info!(%reason, "BTP session closed after the hand-over to UDP");
                    ble_alive = false;
                    report.ble_closed_by_device = true;
                }
                BtpEvent::Closed { reason } => {
                    let exit = if !report.btp_established {
                        Exit::Link
                    } else if !report.pase_ok {
                        Exit::Pase
                    } else {
                        Exit::Read
                    };
                    return Err(anyhow!("BTP session closed: {reason}")).exit(exit);
                }
                other => debug!(?other, "BTP event"),
            }
        }
        if let Some(c) = commissioner.as_mut() {
            // A command issued on an event (the read after PASE) queues output: drain again.
            let mut more = true;
            while std::mem::take(&mut more) {
                while c.poll_transmit(now, &mut buf).is_some() {
                    to_device.push_back(std::mem::take(&mut buf));
                }
                while let Some(ev) = c.poll_event() {
                    more = true;
                    match ev {
                        CommissionerEvent::PaseEstablished { .. } => {
                            report.pase_ok = true;
                            report.connect_to_pase_ms = Some(ms(t_connect, WallInstant::now()));
                            report.pase_ms = t_pase_start.map(|t| ms(t, WallInstant::now()));
                            if args.commission {
                                info!("PASE established; commissioning");
                                let f = start_flow(args, now, c, report)?;
                                flow = Some(f);
                            } else {
                                info!("PASE established; reading Basic Information");
                                t_read_start = Some(WallInstant::now());
                                c.read(now, &paths)
                                    .map_err(|e| anyhow!("read: {e}"))
                                    .exit(Exit::Read)?;
                            }
                        }
                        CommissionerEvent::PaseFailed(e) => {
                            report.pase_ms = t_pase_start.map(|t| ms(t, WallInstant::now()));
                            return Err(anyhow!("PASE failed: {e}")).exit(Exit::Pase);
                        }
                        CommissionerEvent::SessionRejected(e) => {
                            return Err(anyhow!("PASE session rejected locally: {e}"))
                                .exit(Exit::Pase);
                        }
                        ev if op.is_some() => {
                            // The PASE session's end after CommissioningComplete, and the like.
                            debug!(?ev, "PASE-side event after the hand-over to UDP");
                        }
                        ev if flow.is_some() => {
                            let Some(f) = flow.as_mut() else { continue };
                            let progress = f.handle_event(now, c, &ev);
                            report.commission_step = Some(format!("{:?}", f.step()));
                            match progress {
                                Ok(FlowProgress::NeedCase) => {
                                    let Some(addr) = args.udp else {
                                        return Err(anyhow!("--commission needs --udp"))
                                            .exit(Exit::Internal);
                                    };
                                    let bind = if addr.is_ipv4() {
                                        "0.0.0.0:0"
                                    } else {
                                        "[::]:0"
                                    };
                                    let s = tokio::net::UdpSocket::bind(bind)
                                        .await
                                        .context("binding a UDP socket")
                                        .exit(Exit::Internal)?;
                                    let mut o = Commissioner::operational(
                                        PeerAddr::Udp(addr),
                                        OsRng,
                                        OsRng,
                                    );
                                    info!(%addr, "commissioned over BLE up to network setup; CASE over UDP");
                                    f.start_case(now, &mut o)
                                        .map_err(|e| anyhow!("CASE: {e}"))
                                        .exit(Exit::Commission)?;
                                    report.commission_step = Some(format!("{:?}", f.step()));
                                    op = Some(o);
                                    sock = Some(s);
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    return Err(anyhow!("commissioning failed: {e}"))
                                        .exit(Exit::Commission);
                                }
                            }
                        }
                        CommissionerEvent::ReadDone { reports, chunks } => {
                            report.connect_to_read_ms = Some(ms(t_connect, WallInstant::now()));
                            report.read_ms = t_read_start.map(|t| ms(t, WallInstant::now()));
                            debug!(chunks, "read done");
                            for r in reports {
                                match (r.cluster, r.attribute, r.value) {
                                    (BASIC_INFORMATION, VENDOR_NAME, Ok(TlvValue::Utf8(s))) => {
                                        report.vendor_name = Some(s);
                                    }
                                    (BASIC_INFORMATION, PRODUCT_ID, Ok(TlvValue::UInt(v))) => {
                                        report.product_id = Some(v);
                                    }
                                    (cluster, attribute, value) => {
                                        warn!(cluster, attribute, ?value, "unexpected report");
                                    }
                                }
                            }
                            if report.vendor_name.is_none() || report.product_id.is_none() {
                                return Err(anyhow!("the read lacks VendorName or ProductID"))
                                    .exit(Exit::Read);
                            }
                            info!(vendor_name = ?report.vendor_name, product_id = ?report.product_id, "read done");
                            close(c, &mut btp, link, &clock).await;
                            return Ok(());
                        }
                        CommissionerEvent::ReadFailed(e) => {
                            return Err(anyhow!("read failed: {e}")).exit(Exit::Read);
                        }
                        CommissionerEvent::SessionClosed => {
                            return Err(anyhow!("the device closed the session")).exit(Exit::Read);
                        }
                        other => debug!(?other, "commissioner event"),
                    }
                }
            }
        }
        // The CASE commissioner over UDP: datagrams out, events into the flow / the toggle.
        if let (Some(o), Some(s), Some(addr), Some(f)) =
            (op.as_mut(), sock.as_ref(), args.udp, flow.as_mut())
        {
            loop {
                while o.poll_transmit(now, &mut buf).is_some() {
                    let d = std::mem::take(&mut buf);
                    if let Err(e) = s.send_to(&d, addr).await {
                        warn!(error = %e, "UDP send");
                    }
                }
                let Some(ev) = o.poll_event() else { break };
                if f.step() != Step::Done {
                    let progress = f.handle_event(now, o, &ev);
                    report.commission_step = Some(format!("{:?}", f.step()));
                    match progress {
                        Ok(FlowProgress::Done) => {
                            report.commissioned = true;
                            report.total_ms = Some(ms(t_scan, WallInstant::now()));
                            phase_times(f, report);
                            info!(node_id = f.device_node_id(), "commissioning complete");
                            if !args.toggle {
                                close_udp(o, s, addr, &clock).await;
                                return Ok(());
                            }
                            o.read(now, &[on_off_path()])
                                .map_err(|e| anyhow!("read OnOff: {e}"))
                                .exit(Exit::Operate)?;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            return Err(anyhow!("commissioning failed: {e}"))
                                .exit(Exit::Commission);
                        }
                    }
                    continue;
                }
                match (toggle, ev) {
                    (Toggle::ReadBefore, CommissionerEvent::ReadDone { reports, .. }) => {
                        report.on_off_before = on_off_of(&reports);
                        t_toggle = Some(WallInstant::now());
                        // Toggle (0x02) has no fields: an empty anonymous structure.
                        o.invoke(now, 1, ON_OFF, ON_OFF_TOGGLE, &[0x15, 0x18], None)
                            .map_err(|e| anyhow!("Toggle: {e}"))
                            .exit(Exit::Operate)?;
                        toggle = Toggle::Invoking;
                    }
                    (
                        Toggle::Invoking,
                        CommissionerEvent::InvokeDone(InvokeOutcome::Status {
                            status: Status::SUCCESS,
                            ..
                        }),
                    ) => {
                        report.toggle_ms = t_toggle.map(|t| ms(t, WallInstant::now()));
                        o.read(now, &[on_off_path()])
                            .map_err(|e| anyhow!("read OnOff: {e}"))
                            .exit(Exit::Operate)?;
                        toggle = Toggle::ReadAfter;
                    }
                    (Toggle::ReadAfter, CommissionerEvent::ReadDone { reports, .. }) => {
                        report.on_off_after = on_off_of(&reports);
                        info!(before = ?report.on_off_before, after = ?report.on_off_after, "toggled");
                        close_udp(o, s, addr, &clock).await;
                        if report.on_off_before.is_none()
                            || report.on_off_before == report.on_off_after
                        {
                            return Err(anyhow!("OnOff did not change")).exit(Exit::Operate);
                        }
                        return Ok(());
                    }
                    (_, CommissionerEvent::ReadFailed(e) | CommissionerEvent::InvokeFailed(e)) => {
                        return Err(anyhow!("over CASE: {e}")).exit(Exit::Operate)
                    }
                    (_, CommissionerEvent::InvokeDone(other)) => {
                        return Err(anyhow!("Toggle answered {other:?}")).exit(Exit::Operate);
                    }
                    (_, CommissionerEvent::SessionClosed) => {
                        return Err(anyhow!("the device closed the CASE session"))
                            .exit(Exit::Operate);
                    }
                    (_, other) => debug!(?other, "CASE-side event"),
                }
            }
        }
        if !ble_alive {
            to_device.clear();
        }
        // SDUs into BTP, keeping order; Busy leaves the rest for later.
        let mut queued = false;
        while let Some(sdu) = to_device.pop_front() {
            let is_pake1 = unsecured_opcode(&sdu) == Some(SecureChannelOpcode::PASE_PAKE1);
            match btp.send_sdu(now, sdu.clone()) {
                Ok(()) => {
                    queued = true;
                    pake1_sent |= is_pake1;
                }
                Err(SendError::Busy) => {
                    to_device.push_front(sdu);
                    break;
                }
                Err(e) => return Err(anyhow!("BTP refused an SDU: {e}")).exit(Exit::Link),
            }
        }
        if queued {
            continue;
        }

        // B: wait for one input.
        let deadline = [
            btp.poll_timeout(),
            commissioner.as_ref().and_then(Commissioner::poll_timeout),
            op.as_ref().and_then(Commissioner::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(d) = deadline.filter(|d| *d <= clock.now()) {
            fire(
                &mut btp,
                commissioner.as_mut(),
                op.as_mut(),
                d.max(clock.now()),
            );
            continue;
        }
        tokio::select! {
            n = notifications.next(), if ble_alive => match n {
                Some(n) if n.uuid == C2_UUID => {
                    debug!(len = n.value.len(), "C2 indication");
                    btp.handle_segment(clock.now(), &n.value);
                }
                Some(_) => {}
                None => {
                    btp.handle_disconnected(clock.now());
                    if op.is_some() {
                        ble_alive = false;
                        report.ble_closed_by_device = true;
                    }
                }
            },
            r = recv(sock.as_ref(), &mut rbuf) => match r {
                Ok((n, from)) => {
                    debug!(len = n, %from, "UDP datagram");
                    if let (Some(o), Some(d)) = (op.as_mut(), rbuf.get(..n)) {
                        o.handle_datagram(clock.now(), d);
                    }
                }
                Err(e) => warn!(error = %e, "UDP receive"),
            },
            () = sleep_until(deadline.map(|d| clock.to_tokio(d))) => {
                fire(&mut btp, commissioner.as_mut(), op.as_mut(), clock.now());
            }
        }
    }
}

/// The secure channel opcode of a message of the unsecured session (PASE runs there), `None`
/// for anything else or anything that does not decode.
fn unsecured_opcode(datagram: &[u8]) -> Option<SecureChannelOpcode> {
    let packet = Packet::decode(datagram).ok()?;
    if packet.header.session_id != 0 {
        return None;
    }
    Message::decode_plain(&packet)
        .ok()?
        .payload_header
        .secure_channel_opcode()
}

fn fire(
    btp: &mut BtpEngine,
    commissioner: Option<&mut Commissioner<OsRng>>,
    op: Option<&mut Commissioner<OsRng>>,
    now: Instant,
) {
    btp.handle_timeout(now);
    for c in [commissioner, op].into_iter().flatten() {
        c.handle_timeout(now);
    }
}

/// On/Off (0x0006) on endpoint 1: the OnOff attribute (0x0000) and Toggle (0x02), Matter 1.3
/// application clusters §1.5.
const ON_OFF: u32 = 0x0006;
const ON_OFF_TOGGLE: u32 = 0x02;

fn on_off_path() -> AttributePath {
    AttributePath::concrete(1, ON_OFF, 0x0000)
}

fn on_off_of(reports: &[AttributeReport]) -> Option<bool> {
    reports.iter().find_map(|r| match r.value {
        Ok(TlvValue::Bool(b)) if r.cluster == ON_OFF && r.attribute == 0 => Some(b),
        _ => None,
    })
}

/// Where the --toggle sequence is.
#[derive(Clone, Copy)]
enum Toggle {
    ReadBefore,
    Invoking,
    ReadAfter,
}

/// A fabric for this run and the flow over the PASE session, started.
fn start_flow(
    args: &Args,
    now: Instant,
    c: &mut Commissioner<OsRng>,
    report: &mut Report,
) -> Result<CommissioningFlow, Failure> {
    let mut rng = OsRng;
    let fabric = CommissionerFabric::generate(&mut rng, 0, ADMIN_VENDOR_ID)
        .map_err(|e| anyhow!("generating the fabric: {e}"))
        .exit(Exit::Internal)?;
    let node_id = fabric.new_node_id(&mut rng);
    report.node_id = Some(node_id);
    report.fabric_id = Some(fabric.fabric_id());
    let mut config = FlowConfig::new(node_id);
    config.wifi = args.wifi_ssid.as_ref().map(|ssid| WifiCredentials {
        ssid: ssid.as_bytes().to_vec(),
        credentials: zeroize::Zeroizing::new(args.wifi_passphrase.as_bytes().to_vec()),
    });
    let mut f = CommissioningFlow::new(fabric, config, &mut rng);
    f.start(now, c)
        .map_err(|e| anyhow!("commissioning: {e}"))
        .exit(Exit::Commission)?;
    report.commission_step = Some(format!("{:?}", f.step()));
    Ok(f)
}

/// The AdminVendorId AddNOC names: the test vendor 0xFFF1.
const ADMIN_VENDOR_ID: u16 = 0xFFF1;

fn phase_times(f: &CommissioningFlow, report: &mut Report) {
    #[allow(clippy::cast_precision_loss)] // milliseconds of one run
    let t = |p| f.phase_ms(p).map(|v| v as f64);
    report.attestation_ms = t(Phase::Attestation);
    report.addnoc_ms = t(Phase::AddNoc);
    report.network_ms = t(Phase::Network);
    report.case_ms = t(Phase::Case);
    report.complete_ms = t(Phase::Complete);
    report.device_has_wifi = Some(f.device_has_wifi());
}

/// CloseSession on the CASE session, sent (best effort).
async fn close_udp(
    o: &mut Commissioner<OsRng>,
    s: &tokio::net::UdpSocket,
    addr: std::net::SocketAddr,
    clock: &LinkClock,
) {
    let now = clock.now();
    o.close(now);
    let mut buf = Vec::new();
    while o.poll_transmit(now, &mut buf).is_some() {
        let d = std::mem::take(&mut buf);
        if let Err(e) = s.send_to(&d, addr).await {
            debug!(error = %e, "CloseSession not sent");
        }
    }
}

async fn recv(
    sock: Option<&tokio::net::UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, std::net::SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// CloseSession to the device, moved out through BTP before the disconnect (best effort: the
/// device also closes the session when the link goes).
async fn close(
    c: &mut Commissioner<OsRng>,
    btp: &mut BtpEngine,
    link: &Link<'_>,
    clock: &LinkClock,
) {
    let now = clock.now();
    c.close(now);
    let mut buf = Vec::new();
    while c.poll_transmit(now, &mut buf).is_some() {
        if let Err(e) = btp.send_sdu(now, std::mem::take(&mut buf)) {
            debug!(error = %e, "CloseSession not queued");
        }
    }
    for _ in 0..8 {
        buf.clear();
        if btp.poll_transmit(clock.now(), &mut buf).is_none() {
            break;
        }
        if link
            .peripheral
            .write(&link.c1, &buf, WriteType::WithResponse)
            .await
            .is_err()
        {
            break;
        }
        btp.handle_indication_done(clock.now());
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn ms(from: WallInstant, to: WallInstant) -> f64 {
    (to.saturating_duration_since(from).as_secs_f64() * 10_000.0).round() / 10.0
}

impl Report {
    fn to_json(&self, exit: Exit) -> String {
        let mut fields: Vec<(&str, String)> = vec![
            ("peer", json_str("matter-ble-commissioner")),
            ("transport", json_str("ble")),
        ];
        let opt_str = |v: &Option<String>| v.as_deref().map_or("null".into(), json_str);
        let opt_num = |v: Option<f64>| v.map_or("null".into(), |v| format!("{v:.1}"));
        fields.push(("adapter", opt_str(&self.adapter)));
        fields.push(("device", opt_str(&self.device)));
        fields.push((
            "att_mtu",
            self.att_mtu.map_or("null".into(), |v| v.to_string()),
        ));
        fields.push((
            "fragment_size",
            self.fragment_size.map_or("null".into(), |v| v.to_string()),
        ));
        fields.push((
            "window",
            self.window.map_or("null".into(), |v| v.to_string()),
        ));
        fields.push(("scan_ms", opt_num(self.scan_ms)));
        fields.push(("scan_to_connect_ms", opt_num(self.scan_to_connect_ms)));
        fields.push(("connect_ms", opt_num(self.connect_ms)));
        fields.push(("connect_to_btp_ms", opt_num(self.connect_to_btp_ms)));
        fields.push(("connect_to_pase_ms", opt_num(self.connect_to_pase_ms)));
        fields.push(("pase_ms", opt_num(self.pase_ms)));
        fields.push((
            "connect_to_first_encrypted_ms",
            opt_num(self.connect_to_first_encrypted_ms),
        ));
        fields.push(("connect_to_read_ms", opt_num(self.connect_to_read_ms)));
        fields.push(("read_ms", opt_num(self.read_ms)));
        fields.push(("btp_established", self.btp_established.to_string()));
        fields.push(("pase_ok", self.pase_ok.to_string()));
        fields.push(("vendor_name", opt_str(&self.vendor_name)));
        fields.push((
            "product_id",
            self.product_id.map_or("null".into(), |v| v.to_string()),
        ));
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        fields.push((
            "adv_service_data",
            self.adv_service_data
                .as_deref()
                .map_or("null".into(), |d| json_str(&hex(d))),
        ));
        fields.push(("adv_local_name", opt_str(&self.adv_local_name)));
        fields.push(("dropped_mid_pase", self.dropped_mid_pase.to_string()));
        fields.push(("commission_step", opt_str(&self.commission_step)));
        fields.push(("commissioned", self.commissioned.to_string()));
        fields.push((
            "device_has_wifi",
            self.device_has_wifi
                .map_or("null".into(), |v| v.to_string()),
        ));
        let opt_u64 = |v: Option<u64>| v.map_or("null".into(), |v| v.to_string());
        fields.push(("node_id", opt_u64(self.node_id)));
        fields.push(("fabric_id", opt_u64(self.fabric_id)));
        fields.push(("ble_connect_ms", opt_num(self.connect_ms)));
        fields.push(("attestation_ms", opt_num(self.attestation_ms)));
        fields.push(("addnoc_ms", opt_num(self.addnoc_ms)));
        fields.push(("network_ms", opt_num(self.network_ms)));
        fields.push(("case_ms", opt_num(self.case_ms)));
        fields.push(("complete_ms", opt_num(self.complete_ms)));
        fields.push(("total_ms", opt_num(self.total_ms)));
        fields.push((
            "ble_closed_by_device",
            self.ble_closed_by_device.to_string(),
        ));
        let opt_bool = |v: Option<bool>| v.map_or("null".into(), |v| v.to_string());
        fields.push(("on_off_before", opt_bool(self.on_off_before)));
        fields.push(("on_off_after", opt_bool(self.on_off_after)));
        fields.push(("toggle_ms", opt_num(self.toggle_ms)));
        fields.push(("error", opt_str(&self.error)));
        fields.push(("ok", (exit == Exit::Ok).to_string()));
        fields.push(("exit_code", (exit as u8).to_string()));
        let body: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{}: {v}", json_str(k)))
            .collect();
        format!("{{{}}}", body.join(", "))
    }
}

/// A JSON string literal (RFC 8259 §7 escapes).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminator_from_service_data() {
        // Our own advertisement's service data for discriminator 3840, vendor 0xFFF1, product
        // 0x8001 (the golden bytes of src/ble/advertisement.rs).
        assert_eq!(
            advertised_discriminator(&[0x00, 0x00, 0x0F, 0xF1, 0xFF, 0x01, 0x80, 0x00]),
            Some(3840)
        );
        // The version nibble (bits 12-15) is not part of the discriminator.
        assert_eq!(advertised_discriminator(&[0x00, 0xFF, 0xFF]), Some(0xFFF));
        // Not commissionable, or too short.
        assert_eq!(advertised_discriminator(&[0x01, 0x00, 0x0F]), None);
        assert_eq!(advertised_discriminator(&[0x00, 0x00]), None);
        assert_eq!(advertised_discriminator(&[]), None);
    }

    fn plain_message(session_id: u16, opcode: SecureChannelOpcode) -> Vec<u8> {
        use matter_ble::message::{PacketHeader, PayloadHeader, ProtocolId};
        let msg = Message {
            packet_header: PacketHeader {
                session_id,
                ..PacketHeader::unsecured(7)
            },
            payload_header: PayloadHeader {
                exchange_id: 1,
                protocol_id: ProtocolId::SECURE_CHANNEL,
                protocol_vendor_id: None,
                opcode: opcode.into(),
                initiator: true,
                needs_ack: false,
                acked_counter: None,
            },
            payload: vec![0x15, 0x18],
        };
        let mut out = Vec::new();
        msg.encode_plain(&mut out);
        out
    }

    #[test]
    fn drop_mid_pase_recognises_pake_messages() {
        let pake1 = plain_message(0, SecureChannelOpcode::PASE_PAKE1);
        let pake2 = plain_message(0, SecureChannelOpcode::PASE_PAKE2);
        assert_eq!(
            unsecured_opcode(&pake1),
            Some(SecureChannelOpcode::PASE_PAKE1)
        );
        assert_eq!(
            unsecured_opcode(&pake2),
            Some(SecureChannelOpcode::PASE_PAKE2)
        );
        // Golden start of an unsecured message: flags 0x00, session 0, security flags 0x00,
        // counter 7 LE, then exchange flags (I), opcode 0x23, exchange 1, protocol 0.
        assert_eq!(
            &pake2[..12],
            &[0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0x23, 0x01, 0x00]
        );
        // A secure session's message is encrypted: its bytes say nothing about PASE.
        assert_eq!(
            unsecured_opcode(&plain_message(5, SecureChannelOpcode::PASE_PAKE2)),
            None
        );
        // Truncated or empty input.
        assert_eq!(unsecured_opcode(&pake2[..9]), None);
        assert_eq!(unsecured_opcode(&[]), None);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
