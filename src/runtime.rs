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
use tracing::{debug, info, warn};

use crate::ble::link::{LinkClock, LinkOutput, LinkRouter};
use crate::ble::{BlePeripheral, CommissionableAdvertisement, LinkId, PeripheralConfig};
use crate::ble::{BtpLink, BtpLinkCommand, BtpLinkEvent};
use crate::btp::{BtpConfig, BtpEvent};
use crate::config::{Config, Transport};
use crate::im::clusters::DeviceInfo;
use crate::node::{BleLinkId, Node, NodeConfig, NodeEvent, PeerAddr};
use crate::rng::{OsRng, Rng};
use crate::udp::{UdpTransport, MAX_UDP_PAYLOAD};

/// Runs the device until SIGINT or SIGTERM: opens the commissioning window on the chosen
/// transports and serves commissioners. On the way out it closes every session with
/// CloseSession, stops advertising and unregisters the GATT application.
///
/// # Errors
/// Start-up failures with what to do about them: the UDP port cannot be bound, BlueZ is not
/// usable (see [`crate::ble::BleError`]), the verifier cannot be built.
pub async fn run(config: Config) -> Result<()> {
    let clock = LinkClock::new();
    let verifier = config
        .pase_verifier()
        .context("building the PASE verifier")?;
    let mut node = Node::new(node_config(&config), OsRng, OsRng);

    let udp = if matches!(config.transport, Transport::Udp | Transport::Both) {
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
    let ble = if matches!(config.transport, Transport::Ble | Transport::Both) {
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
        let router = LinkRouter::new(peripheral.gatt(), clock, |_link: LinkId| new_link());
        tokio::spawn(router.run(events, link_tx.clone()));
        peripheral
            .open_window()
            .await
            .context("starting BLE advertising")?;
        info!(adapter = %config.adapter, "advertising the commissionable Matter service");
        Some(peripheral)
    } else {
        None
    };
    drop(link_tx);

    node.open_commissioning_window(clock.now(), verifier, config.commissioning_timeout);

    let mut shell = Shell {
        clock,
        udp,
        ble,
        links: Links::default(),
        window_open: true,
    };
    let result = shell.serve(&mut node, &mut link_rx).await;

    // Graceful shutdown: CloseSession to every peer, then BLE teardown.
    let now = shell.clock.now();
    node.shutdown(now);
    shell.flush(&mut node).await;
    // Let the link tasks move their last segments before the links are torn down.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    if let Some(ble) = shell.ble.take() {
        ble.shutdown().await;
    }
    info!("stopped");
    result
}

fn node_config(config: &Config) -> NodeConfig {
    let mut unique = [0u8; 16];
    OsRng.fill(&mut unique);
    NodeConfig {
        device_info: DeviceInfo {
            vendor_id: config.vendor_id,
            product_id: config.product_id,
            product_name: config.device_name.clone(),
            // A per-run identifier: persistent storage arrives with the commissioning clusters.
            unique_id: unique.iter().map(|b| format!("{b:02X}")).collect(),
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

struct Shell {
    clock: LinkClock,
    udp: Option<UdpTransport>,
    ble: Option<BlePeripheral>,
    links: Links,
    window_open: bool,
}

impl Shell {
    /// The event loop. Returns on a shutdown signal, or with the error that stopped it.
    async fn serve(
        &mut self,
        node: &mut Node<OsRng>,
        link_rx: &mut mpsc::Receiver<LinkOutput<BtpLinkCommand, BtpLinkEvent>>,
    ) -> Result<()> {
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
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
                r = tokio::signal::ctrl_c() => {
                    r.context("waiting for SIGINT")?;
                    info!("SIGINT: shutting down");
                    return Ok(());
                }
                _ = sigterm.recv() => {
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
            LinkOutput::Event {
                link,
                event: BtpLinkEvent::SendRejected { len, error },
            } => warn!(%link, len, %error, "message not sent over BTP"),
            LinkOutput::Event {
                link,
                event: BtpLinkEvent::Btp(event),
            } => {
                let Some(&id) = self.links.by_link.get(&link) else {
                    return;
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

/// The per-link engine the BLE router starts for each new central: the peripheral BTP session
/// of [`crate::ble::btp_link`], which hands each write's ATT MTU to BTP (the CHIP central sends
/// MTU 0 in its request), keeps SDUs that meet a full engine queue in order, and reports a
/// disconnect as [`crate::btp::BtpError::Disconnected`] with the data it lost.
pub fn new_link() -> BtpLink {
    BtpLink::new(BtpConfig::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::LinkEngine;
    use crate::btp::{BtpEngine, BtpError};
    use crate::time::Instant;

    /// A central engine against `link` in memory: the handshake, then `sdus` from the device
    /// whose segments the central receives but does not acknowledge yet.
    fn established_with_unacked(sdus: usize) -> BtpLink {
        let now = Instant::ZERO;
        let mut central = BtpEngine::central(BtpConfig::default(), None);
        let mut link = new_link();
        let mut buf = Vec::new();
        assert!(central.poll_transmit(now, &mut buf).is_some());
        central.handle_indication_done(now);
        // The CHIP order: handshake request written, then C2 subscribed; bluezoo's MTU 512.
        link.handle_segment(now, 512, &buf);
        link.handle_subscribed(now, 512);
        central.handle_subscribed(now);
        buf.clear();
        assert!(link.poll_transmit(now, &mut buf), "handshake response");
        link.handle_indication_done(now);
        central.handle_segment(now, &buf);
        assert!(central.is_established() && link.engine().is_established());
        for i in 0..sdus {
            link.handle_command(now, BtpLinkCommand::Send(vec![i as u8; 100]));
        }
        if sdus > 0 {
            buf.clear();
            assert!(link.poll_transmit(now, &mut buf), "a data segment");
            link.handle_indication_done(now);
        }
        while link.poll_event().is_some() {}
        link
    }

    #[test]
    fn disconnect_reports_disconnected_and_the_lost_data() {
        // The runtime's first link engine called BtpEngine::close on a disconnect: a graceful
        // close that waits for acks that can never come, so with data in flight no Closed
        // event came at all, and without it the reason said "closed locally".
        let mut link = established_with_unacked(2);
        link.handle_disconnected(Instant::ZERO);
        let events: Vec<_> = std::iter::from_fn(|| link.poll_event()).collect();
        assert!(
            events.iter().any(|e| matches!(
                e,
                BtpLinkEvent::Btp(BtpEvent::DataLost {
                    outbound_sdus: 2,
                    ..
                })
            )),
            "{events:?}"
        );
        assert!(
            matches!(
                events.last(),
                Some(BtpLinkEvent::Btp(BtpEvent::Closed {
                    reason: BtpError::Disconnected
                }))
            ),
            "{events:?}"
        );
        assert!(link.is_closed());
        assert_eq!(
            link.poll_timeout(),
            None,
            "no timer left after the disconnect"
        );
    }

    #[test]
    fn att_mtu_of_the_gatt_layer_sets_the_fragment_size() {
        // bluezoo reports 512; BTP caps the segment at 244 bytes (§4.19.4.2).
        let link = established_with_unacked(0);
        assert_eq!(link.engine().fragment_size(), Some(244));
    }
}
