//! The BlueZ shell: the Matter GATT service, the commissionable advertisement and one driver
//! task per connected central. Only this module (with `udp` and `runtime`) uses tokio and bluer.
//!
//! ```text
//!  BlueZ ──C1 write/C2 subscribe/confirm──▶ gatt::Hub ──LinkEvent──▶ link::LinkRouter
//!                                              ▲                       │ one task per LinkId
//!  BlueZ ◀──────C2 indication (one in flight)──┘◀── GattHandle::indicate ◀── drive_link(engine)
//! ```
//!
//! Start with [`BlePeripheral::start`], open the commissioning window with
//! [`BlePeripheral::open_window`], then hand the [`LinkEvent`] receiver to
//! [`link::LinkRouter::run`] with a factory for the per-link engine ([`link::LinkEngine`]); the
//! BTP engine is one already: [`btp_link::BtpLink`].
//!
//! # Wiring (what the runtime does)
//! ```no_run
//! use matter_ble::ble::{
//!     BlePeripheral, BtpLink, BtpLinkCommand, BtpLinkEvent, CommissionableAdvertisement,
//!     LinkClock, LinkOutput, LinkRouter, PeripheralConfig,
//! };
//! use matter_ble::btp::{BtpConfig, BtpEvent};
//!
//! # async fn run() -> Result<(), matter_ble::ble::BleError> {
//! let adv = CommissionableAdvertisement::new(3840, 0xFFF1, 0x8001)?.with_local_name("MATTER-3840");
//! let mut config = PeripheralConfig::new(adv);
//! config.adapter = Some("hci0".into());
//! let (peripheral, events) = BlePeripheral::start(config).await?;
//! peripheral.open_window().await?;
//! // Share one clock origin with the rest of the runtime (Node's `now`).
//! let clock = LinkClock::with_origin(tokio::time::Instant::now());
//! let (out_tx, mut out) = tokio::sync::mpsc::channel(64);
//! let router = LinkRouter::new(peripheral.gatt(), clock, |_link| BtpLink::new(BtpConfig::default()));
//! tokio::spawn(router.run(events, out_tx));
//! let mut links = std::collections::HashMap::new();
//! while let Some(output) = out.recv().await {
//!     match output {
//!         // Keep the sender: node.poll_transmit() with dest Ble(link) goes here as
//!         // BtpLinkCommand::Send(bytes).
//!         LinkOutput::Opened { link, commands } => {
//!             links.insert(link, commands);
//!         }
//!         // node.handle_datagram(now, PeerAddr::Ble(link), sdu)
//!         LinkOutput::Event { link, event: BtpLinkEvent::Btp(BtpEvent::SduReceived(sdu)) } => {
//!             let _ = (link, sdu);
//!         }
//!         // node.handle_link_closed(now, PeerAddr::Ble(link))
//!         LinkOutput::Closed { link, .. } => {
//!             links.remove(&link);
//!         }
//!         _ => {}
//!     }
//! }
//! # let _ = BtpLinkCommand::Close;
//! peripheral.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod advertisement;
pub mod btp_link;
pub mod error;
pub mod gatt;
pub mod link;

use std::fmt;
use std::time::Duration;

use bluer::{Adapter, Address, Session};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub use advertisement::{
    Advertiser, AdvertiserStatus, AdvertisingPhase, CommissionableAdvertisement,
};
pub use btp_link::{BtpLink, BtpLinkCommand, BtpLinkEvent};
pub use error::BleError;
pub use gatt::{GattConfig, GattHandle, GattServer};
pub use link::{LinkClock, LinkEngine, LinkOutput, LinkRouter};

/// One connected central, named by its Bluetooth device address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub Address);

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What happened on one central's link, in the order BlueZ reported it.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkEvent {
    /// The central wrote C1 (one BTP segment). `mtu` is the ATT MTU from the write options
    /// (bluezoo always says 512; real BlueZ the negotiated MTU).
    Write {
        /// The central.
        link: LinkId,
        /// The written value.
        data: Vec<u8>,
        /// ATT MTU of the link.
        mtu: u16,
    },
    /// The central subscribed to C2 indications.
    Subscribed {
        /// The central.
        link: LinkId,
        /// ATT MTU of its last write (`StartNotify` carries none).
        mtu: u16,
    },
    /// The C2 subscription ended (StopNotify, or another central took it over).
    Unsubscribed {
        /// The central.
        link: LinkId,
    },
    /// The oldest outstanding indication to this link was confirmed.
    IndicationDone {
        /// The central.
        link: LinkId,
    },
    /// An indication was not confirmed in time; treat the link as failed.
    Failed {
        /// The central.
        link: LinkId,
        /// Why.
        error: BleError,
    },
    /// The central disconnected. No more events for this link.
    Disconnected {
        /// The central.
        link: LinkId,
    },
}

impl LinkEvent {
    /// The link the event is about.
    pub fn link(&self) -> LinkId {
        match self {
            Self::Write { link, .. }
            | Self::Subscribed { link, .. }
            | Self::Unsubscribed { link }
            | Self::IndicationDone { link }
            | Self::Failed { link, .. }
            | Self::Disconnected { link } => *link,
        }
    }
}

/// How to bring up the peripheral.
#[derive(Clone, Debug)]
pub struct PeripheralConfig {
    /// Adapter name (`hci0`); `None` picks BlueZ's default adapter.
    pub adapter: Option<String>,
    /// What to advertise.
    pub advertisement: CommissionableAdvertisement,
    /// GATT settings (C3 bytes, indication timeout).
    pub gatt: GattConfig,
    /// How long to use the fast advertising interval after opening the window (Matter: 30 s).
    pub fast_advertising: Duration,
    /// Power the adapter on if it is off.
    pub power_on: bool,
}

impl PeripheralConfig {
    /// Defaults for `advertisement`: default adapter, 30 s fast advertising, power on.
    pub fn new(advertisement: CommissionableAdvertisement) -> Self {
        Self {
            adapter: None,
            advertisement,
            gatt: GattConfig::default(),
            fast_advertising: Duration::from_secs(30),
            power_on: true,
        }
    }
}

/// The running BLE peripheral: GATT application registered, advertisement under control.
#[derive(Debug)]
pub struct BlePeripheral {
    adapter: Adapter,
    gatt: GattServer,
    advertiser: Advertiser,
    _session: Session,
}

impl BlePeripheral {
    /// Connects to BlueZ, opens (and if allowed powers on) the adapter and registers the Matter
    /// GATT service. Does not advertise yet: see [`open_window`](Self::open_window).
    ///
    /// # Errors
    /// Every [`BleError`] environment variant: bus, bluetoothd, adapter, power, permission.
    pub async fn start(
        config: PeripheralConfig,
    ) -> Result<(Self, mpsc::Receiver<LinkEvent>), BleError> {
        let session = Session::new()
            .await
            .map_err(|e| error::classify("connecting to the system bus", e))?;
        let adapter = open_adapter(&session, config.adapter.as_deref(), config.power_on).await?;
        let advertiser = Advertiser::spawn(
            adapter.clone(),
            config.advertisement,
            config.fast_advertising,
        );
        let (gatt, events) =
            GattServer::serve(&adapter, config.gatt, Some(advertiser.clone())).await?;
        info!(adapter = adapter.name(), "BLE peripheral ready");
        Ok((
            Self {
                adapter,
                gatt,
                advertiser,
                _session: session,
            },
            events,
        ))
    }

    /// Opens the commissioning window: starts advertising (fast, then slow intervals), and
    /// re-advertises after each disconnect until [`close_window`](Self::close_window).
    ///
    /// # Errors
    /// [`BleError::AdvertisementSlotsExhausted`] and other registration failures.
    pub async fn open_window(&self) -> Result<(), BleError> {
        self.advertiser.start().await
    }

    /// Closes the commissioning window: stops advertising. Existing links stay up.
    ///
    /// # Errors
    /// [`BleError::ShutDown`] if the advertiser task is gone.
    pub async fn close_window(&self) -> Result<(), BleError> {
        self.advertiser.stop().await
    }

    /// The handle for indications and C3 updates.
    pub fn gatt(&self) -> GattHandle {
        self.gatt.handle()
    }

    /// The advertiser (e.g. to check [`Advertiser::is_open`]).
    pub fn advertiser(&self) -> &Advertiser {
        &self.advertiser
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    /// Stops advertising and unregisters the application.
    pub async fn shutdown(self) {
        if let Err(e) = self.advertiser.stop().await {
            debug!(error = %e, "advertiser already gone");
        }
        drop(self.gatt);
        // bluer unregisters in a spawned task when the handles drop; give it a moment so a
        // process exit right after does not leave a stale registration in bluetoothd.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finds the adapter (`name`, or BlueZ's default) and makes sure it is powered.
///
/// # Errors
/// [`BleError::BluetoothdNotRunning`], [`BleError::NoAdapter`], [`BleError::AdapterNotFound`]
/// (listing the adapters that exist), [`BleError::AdapterPoweredOff`] (off, and `power_on` is
/// false or BlueZ refused), [`BleError::PermissionDenied`].
pub async fn open_adapter(
    session: &Session,
    name: Option<&str>,
    power_on: bool,
) -> Result<Adapter, BleError> {
    let names = session
        .adapter_names()
        .await
        .map_err(|e| error::classify("listing Bluetooth adapters", e))?;
    if names.is_empty() {
        return Err(BleError::NoAdapter);
    }
    let adapter = match name {
        Some(n) if !names.iter().any(|a| a == n) => {
            return Err(BleError::AdapterNotFound {
                name: n.to_string(),
                available: names,
            });
        }
        Some(n) => session
            .adapter(n)
            .map_err(|e| error::classify("opening the adapter", e))?,
        None => session
            .default_adapter()
            .await
            .map_err(|e| error::classify("opening the default adapter", e))?,
    };
    let powered = adapter
        .is_powered()
        .await
        .map_err(|e| error::classify("reading the adapter state", e))?;
    if !powered {
        if !power_on {
            return Err(BleError::AdapterPoweredOff {
                adapter: adapter.name().to_string(),
                detail: "powering on was not allowed".into(),
            });
        }
        warn!(
            adapter = adapter.name(),
            "adapter is powered off; powering it on"
        );
        if let Err(e) = adapter.set_powered(true).await {
            return Err(match error::classify("powering the adapter on", e) {
                p @ BleError::PermissionDenied { .. } => p,
                other => BleError::AdapterPoweredOff {
                    adapter: adapter.name().to_string(),
                    detail: other.to_string(),
                },
            });
        }
    }
    Ok(adapter)
}
