//! The commissionable BLE advertisement: its bytes (pure), and a task that keeps it registered
//! with BlueZ while the commissioning window is open.
//!
//! Matter Core spec §5.4.2.5.6 "Advertising Data" (numbering of the 1.4/1.5 text): the Matter
//! service data under UUID 0xFFF6 is `opcode (0x00 = commissionable) | u16 LE discriminator
//! (bits 0-11) + advertisement version (bits 12-15, 0) | u16 LE vendor id | u16 LE product id |
//! flags (bit 0 additional data on C3, bit 1 extended announcement)`, and everything a
//! commissioner needs must be in the advertising data, not the scan response. §5.4.2.5.4: GAP
//! General Discoverable, connectable undirected: `Type::Peripheral` + `Discoverable`, for which
//! BlueZ adds the AD Flags itself. Like the CHIP SDK's Linux layer we also list 0xFFF6 in
//! ServiceUUIDs and use the local name `MATTER-%04u` of the discriminator. BlueZ puts
//! `LocalName` into the scan response (src/advertising.c `generate_scan_rsp`), so the
//! advertising data stays 19 bytes: flags (3), the UUID list (4), the service data (12).
//!
//! Intervals (§5.4.2.5.3 "Interval"): 20–60 ms for the first 30 s, then 150–1285 ms; with the
//! extended announcement flag at least 1200 ms (nominal 1285 ms). BlueZ honours
//! `MinInterval`/`MaxInterval` only when bluetoothd runs with experimental features (`-E` or
//! `Experimental = true` in main.conf, see scripts/setup-host); otherwise it ignores them and
//! uses its defaults, which is harmless.
//!
//! Not done here: §5.4.2.5.5 asks for a random static device address, new at every boot. That is
//! an adapter setting (`btmgmt static-addr`, or `Privacy` in main.conf), not part of the
//! advertisement BlueZ lets us register.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bluer::adv::{Advertisement, AdvertisementHandle, Type};
use bluer::Adapter;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant as TokioInstant;
use tracing::{debug, info, warn};

use super::error::{classify, BleError, ACTION_ADVERTISE};
use super::gatt::MATTER_SERVICE_UUID;

/// The data a commissionable Matter device advertises over BLE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommissionableAdvertisement {
    discriminator: u16,
    vendor_id: u16,
    product_id: u16,
    additional_data: bool,
    extended_announcement: bool,
    /// `None`: the CHIP-style default name.
    local_name: Option<String>,
}

impl CommissionableAdvertisement {
    /// A commissionable advertisement for a 12-bit `discriminator`.
    ///
    /// # Errors
    /// [`BleError::InvalidAdvertisement`] if the discriminator does not fit 12 bits.
    pub fn new(discriminator: u16, vendor_id: u16, product_id: u16) -> Result<Self, BleError> {
        if discriminator > MAX_DISCRIMINATOR {
            return Err(BleError::InvalidAdvertisement(
                "discriminator must be 0..=4095",
            ));
        }
        Ok(Self {
            discriminator,
            vendor_id,
            product_id,
            additional_data: false,
            extended_announcement: false,
            local_name: None,
        })
    }

    /// Sets flag bit 0: additional commissioning data can be read from C3.
    pub fn with_additional_data(mut self, present: bool) -> Self {
        self.additional_data = present;
        self
    }

    /// Sets flag bit 1: extended announcement (§5.4.2.5.6); the slow phase then uses
    /// 1200–1285 ms (§5.4.2.5.3).
    pub fn with_extended_announcement(mut self, on: bool) -> Self {
        self.extended_announcement = on;
        self
    }

    /// Replaces the default local name (`--device-name`). BlueZ sends it in the scan response.
    pub fn with_local_name(mut self, name: impl Into<String>) -> Self {
        self.local_name = Some(name.into());
        self
    }

    /// The 12-bit discriminator.
    pub fn discriminator(&self) -> u16 {
        self.discriminator
    }

    /// The 8 service-data bytes under UUID 0xFFF6.
    pub fn service_data(&self) -> [u8; 8] {
        // Advertisement version 0 lives in the top nibble (§5.4.2.5.6).
        let disc_and_version =
            (self.discriminator & MAX_DISCRIMINATOR) | (ADVERTISEMENT_VERSION << 12);
        let [d0, d1] = disc_and_version.to_le_bytes();
        let [v0, v1] = self.vendor_id.to_le_bytes();
        let [p0, p1] = self.product_id.to_le_bytes();
        let mut flags = 0u8;
        if self.additional_data {
            flags |= FLAG_ADDITIONAL_DATA;
        }
        if self.extended_announcement {
            flags |= FLAG_EXTENDED_ANNOUNCEMENT;
        }
        [OPCODE_COMMISSIONABLE, d0, d1, v0, v1, p0, p1, flags]
    }

    /// The local name: the one set with [`with_local_name`](Self::with_local_name), else
    /// `MATTER-` and the discriminator as four decimal digits (the CHIP SDK's `"%s%04u"` with
    /// prefix `MATTER-`).
    pub fn local_name(&self) -> String {
        match &self.local_name {
            Some(name) => name.clone(),
            None => format!("MATTER-{:04}", self.discriminator),
        }
    }

    /// The BlueZ advertisement for one interval phase.
    pub fn to_bluer(&self, phase: AdvertisingPhase) -> Advertisement {
        let (min, max) = match (phase, self.extended_announcement) {
            (AdvertisingPhase::Slow, true) => {
                (Duration::from_millis(1200), Duration::from_millis(1285))
            }
            _ => phase.intervals(),
        };
        Advertisement {
            advertisement_type: Type::Peripheral,
            service_uuids: BTreeSet::from([MATTER_SERVICE_UUID]),
            service_data: BTreeMap::from([(MATTER_SERVICE_UUID, self.service_data().to_vec())]),
            discoverable: Some(true),
            local_name: Some(self.local_name()),
            min_interval: Some(min),
            max_interval: Some(max),
            ..Default::default()
        }
    }
}

/// Which advertising interval range is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdvertisingPhase {
    /// 20–60 ms, for the first 30 s of the commissioning window.
    Fast,
    /// 150–1285 ms afterwards.
    Slow,
}

impl AdvertisingPhase {
    /// (min, max) advertising interval.
    pub fn intervals(self) -> (Duration, Duration) {
        match self {
            Self::Fast => (Duration::from_millis(20), Duration::from_millis(60)),
            Self::Slow => (Duration::from_millis(150), Duration::from_millis(1285)),
        }
    }
}

/// Controls the advertisement task (see [`Advertiser::spawn`]). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Advertiser {
    tx: mpsc::UnboundedSender<AdvCommand>,
}

impl Advertiser {
    /// Spawns the task that owns the BlueZ advertisement registration on `adapter`. Nothing is
    /// advertised until [`start`](Self::start).
    pub fn spawn(
        adapter: Adapter,
        adv: CommissionableAdvertisement,
        fast_period: Duration,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(adapter, adv, fast_period, rx));
        Self { tx }
    }

    /// Opens the commissioning window: registers the advertisement, fast intervals first.
    ///
    /// # Errors
    /// [`BleError::AdvertisementSlotsExhausted`], [`BleError::PermissionDenied`], or another
    /// BlueZ error from `RegisterAdvertisement`.
    pub async fn start(&self) -> Result<(), BleError> {
        self.call(AdvCommand::Start).await
    }

    /// Closes the window: unregisters the advertisement. Idempotent.
    ///
    /// # Errors
    /// [`BleError::ShutDown`] if the task is gone.
    pub async fn stop(&self) -> Result<(), BleError> {
        self.call(AdvCommand::Stop).await
    }

    /// Stops advertising while a central is connected (the CHIP SDK does the same): a second
    /// commissioner could not be served anyway, as C2 has one subscriber at a time (see
    /// `gatt`). The window stays open. Fire and forget.
    pub fn pause(&self) {
        let _ = self.tx.send(AdvCommand::Pause);
    }

    /// Registers the advertisement again, fast intervals first, if the window is open and it
    /// was paused (after the last link is gone; the kernel also stops a connectable
    /// advertisement when a central connects, so it must be registered anew to be found).
    /// Fire and forget: failures are logged.
    pub fn resume_if_open(&self) {
        let _ = self.tx.send(AdvCommand::Resume);
    }

    /// True while the window is open (the advertisement may be paused by a connection).
    pub async fn is_open(&self) -> bool {
        self.status().await.open
    }

    /// Whether the window is open and which advertisement is registered. A gone task reports
    /// closed.
    pub async fn status(&self) -> AdvertiserStatus {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(AdvCommand::Status(reply)).is_err() {
            return AdvertiserStatus::default();
        }
        rx.await.unwrap_or_default()
    }

    async fn call(
        &self,
        make: fn(oneshot::Sender<Result<(), BleError>>) -> AdvCommand,
    ) -> Result<(), BleError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| BleError::ShutDown)?;
        rx.await.map_err(|_| BleError::ShutDown)?
    }
}

/// What [`Advertiser::status`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdvertiserStatus {
    /// The commissioning window is open.
    pub open: bool,
    /// Advertising is paused because a central is connected.
    pub paused: bool,
    /// The registered advertisement's interval phase; `None` when nothing is registered.
    pub phase: Option<AdvertisingPhase>,
}

enum AdvCommand {
    Start(oneshot::Sender<Result<(), BleError>>),
    Stop(oneshot::Sender<Result<(), BleError>>),
    Pause,
    Resume,
    Status(oneshot::Sender<AdvertiserStatus>),
}

struct AdvState {
    open: bool,
    paused: bool,
    handle: Option<(AdvertisementHandle, AdvertisingPhase)>,
    slow_at: Option<TokioInstant>,
}

async fn run(
    adapter: Adapter,
    adv: CommissionableAdvertisement,
    fast_period: Duration,
    mut rx: mpsc::UnboundedReceiver<AdvCommand>,
) {
    let mut st = AdvState {
        open: false,
        paused: false,
        handle: None,
        slow_at: None,
    };
    loop {
        let slow_at = st.slow_at;
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            () = sleep_until_opt(slow_at) => {
                st.slow_at = None;
                debug!(adapter = adapter.name(), "advertising: fast period over, slow intervals");
                // Drop the old registration first so the slot is free for the new one.
                st.handle = None;
                match register(&adapter, &adv, AdvertisingPhase::Slow).await {
                    Ok(h) => st.handle = Some((h, AdvertisingPhase::Slow)),
                    Err(e) => warn!(error = %e, "advertising: re-register with slow intervals failed"),
                }
                continue;
            }
        };
        let Some(cmd) = cmd else { break };
        match cmd {
            AdvCommand::Start(reply) => {
                st.open = true;
                st.paused = false;
                let r = restart(&adapter, &adv, fast_period, &mut st).await;
                if r.is_err() {
                    st.open = false;
                }
                let _ = reply.send(r);
            }
            AdvCommand::Stop(reply) => {
                st.open = false;
                st.paused = false;
                st.handle = None;
                st.slow_at = None;
                info!(adapter = adapter.name(), "advertising stopped");
                let _ = reply.send(Ok(()));
            }
            AdvCommand::Pause => {
                if st.open && !st.paused {
                    debug!(
                        adapter = adapter.name(),
                        "advertising paused: a central is connected"
                    );
                    st.paused = true;
                    st.handle = None;
                    st.slow_at = None;
                }
            }
            AdvCommand::Resume => {
                if st.open && st.paused {
                    st.paused = false;
                    if let Err(e) = restart(&adapter, &adv, fast_period, &mut st).await {
                        warn!(error = %e, "advertising: re-register after disconnect failed");
                    }
                }
            }
            AdvCommand::Status(reply) => {
                let _ = reply.send(AdvertiserStatus {
                    open: st.open,
                    paused: st.paused,
                    phase: st.handle.as_ref().map(|(_, p)| *p),
                });
            }
        }
    }
    // Channel closed: dropping `st.handle` unregisters the advertisement.
}

async fn restart(
    adapter: &Adapter,
    adv: &CommissionableAdvertisement,
    fast_period: Duration,
    st: &mut AdvState,
) -> Result<(), BleError> {
    st.handle = None;
    st.handle = Some((
        register(adapter, adv, AdvertisingPhase::Fast).await?,
        AdvertisingPhase::Fast,
    ));
    st.slow_at = Some(TokioInstant::now() + fast_period);
    info!(
        adapter = adapter.name(),
        name = %adv.local_name(),
        service_data = ?Hex(&adv.service_data()),
        "advertising (fast intervals)"
    );
    Ok(())
}

async fn register(
    adapter: &Adapter,
    adv: &CommissionableAdvertisement,
    phase: AdvertisingPhase,
) -> Result<AdvertisementHandle, BleError> {
    debug!(?phase, "RegisterAdvertisement");
    adapter
        .advertise(adv.to_bluer(phase))
        .await
        .map_err(|e| classify(ACTION_ADVERTISE, e))
}

async fn sleep_until_opt(at: Option<TokioInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Hex `Debug` for byte slices in logs.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl std::fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

const OPCODE_COMMISSIONABLE: u8 = 0x00;
const ADVERTISEMENT_VERSION: u16 = 0;
const MAX_DISCRIMINATOR: u16 = 0x0FFF;
const FLAG_ADDITIONAL_DATA: u8 = 0x01;
const FLAG_EXTENDED_ANNOUNCEMENT: u8 = 0x02;

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn service_data_golden() {
        // Discriminator 3840 = 0x0F00 (the CHIP SDK's default test discriminator), test vendor
        // 0xFFF1, product 0x8000: 00 | 00 0F | F1 FF | 00 80 | 00.
        let adv = CommissionableAdvertisement::new(3840, 0xFFF1, 0x8000).unwrap();
        assert_eq!(adv.service_data(), hex!("00 00 0F F1 FF 00 80 00"));
    }

    #[test]
    fn service_data_bit_layout() {
        // All twelve discriminator bits, version nibble stays 0, both flags.
        let adv = CommissionableAdvertisement::new(0x0FFF, 0x1234, 0xABCD)
            .unwrap()
            .with_additional_data(true)
            .with_extended_announcement(true);
        assert_eq!(adv.service_data(), hex!("00 FF 0F 34 12 CD AB 03"));
        let adv = CommissionableAdvertisement::new(0x0123, 0, 0)
            .unwrap()
            .with_additional_data(true);
        assert_eq!(adv.service_data(), hex!("00 23 01 00 00 00 00 01"));
    }

    #[test]
    fn discriminator_range() {
        assert!(CommissionableAdvertisement::new(4096, 1, 1).is_err());
        assert!(CommissionableAdvertisement::new(u16::MAX, 1, 1).is_err());
        assert!(CommissionableAdvertisement::new(4095, 1, 1).is_ok());
    }

    #[test]
    fn local_name_is_four_digits() {
        let name = |d| {
            CommissionableAdvertisement::new(d, 0, 0)
                .unwrap()
                .local_name()
        };
        assert_eq!(name(3840), "MATTER-3840");
        assert_eq!(name(15), "MATTER-0015");
        assert_eq!(name(0), "MATTER-0000");
        let custom = CommissionableAdvertisement::new(3840, 0, 0)
            .unwrap()
            .with_local_name("Lamp");
        assert_eq!(custom.local_name(), "Lamp");
        assert_eq!(
            custom
                .to_bluer(AdvertisingPhase::Fast)
                .local_name
                .as_deref(),
            Some("Lamp")
        );
    }

    #[test]
    fn bluer_advertisement_fields() {
        let adv = CommissionableAdvertisement::new(3840, 0xFFF1, 0x8000).unwrap();
        let b = adv.to_bluer(AdvertisingPhase::Slow);
        assert_eq!(b.advertisement_type, Type::Peripheral);
        assert!(b.service_uuids.contains(&MATTER_SERVICE_UUID));
        assert_eq!(
            b.service_data.get(&MATTER_SERVICE_UUID).map(Vec::as_slice),
            Some(&adv.service_data()[..])
        );
        assert_eq!(b.local_name.as_deref(), Some("MATTER-3840"));
        assert_eq!(b.discoverable, Some(true));
        assert_eq!(b.min_interval, Some(Duration::from_millis(150)));
        assert_eq!(b.max_interval, Some(Duration::from_millis(1285)));
        let fast = adv.to_bluer(AdvertisingPhase::Fast);
        assert_eq!(fast.min_interval, Some(Duration::from_millis(20)));
        assert_eq!(fast.max_interval, Some(Duration::from_millis(60)));
        let ext = adv
            .clone()
            .with_extended_announcement(true)
            .to_bluer(AdvertisingPhase::Slow);
        assert_eq!(ext.min_interval, Some(Duration::from_millis(1200)));
        assert_eq!(ext.max_interval, Some(Duration::from_millis(1285)));
        assert_eq!(
            MATTER_SERVICE_UUID.to_string(),
            "0000fff6-0000-1000-8000-00805f9b34fb"
        );
    }
}
