//! A simulated BLE link for BTP tests: a central and a peripheral [`BtpEngine`] joined by a GATT
//! model with one-way latency, under a virtual clock. Nothing sleeps: `step` jumps the clock to
//! the next arrival or timer.
//!
//! GATT model: a central write arrives at the peripheral after `latency`, and its write response
//! reaches the central `latency` later; an indication and its confirmation likewise. Each side has
//! at most one value in flight (the engine enforces it; the model would accept more). By default
//! the central subscribes to C2 only after its handshake write is answered, as the CHIP SDK does.
#![allow(dead_code)]

use std::collections::VecDeque;

use matter_ble::btp::{BtpConfig, BtpEngine, BtpError, BtpEvent, FrameKind};
use matter_ble::time::{Duration, Instant};

/// Alters a value in flight; the flag is `true` for central -> peripheral.
pub type Tamper = Box<dyn FnMut(bool, &mut Vec<u8>)>;

/// When the central subscribes to C2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeOrder {
    /// After the handshake write's response (CHIP SDK central).
    AfterRequest,
    /// At time zero, before the handshake request arrives.
    BeforeRequest,
    /// Never (handshake timeout tests).
    Never,
}

#[derive(Debug)]
enum Action {
    ToPeripheral(Vec<u8>),
    ToCentral(Vec<u8>),
    ConfirmCentral,
    ConfirmPeripheral,
    Subscribe,
}

/// The two engines and the link between them.
pub struct Pair {
    pub central: BtpEngine,
    pub peripheral: BtpEngine,
    pub now: Instant,
    pub latency: Duration,
    pub subscribe_order: SubscribeOrder,
    /// While set, values in flight are lost, and so are their GATT confirmations (a dead link).
    pub lose_everything: bool,
    /// Called on every value just before it is delivered (`true`: central -> peripheral); may
    /// change it in place (tampering tests).
    pub tamper: Option<Tamper>,
    /// Every value the central handed to GATT, with its kind.
    pub writes: Vec<(FrameKind, Vec<u8>)>,
    /// Every value the peripheral handed to GATT, with its kind.
    pub indications: Vec<(FrameKind, Vec<u8>)>,
    /// When each entry of `writes` was handed to GATT.
    pub write_times: Vec<Instant>,
    /// When each entry of `indications` was handed to GATT.
    pub indication_times: Vec<Instant>,
    pub central_events: Vec<BtpEvent>,
    pub peripheral_events: Vec<BtpEvent>,
    /// SDUs waiting for `send_sdu` to accept them (it answers Busy when its queue is full).
    pub central_backlog: VecDeque<Vec<u8>>,
    pub peripheral_backlog: VecDeque<Vec<u8>>,
    pending: Vec<(Instant, u64, Action)>,
    order: u64,
    request_confirmed: bool,
}

impl Pair {
    /// A pair with the same config on both sides and the given ATT MTUs (central's observation,
    /// peripheral's GATT layer).
    pub fn new(config: BtpConfig, central_mtu: Option<u16>, peripheral_mtu: Option<u16>) -> Self {
        Self::with_configs(config.clone(), config, central_mtu, peripheral_mtu)
    }

    pub fn with_configs(
        central: BtpConfig,
        peripheral: BtpConfig,
        central_mtu: Option<u16>,
        peripheral_mtu: Option<u16>,
    ) -> Self {
        Self {
            central: BtpEngine::central(central, central_mtu),
            peripheral: BtpEngine::peripheral(peripheral, peripheral_mtu),
            now: Instant::ZERO,
            latency: Duration::from_millis(15),
            subscribe_order: SubscribeOrder::AfterRequest,
            lose_everything: false,
            tamper: None,
            writes: Vec::new(),
            indications: Vec::new(),
            write_times: Vec::new(),
            indication_times: Vec::new(),
            central_events: Vec::new(),
            peripheral_events: Vec::new(),
            central_backlog: VecDeque::new(),
            peripheral_backlog: VecDeque::new(),
            pending: Vec::new(),
            order: 0,
            request_confirmed: false,
        }
    }

    /// A pair whose negotiated fragment size is `fragment` (both MTUs set to `fragment + 3`).
    pub fn with_fragment(config: BtpConfig, fragment: u16) -> Self {
        Self::new(config, Some(fragment + 3), Some(fragment + 3))
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.order += 1;
        self.pending.push((at, self.order, action));
    }

    /// Hands SDUs from the backlogs to the engines, drains their transmits into the link and
    /// collects their events.
    pub fn flush(&mut self) {
        if self.subscribe_order == SubscribeOrder::BeforeRequest
            && self.now == Instant::ZERO
            && !self.request_confirmed
        {
            self.request_confirmed = true;
            self.schedule(Instant::ZERO, Action::Subscribe);
        }
        feed(&mut self.central, &mut self.central_backlog, self.now);
        feed(&mut self.peripheral, &mut self.peripheral_backlog, self.now);
        let mut buf = Vec::new();
        loop {
            let mut progressed = false;
            if let Some(t) = self.central.poll_transmit(self.now, &mut buf) {
                assert_eq!(t.len, buf.len());
                self.writes.push((t.kind, buf.clone()));
                self.write_times.push(self.now);
                let at = self.now + self.latency;
                self.schedule(at, Action::ToPeripheral(buf.clone()));
                progressed = true;
            }
            if let Some(t) = self.peripheral.poll_transmit(self.now, &mut buf) {
                assert_eq!(t.len, buf.len());
                self.indications.push((t.kind, buf.clone()));
                self.indication_times.push(self.now);
                let at = self.now + self.latency;
                self.schedule(at, Action::ToCentral(buf.clone()));
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        while let Some(e) = self.central.poll_event() {
            self.central_events.push(e);
        }
        while let Some(e) = self.peripheral.poll_event() {
            self.peripheral_events.push(e);
        }
    }

    /// Advances to the next arrival or timer and handles everything due then. Returns false when
    /// nothing is left to happen.
    pub fn step(&mut self) -> bool {
        self.flush();
        let next_action = self.pending.iter().map(|(t, _, _)| *t).min();
        let next = [
            next_action,
            self.central.poll_timeout(),
            self.peripheral.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            return false;
        };
        self.now = self.now.max(next);
        self.pending.sort_by_key(|(t, o, _)| (*t, *o));
        while self.pending.first().is_some_and(|(t, _, _)| *t <= self.now) {
            let (_, _, action) = self.pending.remove(0);
            self.deliver(action);
        }
        self.central.handle_timeout(self.now);
        self.peripheral.handle_timeout(self.now);
        self.flush();
        true
    }

    fn deliver(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::ToPeripheral(mut v) => {
                if self.lose_everything {
                    return;
                }
                if let Some(t) = self.tamper.as_mut() {
                    t(true, &mut v);
                }
                self.peripheral.handle_segment(now, &v);
                self.schedule(now + self.latency, Action::ConfirmCentral);
            }
            Action::ToCentral(mut v) => {
                if self.lose_everything {
                    return;
                }
                if let Some(t) = self.tamper.as_mut() {
                    t(false, &mut v);
                }
                self.central.handle_segment(now, &v);
                self.schedule(now + self.latency, Action::ConfirmPeripheral);
            }
            Action::ConfirmCentral => {
                if self.lose_everything {
                    return;
                }
                self.central.handle_indication_done(now);
                if !self.request_confirmed && self.subscribe_order == SubscribeOrder::AfterRequest {
                    self.request_confirmed = true;
                    self.schedule(now + self.latency, Action::Subscribe);
                }
            }
            Action::ConfirmPeripheral => {
                if self.lose_everything {
                    return;
                }
                self.peripheral.handle_indication_done(now);
            }
            Action::Subscribe => {
                self.peripheral.handle_subscribed(now);
                self.central.handle_subscribed(now);
            }
        }
        self.flush();
    }

    /// Steps until `done` holds (true) or nothing is left / `limit` of virtual time passed (false).
    pub fn drive_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = self.now + limit;
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            if self.now > deadline || !self.step() {
                return done(self);
            }
        }
    }

    /// Runs the handshake; panics if it does not finish within 1 s of virtual time.
    pub fn establish(&mut self) {
        let ok = self.drive_until(Duration::from_secs(1), |p| {
            p.central.is_established() && p.peripheral.is_established()
        });
        assert!(
            ok,
            "handshake did not finish: {:?} {:?}",
            self.central_events, self.peripheral_events
        );
    }

    /// Queues `sdu` for the central to send.
    pub fn central_send(&mut self, sdu: Vec<u8>) {
        self.central_backlog.push_back(sdu);
    }

    /// Queues `sdu` for the peripheral to send.
    pub fn peripheral_send(&mut self, sdu: Vec<u8>) {
        self.peripheral_backlog.push_back(sdu);
    }

    pub fn received_by_peripheral(&self) -> Vec<Vec<u8>> {
        sdus(&self.peripheral_events)
    }

    pub fn received_by_central(&self) -> Vec<Vec<u8>> {
        sdus(&self.central_events)
    }

    pub fn central_closed(&self) -> Option<BtpError> {
        closed(&self.central_events)
    }

    pub fn peripheral_closed(&self) -> Option<BtpError> {
        closed(&self.peripheral_events)
    }

    /// Bytes handed to GATT by both sides.
    pub fn gatt_bytes(&self) -> usize {
        self.writes
            .iter()
            .chain(&self.indications)
            .map(|(_, v)| v.len())
            .sum()
    }
}

fn feed(engine: &mut BtpEngine, backlog: &mut VecDeque<Vec<u8>>, now: Instant) {
    while engine.send_capacity() > 0 {
        let Some(sdu) = backlog.pop_front() else {
            break;
        };
        engine
            .send_sdu(now, sdu)
            .expect("send_capacity said there was room");
    }
}

pub fn sdus(events: &[BtpEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            BtpEvent::SduReceived(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

pub fn closed(events: &[BtpEvent]) -> Option<BtpError> {
    let mut reasons = events.iter().filter_map(|e| match e {
        BtpEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    });
    let first = reasons.next();
    assert!(reasons.next().is_none(), "Closed reported more than once");
    first
}

/// Deterministic bytes for SDU number `n` of length `len`.
pub fn pattern(n: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ n.wrapping_mul(7)) as u8)
        .collect()
}
