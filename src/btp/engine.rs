//! [`BtpEngine`]: the BTP session state machine for one BLE link, peripheral or central
//! (Matter 1.4 §4.19.4 session establishment, §4.19.5 data transfer, acks and windows).
//!
//! The flow-control rules follow the CHIP SDK (`src/ble/BLEEndPoint.cpp`), which is what phones
//! and chip-tool run:
//! - one GATT operation (indication or write) in flight at a time; the next waits for
//!   [`BtpEngine::handle_indication_done`];
//! - never send when the peer's window is full, and use its last free slot only for a segment
//!   that carries an ack (`BTP_WINDOW_NO_ACK_SEND_THRESHOLD`), so both sides can never block each
//!   other with windows full of unacknowledged data;
//! - acks ride on outgoing data; otherwise a standalone ack goes out when the send-ack timer
//!   (2.5 s) fires, or at once when our receive window is down to its last slot
//!   (`BLE_CONFIG_IMMEDIATE_ACK_WINDOW_THRESHOLD`), so a sender is not held up for 2.5 s;
//! - a standalone ack has a sequence number and is acknowledged like data, which makes the 2.5 s
//!   ack exchange the link's keep-alive; the 15 s ack-received timer closes a dead link.

use std::collections::VecDeque;

use tracing::{debug, trace, warn};

use crate::time::Instant;

use super::error::{BtpError, SendError, Violation};
use super::reassembly::{Reassembler, Segmenter};
use super::timer::{Timer, TimerTable};
use super::window::{RxWindow, TxWindow};
use super::wire::{
    HandshakeRequest, HandshakeResponse, HeaderFlags, SegmentHeader, SupportedVersions,
    BTP_VERSION, HANDSHAKE_FLAGS, MAX_FRAGMENT_SIZE, MAX_HEADER_LEN,
};
use super::{BtpConfig, BtpEvent, BtpStats, BtpTransmit, FrameKind};

/// Which end of the link an engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// GATT server (the Matter device): receives C1 writes, sends C2 indications.
    Peripheral,
    /// GATT client (the commissioner): writes C1, receives C2 indications.
    Central,
}

/// Where a session is, as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtpState {
    /// Handshake not finished.
    Handshaking,
    /// SDUs flow.
    Established,
    /// [`BtpEngine::close`] was called; queued SDUs still drain.
    Closing,
    /// Over; [`BtpEvent::Closed`] has been emitted.
    Closed,
}

/// A BTP session on one BLE link (both roles).
///
/// # Driving contract
/// Methods come in four kinds:
/// - **A, getters** ([`state`](Self::state), [`fragment_size`](Self::fragment_size),
///   [`window`](Self::window), [`stats`](Self::stats), ...): any time.
/// - **B, inputs** (`handle_*`, with `now`): a C1 write or C2 indication value
///   ([`handle_segment`](Self::handle_segment)), subscription changes, the GATT confirmation of
///   our last value ([`handle_indication_done`](Self::handle_indication_done); for the central,
///   the write response), the link going away, and timer expiry. They never return bytes.
/// - **C, commands**: [`send_sdu`](Self::send_sdu) queues one Matter message,
///   [`close`](Self::close) ends the session once queued data is acknowledged.
/// - **D, outputs**, drained after **every** B or C call, in this order:
///   [`poll_transmit`](Self::poll_transmit) until `None` (it yields at most one value until that
///   value is confirmed), [`poll_timeout`](Self::poll_timeout) (call
///   [`handle_timeout`](Self::handle_timeout) at that instant), [`poll_event`](Self::poll_event)
///   until `None`.
///
/// `now` must never go backwards; an early or repeated `handle_timeout` does nothing. A fatal
/// error is reported once as [`BtpEvent::Closed`] (after [`BtpEvent::DataLost`] if data was
/// pending); from then on inputs are ignored, nothing is sent and no timer is armed.
#[derive(Debug)]
pub struct BtpEngine {
    role: Role,
    config: BtpConfig,
    /// The ATT MTU our GATT layer reports (peripheral) or observed (central).
    gatt_mtu: Option<u16>,
    state: State,
    /// Peripheral: the central subscribed to C2.
    subscribed: bool,
    /// A value handed out by `poll_transmit` awaits its GATT confirmation.
    gatt_busy: bool,
    timers: TimerTable,
    /// The send-ack timer fired and no ack has been sent since.
    ack_send_fired: bool,
    /// Negotiated parameters and windows; `Some` once established.
    link: Option<Link>,
    queue: VecDeque<Vec<u8>>,
    segmenter: Segmenter,
    /// Last sequence number of each SDU sent in full and not yet acknowledged, oldest first.
    unacked_sdus: VecDeque<u8>,
    reassembler: Reassembler,
    events: VecDeque<BtpEvent>,
    stats: BtpStats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Peripheral: waiting for the handshake request. Central: request not yet sent.
    Start,
    /// Peripheral: request accepted; the response waits for the subscription and for GATT.
    ExpectSubscription {
        response: HandshakeResponse,
    },
    /// Peripheral: request refused (no common version); the version-0 response waits for the
    /// subscription, then for its confirmation, and then the session closes.
    Rejecting {
        response: HandshakeResponse,
        offered: SupportedVersions,
        sent: bool,
    },
    /// Central: request sent; waiting for the response indication.
    ExpectResponse,
    Established,
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Link {
    fragment_size: u16,
    window: u8,
    version: u8,
    tx: TxWindow,
    rx: RxWindow,
}

/// Our receive window is "about to close" at this many free slots (the CHIP SDK's
/// `BLE_CONFIG_IMMEDIATE_ACK_WINDOW_THRESHOLD`): ack at once instead of waiting.
const IMMEDIATE_ACK_THRESHOLD: u8 = 1;
/// The peer's last this-many slots are only for segments that carry an ack (the CHIP SDK's
/// `BTP_WINDOW_NO_ACK_SEND_THRESHOLD`).
const NO_ACK_SEND_THRESHOLD: u8 = 1;
/// A fragment must hold the largest header and one payload byte.
const MIN_FRAGMENT_SIZE: u16 = MAX_HEADER_LEN as u16 + 1;

impl BtpEngine {
    /// The device side of a new BLE link. `gatt_mtu` is the ATT MTU the GATT layer reports, if
    /// known; it is used when the central's request says 0 ("unknown"), as the CHIP central's does.
    pub fn peripheral(config: BtpConfig, gatt_mtu: Option<u16>) -> Self {
        Self::new(Role::Peripheral, config, gatt_mtu)
    }

    /// The commissioner side of a new BLE link. `att_mtu` goes into the handshake request (0 if
    /// `None`). The first [`poll_transmit`](Self::poll_transmit) yields the request to write to C1;
    /// after its write response, subscribe to C2.
    pub fn central(config: BtpConfig, att_mtu: Option<u16>) -> Self {
        Self::new(Role::Central, config, att_mtu)
    }

    fn new(role: Role, mut config: BtpConfig, gatt_mtu: Option<u16>) -> Self {
        // A window of 0 could never carry a segment; 1 is the least that works.
        config.max_window = config.max_window.max(1);
        let max_sdu = config.max_sdu_size.min(usize::from(u16::MAX));
        Self {
            role,
            config,
            gatt_mtu,
            state: State::Start,
            subscribed: false,
            gatt_busy: false,
            timers: TimerTable::default(),
            ack_send_fired: false,
            link: None,
            queue: VecDeque::new(),
            segmenter: Segmenter::default(),
            unacked_sdus: VecDeque::new(),
            reassembler: Reassembler::new(max_sdu),
            events: VecDeque::new(),
            stats: BtpStats::default(),
        }
    }

    /// Updates the ATT MTU the GATT layer reports (the peripheral uses it when the request arrives;
    /// later changes do not renegotiate the fragment size).
    pub fn set_gatt_mtu(&mut self, mtu: Option<u16>) {
        self.gatt_mtu = mtu;
    }

    // ---- B: inputs -------------------------------------------------------------------------

    /// A GATT value from the peer: a C1 write (peripheral) or C2 indication (central).
    pub fn handle_segment(&mut self, now: Instant, value: &[u8]) {
        if self.state == State::Closed {
            trace!(len = value.len(), "BTP closed: segment ignored");
            return;
        }
        self.stats.frames_received += 1;
        self.stats.bytes_received += value.len() as u64;
        self.start_handshake_timer(now);
        let result = match (&self.state, self.role) {
            (State::Start, Role::Peripheral) => self.on_request(value),
            (State::ExpectResponse, Role::Central) => self.on_response(now, value),
            (State::Established | State::Closing, _) => self.on_segment(now, value),
            (State::Rejecting { .. }, _) => {
                debug!("BTP rejecting the session: segment ignored");
                Ok(())
            }
            _ if value.first() == Some(&HANDSHAKE_FLAGS) => {
                Err(Violation::UnexpectedHandshake.into())
            }
            _ => Err(Violation::SegmentBeforeHandshake.into()),
        };
        if let Err(reason) = result {
            self.fail(reason);
        }
    }

    /// The central subscribed to C2 (peripheral), or our subscription is active (central).
    pub fn handle_subscribed(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.subscribed {
            debug!("BTP: repeated subscription ignored");
            return;
        }
        debug!(role = ?self.role, "BTP: C2 subscribed");
        self.subscribed = true;
        if self.role == Role::Peripheral {
            self.start_handshake_timer(now);
        }
    }

    /// The C2 subscription ended. Closes the session with [`BtpError::Unsubscribed`].
    pub fn handle_unsubscribed(&mut self, _now: Instant) {
        self.fail(BtpError::Unsubscribed);
    }

    /// The BLE link is gone. Closes the session with [`BtpError::Disconnected`].
    pub fn handle_disconnected(&mut self, _now: Instant) {
        self.fail(BtpError::Disconnected);
    }

    /// The value last returned by [`poll_transmit`](Self::poll_transmit) was confirmed: the
    /// indication's confirmation (peripheral) or the write response (central).
    pub fn handle_indication_done(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if !self.gatt_busy {
            // BlueZ 5.80+ signals confirmations as a byte on the notify socket; a stray one must
            // not confuse the flow control.
            debug!("BTP: confirmation with nothing in flight ignored");
            return;
        }
        self.gatt_busy = false;
        if let State::Rejecting {
            offered,
            sent: true,
            ..
        } = self.state
        {
            self.fail(BtpError::UnsupportedVersion { offered });
            return;
        }
        self.check_close_done(now);
    }

    /// Timers due at `now` fire. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            debug!(?timer, role = ?self.role, "BTP timer fired");
            match timer {
                Timer::Handshake => {
                    let reason = match self.state {
                        State::Rejecting { offered, .. } => {
                            BtpError::UnsupportedVersion { offered }
                        }
                        _ => BtpError::HandshakeTimeout,
                    };
                    return self.fail(reason);
                }
                Timer::AckReceive => return self.fail(BtpError::AckTimeout),
                Timer::Idle => return self.fail(BtpError::IdleTimeout),
                Timer::AckSend => {
                    self.ack_send_fired = self.link.is_some_and(|l| l.rx.unacked() > 0);
                }
            }
        }
    }

    // ---- C: commands -----------------------------------------------------------------------

    /// Queues one SDU (a whole Matter message). It may be queued before the handshake finishes.
    ///
    /// # Errors
    /// [`SendError::Busy`] when [`BtpConfig::max_queued_sdus`] are already queued (try again after
    /// the engine made progress), [`SendError::Empty`], [`SendError::TooLarge`], or
    /// [`SendError::Closed`] once closing.
    pub fn send_sdu(&mut self, now: Instant, sdu: Vec<u8>) -> Result<(), SendError> {
        if matches!(
            self.state,
            State::Closing | State::Closed | State::Rejecting { .. }
        ) {
            return Err(SendError::Closed);
        }
        if sdu.is_empty() {
            return Err(SendError::Empty);
        }
        let max = self.max_sdu_size();
        if sdu.len() > max {
            return Err(SendError::TooLarge {
                len: sdu.len(),
                max,
            });
        }
        if self.queue.len() >= self.config.max_queued_sdus {
            return Err(SendError::Busy);
        }
        trace!(len = sdu.len(), "BTP SDU queued");
        self.queue.push_back(sdu);
        self.refresh_idle(now);
        Ok(())
    }

    /// Ends the session: stops taking SDUs, sends what is queued, and once the peer has
    /// acknowledged all of it emits [`BtpEvent::Closed`] with [`BtpError::LocallyClosed`] (bounded
    /// by the ack timeout). Before the handshake finished, closes at once.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Closed | State::Closing => {}
            State::Established => {
                debug!("BTP closing once queued data is acknowledged");
                self.state = State::Closing;
                self.check_close_done(now);
            }
            _ => self.fail(BtpError::LocallyClosed),
        }
    }

    // ---- D: outputs ------------------------------------------------------------------------

    /// The next GATT value to send, written into `buf` (cleared first). Returns `None` while a
    /// value awaits its confirmation, or when flow control or an empty queue leaves nothing to send.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<BtpTransmit> {
        if self.gatt_busy {
            return None;
        }
        buf.clear();
        let kind = match (&self.state, self.role) {
            (State::Start, Role::Central) => {
                let request = HandshakeRequest {
                    versions: SupportedVersions::from_list(&[BTP_VERSION]),
                    att_mtu: self.gatt_mtu.unwrap_or(0),
                    window: self.config.max_window,
                };
                request.emit(buf);
                debug!(?request, "BTP handshake request sent");
                self.state = State::ExpectResponse;
                self.timers
                    .set_if_idle(Timer::Handshake, now + self.config.handshake_timeout);
                FrameKind::HandshakeRequest
            }
            (State::ExpectSubscription { response }, _) if self.subscribed => {
                let response = *response;
                response.emit(buf);
                self.establish_peripheral(now, response);
                FrameKind::HandshakeResponse
            }
            (
                State::Rejecting {
                    response,
                    offered,
                    sent: false,
                },
                _,
            ) if self.subscribed => {
                response.emit(buf);
                warn!(
                    ?offered,
                    "BTP: no common version; sent a version-0 response"
                );
                self.state = State::Rejecting {
                    response: *response,
                    offered: *offered,
                    sent: true,
                };
                FrameKind::HandshakeResponse
            }
            (State::Established | State::Closing, _) => self.next_segment(now, buf)?,
            _ => return None,
        };
        self.gatt_busy = true;
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += buf.len() as u64;
        Some(BtpTransmit {
            len: buf.len(),
            kind,
        })
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<BtpEvent> {
        self.events.pop_front()
    }

    // ---- A: getters ------------------------------------------------------------------------

    /// Which end of the link this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the session is.
    pub fn state(&self) -> BtpState {
        match self.state {
            State::Established => BtpState::Established,
            State::Closing => BtpState::Closing,
            State::Closed => BtpState::Closed,
            _ => BtpState::Handshaking,
        }
    }

    /// Whether SDUs flow.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Whether the session is over ([`BtpEvent::Closed`] has been queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The negotiated segment size (ATT header excluded), once established.
    pub fn fragment_size(&self) -> Option<u16> {
        self.link.map(|l| l.fragment_size)
    }

    /// The negotiated receive window, once established.
    pub fn window(&self) -> Option<u8> {
        self.link.map(|l| l.window)
    }

    /// The largest SDU [`send_sdu`](Self::send_sdu) takes and reassembly accepts.
    pub fn max_sdu_size(&self) -> usize {
        self.config.max_sdu_size.min(usize::from(u16::MAX))
    }

    /// How many more SDUs [`send_sdu`](Self::send_sdu) would queue now.
    pub fn send_capacity(&self) -> usize {
        match self.state {
            State::Closing | State::Closed | State::Rejecting { .. } => 0,
            _ => self.config.max_queued_sdus.saturating_sub(self.queue.len()),
        }
    }

    /// Counters.
    pub fn stats(&self) -> BtpStats {
        self.stats
    }

    // ---- private ---------------------------------------------------------------------------

    fn start_handshake_timer(&mut self, now: Instant) {
        if matches!(
            self.state,
            State::Start | State::ExpectSubscription { .. } | State::Rejecting { .. }
        ) && self.role == Role::Peripheral
        {
            self.timers
                .set_if_idle(Timer::Handshake, now + self.config.handshake_timeout);
        }
    }

    /// Peripheral: the first C1 write must be the handshake request (Matter 1.4 §4.19.4.1).
    fn on_request(&mut self, value: &[u8]) -> Result<(), BtpError> {
        let request = HandshakeRequest::parse(value).map_err(Violation::MalformedHandshake)?;
        debug!(?request, gatt_mtu = ?self.gatt_mtu, "BTP handshake request received");
        if request.window == 0 {
            // The CHIP SDK would answer with window 0 and then never be able to send.
            return Err(Violation::InvalidWindow { window: 0 }.into());
        }
        let fragment_size = super::wire::select_fragment_size(request.att_mtu, self.gatt_mtu);
        let window = request.window.min(self.config.max_window);
        match request.versions.highest_in(BTP_VERSION, BTP_VERSION) {
            Some(version) => {
                self.state = State::ExpectSubscription {
                    response: HandshakeResponse {
                        version,
                        fragment_size,
                        window,
                    },
                };
            }
            None => {
                // As the CHIP SDK does: answer with version 0 once subscribed so the central
                // learns why, then close.
                warn!(offered = ?request.versions, "BTP: no supported version offered");
                self.state = State::Rejecting {
                    response: HandshakeResponse {
                        version: 0,
                        fragment_size,
                        window,
                    },
                    offered: request.versions,
                    sent: false,
                };
            }
        }
        Ok(())
    }

    /// Peripheral: the response is going out; the session is up from this moment, so a central
    /// write that overtakes the response's confirmation is accepted (as in the CHIP SDK).
    fn establish_peripheral(&mut self, now: Instant, response: HandshakeResponse) {
        let window = response.window;
        self.link = Some(Link {
            fragment_size: response.fragment_size,
            window,
            version: response.version,
            // The response is our seq 0 and awaits the central's ack; data starts at 1.
            tx: TxWindow::new(1, 1, window),
            rx: RxWindow::new(0, 0, window),
        });
        self.timers
            .set(Timer::AckReceive, now + self.config.ack_timeout);
        self.establish(now);
    }

    /// Central: the first indication must be the handshake response (Matter 1.4 §4.19.4.2).
    fn on_response(&mut self, now: Instant, value: &[u8]) -> Result<(), BtpError> {
        let response = HandshakeResponse::parse(value).map_err(Violation::MalformedHandshake)?;
        debug!(?response, "BTP handshake response received");
        if response.version == 0 {
            return Err(BtpError::UnsupportedVersion {
                offered: SupportedVersions::from_list(&[BTP_VERSION]),
            });
        }
        if response.version != BTP_VERSION {
            return Err(Violation::UnofferedVersion {
                version: response.version,
            }
            .into());
        }
        if response.window == 0 || response.window > self.config.max_window {
            // The CHIP SDK's central takes any window; a larger one than offered breaks the
            // spec's rule that the peripheral picks at most the central's.
            return Err(Violation::InvalidWindow {
                window: response.window,
            }
            .into());
        }
        if response.fragment_size < MIN_FRAGMENT_SIZE {
            return Err(Violation::InvalidFragmentSize {
                size: response.fragment_size,
            }
            .into());
        }
        let window = response.window;
        self.link = Some(Link {
            // Like the CHIP SDK's central, never above the BTP maximum.
            fragment_size: response.fragment_size.min(MAX_FRAGMENT_SIZE),
            window,
            version: response.version,
            tx: TxWindow::new(0, 0, window),
            // The response was the peripheral's seq 0: we owe an ack for it.
            rx: RxWindow::new(1, 1, window),
        });
        self.timers
            .set(Timer::AckSend, now + self.config.send_ack_delay);
        self.establish(now);
        Ok(())
    }

    fn establish(&mut self, now: Instant) {
        self.state = State::Established;
        self.timers.stop(Timer::Handshake);
        self.refresh_idle(now);
        if let Some(link) = self.link {
            debug!(
                role = ?self.role,
                fragment_size = link.fragment_size,
                window = link.window,
                "BTP session established"
            );
            self.events.push_back(BtpEvent::Established {
                version: link.version,
                fragment_size: link.fragment_size,
                window: link.window,
            });
        }
    }

    /// A segment on an established session: the whole frame is parsed and checked before any state
    /// changes.
    fn on_segment(&mut self, now: Instant, value: &[u8]) -> Result<(), BtpError> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        if value.len() > usize::from(link.fragment_size) {
            return Err(Violation::SegmentTooLong {
                len: value.len(),
                max: link.fragment_size,
            }
            .into());
        }
        let (header, payload) = SegmentHeader::parse(value)?;
        if header.flags.intersects(HeaderFlags::RESERVED) {
            trace!(flags = ?header.flags, "BTP: reserved header bits ignored");
        }
        let data = header.flags.carries_data();
        link.rx.accept(header.seq, data)?;
        if let Some(ack) = header.ack {
            link.tx.acknowledge(ack)?;
        }
        let tx = link.tx;
        let has_unacked_rx = link.rx.unacked() > 0;
        trace!(seq = header.seq, ack = ?header.ack, flags = ?header.flags, len = payload.len(), "BTP rx");
        if header.ack.is_some() {
            while self
                .unacked_sdus
                .front()
                .is_some_and(|&last| !tx.is_outstanding(last))
            {
                self.unacked_sdus.pop_front();
            }
            if tx.outstanding() == 0 {
                self.timers.stop(Timer::AckReceive);
            } else {
                self.timers
                    .set(Timer::AckReceive, now + self.config.ack_timeout);
            }
        }
        if data {
            if let Some(sdu) = self.reassembler.push(&header, payload)? {
                debug!(len = sdu.len(), "BTP SDU received");
                self.stats.sdus_received += 1;
                self.events.push_back(BtpEvent::SduReceived(sdu));
                self.refresh_idle(now);
            }
        }
        if has_unacked_rx {
            self.timers
                .set_if_idle(Timer::AckSend, now + self.config.send_ack_delay);
        }
        self.check_close_done(now);
        Ok(())
    }

    /// Picks the next segment under the flow-control rules (module doc).
    fn next_segment(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<FrameKind> {
        let link = self.link.as_mut()?;
        let slots = link.tx.slots();
        if slots == 0 {
            return None;
        }
        let ack_pending = link.rx.unacked() > 0;
        // Deviation from the CHIP SDK: the immediate ack waits for a data segment among the
        // unacknowledged ones. With windows of 1 or 2 a lone standalone ack already leaves at most
        // one free slot, so acking it at once makes both sides trade acks without pause for as long
        // as the link lives; we let the 2.5 s timer answer it instead, at the price of up to 2.5 s
        // of latency when the peer wants to send right after acking. For windows of 3 or more (the
        // CHIP SDK negotiates 6) a lone ack leaves at least 2 slots and the two rules agree.
        let urgent =
            ack_pending && link.rx.unacked_data() && link.rx.remaining() <= IMMEDIATE_ACK_THRESHOLD;
        let ack_due = ack_pending && (self.ack_send_fired || urgent);
        if !self.segmenter.is_active() {
            if let Some(sdu) = self.queue.pop_front() {
                self.segmenter.start(sdu);
            }
        }
        let can_send_data =
            self.segmenter.is_active() && (slots > NO_ACK_SEND_THRESHOLD || ack_pending);
        let was_idle = link.tx.outstanding() == 0;
        let kind = if can_send_data {
            let ack = ack_pending.then(|| link.rx.take_ack());
            let seq = link.tx.assign();
            let (last, payload) = self
                .segmenter
                .next_segment(seq, ack, link.fragment_size, buf)?;
            self.stats.payload_bytes_sent += payload as u64;
            if last {
                self.stats.sdus_sent += 1;
                self.unacked_sdus.push_back(seq);
            }
            trace!(seq, ?ack, len = buf.len(), last, "BTP tx data");
            FrameKind::Data
        } else if ack_due {
            let ack = link.rx.take_ack();
            let seq = link.tx.assign();
            SegmentHeader::new(HeaderFlags::default(), Some(ack), seq, None).emit(buf);
            self.stats.standalone_acks_sent += 1;
            debug!(seq, ack, urgent, "BTP standalone ack");
            FrameKind::StandaloneAck
        } else {
            return None;
        };
        if link.rx.unacked() == 0 {
            // An ack went out (piggy-backed or standalone): nothing is owed any more.
            self.ack_send_fired = false;
            self.timers.stop(Timer::AckSend);
        }
        if was_idle {
            self.timers
                .set(Timer::AckReceive, now + self.config.ack_timeout);
        }
        Some(kind)
    }

    /// In `Closing`, finishes once nothing of ours is unsent or unacknowledged.
    fn check_close_done(&mut self, _now: Instant) {
        if self.state == State::Closing
            && self.queue.is_empty()
            && !self.segmenter.is_active()
            && self.unacked_sdus.is_empty()
        {
            self.finish(BtpError::LocallyClosed);
        }
    }

    fn refresh_idle(&mut self, now: Instant) {
        if let Some(idle) = self.config.idle_timeout {
            if matches!(self.state, State::Established | State::Closing) {
                self.timers.set(Timer::Idle, now + idle);
            }
        }
    }

    /// Closes with `reason`, reporting undelivered data first.
    fn fail(&mut self, reason: BtpError) {
        if self.state == State::Closed {
            return;
        }
        let outbound_sdus =
            self.queue.len() + usize::from(self.segmenter.is_active()) + self.unacked_sdus.len();
        let inbound_bytes = self.reassembler.partial_len();
        if outbound_sdus > 0 || inbound_bytes > 0 {
            self.events.push_back(BtpEvent::DataLost {
                outbound_sdus,
                inbound_bytes,
            });
        }
        self.finish(reason);
    }

    fn finish(&mut self, reason: BtpError) {
        match &reason {
            BtpError::PeerMisbehaved(v) => warn!(role = ?self.role, violation = %v, "BTP closed"),
            other => debug!(role = ?self.role, reason = %other, "BTP closed"),
        }
        self.state = State::Closed;
        self.timers.clear();
        self.queue.clear();
        self.segmenter.abandon();
        self.unacked_sdus.clear();
        self.reassembler.clear();
        self.link = None;
        self.gatt_busy = false;
        self.ack_send_fired = false;
        self.events.push_back(BtpEvent::Closed { reason });
    }
}
