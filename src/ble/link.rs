//! One driver task per BLE link: feeds a sans-IO engine (the BTP engine) with the link's GATT
//! events and timers, drains its outputs into C2 indications (one in flight) and app events.
//!
//! The loop follows the shell contract of docs style §3: wait on one input (GATT event, app
//! command, the single timer), read `now` once, feed it with one `handle_*`, then drain
//! `poll_transmit` / `poll_event` and re-arm the timer from `poll_timeout`.
//!
//! Plugging in the real engine is one `impl LinkEngine for BtpEngine` (a few forwarding lines)
//! and `LinkRouter::new(gatt, clock, |link| BtpEngine::new_peripheral(..)).run(events, out)`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use tracing::{debug, debug_span, trace, warn, Instrument};

use super::gatt::GattHandle;
use super::{LinkEvent, LinkId};
use crate::time::Instant;

/// A per-link sans-IO engine, shaped like `btp::BtpEngine` (style §3). The driver calls exactly
/// one `handle_*` per wake-up, then drains `poll_transmit` (only while no indication is in
/// flight), `poll_event`, and reads `poll_timeout`.
pub trait LinkEngine: Send + 'static {
    /// App → engine commands (e.g. "send this SDU").
    type Command: Send + 'static;
    /// Engine → app events (e.g. `Established`, `SduReceived`, `Closed`).
    type Event: Send + 'static;

    /// A C1 write (one BTP segment) with the link's ATT MTU.
    fn handle_segment(&mut self, now: Instant, att_mtu: u16, segment: &[u8]);
    /// The central subscribed to C2.
    fn handle_subscribed(&mut self, now: Instant, att_mtu: u16);
    /// The C2 subscription ended, or the link failed or disconnected.
    fn handle_unsubscribed(&mut self, now: Instant);
    /// The central disconnected. Defaults to [`handle_unsubscribed`](Self::handle_unsubscribed).
    fn handle_disconnected(&mut self, now: Instant) {
        self.handle_unsubscribed(now);
    }
    /// The last indication was confirmed by the central.
    fn handle_indication_done(&mut self, now: Instant);
    /// The deadline from `poll_timeout` has passed (spurious or early calls must be no-ops).
    fn handle_timeout(&mut self, now: Instant);
    /// A command from the app.
    fn handle_command(&mut self, now: Instant, command: Self::Command);
    /// Writes the next segment to send into `buf` (cleared by the caller); false if none.
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool;
    /// The earliest pending timer.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next event for the app.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// True once the engine has closed for good; the driver then ends the link's task.
    fn is_closed(&self) -> bool;
}

/// Maps tokio's monotonic clock onto the core's [`Instant`] (ms since `origin`).
#[derive(Clone, Copy, Debug)]
pub struct LinkClock {
    origin: TokioInstant,
}

impl LinkClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self {
            origin: TokioInstant::now(),
        }
    }

    /// A clock whose zero is `origin` (share one origin with the rest of the runtime).
    pub fn with_origin(origin: TokioInstant) -> Self {
        Self { origin }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        let ms = TokioInstant::now()
            .saturating_duration_since(self.origin)
            .as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The tokio instant of a core deadline.
    pub fn to_tokio(&self, t: Instant) -> TokioInstant {
        self.origin
            .checked_add(Duration::from_millis(t.as_millis()))
            // Far beyond any real deadline: a year from now is "never".
            .unwrap_or_else(|| TokioInstant::now() + Duration::from_secs(365 * 24 * 3600))
    }
}

impl Default for LinkClock {
    fn default() -> Self {
        Self::new()
    }
}

/// What the router reports to the app.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkOutput<C, E> {
    /// A driver started for a new central; send it commands through `commands`.
    Opened {
        /// The central.
        link: LinkId,
        /// Commands into this link's engine.
        commands: mpsc::Sender<C>,
    },
    /// An engine event.
    Event {
        /// The central.
        link: LinkId,
        /// The event.
        event: E,
    },
    /// The link's driver has ended (disconnect, failure, or the engine closed).
    Closed {
        /// The central.
        link: LinkId,
        /// Why.
        reason: LinkExit,
    },
}

/// Why a link driver ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkExit {
    /// The central disconnected.
    Disconnected,
    /// An indication was not confirmed in time.
    Failed,
    /// The central unsubscribed from C2 and the engine closed because of it.
    Unsubscribed,
    /// The engine closed (e.g. a BTP timeout or protocol error).
    EngineClosed,
    /// The GATT server or the app went away.
    ShutDown,
}

/// Routes [`LinkEvent`]s to one driver task per link, creating engines with a factory.
pub struct LinkRouter<E: LinkEngine, F> {
    gatt: GattHandle,
    clock: LinkClock,
    factory: F,
    _engine: std::marker::PhantomData<fn() -> E>,
}

impl<E, F> LinkRouter<E, F>
where
    E: LinkEngine,
    F: FnMut(LinkId) -> E,
{
    /// A router creating one engine per new central with `factory`.
    pub fn new(gatt: GattHandle, clock: LinkClock, factory: F) -> Self {
        Self {
            gatt,
            clock,
            factory,
            _engine: std::marker::PhantomData,
        }
    }

    /// Runs until `events` ends (GATT server dropped) or `out` is closed.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<LinkEvent>,
        out: mpsc::Sender<LinkOutput<E::Command, E::Event>>,
    ) {
        let mut links: HashMap<LinkId, mpsc::UnboundedSender<LinkEvent>> = HashMap::new();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<LinkId>();
        loop {
            let ev = tokio::select! {
                ev = events.recv() => match ev { Some(ev) => ev, None => break },
                Some(link) = done_rx.recv() => {
                    links.remove(&link);
                    continue;
                }
            };
            let link = ev.link();
            // The driver may have ended (its engine closed) while the central stays connected:
            // its leftovers are dropped below, but a fresh write or subscription starts anew.
            let ev = if let Some(tx) = links.get(&link) {
                match tx.send(ev) {
                    Ok(()) => continue,
                    Err(mpsc::error::SendError(ev)) => {
                        links.remove(&link);
                        ev
                    }
                }
            } else {
                ev
            };
            // Only a write or a subscription opens a link; leftovers of a closed one do not.
            let (LinkEvent::Write { .. } | LinkEvent::Subscribed { .. }) = ev else {
                trace!(%link, ?ev, "event for a closed link dropped");
                continue;
            };
            let engine = (self.factory)(link);
            let (tx, rx) = mpsc::unbounded_channel();
            let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
            if out
                .send(LinkOutput::Opened {
                    link,
                    commands: cmd_tx,
                })
                .await
                .is_err()
            {
                break;
            }
            let _ = tx.send(ev);
            links.insert(link, tx);
            let gatt = self.gatt.clone();
            let clock = self.clock;
            let out = out.clone();
            let done = done_tx.clone();
            tokio::spawn(
                async move {
                    let reason =
                        drive_link(engine, link, rx, cmd_rx, gatt.clone(), clock, &out).await;
                    // The engine gave up on a central that is still connected: let it go, so it
                    // learns at once and the advertisement comes back.
                    if matches!(
                        reason,
                        LinkExit::EngineClosed | LinkExit::Failed | LinkExit::Unsubscribed
                    ) {
                        let _ = gatt.disconnect(link);
                    }
                    let _ = out.send(LinkOutput::Closed { link, reason }).await;
                    let _ = done.send(link);
                }
                .instrument(debug_span!("link", id = %link)),
            );
        }
        debug!("link router stopped");
    }
}

/// Drives one engine until the link ends. Returns why.
pub async fn drive_link<E: LinkEngine>(
    mut engine: E,
    link: LinkId,
    mut inputs: mpsc::UnboundedReceiver<LinkEvent>,
    mut commands: mpsc::Receiver<E::Command>,
    gatt: GattHandle,
    clock: LinkClock,
    out: &mpsc::Sender<LinkOutput<E::Command, E::Event>>,
) -> LinkExit {
    let mut buf = Vec::with_capacity(256);
    let mut in_flight = false;
    // Segments wait in the engine until C2 is subscribed: BlueZ has nowhere to send them.
    let mut subscribed = false;
    let mut commands_open = true;
    let mut unsubscribed = false;
    let mut exit: Option<LinkExit> = None;
    loop {
        // D: drain outputs after every input.
        let now = clock.now();
        if subscribed && !in_flight && exit.is_none() {
            buf.clear();
            if engine.poll_transmit(now, &mut buf) {
                trace!(len = buf.len(), "indicate");
                if gatt.indicate(link, buf.clone()).is_err() {
                    engine.handle_unsubscribed(now);
                    exit = Some(LinkExit::ShutDown);
                } else {
                    in_flight = true;
                }
            }
        }
        while let Some(event) = engine.poll_event() {
            if out.send(LinkOutput::Event { link, event }).await.is_err() {
                return LinkExit::ShutDown;
            }
        }
        if let Some(reason) = exit {
            return reason;
        }
        if engine.is_closed() {
            debug!(unsubscribed, "engine closed");
            return if unsubscribed {
                LinkExit::Unsubscribed
            } else {
                LinkExit::EngineClosed
            };
        }
        let deadline = engine.poll_timeout();
        if let Some(d) = deadline {
            if now >= d {
                // tokio's coop budget can leave an elapsed sleep pending; fire at once.
                engine.handle_timeout(now);
                continue;
            }
        }
        let sleep_at = deadline.map(|d| clock.to_tokio(d));
        tokio::select! {
            ev = inputs.recv() => {
                let now = clock.now();
                match ev {
                    None => {
                        engine.handle_unsubscribed(now);
                        exit = Some(LinkExit::ShutDown);
                    }
                    Some(LinkEvent::Write { data, mtu, .. }) => engine.handle_segment(now, mtu, &data),
                    Some(LinkEvent::Subscribed { mtu, .. }) => {
                        subscribed = true;
                        engine.handle_subscribed(now, mtu);
                    }
                    Some(LinkEvent::Unsubscribed { .. }) => {
                        subscribed = false;
                        unsubscribed = true;
                        in_flight = false;
                        engine.handle_unsubscribed(now);
                    }
                    Some(LinkEvent::IndicationDone { .. }) => {
                        in_flight = false;
                        engine.handle_indication_done(now);
                    }
                    Some(LinkEvent::Failed { error, .. }) => {
                        warn!(%error, "link failed");
                        engine.handle_unsubscribed(now);
                        exit = Some(LinkExit::Failed);
                    }
                    Some(LinkEvent::Disconnected { .. }) => {
                        engine.handle_disconnected(now);
                        exit = Some(LinkExit::Disconnected);
                    }
                }
            }
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => engine.handle_command(clock.now(), cmd),
                None => commands_open = false,
            },
            () = sleep_opt(sleep_at) => engine.handle_timeout(clock.now()),
        }
    }
}

async fn sleep_opt(at: Option<TokioInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

const COMMAND_QUEUE: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::gatt::HubMsg;

    /// A toy engine: echoes each write back as an indication, sends "hello" on subscribe, and
    /// closes itself when no write arrives for 5 s after subscribing.
    #[derive(Default)]
    struct Echo {
        pending: std::collections::VecDeque<Vec<u8>>,
        events: Vec<String>,
        idle_deadline: Option<Instant>,
        closed: bool,
        log: Vec<String>,
    }

    impl LinkEngine for Echo {
        type Command = Vec<u8>;
        type Event = String;

        fn handle_segment(&mut self, now: Instant, mtu: u16, segment: &[u8]) {
            self.log.push(format!("seg {mtu} {segment:?}"));
            self.pending.push_back(segment.to_vec());
            self.idle_deadline = self.idle_deadline.map(|_| now + Duration::from_secs(5));
        }
        fn handle_subscribed(&mut self, now: Instant, mtu: u16) {
            self.log.push(format!("sub {mtu}"));
            self.pending.push_back(b"hello".to_vec());
            self.idle_deadline = Some(now + Duration::from_secs(5));
        }
        fn handle_unsubscribed(&mut self, _now: Instant) {
            self.events.push("closed".into());
            self.closed = true;
        }
        fn handle_indication_done(&mut self, _now: Instant) {
            self.log.push("done".into());
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.idle_deadline.is_some_and(|d| now >= d) {
                self.events.push(format!("idle at {}", now.as_millis()));
                self.closed = true;
                self.idle_deadline = None;
            }
        }
        fn handle_command(&mut self, _now: Instant, c: Vec<u8>) {
            self.pending.push_back(c);
        }
        fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> bool {
            match self.pending.pop_front() {
                Some(p) => {
                    buf.extend_from_slice(&p);
                    true
                }
                None => false,
            }
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.idle_deadline
        }
        fn poll_event(&mut self) -> Option<String> {
            if self.events.is_empty() {
                None
            } else {
                Some(self.events.remove(0))
            }
        }
        fn is_closed(&self) -> bool {
            self.closed
        }
    }

    fn link() -> LinkId {
        LinkId(bluer::Address::new([0x02, 0, 0, 0, 0, 1]))
    }

    async fn expect_indicate(hub: &mut mpsc::UnboundedReceiver<HubMsg>) -> Vec<u8> {
        match hub.recv().await {
            Some(HubMsg::Indicate { value, .. }) => value,
            other => panic!("expected an indication, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_indication_in_flight_and_idle_timer() {
        let (hub_tx, mut hub_rx) = mpsc::unbounded_channel();
        let gatt = GattHandle::for_test(hub_tx);
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (_cmd_tx, cmd_rx) = mpsc::channel(4);
        let (out_tx, mut out_rx) = mpsc::channel(16);
        let clock = LinkClock::new();
        let l = link();
        let task = tokio::spawn(async move {
            drive_link(Echo::default(), l, in_rx, cmd_rx, gatt, clock, &out_tx).await
        });

        in_tx
            .send(LinkEvent::Write {
                link: l,
                data: b"a".to_vec(),
                mtu: 100,
            })
            .unwrap();
        in_tx
            .send(LinkEvent::Subscribed { link: l, mtu: 100 })
            .unwrap();
        in_tx
            .send(LinkEvent::Write {
                link: l,
                data: b"b".to_vec(),
                mtu: 100,
            })
            .unwrap();
        assert_eq!(expect_indicate(&mut hub_rx).await, b"a");
        // Nothing else goes out until the first is confirmed.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            hub_rx.try_recv().is_err(),
            "second indication sent before confirmation"
        );
        in_tx.send(LinkEvent::IndicationDone { link: l }).unwrap();
        assert_eq!(expect_indicate(&mut hub_rx).await, b"hello");
        in_tx.send(LinkEvent::IndicationDone { link: l }).unwrap();
        assert_eq!(expect_indicate(&mut hub_rx).await, b"b");
        in_tx.send(LinkEvent::IndicationDone { link: l }).unwrap();

        // The last write re-armed the 5 s idle timer; virtual time runs to it.
        let start = tokio::time::Instant::now();
        match out_rx.recv().await {
            Some(LinkOutput::Event { event, .. }) => {
                assert!(event.starts_with("idle at"), "{event}")
            }
            other => panic!("{other:?}"),
        }
        let waited = tokio::time::Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(4) && waited <= Duration::from_secs(5),
            "{waited:?}"
        );
        assert_eq!(task.await.unwrap(), LinkExit::EngineClosed);
    }

    #[tokio::test(start_paused = true)]
    async fn disconnect_closes_engine_and_ends_task() {
        let (hub_tx, _hub_rx) = mpsc::unbounded_channel();
        let gatt = GattHandle::for_test(hub_tx);
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (_cmd_tx, cmd_rx) = mpsc::channel(4);
        let (out_tx, mut out_rx) = mpsc::channel(16);
        let l = link();
        let task = tokio::spawn(async move {
            drive_link(
                Echo::default(),
                l,
                in_rx,
                cmd_rx,
                gatt,
                LinkClock::new(),
                &out_tx,
            )
            .await
        });
        in_tx
            .send(LinkEvent::Write {
                link: l,
                data: b"x".to_vec(),
                mtu: 23,
            })
            .unwrap();
        in_tx.send(LinkEvent::Disconnected { link: l }).unwrap();
        assert_eq!(task.await.unwrap(), LinkExit::Disconnected);
        match out_rx.recv().await {
            Some(LinkOutput::Event { event, .. }) => assert_eq!(event, "closed"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn router_opens_one_driver_per_link_and_routes_commands() {
        let (hub_tx, mut hub_rx) = mpsc::unbounded_channel();
        let gatt = GattHandle::for_test(hub_tx);
        let (ev_tx, ev_rx) = mpsc::channel(16);
        let (out_tx, mut out_rx) = mpsc::channel(16);
        let router = LinkRouter::new(gatt, LinkClock::new(), |_link| Echo::default());
        tokio::spawn(router.run(ev_rx, out_tx));

        let a = link();
        let b = LinkId(bluer::Address::new([0x02, 0, 0, 0, 0, 2]));
        // Stale events of an unknown link open nothing.
        ev_tx
            .send(LinkEvent::IndicationDone { link: b })
            .await
            .unwrap();
        ev_tx
            .send(LinkEvent::Subscribed { link: a, mtu: 50 })
            .await
            .unwrap();
        let cmds = match out_rx.recv().await {
            Some(LinkOutput::Opened { link, commands }) => {
                assert_eq!(link, a);
                commands
            }
            other => panic!("{other:?}"),
        };
        match hub_rx.recv().await {
            Some(HubMsg::Indicate { link, value }) => {
                assert_eq!((link, value.as_slice()), (a, &b"hello"[..]))
            }
            other => panic!("{other:?}"),
        }
        ev_tx
            .send(LinkEvent::IndicationDone { link: a })
            .await
            .unwrap();
        cmds.send(b"sdu".to_vec()).await.unwrap();
        match hub_rx.recv().await {
            Some(HubMsg::Indicate { link, value }) => {
                assert_eq!((link, value.as_slice()), (a, &b"sdu"[..]))
            }
            other => panic!("{other:?}"),
        }
        ev_tx
            .send(LinkEvent::Write {
                link: b,
                data: vec![1],
                mtu: 23,
            })
            .await
            .unwrap();
        match out_rx.recv().await {
            Some(LinkOutput::Opened { link, .. }) => assert_eq!(link, b),
            other => panic!("{other:?}"),
        }
        ev_tx
            .send(LinkEvent::Disconnected { link: a })
            .await
            .unwrap();
        loop {
            match out_rx.recv().await {
                Some(LinkOutput::Closed { link, reason }) => {
                    assert_eq!((link, reason), (a, LinkExit::Disconnected));
                    break;
                }
                Some(LinkOutput::Event { link, event }) => {
                    assert_eq!((link, event.as_str()), (a, "closed"))
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
