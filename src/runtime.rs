//! The tokio shell that runs the device: one task owns the sans-IO [`Node`] and feeds it from
//! the UDP socket, the BLE links (one BTP engine per central, each driven by its own task in
//! [`crate::ble::link`]), its timer and the shutdown signals. It holds no protocol state.
//!
//! ```text
//!   UDP socket ─datagram─┐                     ┌─▶ UDP socket
//!   BLE link tasks ─SDU──┼─▶ Node (sans-IO) ───┼─▶ BLE link task (BTP send_sdu)
//!   sleep_until(deadline)┘                     └─▶ events: stop advertising, logs
//! ```

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::ble::link::{LinkClock, LinkOutput, LinkRouter};
use crate::ble::{
    BlePeripheral, BtpLink, BtpLinkCommand, BtpLinkEvent, CommissionableAdvertisement, LinkId,
    PeripheralConfig,
};
use crate::btp::{BtpConfig, BtpEvent};
use crate::config::{Config, NetworkCommissioningMode};
use crate::dnssd::records::pairing_hint;
use crate::dnssd::{
    Commissionable, CommissioningMode, Desired, InstanceName, Operational, Publisher,
    PublisherOptions,
};
use crate::fabric::WindowStatus;
use crate::fabric::LIGHT_ENDPOINT;
use crate::im::clusters::DeviceInfo;
use crate::im::clusters::{HostLink, NetworkFeature, WifiSettings};
use crate::node::{BleLinkId, Node, NodeConfig, NodeEvent, PeerAddr};
use crate::on_change::{LightChange, OnChange};
use crate::rng::OsRng;
use crate::session::params::MrpParameters;
use crate::state::{self, Attestation, Identity};
use crate::store::Store;
use crate::udp::{UdpTransport, MAX_UDP_PAYLOAD};

/// Runs the device until SIGINT or SIGTERM: opens the commissioning window on the chosen
/// transports and serves commissioners. On the way out it closes every session with
/// CloseSession, stops advertising and unregisters the GATT application.
///
/// # Errors
/// Start-up failures with what to do about them: the UDP port cannot be bound, BlueZ is not
/// usable (see [`crate::ble::BleError`]), the verifier cannot be built.
pub async fn run(
    config: Config,
    store: &mut Store,
    identity: Identity,
    attestation: Attestation,
) -> Result<()> {
    // Signal handlers first: a SIGTERM during start-up must still mean a graceful stop.
    let signals = Signals::install()?;
    let clock = LinkClock::new();
    let verifier = config
        .pase_verifier()
        .context("building the PASE verifier")?;
    if attestation.development {
        warn!(
            issued_now = attestation.issued_now,
            "using DEVELOPMENT attestation credentials (the CSA's test PAI for vendor 0xFFF1): \
             commissioners accept them only in a development or test mode"
        );
    }
    let mut node_cfg = node_config(&config, &identity);
    // What DNS-SD announces as SII/SAI/SAT: the parameters our PASE/CASE responders announce.
    let mrp = MrpParameters::from(&node_cfg.pase.session_params.unwrap_or_default());
    // DT and `_T`: the application endpoint's device type (Matter 1.3 §4.3.1: the primary one).
    let device_type = node_cfg
        .light
        .then_some(crate::im::clusters::ON_OFF_LIGHT_DEVICE_TYPE.id);
    node_cfg.attestation = Some(attestation.credentials);
    node_cfg.network_interface = config
        .network_interface
        .clone()
        .unwrap_or_else(host_network_interface);
    info!(interface = %node_cfg.network_interface, "Network Commissioning reports this interface");
    node_cfg.network_feature = network_feature(&config, &node_cfg.network_interface);
    let loaded = state::load_node_state(store).context("loading the node's records")?;
    let commissioned = loaded.as_ref().map_or(0, |s| s.fabrics.len());
    let mut node = Node::with_state(node_cfg, OsRng, OsRng, loaded);
    let light_on = node.state().light.on_off;
    info!(
        endpoint = LIGHT_ENDPOINT,
        on = light_on,
        "light state at start (StartUpOnOff applied)"
    );
    // The output follows the light from the start, whatever it was before.
    let on_change = config.on_change.clone().map(|cmd| {
        let r = OnChange::spawn(cmd);
        r.notify(LightChange {
            endpoint: LIGHT_ENDPOINT,
            on: light_on,
        });
        r
    });

    let udp = if config.transport.udp() {
        let udp = UdpTransport::bind(config.udp_port).await.with_context(|| {
            format!(
                "binding UDP port {} (is another Matter device running? choose another \
                     with --udp-port)",
                config.udp_port
            )
        })?;
        info!(addr = %udp.local_addr()?, "listening for Matter over UDP");
        Some(udp)
    } else {
        None
    };

    let (link_tx, mut link_rx) = mpsc::channel::<LinkOutput<BtpLinkCommand, BtpLinkEvent>>(64);
    let ble = if config.transport.ble() {
        match start_ble(&config, clock, link_tx.clone()).await {
            Ok(p) => Some(p),
            Err(e) if !config.transport.ble_required() && udp.is_some() => {
                warn!(
                    "Bluetooth LE unavailable, commissioning over UDP only ({e:#}). The codes \
                     printed above announce BLE discovery; a commissioner must be given this \
                     host's address and port instead (chip-tool: pairing already-discovered). \
                     --transport ble makes this an error"
                );
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    drop(link_tx);

    // DNS-SD: commissioners find the device (and its fabrics' administrators reach it) by name.
    let dnssd = match &udp {
        Some(udp) => start_dnssd(&config, udp, mrp, device_type).await,
        None => None,
    };

    // A commissioned device does not open its window by itself (Matter 1.3 §5.4.2.3): an
    // administrator opens one (Administrator Commissioning), or `factory-reset` starts over.
    let window_open = commissioned == 0;
    if window_open {
        node.open_commissioning_window(clock.now(), verifier, config.commissioning_timeout);
    } else {
        info!(
            fabrics = commissioned,
            "already commissioned: the commissioning window stays closed until an administrator \
             opens it (`matter-ble factory-reset` starts over as a new device)"
        );
        if let Some(ble) = &ble {
            if let Err(e) = ble.close_window().await {
                warn!(error = %e, "could not stop advertising");
            }
        }
    }

    let mut shell = Shell {
        clock,
        udp,
        ble,
        links: Links::default(),
        window_open,
        store,
        discriminator: config.discriminator.value(),
        on_change,
        window_discriminator: None,
        dnssd,
    };
    let result = shell.serve(&mut node, &mut link_rx, signals).await;

    // Graceful shutdown: CloseSession to every peer, then BLE teardown.
    let now = shell.clock.now();
    node.shutdown(now);
    shell.flush(&mut node).await;
    // Withdraw the DNS-SD services (goodbye packets / avahi entry groups freed).
    if let Some(d) = shell.dnssd.take() {
        if let Err(e) = tokio::task::spawn_blocking(move || d.publisher.shutdown()).await {
            warn!(error = %e, "DNS-SD withdrawal did not finish");
        }
    }
    // Let the link tasks move their last segments before the links are torn down.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    if let Some(ble) = shell.ble.take() {
        ble.shutdown().await;
    }
    if let Some(r) = shell.on_change.take() {
        // Let a pending run bring the output to the last state, but do not hang on it.
        if tokio::time::timeout(std::time::Duration::from_secs(5), r.finish())
            .await
            .is_err()
        {
            warn!("--on-change command still running at exit: not waited for");
        }
    }
    info!("stopped");
    result
}

/// SIGINT and SIGTERM, registered before anything else starts.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }
}

/// Brings up the GATT service, the per-link BTP router and the advertisement.
async fn start_ble(
    config: &Config,
    clock: LinkClock,
    link_tx: mpsc::Sender<LinkOutput<BtpLinkCommand, BtpLinkEvent>>,
) -> Result<BlePeripheral> {
    let advertisement = CommissionableAdvertisement::new(
        config.discriminator.value(),
        config.vendor_id,
        config.product_id,
    )
    .context("building the BLE advertisement")?;
    let mut pconfig = PeripheralConfig::new(advertisement);
    pconfig.adapter = Some(config.adapter.clone());
    let (peripheral, events) = BlePeripheral::start(pconfig)
        .await
        .context("starting the BLE peripheral")?;
    let router = LinkRouter::new(peripheral.gatt(), clock, |_link: LinkId| {
        BtpLink::new(BtpConfig::default())
    });
    tokio::spawn(router.run(events, link_tx));
    peripheral
        .open_window()
        .await
        .context("starting BLE advertising")?;
    info!(adapter = %config.adapter, "advertising the commissionable Matter service");
    Ok(peripheral)
}

/// The DNS-SD publisher and what the advertisements need besides the node's state.
struct Dnssd {
    publisher: Publisher,
    info: DnssdInfo,
}

/// What the advertisements carry besides the node's state.
#[derive(Debug, Clone)]
struct DnssdInfo {
    /// The commissionable instance name, kept for the run.
    instance: InstanceName,
    port: u16,
    vendor_id: u16,
    product_id: u16,
    device_name: String,
    /// The primary device type, if the node has an application endpoint.
    device_type: Option<u32>,
    mrp: MrpParameters,
}

/// Starts the DNS-SD publisher `--mdns` asks for (`None` when off or unavailable: the device
/// runs on without it).
async fn start_dnssd(
    config: &Config,
    udp: &UdpTransport,
    mrp: MrpParameters,
    device_type: Option<u32>,
) -> Option<Dnssd> {
    let port = match udp.local_addr() {
        Ok(a) => a.port(),
        Err(e) => {
            warn!(error = %e, "no UDP port to advertise: DNS-SD off");
            return None;
        }
    };
    let mode = config.mdns;
    let options = PublisherOptions {
        interface: config.network_interface.clone(),
    };
    // Avahi detection and start-up are blocking D-Bus calls.
    let publisher = tokio::task::spawn_blocking(move || Publisher::start(mode, &options))
        .await
        .ok()
        .flatten()?;
    Some(Dnssd {
        publisher,
        info: DnssdInfo {
            instance: InstanceName::random(&mut OsRng),
            port,
            vendor_id: config.vendor_id,
            product_id: config.product_id,
            device_name: config.device_name.clone(),
            device_type,
            mrp,
        },
    })
}

/// What DNS-SD should show for the node's state: the commissionable service while a window is
/// open (with that window's discriminator and mode), and one operational service per fabric,
/// including one added under an armed fail-safe (the commissioner resolves it for CASE before
/// CommissioningComplete).
fn desired_dnssd<R: crate::rng::Rng>(
    d: &DnssdInfo,
    node: &Node<R>,
    own_discriminator: u16,
    window_discriminator: Option<u16>,
) -> Desired {
    let state = node.state();
    let commissionable = node.is_commissioning_window_open().then(|| {
        let (mode, hint) = match state.window.status {
            WindowStatus::EnhancedWindowOpen => {
                (CommissioningMode::Enhanced, pairing_hint::ADMINISTRATOR)
            }
            WindowStatus::BasicWindowOpen => {
                (CommissioningMode::Basic, pairing_hint::ADMINISTRATOR)
            }
            // The initial window, opened at start-up because the device is uncommissioned.
            WindowStatus::WindowNotOpen => (CommissioningMode::Basic, pairing_hint::POWER_CYCLE),
        };
        Commissionable {
            instance: d.instance,
            discriminator: window_discriminator.unwrap_or(own_discriminator),
            vendor_id: d.vendor_id,
            product_id: d.product_id,
            device_type: d.device_type,
            device_name: Some(d.device_name.clone()),
            mode,
            pairing_hint: hint,
            pairing_instruction: None,
            mrp: d.mrp,
        }
    });
    Desired {
        commissionable,
        operational: state
            .fabrics
            .iter()
            .map(|f| Operational {
                compressed_fabric_id: f.compressed_fabric_id,
                node_id: f.node_id,
                mrp: d.mrp,
            })
            .collect(),
        port: d.port,
    }
}

/// The first network interface that is up and not loopback, from /sys/class/net (sorted by
/// name so the choice is stable), or the Network Commissioning default when there is none.
fn host_network_interface() -> String {
    let mut up: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| {
                    std::fs::read_to_string(format!("/sys/class/net/{n}/operstate"))
                        .is_ok_and(|s| s.trim() == "up")
                })
                .collect()
        })
        .unwrap_or_default();
    up.sort();
    crate::im::clusters::default_interface_name(up.iter().map(String::as_str))
}

/// How often the host-managed Wi-Fi backend's link state is looked at again.
const HOST_LINK_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Network Commissioning's feature from `--network-commissioning`. For Wi-Fi, the host-managed
/// backend: its [`HostLink`] starts from `interface`'s state and a task refreshes it, so
/// ConnectNetwork answers from the link as it is when the command arrives.
fn network_feature(config: &Config, interface: &str) -> NetworkFeature {
    match config.network_commissioning {
        NetworkCommissioningMode::Ethernet => NetworkFeature::Ethernet,
        NetworkCommissioningMode::Wifi => {
            let link = HostLink::new(interface_is_up(interface));
            info!(
                interface,
                up = link.is_up(),
                "Network Commissioning: Wi-Fi, host-managed: Wi-Fi credentials a commissioner \
                 sends are stored; this host's network configuration is not changed \
                 (ConnectNetwork succeeds while the interface is up)"
            );
            let watched = link.clone();
            let name = interface.to_owned();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(HOST_LINK_POLL);
                loop {
                    tick.tick().await;
                    let up = interface_is_up(&name);
                    if up != watched.is_up() {
                        info!(interface = %name, up, "network interface state changed");
                        watched.set_up(up);
                    }
                }
            });
            NetworkFeature::WiFi(WifiSettings::host_managed(link))
        }
    }
}

/// Whether `/sys/class/net/<interface>/operstate` says "up" (or "unknown", which drivers
/// without carrier detection report for a working link, e.g. tun devices).
fn interface_is_up(interface: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/operstate"))
        .is_ok_and(|s| matches!(s.trim(), "up" | "unknown"))
}

fn node_config(config: &Config, identity: &Identity) -> NodeConfig {
    NodeConfig {
        device_info: DeviceInfo {
            vendor_id: config.vendor_id,
            product_id: config.product_id,
            vendor_name: config.vendor_name.clone(),
            product_name: config.product_name.clone(),
            serial_number: config.serial_number.clone(),
            unique_id: identity.unique_id.clone(),
            ..DeviceInfo::default()
        },
        ..NodeConfig::default()
    }
}

/// BLE links as the node sees them: small numbers for the core, command channels for the shell.
#[derive(Default)]
struct Links {
    next: u64,
    by_link: HashMap<LinkId, BleLinkId>,
    senders: HashMap<BleLinkId, mpsc::Sender<BtpLinkCommand>>,
}

struct Shell<'s> {
    /// Node records (fabrics, ACL, attributes) are written here as they change.
    store: &'s mut Store,
    /// The discriminator the BLE advertisement carries.
    discriminator: u16,
    /// The open window's discriminator when an administrator gave one (enhanced window).
    window_discriminator: Option<u16>,
    /// DNS-SD, when UDP runs and `--mdns` is not off.
    dnssd: Option<Dnssd>,
    clock: LinkClock,
    udp: Option<UdpTransport>,
    ble: Option<BlePeripheral>,
    links: Links,
    window_open: bool,
    /// The `--on-change` runner, if configured.
    on_change: Option<OnChange>,
}

impl Shell<'_> {
    /// The event loop. Returns on a shutdown signal, or with the error that stopped it.
    async fn serve(
        &mut self,
        node: &mut Node<OsRng>,
        link_rx: &mut mpsc::Receiver<LinkOutput<BtpLinkCommand, BtpLinkEvent>>,
        mut signals: Signals,
    ) -> Result<()> {
        let mut buf = vec![0u8; MAX_UDP_PAYLOAD + 512];
        let mut links_open = true;
        loop {
            self.flush(node).await;
            if let Some(d) = &mut self.dnssd {
                let desired =
                    desired_dnssd(&d.info, node, self.discriminator, self.window_discriminator);
                d.publisher.reconcile(&desired);
            }
            let deadline = node.poll_timeout();
            let now = self.clock.now();
            if let Some(d) = deadline.filter(|d| *d <= now) {
                debug!(deadline = ?d, "timer due");
                node.handle_timeout(now);
                continue;
            }
            let sleep = sleep_until(deadline.map(|d| self.clock.to_tokio(d)));
            tokio::select! {
                r = recv(self.udp.as_ref(), &mut buf) => {
                    let (n, from) = r.context("receiving from the UDP socket")?;
                    let now = self.clock.now();
                    if let Some(data) = buf.get(..n) {
                        node.handle_datagram(now, PeerAddr::Udp(from), data);
                    }
                }
                out = link_rx.recv(), if links_open => match out {
                    Some(out) => self.on_link_output(node, out),
                    None => links_open = false,
                },
                () = sleep => node.handle_timeout(self.clock.now()),
                _ = signals.int.recv() => {
                    info!("SIGINT: shutting down");
                    return Ok(());
                }
                _ = signals.term.recv() => {
                    info!("SIGTERM: shutting down");
                    return Ok(());
                }
            }
        }
    }

    fn on_link_output(
        &mut self,
        node: &mut Node<OsRng>,
        out: LinkOutput<BtpLinkCommand, BtpLinkEvent>,
    ) {
        let now = self.clock.now();
        match out {
            LinkOutput::Opened { link, commands } => {
                let id = BleLinkId(self.links.next);
                self.links.next += 1;
                info!(%link, id = id.0, "BLE central connected");
                self.links.by_link.insert(link, id);
                self.links.senders.insert(id, commands);
            }
            LinkOutput::Event { link, event } => {
                let Some(&id) = self.links.by_link.get(&link) else {
                    return;
                };
                let event = match event {
                    BtpLinkEvent::Btp(e) => e,
                    BtpLinkEvent::SendRejected { len, error } => {
                        warn!(%link, len, %error, "BTP refused a message");
                        return;
                    }
                };
                match event {
                    BtpEvent::SduReceived(sdu) => {
                        node.handle_datagram(now, PeerAddr::Ble(id), &sdu)
                    }
                    BtpEvent::Established {
                        fragment_size,
                        window,
                        ..
                    } => info!(%link, fragment_size, window, "BTP session established"),
                    BtpEvent::DataLost {
                        outbound_sdus,
                        inbound_bytes,
                    } => warn!(%link, outbound_sdus, inbound_bytes, "BTP closing with data lost"),
                    BtpEvent::Closed { reason } => info!(%link, %reason, "BTP session closed"),
                }
            }
            LinkOutput::Closed { link, reason } => {
                if let Some(id) = self.links.by_link.remove(&link) {
                    self.links.senders.remove(&id);
                    info!(%link, ?reason, "BLE link closed");
                    node.handle_link_closed(now, PeerAddr::Ble(id));
                }
            }
        }
    }

    /// Sends what the node has queued and acts on its events.
    async fn flush(&mut self, node: &mut Node<OsRng>) {
        let now = self.clock.now();
        let mut buf = Vec::with_capacity(MAX_UDP_PAYLOAD);
        loop {
            buf.clear();
            let Some(t) = node.poll_transmit(now, &mut buf) else {
                break;
            };
            match t.dest {
                PeerAddr::Udp(addr) => {
                    if let Some(udp) = &self.udp {
                        udp.send(&buf, addr).await;
                    }
                }
                PeerAddr::Ble(id) => match self.links.senders.get(&id) {
                    // The link task applies BTP backpressure; a full command queue means the
                    // central stopped reading, and the BTP ack timeout will close the link.
                    Some(tx) => {
                        if tx.try_send(BtpLinkCommand::Send(buf.clone())).is_err() {
                            warn!(link = id.0, "BLE link not accepting data: message dropped");
                        }
                    }
                    None => debug!(link = id.0, "message for a closed BLE link dropped"),
                },
            }
        }
        while let Some(ev) = node.poll_event() {
            self.on_node_event(ev).await;
        }
    }

    async fn on_node_event(&mut self, ev: NodeEvent) {
        match ev {
            NodeEvent::PaseStarted { peer } => info!(%peer, "PASE started"),
            NodeEvent::PaseEstablished { session, peer } => {
                info!(%peer, ?session, "PASE session established");
            }
            NodeEvent::PaseFailed {
                peer,
                error,
                failed_attempts,
            } => {
                let peer = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
                warn!(%peer, %error, failed_attempts, "PASE failed");
            }
            NodeEvent::SessionClosed { session, reason } => {
                info!(?session, ?reason, "session closed");
            }
            NodeEvent::Persist(record) => {
                if let Err(e) = state::save_node_record(self.store, &record) {
                    // The device keeps working; what changed is lost at the next restart.
                    error!(record = %record.kind, error = %e, "node state NOT saved");
                }
            }
            NodeEvent::CommissioningWindowOpened {
                discriminator,
                timeout,
            } => {
                info!(
                    ?discriminator,
                    ?timeout,
                    "commissioning window opened by an administrator"
                );
                self.window_discriminator = discriminator;
                // BLE advertises the configured discriminator; a window with another one is
                // reachable on the IP network (as the spec expects of a commissioned device).
                let same = discriminator.is_none_or(|d| d == self.discriminator);
                if let (Some(ble), true) = (&self.ble, same) {
                    match ble.open_window().await {
                        Ok(()) => self.window_open = true,
                        Err(e) => warn!(error = %e, "could not start advertising"),
                    }
                }
            }
            NodeEvent::FailSafeExpired { reason } => {
                warn!(?reason, "fail-safe ended: commissioning rolled back");
            }
            NodeEvent::CommissioningComplete { fabric } => {
                info!(fabric = fabric.0, "commissioning complete");
            }
            NodeEvent::FabricRemoved { fabric } => info!(fabric = fabric.0, "fabric removed"),
            NodeEvent::CaseEstablished {
                session,
                peer,
                fabric,
                peer_node_id,
                resumed,
            } => info!(
                %peer,
                ?session,
                fabric = fabric.0,
                peer_node_id = format_args!("{peer_node_id:016X}"),
                resumed,
                "CASE session established"
            ),
            NodeEvent::OnOffChanged { endpoint, on } => {
                info!(
                    endpoint,
                    state = if on { "on" } else { "off" },
                    "light switched"
                );
                if let Some(r) = &self.on_change {
                    r.notify(LightChange { endpoint, on });
                }
            }
            NodeEvent::CommissioningWindowClosed { reason } => {
                info!(?reason, "commissioning window closed");
                self.window_discriminator = None;
                if self.window_open {
                    self.window_open = false;
                    if let Some(ble) = &self.ble {
                        if let Err(e) = ble.close_window().await {
                            warn!(error = %e, "could not stop advertising");
                        }
                    }
                }
            }
        }
    }
}

async fn recv(
    udp: Option<&UdpTransport>,
    buf: &mut [u8],
) -> std::io::Result<(usize, std::net::SocketAddr)> {
    match udp {
        Some(u) => u.recv(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::Fabric;
    use crate::pase::PaseVerifier;
    use crate::rng::TestRng;
    use crate::session::FabricIndex;
    use crate::time::{Duration, Instant};

    fn info() -> DnssdInfo {
        DnssdInfo {
            instance: InstanceName([1, 2, 3, 4, 5, 6, 7, 8]),
            port: 5540,
            vendor_id: 0xFFF1,
            product_id: 0x8001,
            device_name: "MATTER-3840".into(),
            device_type: Some(0x0100),
            mrp: MrpParameters::DEFAULT,
        }
    }

    fn fabric(n: u8) -> Fabric {
        Fabric {
            index: FabricIndex(0),
            rcac: Vec::new(),
            icac: None,
            noc: Vec::new(),
            fabric_id: u64::from(n),
            node_id: 0x1000 + u64::from(n),
            root_public_key: [n; 65],
            vendor_id: 0xFFF1,
            label: String::new(),
            ipk_epoch_key: zeroize::Zeroizing::new([0; 16]),
            // A fixed valid scalar: no key is used here.
            operational_key: p256::SecretKey::from_slice(&[7; 32]).expect("valid scalar"),
            compressed_fabric_id: [n; 8],
            cats: Vec::new(),
        }
    }

    #[test]
    fn what_dns_sd_shows_follows_the_window_and_the_fabrics() {
        let mut node = Node::new(NodeConfig::default(), TestRng::new(1), TestRng::new(2));
        let d = desired_dnssd(&info(), &node, 3840, None);
        assert_eq!(d.commissionable, None);
        assert!(d.operational.is_empty());
        assert_eq!(d.port, 5540);

        // The start-up window: CM=1, PH power cycle, the device's own discriminator.
        let verifier = PaseVerifier::from_passcode(20202021, &[0x53; 16], 1000).expect("verifier");
        node.open_commissioning_window(Instant::ZERO, verifier, Duration::from_secs(900));
        let c = desired_dnssd(&info(), &node, 3840, None)
            .commissionable
            .expect("commissionable while the window is open");
        assert_eq!(c.mode, CommissioningMode::Basic);
        assert_eq!(c.pairing_hint, pairing_hint::POWER_CYCLE);
        assert_eq!(c.discriminator, 3840);
        assert_eq!(c.instance, info().instance);
        assert_eq!(c.device_type, Some(0x0100));

        // An enhanced window an administrator opened, with its own discriminator.
        node.state_mut().window.status = WindowStatus::EnhancedWindowOpen;
        let c = desired_dnssd(&info(), &node, 3840, Some(100))
            .commissionable
            .expect("commissionable");
        assert_eq!(c.mode, CommissioningMode::Enhanced);
        assert_eq!(c.pairing_hint, pairing_hint::ADMINISTRATOR);
        assert_eq!(c.discriminator, 100);
        node.state_mut().window.status = WindowStatus::BasicWindowOpen;
        let c = desired_dnssd(&info(), &node, 3840, None)
            .commissionable
            .expect("commissionable");
        assert_eq!(
            (c.mode, c.pairing_hint),
            (CommissioningMode::Basic, pairing_hint::ADMINISTRATOR)
        );

        // Each fabric in the table (one added under an armed fail-safe too) is operational.
        node.state_mut().fabrics.add(fabric(1)).expect("add");
        node.state_mut().fabrics.add(fabric(2)).expect("add");
        let d = desired_dnssd(&info(), &node, 3840, None);
        assert_eq!(d.operational.len(), 2);
        assert_eq!(d.operational[0].compressed_fabric_id, [1; 8]);
        assert_eq!(d.operational[1].node_id, 0x1002);

        // Window closed: the commissionable service goes, the operational ones stay.
        node.close_commissioning_window(Instant::ZERO);
        let d = desired_dnssd(&info(), &node, 3840, None);
        assert_eq!(d.commissionable, None);
        assert_eq!(d.operational.len(), 2);
    }
}
