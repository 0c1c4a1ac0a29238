//! The Matter GATT application (service 0xFFF6 with C1, C2, C3) and the hub task that turns BlueZ
//! callbacks into per-central [`LinkEvent`]s and serialises indications.
//!
//! Matter Core spec §4.19.4.2 "BTP GATT Service" (1.4 numbering): C1 is written with response by
//! the central, C2 carries the peripheral's segments as indications, C3 is the optional
//! additional commissioning data.
//!
//! # Why C2 uses `StartNotify` (bluer `CharacteristicNotifyMethod::Fun`)
//! BlueZ reports indication confirmations differently by version and path:
//! - `StartNotify` + `Value` PropertiesChanged: every version calls our `Confirm` D-Bus method
//!   for each confirmation (src/gatt-database.c `conf_cb`; 5.66, 5.72, 5.79, 5.80+ alike).
//! - `AcquireNotify`: up to 5.73 the fd path also calls `Confirm`, but bluer only forwards
//!   `Confirm` to a `StartNotify` session, so it is lost; 5.74–5.79 drop the confirmation; from
//!   5.80 a `0x01` byte comes back on the notify socket.
//!
//! So the `StartNotify` path is the one that gives confirmations on every BlueZ we support.
//! Its cost: `StartNotify` carries no device, and the value goes to every central subscribed to
//! C2. We therefore attribute a subscription to the central that most recently wrote C1 and is
//! not yet subscribed (a BTP central writes its handshake request before it subscribes, as the
//! CHIP central does; a subscription that comes first is parked until the next write), and only
//! one central at a time can hold the C2 subscription: when a second central subscribes, bluer
//! ends the first notification session and the first link gets [`LinkEvent::Unsubscribed`].
//! To keep a second commissioner from appearing, the advertisement pauses while a central is
//! connected (`Advertiser::pause`) and comes back when the last one is gone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bluer::gatt::local::{
    Application, ApplicationHandle, Characteristic, CharacteristicNotifier, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicRead, CharacteristicWrite, CharacteristicWriteMethod,
    ReqError, Service,
};
use bluer::{Adapter, Address, DeviceEvent, DeviceProperty, Uuid};
use futures::future::BoxFuture;
use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};

use super::advertisement::{Advertiser, Hex};
use super::error::{classify, BleError};
use super::{LinkEvent, LinkId};

/// The Matter BLE service, 16-bit UUID 0xFFF6 in the Bluetooth base UUID.
pub const MATTER_SERVICE_UUID: Uuid = Uuid::from_u128(0x0000_FFF6_0000_1000_8000_0080_5F9B_34FB);
/// C1: central → peripheral, write with response.
pub const C1_UUID: Uuid = Uuid::from_u128(0x18EE_2EF5_263D_4559_959F_4F9C_429F_9D11);
/// C2: peripheral → central, indications.
pub const C2_UUID: Uuid = Uuid::from_u128(0x18EE_2EF5_263D_4559_959F_4F9C_429F_9D12);
/// C3: additional commissioning data, read.
pub const C3_UUID: Uuid = Uuid::from_u128(0x6463_0238_8772_45F2_B87D_748A_8321_8F04);

/// Largest C1 write / C2 indication value: 244 bytes of BTP segment + 3 (§4.19.4.2).
pub const MAX_C1_C2_VALUE: usize = 247;
/// Largest C3 value.
pub const MAX_C3_VALUE: usize = 512;

/// Settings of the GATT application.
#[derive(Clone, Debug)]
pub struct GattConfig {
    /// Time to wait for one indication's confirmation before the link is declared failed.
    /// Default 15 s (the CHIP SDK's BTP ack-received timeout: BTP would give up anyway).
    pub indication_timeout: Duration,
    /// Bytes served on C3 (additional commissioning data TLV); empty = C3 answers with no data.
    pub additional_data: Vec<u8>,
}

impl Default for GattConfig {
    fn default() -> Self {
        Self {
            indication_timeout: Duration::from_secs(15),
            additional_data: Vec::new(),
        }
    }
}

/// The registered GATT application. Dropping it unregisters the application and stops the hub.
#[derive(Debug)]
pub struct GattServer {
    handle: GattHandle,
    _app: ApplicationHandle,
}

impl GattServer {
    /// Registers the Matter service on `adapter` and starts the hub task. Link events arrive on
    /// the returned receiver. `advertiser`, if given, is told to re-register after the last
    /// link disconnects.
    ///
    /// # Errors
    /// [`BleError::PermissionDenied`] when the D-Bus policy refuses `RegisterApplication`, or
    /// another BlueZ error.
    pub async fn serve(
        adapter: &Adapter,
        config: GattConfig,
        advertiser: Option<Advertiser>,
    ) -> Result<(Self, mpsc::Receiver<LinkEvent>), BleError> {
        let (hub_tx, hub_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let additional = Arc::new(Mutex::new(config.additional_data.clone()));
        let handle = GattHandle {
            tx: hub_tx.clone(),
            additional: additional.clone(),
        };
        let app = application(hub_tx.clone(), additional);
        let app = adapter
            .serve_gatt_application(app)
            .await
            .map_err(|e| classify("registering the GATT application", e))?;
        debug!(
            adapter = adapter.name(),
            "GATT application registered (service 0xFFF6)"
        );
        let hub = Hub {
            adapter: Some(adapter.clone()),
            config,
            advertiser,
            events: events_tx,
            self_tx: hub_tx,
            links: HashMap::new(),
            session: None,
            next_session: 0,
            write_clock: 0,
        };
        tokio::spawn(hub.run(hub_rx));
        Ok((Self { handle, _app: app }, events_rx))
    }

    /// A handle for sending indications.
    pub fn handle(&self) -> GattHandle {
        self.handle.clone()
    }
}

/// Sends indications and updates C3. Cheap to clone; one per link driver is fine.
#[derive(Clone, Debug)]
pub struct GattHandle {
    tx: mpsc::UnboundedSender<HubMsg>,
    additional: Arc<Mutex<Vec<u8>>>,
}

impl GattHandle {
    /// Queues one C2 indication for `link`. Indications to a link go out one at a time, each
    /// after the previous one's confirmation; each confirmation comes back as
    /// [`LinkEvent::IndicationDone`]. If the link is not subscribed the value is dropped (the
    /// `Unsubscribed`/`Disconnected` event that explains why is already on its way).
    ///
    /// # Errors
    /// [`BleError::ShutDown`] when the GATT server is gone.
    pub fn indicate(&self, link: LinkId, value: Vec<u8>) -> Result<(), BleError> {
        self.tx
            .send(HubMsg::Indicate { link, value })
            .map_err(|_| BleError::ShutDown)
    }

    /// Asks BlueZ to disconnect the central (after its engine closed or failed), so it does not
    /// linger and advertising can resume. The `Disconnected` event follows as usual.
    ///
    /// # Errors
    /// [`BleError::ShutDown`] when the GATT server is gone.
    pub fn disconnect(&self, link: LinkId) -> Result<(), BleError> {
        self.tx
            .send(HubMsg::Disconnect { link })
            .map_err(|_| BleError::ShutDown)
    }

    /// Replaces the bytes served on C3 (e.g. a new rotating device id).
    pub fn set_additional_data(&self, bytes: Vec<u8>) {
        *lock(&self.additional) = bytes;
    }

    /// A handle whose indications go into `tx`, for driver tests without BlueZ.
    #[cfg(test)]
    pub(crate) fn for_test(tx: mpsc::UnboundedSender<HubMsg>) -> Self {
        Self {
            tx,
            additional: Arc::default(),
        }
    }
}

/// Messages into the hub task.
#[derive(Debug)]
pub(crate) enum HubMsg {
    Write {
        link: LinkId,
        data: Vec<u8>,
        mtu: u16,
    },
    NotifyStarted(NotifierBox),
    Indicate {
        link: LinkId,
        value: Vec<u8>,
    },
    IndicationResult {
        session: u64,
        result: Result<(), IndicationFailure>,
    },
    SessionStopped {
        session: u64,
    },
    Disconnected {
        link: LinkId,
    },
    Disconnect {
        link: LinkId,
    },
}

/// One C2 notification session as the hub sees it: bluer's `CharacteristicNotifier`, or a
/// fake in the unit tests.
pub(crate) trait Notifier: Send + 'static {
    /// Sends one indication; resolves when it is confirmed (Ok) or the session ended (Err).
    fn notify(&mut self, value: Vec<u8>) -> BoxFuture<'_, Result<(), ()>>;
    /// Resolves when the central (or bluer, on a newer session) ends the session.
    fn stopped(&self) -> BoxFuture<'static, ()>;
}

impl Notifier for CharacteristicNotifier {
    fn notify(&mut self, value: Vec<u8>) -> BoxFuture<'_, Result<(), ()>> {
        Box::pin(async move {
            CharacteristicNotifier::notify(self, value)
                .await
                .map_err(|e| {
                    debug!(error = %e, "indication failed");
                })
        })
    }

    fn stopped(&self) -> BoxFuture<'static, ()> {
        Box::pin(CharacteristicNotifier::stopped(self))
    }
}

/// A boxed [`Notifier`] (`CharacteristicNotifier` has no `Debug`).
pub(crate) struct NotifierBox(pub(crate) Box<dyn Notifier>);

impl std::fmt::Debug for NotifierBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

#[derive(Debug)]
pub(crate) enum IndicationFailure {
    Timeout,
    Stopped,
}

fn application(hub: mpsc::UnboundedSender<HubMsg>, additional: Arc<Mutex<Vec<u8>>>) -> Application {
    let write_hub = hub.clone();
    let c1 = Characteristic {
        uuid: C1_UUID,
        write: Some(CharacteristicWrite {
            write: true,
            method: CharacteristicWriteMethod::Fun(Box::new(move |data, req| {
                let hub = write_hub.clone();
                Box::pin(async move {
                    // BTP segments never exceed one ATT write; a long (offset) write is not BTP.
                    if req.offset != 0 {
                        return Err(ReqError::InvalidOffset);
                    }
                    if data.len() > MAX_C1_C2_VALUE {
                        return Err(ReqError::InvalidValueLength);
                    }
                    let link = LinkId(req.device_address);
                    trace!(%link, mtu = req.mtu, data = ?Hex(&data), "C1 write");
                    hub.send(HubMsg::Write {
                        link,
                        data,
                        mtu: req.mtu,
                    })
                    .map_err(|_| ReqError::Failed)
                })
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let notify_hub = hub;
    let c2 = Characteristic {
        uuid: C2_UUID,
        notify: Some(CharacteristicNotify {
            // Indicate only: bluer then waits for each confirmation (notify = false).
            indicate: true,
            notify: false,
            method: CharacteristicNotifyMethod::Fun(Box::new(move |notifier| {
                let hub = notify_hub.clone();
                Box::pin(async move {
                    debug!("C2 StartNotify");
                    let _ = hub.send(HubMsg::NotifyStarted(NotifierBox(Box::new(notifier))));
                })
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let c3 = Characteristic {
        uuid: C3_UUID,
        read: Some(CharacteristicRead {
            read: true,
            fun: Box::new(move |req| {
                let value = lock(&additional).clone();
                Box::pin(async move {
                    trace!(link = %LinkId(req.device_address), offset = req.offset, "C3 read");
                    let offset = usize::from(req.offset);
                    let value = value.get(..MAX_C3_VALUE).unwrap_or(&value);
                    value
                        .get(offset..)
                        .map(<[u8]>::to_vec)
                        .ok_or(ReqError::InvalidOffset)
                })
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Application {
        services: vec![Service {
            uuid: MATTER_SERVICE_UUID,
            primary: true,
            characteristics: vec![c1, c2, c3],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave a Vec<u8> half-written; keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct LinkState {
    mtu: u16,
    subscribed: bool,
    last_write: u64,
    queue: VecDeque<Vec<u8>>,
    in_flight: bool,
}

/// The one notification session bluer gives us (the newest `StartNotify`).
struct NotifySession {
    id: u64,
    link: Option<LinkId>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

struct Hub {
    /// `None` in unit tests: no device watchers (disconnects are injected).
    adapter: Option<Adapter>,
    config: GattConfig,
    advertiser: Option<Advertiser>,
    events: mpsc::Sender<LinkEvent>,
    self_tx: mpsc::UnboundedSender<HubMsg>,
    links: HashMap<LinkId, LinkState>,
    session: Option<NotifySession>,
    next_session: u64,
    write_clock: u64,
}

impl Hub {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<HubMsg>) {
        while let Some(msg) = rx.recv().await {
            if !self.handle(msg).await {
                break;
            }
        }
        debug!("GATT hub stopped");
    }

    /// Returns false when the event receiver is gone.
    async fn handle(&mut self, msg: HubMsg) -> bool {
        match msg {
            HubMsg::Write { link, data, mtu } => {
                self.write_clock += 1;
                let stamp = self.write_clock;
                if let Some(st) = self.links.get_mut(&link) {
                    st.mtu = mtu;
                    st.last_write = stamp;
                } else {
                    debug!(%link, mtu, "new link");
                    if self.links.is_empty() {
                        if let Some(adv) = &self.advertiser {
                            adv.pause();
                        }
                    }
                    self.links.insert(
                        link,
                        LinkState {
                            mtu,
                            subscribed: false,
                            last_write: stamp,
                            queue: VecDeque::new(),
                            in_flight: false,
                        },
                    );
                    self.watch_disconnect(link);
                }
                // A subscription that arrived before any write belongs to this writer.
                let parked = self.session.as_ref().is_some_and(|s| s.link.is_none());
                let unsubscribed = self.links.get(&link).is_some_and(|s| !s.subscribed);
                if parked && unsubscribed && !self.emit_subscribed(link).await {
                    return false;
                }
                self.emit(LinkEvent::Write { link, data, mtu }).await
            }
            HubMsg::NotifyStarted(NotifierBox(notifier)) => {
                // bluer has already ended the previous session (it keeps one per characteristic).
                if let Some(old) = self.session.take() {
                    if let Some(link) = old.link {
                        if !self.unsubscribe(link).await {
                            return false;
                        }
                    }
                }
                self.next_session += 1;
                let id = self.next_session;
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(indicator(
                    id,
                    notifier,
                    rx,
                    self.self_tx.clone(),
                    self.config.indication_timeout,
                ));
                self.session = Some(NotifySession { id, link: None, tx });
                let candidate = self
                    .links
                    .iter()
                    .filter(|(_, st)| !st.subscribed)
                    .max_by_key(|(_, st)| st.last_write)
                    .map(|(l, _)| *l);
                match candidate {
                    Some(link) => self.emit_subscribed(link).await,
                    None => {
                        debug!("C2 subscription before any C1 write: parked until the next write");
                        true
                    }
                }
            }
            HubMsg::Indicate { link, value } => {
                let Some(st) = self.links.get_mut(&link) else {
                    debug!(%link, "indication for a gone link dropped");
                    return true;
                };
                if !st.subscribed {
                    debug!(%link, "indication for an unsubscribed link dropped");
                    return true;
                }
                st.queue.push_back(value);
                self.pump(link);
                true
            }
            HubMsg::IndicationResult { session, result } => {
                let Some(link) = self
                    .session
                    .as_ref()
                    .filter(|s| s.id == session)
                    .and_then(|s| s.link)
                else {
                    return true;
                };
                match result {
                    Ok(()) => {
                        if let Some(st) = self.links.get_mut(&link) {
                            st.in_flight = false;
                        }
                        trace!(%link, "indication confirmed");
                        if !self.emit(LinkEvent::IndicationDone { link }).await {
                            return false;
                        }
                        self.pump(link);
                        true
                    }
                    Err(IndicationFailure::Timeout) => {
                        warn!(%link, timeout = ?self.config.indication_timeout, "indication not confirmed");
                        self.session = None;
                        if let Some(st) = self.links.get_mut(&link) {
                            st.subscribed = false;
                            st.in_flight = false;
                            st.queue.clear();
                        }
                        self.emit(LinkEvent::Failed {
                            link,
                            error: BleError::IndicationTimeout(self.config.indication_timeout),
                        })
                        .await
                    }
                    Err(IndicationFailure::Stopped) => {
                        self.session = None;
                        self.unsubscribe(link).await
                    }
                }
            }
            HubMsg::SessionStopped { session } => {
                let Some(s) = self.session.as_ref().filter(|s| s.id == session) else {
                    return true;
                };
                let link = s.link;
                self.session = None;
                match link {
                    Some(link) => self.unsubscribe(link).await,
                    None => true,
                }
            }
            HubMsg::Disconnect { link } => {
                if let Some(adapter) = self.adapter.clone() {
                    debug!(%link, "disconnecting the central");
                    tokio::spawn(async move {
                        let r = match adapter.device(link.0) {
                            Ok(d) => d.disconnect().await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = r {
                            debug!(%link, error = %e, "disconnect failed");
                        }
                    });
                }
                true
            }
            HubMsg::Disconnected { link } => {
                if self.links.remove(&link).is_none() {
                    return true;
                }
                if self.session.as_ref().is_some_and(|s| s.link == Some(link)) {
                    // Dropping the sender ends the indicator task and its notifier.
                    self.session = None;
                }
                debug!(%link, "link disconnected");
                let ok = self.emit(LinkEvent::Disconnected { link }).await;
                if self.links.is_empty() {
                    if let Some(adv) = &self.advertiser {
                        adv.resume_if_open();
                    }
                }
                ok
            }
        }
    }

    async fn emit_subscribed(&mut self, link: LinkId) -> bool {
        let Some(st) = self.links.get_mut(&link) else {
            return true;
        };
        st.subscribed = true;
        let mtu = st.mtu;
        if let Some(s) = &mut self.session {
            s.link = Some(link);
        }
        debug!(%link, mtu, "C2 subscribed");
        self.emit(LinkEvent::Subscribed { link, mtu }).await
    }

    async fn unsubscribe(&mut self, link: LinkId) -> bool {
        let Some(st) = self.links.get_mut(&link) else {
            return true;
        };
        if !st.subscribed {
            return true;
        }
        st.subscribed = false;
        st.in_flight = false;
        st.queue.clear();
        debug!(%link, "C2 unsubscribed");
        self.emit(LinkEvent::Unsubscribed { link }).await
    }

    /// Sends the next queued indication of `link` if none is in flight.
    fn pump(&mut self, link: LinkId) {
        let Some(session) = self.session.as_ref().filter(|s| s.link == Some(link)) else {
            return;
        };
        let Some(st) = self.links.get_mut(&link) else {
            return;
        };
        if st.in_flight {
            return;
        }
        if let Some(value) = st.queue.pop_front() {
            trace!(%link, len = value.len(), "C2 indicate");
            st.in_flight = true;
            // The indicator only ends after the session is replaced, which clears `in_flight`.
            let _ = session.tx.send(value);
        }
    }

    async fn emit(&self, ev: LinkEvent) -> bool {
        self.events.send(ev).await.is_ok()
    }

    /// Reports the link's disconnection from BlueZ's `Device1.Connected` property.
    fn watch_disconnect(&self, link: LinkId) {
        let Some(adapter) = self.adapter.clone() else {
            return;
        };
        let hub = self.self_tx.clone();
        tokio::spawn(async move {
            let gone = watch_device(&adapter, link.0).await;
            if let Err(e) = gone {
                debug!(%link, error = %e, "device watch ended");
            }
            let _ = hub.send(HubMsg::Disconnected { link });
        });
    }
}

async fn watch_device(adapter: &Adapter, addr: Address) -> bluer::Result<()> {
    let device = adapter.device(addr)?;
    let mut events = device.events().await?;
    // Subscribe first, then check: a disconnect between the two is not missed.
    if !device.is_connected().await? {
        return Ok(());
    }
    while let Some(ev) = events.next().await {
        if let DeviceEvent::PropertyChanged(DeviceProperty::Connected(false)) = ev {
            return Ok(());
        }
    }
    Ok(())
}

/// Owns one notification session: sends queued values one at a time and reports each result.
async fn indicator(
    id: u64,
    mut notifier: Box<dyn Notifier>,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    hub: mpsc::UnboundedSender<HubMsg>,
    timeout: Duration,
) {
    let stopped = notifier.stopped();
    tokio::pin!(stopped);
    loop {
        let value = tokio::select! {
            v = rx.recv() => match v { Some(v) => v, None => return },
            () = &mut stopped => {
                let _ = hub.send(HubMsg::SessionStopped { session: id });
                return;
            }
        };
        let result = match tokio::time::timeout(timeout, notifier.notify(value)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) => Err(IndicationFailure::Stopped),
            Err(_) => Err(IndicationFailure::Timeout),
        };
        let fatal = result.is_err();
        let _ = hub.send(HubMsg::IndicationResult {
            session: id,
            result,
        });
        if fatal {
            return;
        }
    }
}

const EVENT_QUEUE: usize = 64;

#[cfg(test)]
mod tests {
    use tokio::sync::{oneshot, watch};
    use tokio::time::timeout;

    use super::*;

    type Sent = (Vec<u8>, oneshot::Sender<bool>);

    /// A C2 session whose confirmations the test hands out: each indication shows up on
    /// `sent` with a reply channel (true = confirmed, false = session gone, dropped = never).
    struct FakeNotifier {
        sent: mpsc::UnboundedSender<Sent>,
        stop: watch::Receiver<bool>,
    }

    impl Notifier for FakeNotifier {
        fn notify(&mut self, value: Vec<u8>) -> BoxFuture<'_, Result<(), ()>> {
            let (tx, rx) = oneshot::channel();
            let _ = self.sent.send((value, tx));
            Box::pin(async move {
                match rx.await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(()),
                    Err(_) => std::future::pending().await,
                }
            })
        }
        fn stopped(&self) -> BoxFuture<'static, ()> {
            let mut stop = self.stop.clone();
            Box::pin(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
        }
    }

    struct Session {
        sent: mpsc::UnboundedReceiver<Sent>,
        stop: watch::Sender<bool>,
    }

    struct Harness {
        hub: mpsc::UnboundedSender<HubMsg>,
        events: mpsc::Receiver<LinkEvent>,
    }

    impl Harness {
        fn new() -> Self {
            let (hub_tx, hub_rx) = mpsc::unbounded_channel();
            let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
            let hub = Hub {
                adapter: None,
                config: GattConfig::default(),
                advertiser: None,
                events: events_tx,
                self_tx: hub_tx.clone(),
                links: HashMap::new(),
                session: None,
                next_session: 0,
                write_clock: 0,
            };
            tokio::spawn(hub.run(hub_rx));
            Self {
                hub: hub_tx,
                events,
            }
        }

        fn write(&self, link: LinkId, data: &[u8]) {
            let msg = HubMsg::Write {
                link,
                data: data.to_vec(),
                mtu: 185,
            };
            self.hub.send(msg).unwrap();
        }

        fn subscribe(&self) -> Session {
            let (sent_tx, sent) = mpsc::unbounded_channel();
            let (stop, stop_rx) = watch::channel(false);
            let n = FakeNotifier {
                sent: sent_tx,
                stop: stop_rx,
            };
            self.hub
                .send(HubMsg::NotifyStarted(NotifierBox(Box::new(n))))
                .unwrap();
            Session { sent, stop }
        }

        fn indicate(&self, link: LinkId, v: &[u8]) {
            let msg = HubMsg::Indicate {
                link,
                value: v.to_vec(),
            };
            self.hub.send(msg).unwrap();
        }

        async fn event(&mut self) -> LinkEvent {
            match timeout(Duration::from_secs(60), self.events.recv()).await {
                Ok(Some(e)) => e,
                other => panic!("no event: {other:?}"),
            }
        }

        async fn no_event(&mut self) {
            if let Ok(e) = timeout(Duration::from_millis(50), self.events.recv()).await {
                panic!("unexpected event {e:?}");
            }
        }
    }

    async fn sent(s: &mut Session) -> Sent {
        match timeout(Duration::from_secs(60), s.sent.recv()).await {
            Ok(Some(x)) => x,
            other => panic!("nothing indicated: {other:?}"),
        }
    }

    fn id(n: u8) -> LinkId {
        LinkId(Address::new([0x02, 0, 0, 0, 0, n]))
    }

    #[tokio::test(start_paused = true)]
    async fn subscription_before_write_is_parked() {
        let mut h = Harness::new();
        let _s = h.subscribe();
        h.no_event().await;
        h.write(id(1), b"hs");
        assert!(
            matches!(h.event().await, LinkEvent::Subscribed { link, mtu: 185 } if link == id(1))
        );
        assert!(matches!(h.event().await, LinkEvent::Write { link, .. } if link == id(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn one_indication_in_flight_then_next_after_confirmation() {
        let mut h = Harness::new();
        h.write(id(1), b"hs");
        assert!(matches!(h.event().await, LinkEvent::Write { .. }));
        let mut s = h.subscribe();
        assert!(matches!(h.event().await, LinkEvent::Subscribed { .. }));
        for v in [b"1", b"2", b"3"] {
            h.indicate(id(1), v);
        }
        let (v, confirm) = sent(&mut s).await;
        assert_eq!(v, b"1");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            s.sent.try_recv().is_err(),
            "second indication before the first was confirmed"
        );
        confirm.send(true).unwrap();
        assert!(matches!(h.event().await, LinkEvent::IndicationDone { link } if link == id(1)));
        let (v, confirm) = sent(&mut s).await;
        assert_eq!(v, b"2");
        confirm.send(true).unwrap();
        assert!(matches!(h.event().await, LinkEvent::IndicationDone { .. }));
        let (v, confirm) = sent(&mut s).await;
        assert_eq!(v, b"3");
        confirm.send(true).unwrap();
        assert!(matches!(h.event().await, LinkEvent::IndicationDone { .. }));
        h.no_event().await;
    }

    #[tokio::test(start_paused = true)]
    async fn unconfirmed_indication_fails_the_link() {
        let mut h = Harness::new();
        h.write(id(1), b"hs");
        let _ = h.event().await;
        let mut s = h.subscribe();
        let _ = h.event().await;
        h.indicate(id(1), b"x");
        let (_v, never) = sent(&mut s).await;
        let t0 = tokio::time::Instant::now();
        match h.event().await {
            LinkEvent::Failed {
                link,
                error: BleError::IndicationTimeout(d),
            } => {
                assert_eq!((link, d), (id(1), Duration::from_secs(15)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(tokio::time::Instant::now() - t0, Duration::from_secs(15));
        drop(never);
        // The link lost its subscription: later indications are dropped, nothing is sent.
        h.indicate(id(1), b"y");
        h.no_event().await;
        assert!(s.sent.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn second_subscriber_takes_c2_over() {
        let mut h = Harness::new();
        h.write(id(1), b"a");
        let _ = h.event().await;
        let _s1 = h.subscribe();
        assert!(matches!(h.event().await, LinkEvent::Subscribed { link, .. } if link == id(1)));
        h.write(id(2), b"b");
        assert!(matches!(h.event().await, LinkEvent::Write { link, .. } if link == id(2)));
        let mut s2 = h.subscribe();
        assert!(matches!(h.event().await, LinkEvent::Unsubscribed { link } if link == id(1)));
        assert!(matches!(h.event().await, LinkEvent::Subscribed { link, .. } if link == id(2)));
        h.indicate(id(2), b"to-2");
        assert_eq!(sent(&mut s2).await.0, b"to-2");
    }

    #[tokio::test(start_paused = true)]
    async fn stop_notify_and_disconnect() {
        let mut h = Harness::new();
        h.write(id(1), b"a");
        let _ = h.event().await;
        let s = h.subscribe();
        let _ = h.event().await;
        s.stop.send(true).unwrap();
        assert!(matches!(h.event().await, LinkEvent::Unsubscribed { link } if link == id(1)));
        // A session that ends during an indication reports Unsubscribed too.
        let mut s = h.subscribe();
        assert!(matches!(h.event().await, LinkEvent::Subscribed { .. }));
        h.indicate(id(1), b"x");
        let (_v, reply) = sent(&mut s).await;
        reply.send(false).unwrap();
        assert!(matches!(h.event().await, LinkEvent::Unsubscribed { link } if link == id(1)));
        h.hub.send(HubMsg::Disconnected { link: id(1) }).unwrap();
        assert!(matches!(h.event().await, LinkEvent::Disconnected { link } if link == id(1)));
        // A second disconnect report (watcher and StopNotify racing) is not repeated.
        h.hub.send(HubMsg::Disconnected { link: id(1) }).unwrap();
        h.no_event().await;
    }
}
