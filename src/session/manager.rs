//! The session manager: owns every unsecured and secure session, allocates local session ids,
//! finds the session of an incoming packet, applies the counter rules, keeps the global
//! unencrypted counter and evicts sessions when the table is full (Matter 1.3 §4.6, §4.13.1
//! "Session ID allocation", §4.13.2.1 "Secure Session Context" eviction).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use tracing::debug;
use zeroize::Zeroizing;

use super::counter::{CounterVerdict, MessageCounter};
use super::keys::KEY_LEN;
use super::params::SessionParameters;
use super::secure::{Lifecycle, SecureSession, SecureSessionParams, SessionEvent};
use super::unsecured::{UnsecuredRole, UnsecuredSession};
use super::{PeerAddress, Session, SessionError};
use crate::message::{Destination, Message, Packet, PayloadHeader};
use crate::rng::Rng;
use crate::time::Instant;

/// Identifies a session for its whole life. Never reused, unlike session ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionRef(u64);

impl SessionRef {
    /// A made-up reference for unit tests of layers above (no session behind it).
    #[cfg(test)]
    pub(crate) fn for_tests(n: u64) -> Self {
        Self(n)
    }
}

/// Table sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionManagerConfig {
    /// Secure sessions kept at once (the CHIP SDK's default pool holds 16).
    pub max_secure_sessions: usize,
    /// Unsecured sessions kept at once (one per PASE/CASE attempt in progress).
    pub max_unsecured_sessions: usize,
}

impl Default for SessionManagerConfig {
    fn default() -> Self {
        Self {
            max_secure_sessions: 16,
            max_unsecured_sessions: 4,
        }
    }
}

/// What PASE hands over once Pake3 is verified: the session ids, Ke, our role and the peer's
/// session parameters. The secure session derives its keys from Ke with an empty salt.
///
/// From a `pase::Established` `e` (the node layer does this, as PASE sits above sessions):
/// `local_session_id: e.local_session_id()`, `peer_session_id: e.peer_session_id()`,
/// `ke: Zeroizing::new(*e.shared_secret().as_bytes())`,
/// `is_initiator: e.role() == pase::Role::Initiator`, `peer_parameters: *e.peer_params()`.
#[derive(Debug)]
pub struct PaseHandover {
    /// Our session id (allocated with [`SessionManager::allocate_session_id`]).
    pub local_session_id: u16,
    /// The peer's session id.
    pub peer_session_id: u16,
    /// Ke, the 16-byte shared secret.
    pub ke: Zeroizing<[u8; KEY_LEN]>,
    /// Whether we were the PASE initiator (a device is the responder).
    pub is_initiator: bool,
    /// The peer's session parameters from PBKDFParamRequest/Response.
    pub peer_parameters: SessionParameters,
}

/// A received message, authenticated and counter-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The session it arrived on.
    pub session: SessionRef,
    /// The message.
    pub message: Message,
    /// Its counter was seen before: acknowledge if asked, never deliver.
    pub duplicate: bool,
}

/// Where an encoded message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing<A> {
    /// The peer's address.
    pub dest: A,
    /// The message counter used.
    pub counter: u32,
}

/// Why a session went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Closed locally (close/end/destroy).
    Local,
    /// The peer sent CloseSession.
    PeerClosed,
    /// Evicted to make room for a new session.
    Evicted,
    /// The outgoing counter ran out.
    CounterExhausted,
    /// The transport link went away.
    LinkClosed,
}

/// Events from the session manager.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionManagerEvent {
    /// A secure session reported something (subscription changes).
    Session {
        /// The session.
        session: SessionRef,
        /// What it reported.
        event: SessionEvent,
    },
    /// A session was removed; its keys are gone.
    Closed {
        /// The session.
        session: SessionRef,
        /// Its local session id (0 for unsecured sessions).
        local_session_id: u16,
        /// Why.
        reason: CloseReason,
    },
}

/// A borrowed view of one session.
#[derive(Debug)]
pub enum SessionView<'a, A, C> {
    /// An unsecured session.
    Unsecured(&'a UnsecuredSession, &'a A),
    /// A secure session.
    Secure(&'a SecureSession<C>, &'a A),
}

enum Slot<A, C> {
    Unsecured {
        peer: A,
        session: UnsecuredSession,
    },
    Secure {
        peer: A,
        session: Box<SecureSession<C>>,
        /// Protected from eviction (PASE sessions, and CASE sessions the node marks).
        commissioning: bool,
        close_reason: CloseReason,
    },
}

impl<A, C> Slot<A, C> {
    fn as_session(&self) -> &dyn Session {
        match self {
            Slot::Unsecured { session, .. } => session,
            Slot::Secure { session, .. } => &**session,
        }
    }
}

/// Owns all sessions. Sans-IO: every method that depends on time takes `now`.
///
/// Inputs: [`handle_datagram`](Self::handle_datagram). Commands: [`encode`](Self::encode),
/// [`add_secure_session`](Self::add_secure_session), [`add_pase_session`](Self::add_pase_session),
/// `close`-style calls on [`secure_mut`](Self::secure_mut) followed by
/// [`reap`](Self::reap). Outputs: [`poll_event`](Self::poll_event).
pub struct SessionManager<A, C> {
    config: SessionManagerConfig,
    unencrypted_counter: MessageCounter,
    slots: BTreeMap<SessionRef, Slot<A, C>>,
    by_local_id: HashMap<u16, SessionRef>,
    reserved_ids: HashSet<u16>,
    unsecured_index: HashMap<(A, u64, UnsecuredRole), SessionRef>,
    next_ref: u64,
    next_local_id: u16,
    events: VecDeque<SessionManagerEvent>,
}

impl<A: PeerAddress, C> SessionManager<A, C> {
    /// An empty manager. The global unencrypted counter and the session id cursor start at
    /// random values.
    pub fn new(config: SessionManagerConfig, rng: &mut dyn Rng) -> Self {
        let start = (rng.next_u32() as u16).max(1);
        Self {
            config,
            unencrypted_counter: MessageCounter::random(rng),
            slots: BTreeMap::new(),
            by_local_id: HashMap::new(),
            reserved_ids: HashSet::new(),
            unsecured_index: HashMap::new(),
            next_ref: 1,
            next_local_id: start,
            events: VecDeque::new(),
        }
    }

    // ---- session ids ----

    /// Reserves a fresh local session id: non-zero, not in use, and not handed out again until
    /// released (ids advance cyclically, so a released id is reused as late as possible).
    ///
    /// # Errors
    /// [`SessionError::NoFreeSessionIds`] when every id is taken.
    pub fn allocate_session_id(&mut self) -> Result<u16, SessionError> {
        for _ in 0..u16::MAX {
            let id = self.next_local_id;
            self.next_local_id = self.next_local_id.checked_add(1).unwrap_or(1);
            if id != 0 && !self.by_local_id.contains_key(&id) && !self.reserved_ids.contains(&id) {
                self.reserved_ids.insert(id);
                return Ok(id);
            }
        }
        Err(SessionError::NoFreeSessionIds)
    }

    /// Releases a reserved id that will not be used (a PASE attempt failed).
    pub fn release_session_id(&mut self, id: u16) {
        self.reserved_ids.remove(&id);
    }

    /// Ids reserved and neither released nor taken by a session (tests check that none leak).
    #[cfg(test)]
    pub(crate) fn reserved_count(&self) -> usize {
        self.reserved_ids.len()
    }

    // ---- adding sessions ----

    /// Creates a secure session and adds it, evicting the least recently active evictable
    /// session if the table is full.
    ///
    /// # Errors
    /// [`SessionError::SessionIdInUse`], [`SessionError::TableFull`], and those of
    /// [`SecureSession::create`].
    pub fn add_secure_session(
        &mut self,
        now: Instant,
        peer: A,
        params: SecureSessionParams<'_, C>,
        rng: &mut dyn Rng,
    ) -> Result<SessionRef, SessionError> {
        let id = params.local_session_id;
        if self.by_local_id.contains_key(&id) {
            return Err(SessionError::SessionIdInUse(id));
        }
        if self.secure_count() >= self.config.max_secure_sessions {
            self.evict_one_secure()?;
        }
        let session = SecureSession::create(now, params, rng)?;
        let commissioning = session.is_pase();
        self.reserved_ids.remove(&id);
        let r = self.new_ref();
        self.by_local_id.insert(id, r);
        self.slots.insert(
            r,
            Slot::Secure {
                peer,
                session: Box::new(session),
                commissioning,
                close_reason: CloseReason::Local,
            },
        );
        Ok(r)
    }

    /// Creates the PASE session from what PASE hands over (empty salt, peer node id 0, MRP
    /// per transport).
    ///
    /// # Errors
    /// As [`add_secure_session`](Self::add_secure_session).
    pub fn add_pase_session(
        &mut self,
        now: Instant,
        peer: A,
        handover: PaseHandover,
        context: C,
        rng: &mut dyn Rng,
    ) -> Result<SessionRef, SessionError> {
        let mrp_enabled = !peer.is_reliable_transport();
        let params = SecureSessionParams {
            local_session_id: handover.local_session_id,
            peer_session_id: handover.peer_session_id,
            peer_node_id: super::UNSPECIFIED_NODE_ID,
            shared_secret: handover.ke.as_slice(),
            salt: &[],
            is_initiator: handover.is_initiator,
            is_resumption: false,
            fabric: None,
            context,
            peer_parameters: handover.peer_parameters,
            mrp_enabled,
        };
        self.add_secure_session(now, peer, params, rng)
    }

    /// Opens an unsecured session to `peer` as initiator, with a random ephemeral node id.
    pub fn add_unsecured_initiator(
        &mut self,
        now: Instant,
        peer: A,
        rng: &mut dyn Rng,
    ) -> SessionRef {
        let node_id = rng.next_u64();
        self.insert_unsecured(now, peer, node_id, UnsecuredRole::Initiator)
    }

    /// Marks a secure session as protected from (or open to) eviction, e.g. the CASE session
    /// used while the fail-safe is armed.
    pub fn set_commissioning(&mut self, session: SessionRef, protected: bool) {
        if let Some(Slot::Secure { commissioning, .. }) = self.slots.get_mut(&session) {
            *commissioning = protected;
        }
    }

    // ---- input ----

    /// Decodes a datagram from `peer`, finds (or, for a new unsecured initiator, creates) its
    /// session, authenticates it and applies the counter rules.
    ///
    /// # Errors
    /// Why the datagram was dropped: undecodable, unknown session, failed MIC, bad addressing.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        peer: &A,
        datagram: &[u8],
    ) -> Result<Incoming, SessionError> {
        let packet = Packet::decode(datagram)?;
        if packet.header.is_unsecured() {
            return self.receive_unsecured(now, peer, &packet);
        }
        let id = packet.header.session_id;
        let r = *self
            .by_local_id
            .get(&id)
            .ok_or(SessionError::UnknownSession(id))?;
        let Some(Slot::Secure {
            peer: stored_peer,
            session,
            ..
        }) = self.slots.get_mut(&r)
        else {
            return Err(SessionError::UnknownSession(id));
        };
        let received = session.receive(now, &packet)?;
        // The peer may move (new UDP port, re-connected link): answer where it last spoke
        // from, but only once the packet is authentic.
        if stored_peer != peer {
            debug!(session = %session.name(), from = ?peer, "peer address changed");
            *stored_peer = peer.clone();
        }
        debug!(
            session = %session.name(),
            counter = packet.header.message_counter,
            duplicate = received.duplicate,
            header = ?received.message.payload_header,
            "secure message received"
        );
        Ok(Incoming {
            session: r,
            message: received.message,
            duplicate: received.duplicate,
        })
    }

    // ---- commands ----

    /// Encodes (and, for secure sessions, encrypts) the next message of `session` into `out`.
    ///
    /// # Errors
    /// [`SessionError::StaleHandle`], and those of [`SecureSession::encode_next`]. When a
    /// secure session's counter is exhausted by this message the session is ended (CloseSession
    /// goes out with the reserved last counter on the next [`reap`](Self::reap)).
    pub fn encode(
        &mut self,
        now: Instant,
        session: SessionRef,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Outgoing<A>, SessionError> {
        self.encode_inner(now, session, payload_header, payload, out, false)
    }

    /// [`encode`](Self::encode) that also works on a closed session not yet finished: for the
    /// acknowledgements the exchange layer flushes before CloseSession.
    pub(crate) fn encode_while_closing(
        &mut self,
        now: Instant,
        session: SessionRef,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Outgoing<A>, SessionError> {
        self.encode_inner(now, session, payload_header, payload, out, true)
    }

    fn encode_inner(
        &mut self,
        now: Instant,
        session: SessionRef,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
        closing: bool,
    ) -> Result<Outgoing<A>, SessionError> {
        match self.slots.get_mut(&session) {
            None => Err(SessionError::StaleHandle),
            Some(Slot::Unsecured { peer, session }) => {
                let counter = self.unencrypted_counter.next_wrapping();
                let header = session.header(counter);
                out.reserve(header.encoded_len() + payload_header.encoded_len() + payload.len());
                header.encode(out);
                payload_header.encode(out);
                out.extend_from_slice(payload);
                session.notify_activity(now, false);
                Ok(Outgoing {
                    dest: peer.clone(),
                    counter,
                })
            }
            Some(Slot::Secure {
                peer,
                session,
                close_reason,
                ..
            }) => {
                let counter = if closing {
                    session.encode_next_while_closing(now, payload_header, payload, out)?
                } else {
                    session.encode_next(now, payload_header, payload, out)?
                };
                if session.counters_remaining() <= 1 {
                    debug!(session = %session.name(), "message counter exhausted: closing");
                    *close_reason = CloseReason::CounterExhausted;
                    session.end(true, false);
                }
                Ok(Outgoing {
                    dest: peer.clone(),
                    counter,
                })
            }
        }
    }

    /// Removes a closed secure session after encoding its CloseSession (if it should send one)
    /// on exchange `exchange_id` into `out`. Returns the destination when something was
    /// encoded. Keys are zeroized as the session drops.
    pub fn finish_close(
        &mut self,
        now: Instant,
        session: SessionRef,
        exchange_id: u16,
        out: &mut Vec<u8>,
    ) -> Option<A> {
        let Some(Slot::Secure {
            peer,
            session: s,
            close_reason,
            ..
        }) = self.slots.get_mut(&session)
        else {
            return None;
        };
        if s.lifecycle() != Lifecycle::Closed {
            return None;
        }
        let dest = if s.send_close_message_when_closing() {
            match s.encode_close_session(now, exchange_id, out) {
                Ok(_) => Some(peer.clone()),
                Err(e) => {
                    debug!(session = %s.name(), error = %e, "CloseSession not sent");
                    None
                }
            }
        } else {
            None
        };
        let reason = *close_reason;
        self.remove(session, reason);
        dest
    }

    /// Marks the session closed by the peer (it sent CloseSession): no CloseSession is sent back.
    pub fn peer_closed(&mut self, session: SessionRef) {
        if let Some(Slot::Secure {
            session: s,
            close_reason,
            ..
        }) = self.slots.get_mut(&session)
        {
            *close_reason = CloseReason::PeerClosed;
            s.destroy(false, false);
        }
    }

    /// Drops every session with `peer` (its BLE link went away), without CloseSession.
    pub fn link_closed(&mut self, peer: &A) {
        let gone: Vec<_> = self
            .slots
            .iter()
            .filter(|(_, s)| match s {
                Slot::Unsecured { peer: p, .. } | Slot::Secure { peer: p, .. } => p == peer,
            })
            .map(|(r, _)| *r)
            .collect();
        for r in gone {
            self.remove(r, CloseReason::LinkClosed);
        }
    }

    /// Removes an unsecured session (its PASE/CASE attempt ended).
    pub fn remove_unsecured(&mut self, session: SessionRef) {
        if matches!(self.slots.get(&session), Some(Slot::Unsecured { .. })) {
            self.remove(session, CloseReason::Local);
        }
    }

    /// Secure sessions whose lifecycle reached [`Lifecycle::Closed`], for the exchange layer
    /// to finish with [`finish_close`](Self::finish_close); also collects session events.
    pub fn reap(&mut self) -> Vec<SessionRef> {
        let mut closed = Vec::new();
        for (r, slot) in &mut self.slots {
            if let Slot::Secure { session, .. } = slot {
                while let Some(event) = session.poll_event() {
                    self.events
                        .push_back(SessionManagerEvent::Session { session: *r, event });
                }
                if session.lifecycle() == Lifecycle::Closed {
                    closed.push(*r);
                }
            }
        }
        closed
    }

    /// Secure sessions waiting for their exchanges to finish before closing.
    pub fn closing_after_exchange(&self) -> impl Iterator<Item = SessionRef> + '_ {
        self.slots.iter().filter_map(|(r, s)| match s {
            Slot::Secure { session, .. } if session.closing_after_exchange_finished() => Some(*r),
            _ => None,
        })
    }

    // ---- outputs and getters ----

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionManagerEvent> {
        self.events.pop_front()
    }

    /// A session by reference.
    pub fn get(&self, session: SessionRef) -> Option<SessionView<'_, A, C>> {
        self.slots.get(&session).map(|s| match s {
            Slot::Unsecured { peer, session } => SessionView::Unsecured(session, peer),
            Slot::Secure { peer, session, .. } => SessionView::Secure(&**session, peer),
        })
    }

    /// The session as the common [`Session`] trait.
    pub fn session(&self, session: SessionRef) -> Option<&dyn Session> {
        self.slots.get(&session).map(Slot::as_session)
    }

    /// A secure session by reference.
    pub fn secure(&self, session: SessionRef) -> Option<&SecureSession<C>> {
        match self.slots.get(&session) {
            Some(Slot::Secure { session, .. }) => Some(&**session),
            _ => None,
        }
    }

    /// A secure session by reference, mutably (to close it, manage subscriptions, set the
    /// fabric). Call [`reap`](Self::reap) (the exchange manager does) after closing.
    pub fn secure_mut(&mut self, session: SessionRef) -> Option<&mut SecureSession<C>> {
        match self.slots.get_mut(&session) {
            Some(Slot::Secure { session, .. }) => Some(&mut **session),
            _ => None,
        }
    }

    /// An unsecured session by reference, mutably (PASE records the peer's parameters).
    pub fn unsecured_mut(&mut self, session: SessionRef) -> Option<&mut UnsecuredSession> {
        match self.slots.get_mut(&session) {
            Some(Slot::Unsecured { session, .. }) => Some(session),
            _ => None,
        }
    }

    /// The secure session with local id `id`.
    pub fn find_by_local_id(&self, id: u16) -> Option<SessionRef> {
        self.by_local_id.get(&id).copied()
    }

    /// The peer address of a session.
    pub fn peer(&self, session: SessionRef) -> Option<&A> {
        self.slots.get(&session).map(|s| match s {
            Slot::Unsecured { peer, .. } | Slot::Secure { peer, .. } => peer,
        })
    }

    /// Number of secure sessions.
    pub fn secure_count(&self) -> usize {
        self.by_local_id.len()
    }

    /// Number of sessions of both kinds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    // ---- private ----

    fn receive_unsecured(
        &mut self,
        now: Instant,
        peer: &A,
        packet: &Packet<'_>,
    ) -> Result<Incoming, SessionError> {
        let h = &packet.header;
        // Matter 1.3 §4.13.2.1 and the CHIP SDK: a source node id means the peer initiated and
        // we respond; a destination node id means we initiated. Both or neither: drop.
        let (node_id, role) = match (h.source_node_id, h.destination) {
            (Some(src), Destination::None) => (src, UnsecuredRole::Responder),
            (None, Destination::Node(dst)) => (dst, UnsecuredRole::Initiator),
            _ => return Err(SessionError::BadUnsecuredAddressing),
        };
        let message = Message::decode_plain(packet)?;
        let key = (peer.clone(), node_id, role);
        let r = match self.unsecured_index.get(&key) {
            Some(r) => *r,
            None if role == UnsecuredRole::Responder => {
                self.insert_unsecured(now, peer.clone(), node_id, role)
            }
            // A reply to an initiator session we do not have.
            None => return Err(SessionError::BadUnsecuredAddressing),
        };
        let Some(Slot::Unsecured { session, .. }) = self.slots.get_mut(&r) else {
            return Err(SessionError::StaleHandle);
        };
        let verdict = session.receive_counter(now, h.message_counter);
        debug!(
            session = %session.name(),
            counter = h.message_counter,
            ?verdict,
            header = ?message.payload_header,
            "unsecured message received"
        );
        Ok(Incoming {
            session: r,
            message,
            duplicate: verdict == CounterVerdict::Duplicate,
        })
    }

    fn insert_unsecured(
        &mut self,
        now: Instant,
        peer: A,
        node_id: u64,
        role: UnsecuredRole,
    ) -> SessionRef {
        let unsecured = self.slots.len().saturating_sub(self.by_local_id.len());
        if unsecured >= self.config.max_unsecured_sessions.max(1) {
            // Evict the least recently active unsecured session: a stalled PASE attempt must
            // not lock out the next commissioner.
            if let Some(old) = self
                .slots
                .iter()
                .filter(|(_, s)| matches!(s, Slot::Unsecured { .. }))
                .min_by_key(|(_, s)| s.as_session().last_activity())
                .map(|(r, _)| *r)
            {
                self.remove(old, CloseReason::Evicted);
            }
        }
        let mrp_enabled = !peer.is_reliable_transport();
        let r = self.new_ref();
        self.unsecured_index
            .insert((peer.clone(), node_id, role), r);
        self.slots.insert(
            r,
            Slot::Unsecured {
                peer,
                session: UnsecuredSession::new(now, node_id, role, mrp_enabled),
            },
        );
        r
    }

    fn evict_one_secure(&mut self) -> Result<(), SessionError> {
        let victim = self
            .slots
            .iter()
            .filter_map(|(r, s)| match s {
                Slot::Secure {
                    session,
                    commissioning: false,
                    ..
                } => Some((session.last_activity(), *r)),
                _ => None,
            })
            .min()
            .map(|(_, r)| r)
            .ok_or(SessionError::TableFull)?;
        debug!(session = ?victim, "evicting least recently active session");
        self.remove(victim, CloseReason::Evicted);
        Ok(())
    }

    fn remove(&mut self, r: SessionRef, reason: CloseReason) {
        let Some(slot) = self.slots.remove(&r) else {
            return;
        };
        let local_session_id = match slot {
            Slot::Unsecured { peer, session } => {
                self.unsecured_index
                    .remove(&(peer, session.ephemeral_node_id(), session.role()));
                0
            }
            Slot::Secure { mut session, .. } => {
                // Discards remaining subscriptions (with their event) if the session was not
                // closed through end/destroy, e.g. when evicted.
                session.destroy(false, false);
                while let Some(event) = session.poll_event() {
                    self.events
                        .push_back(SessionManagerEvent::Session { session: r, event });
                }
                self.by_local_id.remove(&session.id());
                debug!(session = %session.name(), ?reason, "secure session removed");
                session.id()
            }
        };
        self.events.push_back(SessionManagerEvent::Closed {
            session: r,
            local_session_id,
            reason,
        });
    }

    fn new_ref(&mut self) -> SessionRef {
        let r = SessionRef(self.next_ref);
        self.next_ref += 1;
        r
    }
}
