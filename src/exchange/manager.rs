//! The exchange manager: exchanges (id, role, protocol) on top of the session manager, MRP
//! acknowledgements (piggy-backed and standalone) and retransmissions, duplicate handling,
//! CloseSession, and the transmit queue (Matter 1.3 §4.10 "Message Exchanges", §4.12 MRP).

use std::collections::{BTreeMap, VecDeque};

use tracing::debug;

use super::mrp::{
    self, PendingAck, Retransmission, MRP_MAX_TRANSMISSIONS, MRP_STANDALONE_ACK_TIMEOUT,
};
use crate::message::{Message, PayloadHeader, ProtocolId, SecureChannelOpcode, StatusReport};
use crate::rng::Rng;
use crate::session::{
    PaseHandover, PeerAddress, SecureSessionParams, Session, SessionError, SessionManager,
    SessionManagerConfig, SessionManagerEvent, SessionRef,
};
use crate::time::Instant;

/// Our role on an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// We sent the first message (our messages carry the I flag).
    Initiator,
    /// The peer did.
    Responder,
}

/// Identifies an exchange: session, exchange id and our role (the same id can exist once per
/// role, Matter 1.3 §4.10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeRef {
    /// The session the exchange runs on.
    pub session: SessionRef,
    /// The exchange id.
    pub id: u16,
    /// Our role.
    pub role: Role,
}

/// Outputs of the exchange manager.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeEvent {
    /// A new (non-duplicate) message for the application: dispatch on
    /// `message.payload_header.protocol_id`.
    Incoming {
        /// The session.
        session: SessionRef,
        /// The exchange (created as responder when the peer opened it).
        exchange: ExchangeRef,
        /// The message.
        message: Message,
    },
    /// The reliable message `counter` was acknowledged.
    Acked {
        /// The exchange.
        exchange: ExchangeRef,
        /// The acknowledged counter.
        counter: u32,
    },
    /// MRP gave up: no acknowledgement after MRP_MAX_TRANSMISSIONS transmissions.
    SendFailed {
        /// The exchange; it stays open until closed.
        exchange: ExchangeRef,
        /// The message that went unacknowledged.
        counter: u32,
    },
    /// Something happened to a session (closed, subscriptions).
    Session(SessionManagerEvent),
}

/// A datagram to send, from [`ExchangeManager::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit<A> {
    /// Where to.
    pub dest: A,
    /// Bytes appended to the caller's buffer.
    pub len: usize,
}

/// Errors of exchange commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// No such exchange (closed, or its session is gone).
    #[error("unknown exchange")]
    UnknownExchange,
    /// The exchange is closing; nothing more may be sent on it.
    #[error("exchange is closing")]
    Closing,
    /// A reliable message on this exchange still awaits its ack (one at a time, Matter 1.3
    /// §4.12.5.1).
    #[error("previous reliable message not yet acknowledged")]
    AwaitingAck,
    /// The exchange table (or this session's share of it) is full.
    #[error("too many exchanges")]
    TooManyExchanges,
    /// The session refused.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Limits and dispatch policy of the exchange manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// Session table sizes.
    pub sessions: SessionManagerConfig,
    /// Exchanges at once, over all sessions (the CHIP SDK's pool holds 16 by default).
    pub max_exchanges: usize,
    /// Exchanges at once on one session (Matter 1.3 §4.10.5.2 suggests initiators keep to 5).
    pub max_exchanges_per_session: usize,
    /// Protocols a peer may open an exchange for. Others are acknowledged and dropped; on
    /// unsecured sessions only the secure channel is ever accepted (PASE, CASE).
    pub unsolicited_protocols: Vec<ProtocolId>,
    /// Transmissions of one reliable message before MRP gives up (MRP_MAX_TRANSMISSIONS; the
    /// spec lets a sender choose). At least 1.
    pub mrp_max_transmissions: u8,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            sessions: SessionManagerConfig::default(),
            max_exchanges: 64,
            max_exchanges_per_session: 16,
            unsolicited_protocols: vec![ProtocolId::SECURE_CHANNEL, ProtocolId::INTERACTION_MODEL],
            mrp_max_transmissions: MRP_MAX_TRANSMISSIONS,
        }
    }
}

/// Per-send options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// Ask for an acknowledgement (R flag) and retransmit until acked. Ignored (off) on
    /// sessions without MRP.
    pub reliable: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self { reliable: true }
    }
}

#[derive(Debug)]
struct Exchange {
    protocol: ProtocolId,
    pending_ack: Option<PendingAck>,
    retransmit: Option<Retransmission>,
    closing: bool,
}

impl Exchange {
    fn new(protocol: ProtocolId) -> Self {
        Self {
            protocol,
            pending_ack: None,
            retransmit: None,
            closing: false,
        }
    }

    fn finished(&self) -> bool {
        self.closing && self.pending_ack.is_none() && self.retransmit.is_none()
    }
}

/// The message layer the node drives: sessions, exchanges and MRP. Sans-IO.
///
/// - Inputs: [`handle_datagram`](Self::handle_datagram), [`handle_timeout`](Self::handle_timeout),
///   [`handle_link_closed`](Self::handle_link_closed).
/// - Commands: [`new_exchange`](Self::new_exchange), [`send`](Self::send),
///   [`close_exchange`](Self::close_exchange), [`close_session`](Self::close_session),
///   [`add_pase_session`](Self::add_pase_session).
/// - Outputs, drained after every input or command: [`poll_transmit`](Self::poll_transmit),
///   [`poll_timeout`](Self::poll_timeout), [`poll_event`](Self::poll_event).
pub struct ExchangeManager<A, C, R> {
    config: ExchangeConfig,
    sessions: SessionManager<A, C>,
    rng: R,
    exchanges: BTreeMap<ExchangeRef, Exchange>,
    next_exchange_id: u16,
    transmits: VecDeque<(A, Vec<u8>)>,
    events: VecDeque<ExchangeEvent>,
    /// Unsecured sessions to drop once their exchanges are done.
    unsecured_closing: Vec<SessionRef>,
}

impl<A: PeerAddress, C, R: Rng> ExchangeManager<A, C, R> {
    /// A manager with an empty session table. Exchange ids start at a random value
    /// (Matter 1.3 §4.10.2).
    pub fn new(config: ExchangeConfig, mut rng: R) -> Self {
        let sessions = SessionManager::new(config.sessions, &mut rng);
        let next_exchange_id = rng.next_u32() as u16;
        Self {
            config,
            sessions,
            rng,
            exchanges: BTreeMap::new(),
            next_exchange_id,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            unsecured_closing: Vec::new(),
        }
    }

    // ---- inputs ----

    /// Takes a datagram from `peer`. Anything undecodable, unauthenticated or unknown is
    /// dropped; the error says why (for logs and statistics; nothing needs to be done).
    ///
    /// # Errors
    /// The reason the datagram was dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        peer: A,
        datagram: &[u8],
    ) -> Result<(), SessionError> {
        let inc = match self.sessions.handle_datagram(now, &peer, datagram) {
            Ok(inc) => inc,
            Err(e) => {
                debug!(from = ?peer, error = %e, "datagram dropped");
                return Err(e);
            }
        };
        let ph = inc.message.payload_header;
        let counter = inc.message.packet_header.message_counter;
        let key = ExchangeRef {
            session: inc.session,
            id: ph.exchange_id,
            // The peer's I flag means it initiated, so we are the responder.
            role: if ph.initiator {
                Role::Responder
            } else {
                Role::Initiator
            },
        };

        if let Some(acked) = ph.acked_counter {
            self.process_ack(key, acked);
        }
        if inc.duplicate {
            // Matter 1.3 §4.12.5.2.2: acknowledge a duplicate that asks for it, at once, and
            // never hand it to the application.
            debug!(?key, counter, "duplicate message");
            if ph.needs_ack {
                self.send_standalone_ack(now, key, counter);
            }
            self.after_step(now);
            return Ok(());
        }
        if ph.is_standalone_ack() {
            self.after_step(now);
            return Ok(());
        }
        if self.is_close_session(inc.session, &inc.message) {
            debug!(session = ?inc.session, "peer sent CloseSession");
            if ph.needs_ack {
                self.send_standalone_ack(now, key, counter);
            }
            self.sessions.peer_closed(inc.session);
            self.after_step(now);
            return Ok(());
        }

        if !self.exchanges.contains_key(&key) {
            if key.role == Role::Initiator {
                // A message for an exchange of ours that is gone: ack it so the peer stops
                // retransmitting (Matter 1.3 §4.12.5.2.1), drop it.
                debug!(?key, "message for unknown exchange");
                if ph.needs_ack {
                    self.send_standalone_ack(now, key, counter);
                }
                self.after_step(now);
                return Ok(());
            }
            if !self.accepts_unsolicited(inc.session, &ph) {
                debug!(?key, protocol = ?ph.protocol_id, "no handler for unsolicited message");
                if ph.needs_ack {
                    self.send_standalone_ack(now, key, counter);
                }
                self.after_step(now);
                return Ok(());
            }
            if !self.has_room(inc.session) {
                // The session layer has already recorded the counter, so a retransmission would
                // be a duplicate: acknowledge and drop now rather than let the peer retry into
                // the same loss (its exchange then times out at the application layer).
                debug!(?key, "exchange table full: message dropped");
                if ph.needs_ack {
                    self.send_standalone_ack(now, key, counter);
                }
                self.after_step(now);
                return Ok(());
            }
            debug!(?key, protocol = ?ph.protocol_id, "new exchange from peer");
            self.exchanges.insert(key, Exchange::new(ph.protocol_id));
        }
        if ph.needs_ack {
            // One pending ack per exchange: an older one goes out on its own first.
            let previous = self.exchanges.get_mut(&key).and_then(|x| {
                x.pending_ack.replace(PendingAck {
                    counter,
                    deadline: now + MRP_STANDALONE_ACK_TIMEOUT,
                })
            });
            if let Some(old) = previous {
                self.send_standalone_ack(now, key, old.counter);
            }
        }
        self.events.push_back(ExchangeEvent::Incoming {
            session: inc.session,
            exchange: key,
            message: inc.message,
        });
        self.after_step(now);
        Ok(())
    }

    /// Fires due timers: standalone acks and retransmissions. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let keys: Vec<ExchangeRef> = self.exchanges.keys().copied().collect();
        for key in keys {
            let ack_due = self
                .exchanges
                .get(&key)
                .and_then(|x| x.pending_ack)
                .filter(|a| a.deadline <= now);
            if let Some(ack) = ack_due {
                if let Some(x) = self.exchanges.get_mut(&key) {
                    x.pending_ack = None;
                }
                self.send_standalone_ack(now, key, ack.counter);
            }
            self.retransmit_if_due(now, key);
        }
        self.after_step(now);
    }

    /// The transport link to `peer` is gone: its sessions and exchanges are dropped.
    pub fn handle_link_closed(&mut self, now: Instant, peer: &A) {
        self.sessions.link_closed(peer);
        self.transmits.retain(|(dest, _)| dest != peer);
        self.after_step(now);
    }

    // ---- commands ----

    /// Opens an exchange as initiator on `session` for `protocol`.
    ///
    /// # Errors
    /// [`SessionError::StaleHandle`] for a session that is gone, [`SessionError::Closed`] for
    /// one that is closing.
    pub fn new_exchange(
        &mut self,
        session: SessionRef,
        protocol: ProtocolId,
    ) -> Result<ExchangeRef, ExchangeError> {
        if let Some(s) = self.sessions.secure(session) {
            if s.lifecycle() != crate::session::Lifecycle::Active {
                return Err(SessionError::Closed.into());
            }
        } else if self.sessions.session(session).is_none() {
            return Err(SessionError::StaleHandle.into());
        }
        if !self.has_room(session) {
            return Err(ExchangeError::TooManyExchanges);
        }
        let key = loop {
            let id = self.next_exchange_id;
            self.next_exchange_id = self.next_exchange_id.wrapping_add(1);
            let key = ExchangeRef {
                session,
                id,
                role: Role::Initiator,
            };
            if !self.exchanges.contains_key(&key) {
                break key;
            }
        };
        self.exchanges.insert(key, Exchange::new(protocol));
        debug!(?key, ?protocol, "exchange opened");
        Ok(key)
    }

    /// Sends a reliable message (when the session runs MRP) on `exchange`, piggy-backing a
    /// pending acknowledgement. Returns the message counter.
    ///
    /// # Errors
    /// [`ExchangeError`] when the exchange is unknown or closing, a reliable message is still
    /// unacknowledged, or the session cannot encode.
    pub fn send(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
    ) -> Result<u32, ExchangeError> {
        self.send_with(now, exchange, opcode, payload, SendOptions::default())
    }

    /// [`send`](Self::send) with options.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_with(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
        options: SendOptions,
    ) -> Result<u32, ExchangeError> {
        let x = self
            .exchanges
            .get(&exchange)
            .ok_or(ExchangeError::UnknownExchange)?;
        if x.closing {
            return Err(ExchangeError::Closing);
        }
        let mrp_enabled = self
            .sessions
            .session(exchange.session)
            .ok_or(ExchangeError::UnknownExchange)?
            .mrp_enabled();
        let reliable = options.reliable && mrp_enabled;
        if reliable && x.retransmit.is_some() {
            return Err(ExchangeError::AwaitingAck);
        }
        let header = PayloadHeader {
            exchange_id: exchange.id,
            protocol_id: x.protocol,
            protocol_vendor_id: None,
            opcode,
            initiator: exchange.role == Role::Initiator,
            needs_ack: reliable,
            acked_counter: x.pending_ack.map(|a| a.counter),
        };
        let mut datagram = Vec::new();
        let out = self
            .sessions
            .encode(now, exchange.session, &header, payload, &mut datagram)?;
        let peer_active = self.peer_active(now, exchange.session);
        let params = self.mrp_params(exchange.session);
        let deadline =
            reliable.then(|| mrp::next_deadline(now, &params, peer_active, 1, &mut self.rng));
        if let Some(x) = self.exchanges.get_mut(&exchange) {
            x.pending_ack = None;
            if let Some(deadline) = deadline {
                x.retransmit = Some(Retransmission {
                    counter: out.counter,
                    datagram: datagram.clone(),
                    send_count: 1,
                    deadline,
                });
            }
        }
        debug!(
            ?exchange,
            counter = out.counter,
            opcode,
            reliable,
            acked = ?header.acked_counter,
            "message sent"
        );
        self.transmits.push_back((out.dest, datagram));
        self.after_step(now);
        Ok(out.counter)
    }

    /// Closes an exchange: a pending ack goes out now; an unacknowledged reliable message
    /// keeps being retransmitted until acked or given up, then the exchange is removed.
    pub fn close_exchange(&mut self, now: Instant, exchange: ExchangeRef) {
        let Some(x) = self.exchanges.get_mut(&exchange) else {
            return;
        };
        x.closing = true;
        if let Some(ack) = x.pending_ack.take() {
            self.send_standalone_ack(now, exchange, ack.counter);
        }
        debug!(?exchange, "exchange closing");
        self.after_step(now);
    }

    /// Closes a secure session (matter.js `close`): CloseSession is sent, at once or, with
    /// `close_after_exchange_finished` (default: when the peer is active), after its last
    /// exchange finished.
    pub fn close_session(
        &mut self,
        now: Instant,
        session: SessionRef,
        close_after_exchange_finished: Option<bool>,
    ) {
        if let Some(s) = self.sessions.secure_mut(session) {
            s.close(now, close_after_exchange_finished);
        }
        self.after_step(now);
    }

    /// Ends (flushing subscriptions) or destroys (discarding them) a secure session, as
    /// [`SecureSession::end`](crate::session::SecureSession::end) /
    /// [`destroy`](crate::session::SecureSession::destroy).
    pub fn end_session(
        &mut self,
        now: Instant,
        session: SessionRef,
        flush: bool,
        send_close: bool,
        close_after_exchange_finished: bool,
    ) {
        if let Some(s) = self.sessions.secure_mut(session) {
            if flush {
                s.end(send_close, close_after_exchange_finished);
            } else {
                s.destroy(send_close, close_after_exchange_finished);
            }
        }
        self.after_step(now);
    }

    /// Creates the secure session PASE established (see
    /// [`SessionManager::add_pase_session`]).
    ///
    /// # Errors
    /// As [`SessionManager::add_secure_session`].
    pub fn add_pase_session(
        &mut self,
        now: Instant,
        peer: A,
        handover: PaseHandover,
        context: C,
    ) -> Result<SessionRef, SessionError> {
        let r = self
            .sessions
            .add_pase_session(now, peer, handover, context, &mut self.rng);
        self.after_step(now);
        r
    }

    /// Creates a secure session from explicit parameters (CASE, tests).
    ///
    /// # Errors
    /// As [`SessionManager::add_secure_session`].
    pub fn add_secure_session(
        &mut self,
        now: Instant,
        peer: A,
        params: SecureSessionParams<'_, C>,
    ) -> Result<SessionRef, SessionError> {
        let r = self
            .sessions
            .add_secure_session(now, peer, params, &mut self.rng);
        self.after_step(now);
        r
    }

    /// Drops an unsecured session once its exchanges have finished (their last reliable
    /// message acknowledged or given up): PASE calls this after its final StatusReport.
    pub fn close_unsecured_session(&mut self, now: Instant, session: SessionRef) {
        if self.sessions.get(session).is_some() && !self.unsecured_closing.contains(&session) {
            self.unsecured_closing.push(session);
        }
        self.after_step(now);
    }

    /// Opens an unsecured session to `peer` as initiator (a commissioner; tests).
    pub fn add_unsecured_initiator(&mut self, now: Instant, peer: A) -> SessionRef {
        self.sessions
            .add_unsecured_initiator(now, peer, &mut self.rng)
    }

    // ---- outputs ----

    /// Appends the next datagram to `buf` and says where it goes.
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<Transmit<A>> {
        let (dest, bytes) = self.transmits.pop_front()?;
        buf.extend_from_slice(&bytes);
        Some(Transmit {
            dest,
            len: bytes.len(),
        })
    }

    /// The earliest timer: a standalone ack or a retransmission.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.exchanges
            .values()
            .flat_map(|x| {
                [
                    x.pending_ack.map(|a| a.deadline),
                    x.retransmit.as_ref().map(|r| r.deadline),
                ]
            })
            .flatten()
            .min()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ExchangeEvent> {
        self.events.pop_front()
    }

    // ---- getters ----

    /// The session manager (sessions, their state).
    pub const fn sessions(&self) -> &SessionManager<A, C> {
        &self.sessions
    }

    /// The session manager, mutably (session ids for PASE, subscriptions, fabric).
    pub fn sessions_mut(&mut self) -> &mut SessionManager<A, C> {
        &mut self.sessions
    }

    /// The random generator the manager uses, for the node's other needs.
    pub fn rng_mut(&mut self) -> &mut R {
        &mut self.rng
    }

    /// Whether the exchange exists (open, or closing with work left).
    pub fn has_exchange(&self, exchange: ExchangeRef) -> bool {
        self.exchanges.contains_key(&exchange)
    }

    /// The exchanges running on `session`.
    pub fn exchanges_on(&self, session: SessionRef) -> impl Iterator<Item = ExchangeRef> + '_ {
        self.exchanges
            .keys()
            .copied()
            .filter(move |k| k.session == session)
    }

    /// Exchanges open or closing, over every session (tests check that none leak).
    #[cfg(test)]
    pub(crate) fn exchange_count(&self) -> usize {
        self.exchanges.len()
    }

    // ---- private ----

    fn process_ack(&mut self, key: ExchangeRef, acked: u32) {
        let Some(x) = self.exchanges.get_mut(&key) else {
            return;
        };
        if x.retransmit.as_ref().is_some_and(|r| r.counter == acked) {
            x.retransmit = None;
            debug!(exchange = ?key, counter = acked, "acknowledged");
            self.events.push_back(ExchangeEvent::Acked {
                exchange: key,
                counter: acked,
            });
        }
    }

    fn retransmit_if_due(&mut self, now: Instant, key: ExchangeRef) {
        let peer_active = self.peer_active(now, key.session);
        let params = self.mrp_params(key.session);
        let dest = self.sessions.peer(key.session).cloned();
        let max_transmissions = self.config.mrp_max_transmissions.max(1);
        let Some(x) = self.exchanges.get_mut(&key) else {
            return;
        };
        let Some(r) = x.retransmit.as_mut().filter(|r| r.deadline <= now) else {
            return;
        };
        if r.send_count >= max_transmissions {
            let counter = r.counter;
            x.retransmit = None;
            debug!(exchange = ?key, counter, "MRP gave up");
            self.events.push_back(ExchangeEvent::SendFailed {
                exchange: key,
                counter,
            });
            return;
        }
        let Some(dest) = dest else {
            x.retransmit = None;
            return;
        };
        r.send_count += 1;
        r.deadline = mrp::next_deadline(now, &params, peer_active, r.send_count, &mut self.rng);
        debug!(exchange = ?key, counter = r.counter, send_count = r.send_count, "retransmission");
        self.transmits.push_back((dest, r.datagram.clone()));
    }

    fn send_standalone_ack(&mut self, now: Instant, key: ExchangeRef, counter: u32) {
        self.send_standalone_ack_inner(now, key, counter, false);
    }

    fn send_standalone_ack_inner(
        &mut self,
        now: Instant,
        key: ExchangeRef,
        counter: u32,
        closing: bool,
    ) {
        let header = PayloadHeader {
            initiator: key.role == Role::Initiator,
            acked_counter: Some(counter),
            ..PayloadHeader::new(
                key.id,
                ProtocolId::SECURE_CHANNEL,
                SecureChannelOpcode::STANDALONE_ACK.value(),
            )
        };
        let mut datagram = Vec::new();
        let encoded = if closing {
            self.sessions
                .encode_while_closing(now, key.session, &header, &[], &mut datagram)
        } else {
            self.sessions
                .encode(now, key.session, &header, &[], &mut datagram)
        };
        match encoded {
            Ok(out) => {
                debug!(exchange = ?key, acked = counter, "standalone ack");
                self.transmits.push_back((out.dest, datagram));
            }
            Err(e) => debug!(exchange = ?key, error = %e, "standalone ack not sent"),
        }
    }

    /// CloseSession only means something on a secure session (the CHIP SDK ignores it on
    /// unsecured ones).
    fn is_close_session(&self, session: SessionRef, m: &Message) -> bool {
        m.payload_header.secure_channel_opcode() == Some(SecureChannelOpcode::STATUS_REPORT)
            && self.sessions.secure(session).is_some()
            && StatusReport::decode(&m.payload).is_ok_and(|r| r.is_close_session())
    }

    /// Housekeeping after every input/command: finished exchanges go, sessions that wait for
    /// their exchanges close, closed sessions send CloseSession and go, events are forwarded.
    fn after_step(&mut self, now: Instant) {
        self.exchanges.retain(|_, x| !x.finished());
        let waiting: Vec<SessionRef> = self.sessions.closing_after_exchange().collect();
        for s in waiting {
            if !self.exchanges.keys().any(|k| k.session == s) {
                if let Some(session) = self.sessions.secure_mut(s) {
                    session.exchanges_finished();
                }
            }
        }
        for s in self.sessions.reap() {
            // Acks we owe go out before the session's keys do.
            let owed: Vec<(ExchangeRef, u32)> = self
                .exchanges
                .iter_mut()
                .filter(|(k, _)| k.session == s)
                .filter_map(|(k, x)| x.pending_ack.take().map(|a| (*k, a.counter)))
                .collect();
            for (k, c) in owed {
                self.send_standalone_ack_inner(now, k, c, true);
            }
            let id = self.next_exchange_id;
            self.next_exchange_id = self.next_exchange_id.wrapping_add(1);
            let mut datagram = Vec::new();
            if let Some(dest) = self.sessions.finish_close(now, s, id, &mut datagram) {
                debug!(session = ?s, "CloseSession sent");
                self.transmits.push_back((dest, datagram));
            }
        }
        let exchanges = &self.exchanges;
        let (idle, busy): (Vec<SessionRef>, Vec<SessionRef>) = self
            .unsecured_closing
            .iter()
            .partition(|s| !exchanges.keys().any(|k| k.session == **s));
        self.unsecured_closing = busy;
        for s in idle {
            self.sessions.remove_unsecured(s);
        }
        let sessions = &self.sessions;
        self.exchanges
            .retain(|k, _| sessions.session(k.session).is_some());
        self.unsecured_closing
            .retain(|s| sessions.session(*s).is_some());
        while let Some(e) = self.sessions.poll_event() {
            self.events.push_back(ExchangeEvent::Session(e));
        }
    }

    fn accepts_unsolicited(&self, session: SessionRef, ph: &PayloadHeader) -> bool {
        let secure = self.sessions.secure(session);
        // A session that is closing finishes its running exchanges but takes no new ones.
        if secure.is_some_and(|s| s.lifecycle() != crate::session::Lifecycle::Active) {
            return false;
        }
        let secure = secure.is_some();
        ph.protocol_vendor_id.unwrap_or(0) == 0
            && self.config.unsolicited_protocols.contains(&ph.protocol_id)
            && (secure || ph.protocol_id == ProtocolId::SECURE_CHANNEL)
    }

    fn has_room(&self, session: SessionRef) -> bool {
        self.exchanges.len() < self.config.max_exchanges
            && self
                .exchanges
                .keys()
                .filter(|k| k.session == session)
                .count()
                < self.config.max_exchanges_per_session
    }

    fn peer_active(&self, now: Instant, session: SessionRef) -> bool {
        self.sessions
            .session(session)
            .is_some_and(|s| s.is_peer_active(now))
    }

    fn mrp_params(&self, session: SessionRef) -> crate::session::params::MrpParameters {
        self.sessions
            .session(session)
            .map(Session::mrp_parameters)
            .unwrap_or_default()
    }
}
