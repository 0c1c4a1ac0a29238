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
use crate::config::Config;
use crate::fabric::LIGHT_ENDPOINT;
use crate::im::clusters::DeviceInfo;
use crate::node::{BleLinkId, Node, NodeConfig, NodeEvent, PeerAddr};
use crate::on_change::{LightChange, OnChange};
use crate::rng::OsRng;
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
    node_cfg.attestation = Some(attestation.credentials);
    node_cfg.network_interface = config
        .network_interface
        .clone()
        .unwrap_or_else(host_network_interface);
    info!(interface = %node_cfg.network_interface, "Network Commissioning reports this interface");
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
    };
    let result = shell.serve(&mut node, &mut link_rx, signals).await;

    // Graceful shutdown: CloseSession to every peer, then BLE teardown.
    let now = shell.clock.now();
    node.shutdown(now);
    shell.flush(&mut node).await;
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
            NodeEvent::CommissioningWindowClosed { reason } => {
                info!(?reason, "commissioning window closed");
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
