//! `SecureSession<C>`: one PASE or CASE session, modelled on matter.js `SecureSession`.
//!
//! It owns the two directional AES-128-CCM keys and the attestation challenge (derived with
//! HKDF-SHA256 from the shared secret, Matter 1.3 §4.13.2.6 / §4.14.2.6), the outgoing message
//! counter, the receive window, activity timestamps, subscriptions and the close lifecycle. It
//! does no IO: the session manager feeds it packets and drains its events.

use std::collections::VecDeque;

use tracing::debug;
use zeroize::Zeroizing;

use super::counter::{CounterVerdict, MessageCounter, ReceptionState};
use super::keys::{self, CcmKey, SessionKeys, KEY_LEN, MAX_CCM_INPUT, MIC_LEN};
use super::params::{MrpParameters, SessionParameters};
use super::{Activity, Session, SessionError};
use crate::message::{Message, Packet, PacketHeader, PayloadHeader, SessionType};
use crate::rng::Rng;
use crate::time::Instant;

/// The unspecified node id (0): PASE sessions have no operational node ids.
pub const UNSPECIFIED_NODE_ID: u64 = 0;

/// A fabric index (Matter 1.3 §7.5.2), 1..=254 on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FabricIndex(pub u8);

/// The fabric a session belongs to, as far as the session needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fabric {
    /// Index in the device's fabric table.
    pub index: FabricIndex,
    /// Our operational node id on that fabric (the CASE nonce's source node id).
    pub node_id: u64,
}

/// An Interaction Model subscription id held by a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub u32);

/// Everything [`SecureSession::create`] needs (matter.js `SecureSession.create` arguments).
#[derive(Debug)]
pub struct SecureSessionParams<'a, C> {
    /// Our session id (the id peers put in their message headers). Non-zero.
    pub local_session_id: u16,
    /// The peer's session id (the id we put in our message headers).
    pub peer_session_id: u16,
    /// The peer's operational node id; [`UNSPECIFIED_NODE_ID`] for PASE.
    pub peer_node_id: u64,
    /// The shared secret: Ke for PASE, the ECDH secret for CASE.
    pub shared_secret: &'a [u8],
    /// HKDF salt: empty for PASE.
    pub salt: &'a [u8],
    /// Whether we initiated the session establishment (we encrypt with I2R).
    pub is_initiator: bool,
    /// Whether this is a resumed CASE session ("SessionResumptionKeys").
    pub is_resumption: bool,
    /// The fabric, if known at creation (CASE); PASE sessions get one later, if at all.
    pub fabric: Option<Fabric>,
    /// Application context carried by the session.
    pub context: C,
    /// What the peer said about itself; absent fields take the spec defaults.
    pub peer_parameters: SessionParameters,
    /// Whether MRP runs on this session (false over BTP, which is reliable).
    pub mrp_enabled: bool,
}

/// Something the session reports to its owner (the callbacks of matter.js, as events).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The subscription set changed (matter.js `subscriptionChangedCallback`).
    SubscriptionsChanged {
        /// Number of subscriptions now.
        count: usize,
    },
    /// These subscriptions were cancelled; with `flush`, their outstanding reports should be
    /// sent first (session `end`), without it they are discarded (session `destroy`).
    SubscriptionsCleared {
        /// The cancelled subscriptions.
        ids: Vec<SubscriptionId>,
        /// Flush outstanding data before cancelling.
        flush: bool,
    },
}

/// Where the session is in its close lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// In use.
    Active,
    /// Close once the exchanges on it have finished (`closing_after_exchange_finished`).
    ClosingAfterExchange,
    /// Closed: the owner sends CloseSession if [`SecureSession::send_close_message_when_closing`]
    /// and then drops the session (the close callback of matter.js).
    Closed,
}

/// A PASE or CASE session. `C` is an application context stored with it.
///
/// Driving: [`receive`](Self::receive) authenticated packets in, [`encode`](Self::encode)
/// messages out, drain [`poll_event`](Self::poll_event); the session manager does all three.
pub struct SecureSession<C> {
    local_session_id: u16,
    peer_session_id: u16,
    peer_node_id: u64,
    fabric: Option<Fabric>,
    context: C,
    encrypt_key: CcmKey,
    decrypt_key: CcmKey,
    attestation_challenge: Zeroizing<[u8; KEY_LEN]>,
    peer_parameters: SessionParameters,
    mrp: MrpParameters,
    mrp_enabled: bool,
    is_initiator: bool,
    tx_counter: MessageCounter,
    rx_state: ReceptionState,
    created: Instant,
    activity: Activity,
    subscriptions: Vec<SubscriptionId>,
    lifecycle: Lifecycle,
    send_close_message_when_closing: bool,
    events: VecDeque<SessionEvent>,
}

/// A packet the session authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The decrypted message.
    pub message: Message,
    /// Whether its counter was seen before (acknowledge if asked; never deliver).
    pub duplicate: bool,
}

impl<C> SecureSession<C> {
    /// Derives the keys and creates the session. The initial outgoing counter is random
    /// (Matter 1.3 §4.6.1.1).
    ///
    /// # Errors
    /// [`SessionError::InvalidSessionId`] for a local session id of 0.
    pub fn create(
        now: Instant,
        params: SecureSessionParams<'_, C>,
        rng: &mut dyn Rng,
    ) -> Result<Self, SessionError> {
        if params.local_session_id == 0 {
            return Err(SessionError::InvalidSessionId);
        }
        let keys = SessionKeys::derive(params.shared_secret, params.salt, params.is_resumption);
        Ok(Self::from_keys(now, params, &keys, rng))
    }

    /// Creates the session from already derived keys (the shared secret in `params` is
    /// ignored). Used by [`create`](Self::create) and by tests with published keys.
    pub(crate) fn from_keys(
        now: Instant,
        params: SecureSessionParams<'_, C>,
        keys: &SessionKeys,
        rng: &mut dyn Rng,
    ) -> Self {
        // The initiator encrypts with I2R and decrypts with R2I; the responder the reverse.
        let (enc, dec) = if params.is_initiator {
            (&keys.i2r, &keys.r2i)
        } else {
            (&keys.r2i, &keys.i2r)
        };
        let s = Self {
            local_session_id: params.local_session_id,
            peer_session_id: params.peer_session_id,
            peer_node_id: params.peer_node_id,
            fabric: params.fabric,
            context: params.context,
            encrypt_key: CcmKey::new(enc),
            decrypt_key: CcmKey::new(dec),
            attestation_challenge: keys.attestation_challenge.clone(),
            peer_parameters: params.peer_parameters,
            mrp: MrpParameters::from(&params.peer_parameters),
            mrp_enabled: params.mrp_enabled,
            is_initiator: params.is_initiator,
            tx_counter: MessageCounter::random(rng),
            rx_state: ReceptionState::encrypted_unicast(),
            created: now,
            activity: Activity::new(now),
            subscriptions: Vec::new(),
            lifecycle: Lifecycle::Active,
            send_close_message_when_closing: true,
            events: VecDeque::new(),
        };
        debug!(
            session = %s.name(),
            peer_session_id = s.peer_session_id,
            pase = s.is_pase(),
            initiator = s.is_initiator,
            mrp = ?s.mrp,
            "secure session created"
        );
        s
    }

    // ---- messages ----

    /// Encrypts `message` as is (its header's counter and session id are used unchanged) and
    /// appends the datagram to `out`: header, ciphertext, MIC. The nonce's node id is our
    /// fabric node id for CASE and 0 for PASE.
    ///
    /// # Errors
    /// [`SessionError::MessageTooLong`] for payloads CCM cannot take.
    pub fn encode(&self, message: &Message, out: &mut Vec<u8>) -> Result<(), SessionError> {
        self.seal(
            &message.packet_header,
            &message.payload_header,
            &message.payload,
            out,
        )
    }

    /// Builds and encrypts the next message of this session: takes a counter, addresses it to
    /// the peer's session id, appends the datagram to `out`, and returns the counter used.
    ///
    /// # Errors
    /// [`SessionError::CounterExhausted`] when only the counter reserved for CloseSession is
    /// left, [`SessionError::Closed`] after close, and those of [`encode`](Self::encode).
    pub fn encode_next(
        &mut self,
        now: Instant,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u32, SessionError> {
        if self.lifecycle == Lifecycle::Closed {
            return Err(SessionError::Closed);
        }
        // The last counter value is kept for CloseSession (Matter 1.3 §4.6.3: the session is
        // closed before its counter would roll over).
        if self.tx_counter.remaining() <= 1 {
            return Err(SessionError::CounterExhausted);
        }
        self.encode_with_counter(now, payload_header, payload, out)
    }

    /// As [`encode_next`](Self::encode_next) but also on a closed session that has not been
    /// dropped yet: acknowledgements owed on it go out before CloseSession.
    pub(crate) fn encode_next_while_closing(
        &mut self,
        now: Instant,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u32, SessionError> {
        if self.tx_counter.remaining() <= 1 {
            return Err(SessionError::CounterExhausted);
        }
        self.encode_with_counter(now, payload_header, payload, out)
    }

    /// Decrypts and authenticates `packet` without touching any state.
    ///
    /// # Errors
    /// [`SessionError::Mic`] for a failed MIC (also for packets shorter than a MIC),
    /// [`SessionError::Message`] for a bad protocol header inside,
    /// [`SessionError::Unsupported`] for group or privacy-obfuscated packets.
    pub fn decode(&self, packet: &Packet<'_>) -> Result<Message, SessionError> {
        let header = &packet.header;
        if header.session_type() != SessionType::Unicast || header.privacy {
            // Privacy obfuscation is only defined for group sessions (Matter 1.3 §4.9); the CHIP
            // SDK drops unicast packets with the P flag too.
            return Err(SessionError::Unsupported);
        }
        let split = packet
            .payload
            .len()
            .checked_sub(MIC_LEN)
            .ok_or(SessionError::Mic)?;
        let (ct, mic) = packet.payload.split_at(split);
        let mic: &[u8; MIC_LEN] = mic.try_into().map_err(|_| SessionError::Mic)?;
        // Nonce from the security flags byte as received (the raw header keeps reserved bits).
        let flags = packet.raw_header.get(3).copied().unwrap_or_default();
        let nonce = keys::nonce(flags, header.message_counter, self.nonce_node_id_in());
        let mut plain = ct.to_vec();
        self.decrypt_key
            .decrypt(&nonce, packet.raw_header, &mut plain, mic)
            .map_err(|_| SessionError::Mic)?;
        let (payload_header, rest) = PayloadHeader::decode(&plain)?;
        // Reuse the buffer for the application payload instead of copying it again.
        let header_len = plain.len() - rest.len();
        plain.drain(..header_len);
        Ok(Message {
            packet_header: *header,
            payload_header,
            payload: plain,
        })
    }

    /// Authenticates `packet`, then applies the counter rules and notes the activity. A packet
    /// that fails to authenticate leaves the session exactly as it was.
    ///
    /// # Errors
    /// Those of [`decode`](Self::decode), and [`SessionError::Closed`] after close.
    pub fn receive(&mut self, now: Instant, packet: &Packet<'_>) -> Result<Received, SessionError> {
        if self.lifecycle == Lifecycle::Closed {
            return Err(SessionError::Closed);
        }
        let message = self.decode(packet)?;
        let verdict = self.rx_state.receive(packet.header.message_counter);
        self.notify_activity(now, true);
        Ok(Received {
            message,
            duplicate: verdict == CounterVerdict::Duplicate,
        })
    }

    // ---- fabric, subscriptions ----

    /// Associates a fabric with a session that had none (PASE, after AddNOC).
    ///
    /// # Errors
    /// [`SessionError::FabricAlreadySet`] if the session already has one.
    pub fn add_associated_fabric(&mut self, fabric: Fabric) -> Result<(), SessionError> {
        if self.fabric.is_some() {
            return Err(SessionError::FabricAlreadySet);
        }
        self.fabric = Some(fabric);
        Ok(())
    }

    /// Registers a subscription.
    pub fn add_subscription(&mut self, id: SubscriptionId) {
        self.subscriptions.push(id);
        debug!(session = %self.name(), subscription = id.0, "subscription added");
        self.subscriptions_changed();
    }

    /// Removes a subscription by id; does nothing for unknown ids.
    pub fn remove_subscription(&mut self, id: SubscriptionId) {
        if let Some(i) = self.subscriptions.iter().position(|s| *s == id) {
            self.subscriptions.remove(i);
            debug!(session = %self.name(), subscription = id.0, "subscription removed");
            self.subscriptions_changed();
        }
    }

    /// Cancels all subscriptions; `flush` asks their owner to send outstanding data first.
    pub fn clear_subscriptions(&mut self, flush: bool) {
        if self.subscriptions.is_empty() {
            return;
        }
        let ids = core::mem::take(&mut self.subscriptions);
        self.events
            .push_back(SessionEvent::SubscriptionsCleared { ids, flush });
        self.subscriptions_changed();
    }

    // ---- lifecycle ----

    /// Closes the session, sending CloseSession. With `None`, the close waits for running
    /// exchanges when the peer is active (matter.js behaviour).
    pub fn close(&mut self, now: Instant, close_after_exchange_finished: Option<bool>) {
        let after = close_after_exchange_finished.unwrap_or_else(|| self.is_peer_active(now));
        self.end(true, after);
    }

    /// Ends the session: flushes outstanding subscription data, then destroys it.
    pub fn end(&mut self, send_close: bool, close_after_exchange_finished: bool) {
        self.clear_subscriptions(true);
        self.destroy(send_close, close_after_exchange_finished);
    }

    /// Destroys the session, discarding outstanding subscription data. With
    /// `close_after_exchange_finished` it stays usable until its exchanges finish.
    pub fn destroy(&mut self, send_close: bool, close_after_exchange_finished: bool) {
        self.clear_subscriptions(false);
        if !send_close {
            self.send_close_message_when_closing = false;
        }
        if self.lifecycle == Lifecycle::Closed {
            return;
        }
        self.lifecycle = if close_after_exchange_finished {
            Lifecycle::ClosingAfterExchange
        } else {
            Lifecycle::Closed
        };
        debug!(session = %self.name(), lifecycle = ?self.lifecycle, send_close, "session closing");
    }

    /// Marks a session that was closing after its exchanges as closed (the exchange manager
    /// calls this when the last exchange finished).
    pub fn exchanges_finished(&mut self) {
        if self.lifecycle == Lifecycle::ClosingAfterExchange {
            self.lifecycle = Lifecycle::Closed;
        }
    }

    /// Encodes CloseSession (a StatusReport on the secure channel, Matter 1.3 §4.11.1.4) on a
    /// new exchange `exchange_id`, with the reserved last counter if need be. Sent without the
    /// R flag, as the CHIP SDK does.
    ///
    /// # Errors
    /// [`SessionError::CounterExhausted`] if even the reserved counter is used up.
    pub fn encode_close_session(
        &mut self,
        now: Instant,
        exchange_id: u16,
        out: &mut Vec<u8>,
    ) -> Result<u32, SessionError> {
        use crate::message::{ProtocolId, SecureChannelOpcode, StatusReport};
        let header = PayloadHeader {
            initiator: true,
            ..PayloadHeader::new(
                exchange_id,
                ProtocolId::SECURE_CHANNEL,
                SecureChannelOpcode::STATUS_REPORT.value(),
            )
        };
        let mut payload = Vec::with_capacity(8);
        StatusReport::close_session().encode(&mut payload);
        self.encode_with_counter(now, &header, &payload, out)
    }

    /// Drains the next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    // ---- accessors ----

    /// Our session id.
    pub const fn id(&self) -> u16 {
        self.local_session_id
    }

    /// The peer's session id.
    pub const fn peer_session_id(&self) -> u16 {
        self.peer_session_id
    }

    /// Our node id: the fabric's, or 0 without one.
    pub fn node_id(&self) -> u64 {
        self.fabric.map_or(UNSPECIFIED_NODE_ID, |f| f.node_id)
    }

    /// The associated fabric, if any.
    pub const fn fabric(&self) -> Option<Fabric> {
        self.fabric
    }

    /// The associated fabric, for fabric-scoped operations.
    ///
    /// # Errors
    /// [`SessionError::NoAssociatedFabric`] without one.
    pub fn associated_fabric(&self) -> Result<Fabric, SessionError> {
        self.fabric.ok_or(SessionError::NoAssociatedFabric)
    }

    /// The attestation challenge derived with the session keys.
    pub fn attestation_challenge_key(&self) -> &[u8; KEY_LEN] {
        &self.attestation_challenge
    }

    /// The application context.
    pub const fn context(&self) -> &C {
        &self.context
    }

    /// The application context, mutably.
    pub fn context_mut(&mut self) -> &mut C {
        &mut self.context
    }

    /// The session parameters the peer sent.
    pub const fn peer_parameters(&self) -> &SessionParameters {
        &self.peer_parameters
    }

    /// Whether we initiated the session establishment.
    pub const fn is_initiator(&self) -> bool {
        self.is_initiator
    }

    /// Number of subscriptions.
    pub fn number_of_active_subscriptions(&self) -> usize {
        self.subscriptions.len()
    }

    /// The subscriptions.
    pub fn subscriptions(&self) -> &[SubscriptionId] {
        &self.subscriptions
    }

    /// Where the session is in its lifecycle.
    pub const fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Whether the session waits for its exchanges to finish before closing.
    pub fn closing_after_exchange_finished(&self) -> bool {
        self.lifecycle == Lifecycle::ClosingAfterExchange
    }

    /// Whether closing sends CloseSession to the peer.
    pub const fn send_close_message_when_closing(&self) -> bool {
        self.send_close_message_when_closing
    }

    /// When the session was created.
    pub const fn created(&self) -> Instant {
        self.created
    }

    /// Outgoing counter values left (the last one is reserved for CloseSession).
    pub const fn counters_remaining(&self) -> u64 {
        self.tx_counter.remaining()
    }

    /// Sets the next outgoing counter: for tests of counter exhaustion only.
    #[doc(hidden)]
    pub fn set_next_counter_for_test(&mut self, value: u32) {
        self.tx_counter = MessageCounter::starting_at(value);
    }

    // ---- private ----

    fn encode_with_counter(
        &mut self,
        now: Instant,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u32, SessionError> {
        let counter = self
            .tx_counter
            .take()
            .ok_or(SessionError::CounterExhausted)?;
        let header = PacketHeader {
            session_id: self.peer_session_id,
            ..PacketHeader::unsecured(counter)
        };
        self.seal(&header, payload_header, payload, out)?;
        self.notify_activity(now, false);
        Ok(counter)
    }

    /// Appends header, ciphertext and MIC. The AAD is the header exactly as encoded.
    fn seal(
        &self,
        header: &PacketHeader,
        payload_header: &PayloadHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        let plain_len = payload_header.encoded_len() + payload.len();
        if plain_len > MAX_CCM_INPUT {
            return Err(SessionError::MessageTooLong(plain_len));
        }
        let start = out.len();
        out.reserve(header.encoded_len() + plain_len + MIC_LEN);
        header.encode(out);
        let header_end = out.len();
        payload_header.encode(out);
        out.extend_from_slice(payload);
        let nonce = keys::nonce(
            header.security_flags(),
            header.message_counter,
            self.nonce_node_id_out(),
        );
        let (head, body) = out.split_at_mut(header_end);
        let aad = head.get(start..).unwrap_or_default();
        let mic = self.encrypt_key.encrypt(&nonce, aad, body);
        out.extend_from_slice(&mic);
        Ok(())
    }

    fn subscriptions_changed(&mut self) {
        self.events.push_back(SessionEvent::SubscriptionsChanged {
            count: self.subscriptions.len(),
        });
    }

    /// Node id in the nonce of messages we send: ours for CASE, 0 for PASE.
    fn nonce_node_id_out(&self) -> u64 {
        if self.is_pase() {
            UNSPECIFIED_NODE_ID
        } else {
            self.node_id()
        }
    }

    /// Node id in the nonce of messages we receive: the peer's for CASE, 0 for PASE.
    fn nonce_node_id_in(&self) -> u64 {
        self.peer_node_id
    }
}

impl<C> Session for SecureSession<C> {
    fn name(&self) -> String {
        format!("secure/{}", self.local_session_id)
    }

    fn is_secure(&self) -> bool {
        true
    }

    fn is_pase(&self) -> bool {
        self.peer_node_id == UNSPECIFIED_NODE_ID
    }

    fn peer_node_id(&self) -> u64 {
        self.peer_node_id
    }

    fn mrp_parameters(&self) -> MrpParameters {
        self.mrp
    }

    fn mrp_enabled(&self) -> bool {
        self.mrp_enabled
    }

    fn last_activity(&self) -> Instant {
        self.activity.last_activity()
    }

    fn last_received(&self) -> Option<Instant> {
        self.activity.last_received()
    }

    fn notify_activity(&mut self, now: Instant, received: bool) {
        self.activity.notify(now, received);
    }
}

impl<C> core::fmt::Debug for SecureSession<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keys are deliberately left out.
        f.debug_struct("SecureSession")
            .field("local_session_id", &self.local_session_id)
            .field("peer_session_id", &self.peer_session_id)
            .field("peer_node_id", &self.peer_node_id)
            .field("fabric", &self.fabric)
            .field("lifecycle", &self.lifecycle)
            .field("mrp_enabled", &self.mrp_enabled)
            .finish_non_exhaustive()
    }
}
