//! The Matter node: the transport-independent composition of the sans-IO engines.
//!
//! ```text
//!  datagram (UDP) / SDU (BTP)
//!    -> exchange::ExchangeManager (sessions, counters, MRP acks and retransmissions)
//!       -> secure channel on an unsecured session  -> pase::PaseResponder (PBKDF, Pake1/3)
//!                                                    case::CaseResponder (Sigma1/3)
//!       -> Interaction Model on a secure session    -> im::ImExchange over im::DataModel
//! ```
//! [`Node`] owns the routing between them, the node's durable state ([`NodeState`]: fabrics,
//! ACL, fail-safe) and nothing else: which engine gets a message, who the sender is (the
//! [`Subject`] the Interaction Model checks access with, derived from the session), what happens
//! to a PASE outcome (it becomes a secure session), what the clusters' [`Effect`]s mean for the
//! engines (a commissioning window opens or closes, sessions of a removed fabric close, the
//! fail-safe's rollback ends the PASE session), and the events the shell needs (advertising,
//! records to persist). Driven like every engine here: `handle_*` inputs and commands, then
//! drain `poll_transmit`, `poll_timeout`, `poll_event`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;

use tracing::{debug, info_span, warn};

use zeroize::Zeroizing;

use crate::case::{self, CaseEvent, CaseResponder};
use crate::exchange::{ExchangeConfig, ExchangeEvent, ExchangeManager, ExchangeRef};
use crate::fabric::{
    cluster_id, Effect, FabricIndex, FailSafeEnd, NodeState, Record, Subject, WindowRequest,
    WindowStatus,
};
use crate::im::{
    self, clusters::DeviceInfo, subscription::SubscriptionConfig, DataModel, ImExchange,
    SessionContext, StatusResponse, Subscriber, SubscriptionEvent, SubscriptionManager,
};
use crate::message::{ProtocolId, SecureChannelOpcode};
use crate::pase::{
    PaseError, PaseEvent, PaseResponder, PaseVerifier, ResponderConfig, WindowCloseReason,
};
use crate::rng::Rng;
use crate::session::{
    CloseReason, Fabric as SessionFabric, PeerAddress, SecureSessionParams, Session,
    SessionManagerEvent, SessionRef, SubscriptionId,
};
use crate::time::{Duration, Instant};

/// A BLE link as the core knows it: a number the shell assigns to each connected central.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BleLinkId(pub u64);

/// Where a peer is: a UDP address, or a BTP link (one per BLE central).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// A UDP peer (MRP runs on its sessions).
    Udp(SocketAddr),
    /// A BLE central, over BTP (reliable: MRP is off, Matter 1.3 §4.12.1).
    Ble(BleLinkId),
}

impl PeerAddress for PeerAddr {
    fn is_reliable_transport(&self) -> bool {
        matches!(self, Self::Ble(_))
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Udp(a) => write!(f, "udp:{a}"),
            Self::Ble(l) => write!(f, "ble:{}", l.0),
        }
    }
}

/// The node's settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Basic Information values.
    pub device_info: DeviceInfo,
    /// Session and exchange table sizes, protocols accepted unsolicited.
    pub exchanges: ExchangeConfig,
    /// PASE responder settings (handshake timeout, failure limit, our session parameters).
    pub pase: ResponderConfig,
    /// CASE responder settings (handshakes at once, timeout, our session parameters).
    pub case: case::ResponderConfig,
    /// Largest IM payload in one message; larger reports are chunked. 1024 bytes keeps a
    /// message with its headers and MIC inside the 1280-byte IPv6 minimum MTU (Matter 1.3
    /// §4.4.4) and is what the CHIP SDK's BTP default SDU size takes too.
    pub im_max_payload: usize,
    /// Device attestation credentials (DAC, PAI, CD, DAC key) for Operational Credentials;
    /// `None` leaves that cluster out (the node cannot be commissioned then).
    pub attestation: Option<crate::attestation::DeviceCredentials>,
    /// The host interface Network Commissioning reports.
    pub network_interface: String,
    /// Network Commissioning's feature on that interface: Ethernet (nothing to configure) or
    /// Wi-Fi with its backend (what BLE commissioners need).
    pub network_feature: im::clusters::NetworkFeature,
    /// Interaction Model requests served at once (reads, writes, invokes, timed interactions in
    /// progress); a request beyond this is answered StatusResponse BUSY (Matter 1.3 §8.10.1).
    pub max_im_exchanges: usize,
    /// Subscription limits and timers (its `max_payload` is replaced by `im_max_payload`).
    pub subscriptions: SubscriptionConfig,
    /// Whether the node has its application endpoint, endpoint 1 as an On/Off Light
    /// ([`im::clusters::add_light_endpoint`]); false leaves the root node alone.
    pub light: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            device_info: DeviceInfo::default(),
            exchanges: ExchangeConfig::default(),
            pase: ResponderConfig::default(),
            case: case::ResponderConfig::default(),
            im_max_payload: ImExchange::DEFAULT_MAX_PAYLOAD,
            attestation: None,
            network_interface: im::clusters::network_commissioning::DEFAULT_INTERFACE.into(),
            network_feature: im::clusters::NetworkFeature::Ethernet,
            max_im_exchanges: 16,
            subscriptions: SubscriptionConfig::default(),
            light: true,
        }
    }
}

/// A datagram (UDP) or SDU (BTP) to send, from [`Node::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Where to.
    pub dest: PeerAddr,
    /// How many bytes were appended to the caller's buffer.
    pub len: usize,
}

/// What the shell (and the user) must know about.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeEvent {
    /// A commissioner's PBKDFParamRequest was accepted.
    PaseStarted {
        /// The commissioner.
        peer: PeerAddr,
    },
    /// PASE succeeded: a secure session to the commissioner exists.
    PaseEstablished {
        /// The new session.
        session: SessionRef,
        /// The commissioner.
        peer: PeerAddr,
    },
    /// A PASE attempt failed (wrong passcode, bad message, timeout, link lost).
    PaseFailed {
        /// The commissioner, when known.
        peer: Option<PeerAddr>,
        /// Why.
        error: PaseError,
        /// Failed attempts in this commissioning window so far.
        failed_attempts: u32,
    },
    /// The commissioning window closed: stop advertising.
    CommissioningWindowClosed {
        /// Why.
        reason: WindowCloseReason,
    },
    /// A secure session ended.
    SessionClosed {
        /// The session.
        session: SessionRef,
        /// Why.
        reason: CloseReason,
    },
    /// An administrator opened a commissioning window (Administrator Commissioning): advertise.
    CommissioningWindowOpened {
        /// The discriminator to advertise: the administrator's (enhanced window), or `None`
        /// for the device's own (basic window).
        discriminator: Option<u16>,
        /// How long it stays open.
        timeout: Duration,
    },
    /// A record of the node state changed: write it (atomically) under its name.
    Persist(Record),
    /// The fail-safe ended without CommissioningComplete; everything done under it was rolled
    /// back and the PASE session closes.
    FailSafeExpired {
        /// Timer ran out, or ArmFailSafe(0).
        reason: FailSafeEnd,
    },
    /// CommissioningComplete committed the fabric.
    CommissioningComplete {
        /// The fabric.
        fabric: FabricIndex,
    },
    /// A fabric was removed (RemoveFabric or rollback); its sessions are closing.
    FabricRemoved {
        /// The fabric.
        fabric: FabricIndex,
    },
    /// CASE succeeded: an operational session to an administrator (or another node) exists.
    CaseEstablished {
        /// The new session.
        session: SessionRef,
        /// Where the peer is.
        peer: PeerAddr,
        /// The fabric the session belongs to.
        fabric: FabricIndex,
        /// The peer's operational node id.
        peer_node_id: u64,
        /// Whether it was a resumption (Sigma2Resume) rather than a full handshake.
        resumed: bool,
    },
    /// The light's OnOff attribute changed (a command, the timed-off countdown, or
    /// StartUpOnOff when the node was created): drive the output.
    OnOffChanged {
        /// The endpoint (1).
        endpoint: u16,
        /// The new state.
        on: bool,
    },
}

/// How long the fail-safe is armed when a PASE session is established, before the commissioner's
/// own ArmFailSafe: 60 s, as the CHIP SDK does (CommissioningWindowManager arms it on session
/// establishment), so a PASE session that never commissions ends with the fail-safe.
pub const PASE_FAIL_SAFE_SECS: u16 = 60;

/// The handshake in progress, as the node tracks it around the responder.
#[derive(Debug, Clone, Copy)]
struct Handshake {
    exchange: ExchangeRef,
    peer: Option<PeerAddr>,
    reserved_id: Option<u16>,
}

/// The Matter node. See the module docs.
pub struct Node<R: Rng> {
    exchanges: ExchangeManager<PeerAddr, (), R>,
    rng: R,
    pase: PaseResponder<ExchangeRef>,
    case: CaseResponder<ExchangeRef>,
    /// The CASE Authenticated Tags of each CASE session's peer (from its NOC), for the
    /// session's [`Subject`].
    peer_cats: HashMap<SessionRef, Vec<u32>>,
    handshake: Option<Handshake>,
    pase_session: Option<SessionRef>,
    model: DataModel,
    state: NodeState,
    /// A copy of the device's own verifier, for the basic commissioning window.
    device_verifier: Option<PaseVerifier>,
    im: HashMap<ExchangeRef, ImExchange>,
    im_max_payload: usize,
    max_im_exchanges: usize,
    subscriptions: SubscriptionManager,
    secure_sessions: BTreeSet<SessionRef>,
    events: VecDeque<NodeEvent>,
}

impl<R: Rng> fmt::Debug for Node<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("window_open", &self.pase.is_window_open())
            .field("secure_sessions", &self.secure_sessions.len())
            .field("im_exchanges", &self.im.len())
            .field("subscriptions", &self.subscriptions.len())
            .finish_non_exhaustive()
    }
}

impl<R: Rng> Node<R> {
    /// A node with its commissioning window closed. `exchange_rng` feeds the message layer
    /// (exchange ids, counters, MRP jitter), `rng` the node's own needs (PASE randoms, data
    /// versions); both must be cryptographically secure outside tests.
    pub fn new(config: NodeConfig, exchange_rng: R, rng: R) -> Self {
        Self::with_state(config, exchange_rng, rng, None)
    }

    /// A node with its commissioning window closed and `state` loaded from persistent storage
    /// (`None`: factory-new, NodeLabel and Location from the configured [`DeviceInfo`]).
    pub fn with_state(
        config: NodeConfig,
        exchange_rng: R,
        mut rng: R,
        state: Option<NodeState>,
    ) -> Self {
        let mut state = state.unwrap_or_else(|| {
            let mut s = NodeState::default();
            s.info.node_label = config.device_info.node_label.clone();
            s.info.location = config.device_info.location.clone();
            // Factory defaults need no writing: they come back from the configuration.
            drop(s.take_records());
            s
        });
        let mut model = DataModel::root_node(config.device_info, rng.next_u32());
        if let Some(ep) = model.endpoint_mut(0) {
            im::clusters::add_commissioning_clusters(
                ep,
                config.attestation,
                &config.network_interface,
                &config.network_feature,
                rng.next_u32(),
            );
        }
        if config.light {
            im::clusters::add_light_endpoint(&mut model, rng.next_u32());
            // Power-up: StartUpOnOff decides OnOff (Matter 1.3 §1.5.6.6).
            state.apply_start_up_on_off();
        }
        let subscriptions = SubscriptionManager::new(SubscriptionConfig {
            max_payload: config.im_max_payload,
            ..config.subscriptions
        });
        let case_config = case::ResponderConfig {
            // Our session parameters are the same whichever handshake carries them.
            session_params: config.case.session_params.or(config.pase.session_params),
            ..config.case
        };
        let mut node = Self {
            exchanges: ExchangeManager::new(config.exchanges, exchange_rng),
            rng,
            pase: PaseResponder::new(config.pase),
            case: CaseResponder::new(case_config),
            peer_cats: HashMap::new(),
            handshake: None,
            pase_session: None,
            model,
            state,
            device_verifier: None,
            im: HashMap::new(),
            im_max_payload: config.im_max_payload,
            max_im_exchanges: config.max_im_exchanges,
            subscriptions,
            secure_sessions: BTreeSet::new(),
            events: VecDeque::new(),
        };
        // Only the start-up's OnOffChanged can be queued here; no interaction needs a time yet.
        node.after_state_change(Instant::ZERO, None);
        node
    }

    // ---- B: inputs ----

    /// A datagram from a UDP peer, or a reassembled BTP SDU from a BLE link. Anything that
    /// does not decode, authenticate or belong to a session is dropped (logged at debug).
    pub fn handle_datagram(&mut self, now: Instant, peer: PeerAddr, datagram: &[u8]) {
        let _span = info_span!("rx", %peer, len = datagram.len()).entered();
        // The exchange layer logs why a datagram was dropped; nothing else is owed to the peer.
        let _ = self.exchanges.handle_datagram(now, peer, datagram);
        self.process(now);
    }

    /// The transport to `peer` is gone (BLE disconnect, BTP closed): its sessions, exchanges and
    /// any PASE handshake on it end.
    pub fn handle_link_closed(&mut self, now: Instant, peer: PeerAddr) {
        debug!(%peer, "link closed");
        if let Some(h) = self.handshake.filter(|h| h.peer == Some(peer)) {
            self.pase.handle_exchange_closed(now, &h.exchange);
        }
        // CASE handshakes on the link end with their unsecured sessions (SessionManager Closed).
        self.exchanges.handle_link_closed(now, &peer);
        self.process(now);
    }

    /// Timers (MRP, PASE stall, commissioning window, fail-safe, the light's countdowns). Early
    /// calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.exchanges.handle_timeout(now);
        self.pase.handle_timeout(now);
        self.case.handle_timeout(now);
        if self.state.handle_timeout(now) {
            self.after_state_change(now, None);
        }
        self.process(now);
    }

    // ---- C: commands ----

    /// Opens the commissioning window with `verifier`, the device's own, for `timeout`
    /// (Matter 1.3 §5.4.2.3.1). The verifier is kept for later basic windows
    /// (OpenBasicCommissioningWindow).
    pub fn open_commissioning_window(
        &mut self,
        now: Instant,
        verifier: PaseVerifier,
        timeout: Duration,
    ) {
        self.device_verifier = copy_verifier(&verifier);
        self.pase.open_window(now, verifier, Some(timeout));
        // The device's own window: WindowStatus stays WindowNotOpen (Matter 1.3 §11.19.7.1:
        // it reports only windows an administrator opened), but a window is open.
        self.state.window.open = true;
        self.set_window_status(WindowStatus::WindowNotOpen);
        self.process(now);
    }

    /// Closes the commissioning window; an established PASE session is not affected.
    pub fn close_commissioning_window(&mut self, now: Instant) {
        self.pase.close_window(now);
        self.process(now);
    }

    /// Graceful shutdown: closes the commissioning window and sends CloseSession on every
    /// secure session (drain `poll_transmit` afterwards to get them out).
    pub fn shutdown(&mut self, now: Instant) {
        self.pase.close_window(now);
        let sessions: Vec<SessionRef> = self.secure_sessions.iter().copied().collect();
        for s in sessions {
            self.exchanges.close_session(now, s, Some(false));
        }
        self.process(now);
    }

    // ---- A: getters ----

    /// Whether PASE is being accepted.
    pub fn is_commissioning_window_open(&self) -> bool {
        self.pase.is_window_open()
    }

    /// Live secure sessions.
    pub fn secure_session_count(&self) -> usize {
        self.secure_sessions.len()
    }

    /// The data model (endpoints and clusters).
    pub fn data_model(&self) -> &DataModel {
        &self.model
    }

    /// Live subscriptions (priming ones included).
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// The data model, to add clusters (the commissioning clusters beyond those of
    /// [`DataModel::root_node`]) and endpoints.
    pub fn data_model_mut(&mut self) -> &mut DataModel {
        &mut self.model
    }

    /// The node state (fabrics, ACL, fail-safe, ...).
    pub fn state(&self) -> &NodeState {
        &self.state
    }

    /// The node state, mutably: for the shell's administrative changes (and tests). Effects
    /// and changed paths queued here are acted on at the next input.
    pub fn state_mut(&mut self) -> &mut NodeState {
        &mut self.state
    }

    // ---- D: outputs ----

    /// Appends the next datagram/SDU to `buf` and says where it goes.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.exchanges.poll_transmit(now, buf).map(|t| Transmit {
            dest: t.dest,
            len: t.len,
        })
    }

    /// The earliest deadline of any engine.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.exchanges.poll_timeout(),
            self.pase.poll_timeout(),
            self.case.poll_timeout(),
            self.subscriptions.poll_timeout(),
            self.state.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    // ---- routing ----

    /// Moves outputs between the engines until none has anything left.
    fn process(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.exchanges.poll_event() {
                progressed = true;
                self.on_exchange_event(now, ev);
            }
            while let Some(t) = self.pase.poll_transmit() {
                progressed = true;
                if let Err(e) = self
                    .exchanges
                    .send(now, t.exchange, t.opcode.value(), &t.payload)
                {
                    warn!(exchange = ?t.exchange, error = %e, "PASE message not sent");
                }
                if t.ends_exchange {
                    self.exchanges.close_exchange(now, t.exchange);
                }
            }
            while let Some(ev) = self.pase.poll_event() {
                progressed = true;
                self.on_pase_event(now, ev);
            }
            while let Some(t) = self.case.poll_transmit() {
                progressed = true;
                if let Err(e) = self
                    .exchanges
                    .send(now, t.exchange, t.opcode.value(), &t.payload)
                {
                    warn!(exchange = ?t.exchange, error = %e, "CASE message not sent");
                }
                if t.ends_exchange {
                    self.exchanges.close_exchange(now, t.exchange);
                }
            }
            while let Some(ev) = self.case.poll_event() {
                progressed = true;
                self.on_case_event(now, ev);
            }
            progressed |= self.drive_subscriptions(now);
            if !progressed {
                break;
            }
        }
    }

    fn on_exchange_event(&mut self, now: Instant, ev: ExchangeEvent) {
        match ev {
            ExchangeEvent::Incoming {
                session,
                exchange,
                message,
            } => {
                let ph = message.payload_header;
                let secure = self.exchanges.sessions().secure(session).is_some();
                match (ph.protocol_id, secure) {
                    (ProtocolId::SECURE_CHANNEL, false) => {
                        self.on_unsecured_secure_channel(
                            now,
                            exchange,
                            ph.opcode,
                            &message.payload,
                        );
                    }
                    (ProtocolId::INTERACTION_MODEL, true) => {
                        self.on_interaction_model(now, exchange, ph.opcode, &message.payload);
                    }
                    (protocol, secure) => {
                        // No handler: the exchange layer has acknowledged it (if asked) and the
                        // exchange closes, as the CHIP SDK does for unsolicited messages it has no
                        // handler for.
                        warn!(
                            ?protocol,
                            opcode = ph.opcode,
                            secure,
                            "message without a handler dropped"
                        );
                        self.exchanges.close_exchange(now, exchange);
                    }
                }
            }
            ExchangeEvent::SendFailed { exchange, counter } => {
                warn!(
                    ?exchange,
                    counter, "peer did not acknowledge: exchange closed"
                );
                self.exchanges.close_exchange(now, exchange);
                self.im.remove(&exchange);
                self.subscriptions.handle_exchange_failed(exchange);
                if self.handshake.is_some_and(|h| h.exchange == exchange) {
                    self.pase.handle_exchange_closed(now, &exchange);
                }
                self.case.handle_exchange_closed(now, &exchange);
            }
            ExchangeEvent::Session(SessionManagerEvent::Closed {
                session, reason, ..
            }) => {
                self.im.retain(|k, _| k.session != session);
                self.subscriptions.handle_session_closed(session);
                if let Some(h) = self.handshake.filter(|h| h.exchange.session == session) {
                    self.pase.handle_exchange_closed(now, &h.exchange);
                }
                for exchange in self.case_exchanges_of(session) {
                    self.case.handle_exchange_closed(now, &exchange);
                }
                self.peer_cats.remove(&session);
                if self.secure_sessions.remove(&session) {
                    debug!(?session, ?reason, "secure session closed");
                    if self.pase_session == Some(session) {
                        self.pase_session = None;
                        self.pase.handle_session_closed(now);
                    }
                    self.events
                        .push_back(NodeEvent::SessionClosed { session, reason });
                }
            }
            ExchangeEvent::Acked { .. } | ExchangeEvent::Session(_) => {}
        }
    }

    fn on_unsecured_secure_channel(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
    ) {
        let op = SecureChannelOpcode::from(opcode);
        let case_owned = self.case.owns_exchange(&exchange);
        match op {
            SecureChannelOpcode::CASE_SIGMA1 | SecureChannelOpcode::CASE_SIGMA3 => {
                self.on_case_message(now, exchange, op, payload);
            }
            SecureChannelOpcode::STATUS_REPORT if case_owned => {
                self.on_case_message(now, exchange, op, payload);
            }
            SecureChannelOpcode::PBKDF_PARAM_REQUEST
            | SecureChannelOpcode::PASE_PAKE1
            | SecureChannelOpcode::PASE_PAKE3
            | SecureChannelOpcode::STATUS_REPORT => {
                let sessions = self.exchanges.sessions_mut();
                let mut alloc = || sessions.allocate_session_id().ok();
                self.pase
                    .handle_message(now, exchange, op, payload, &mut self.rng, &mut alloc);
            }
            other => {
                warn!(opcode = ?other, "secure-channel message not supported here, dropped");
                self.exchanges.close_exchange(now, exchange);
            }
        }
    }

    fn on_interaction_model(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
    ) {
        let opcode = im::Opcode::from(opcode);
        let Some((subject, challenge)) = self.session_subject(exchange.session) else {
            warn!(?exchange, "IM message on a session that is gone");
            self.exchanges.close_exchange(now, exchange);
            return;
        };
        if self.subscriptions.owns_exchange(exchange) {
            self.subscriptions.handle_message(
                now,
                &self.model,
                &self.state,
                exchange,
                opcode,
                payload,
            );
            return;
        }
        if !self.im.contains_key(&exchange) {
            if opcode == im::Opcode::SUBSCRIBE_REQUEST {
                let subscriber = self.subscriber(exchange.session, subject);
                let id = self.rng.next_u32();
                self.subscriptions.handle_subscribe_request(
                    now,
                    &self.model,
                    &self.state,
                    subscriber,
                    exchange,
                    payload,
                    id,
                );
                return;
            }
            if self.im.len() >= self.max_im_exchanges {
                // The IM exchange table is full: BUSY tells the client to retry later
                // (Matter 1.3 §8.10.1), and the exchange ends.
                warn!(?exchange, "IM exchange table full: BUSY");
                let busy = StatusResponse {
                    status: im::Status::BUSY,
                };
                let _ = self.exchanges.send(
                    now,
                    exchange,
                    im::Opcode::STATUS_RESPONSE.value(),
                    &busy.encode(),
                );
                self.exchanges.close_exchange(now, exchange);
                return;
            }
        }
        let im = self
            .im
            .entry(exchange)
            .or_insert_with(|| ImExchange::new(self.im_max_payload));
        let mut session = SessionContext {
            subject,
            state: &mut self.state,
            rng: &mut self.rng,
            attestation_challenge: &challenge,
        };
        im.handle_message(now, &mut self.model, &mut session, opcode, payload);
        let mut messages = Vec::new();
        while let Some(m) = im.poll_message() {
            messages.push(m);
        }
        let done = im.is_done();
        for m in messages {
            if let Err(e) = self
                .exchanges
                .send(now, exchange, m.opcode.value(), &m.payload)
            {
                warn!(?exchange, error = %e, "IM response not sent; exchange abandoned");
                self.im.remove(&exchange);
                self.exchanges.close_exchange(now, exchange);
                self.after_state_change(now, Some(exchange.session));
                return;
            }
        }
        if done {
            self.im.remove(&exchange);
            self.exchanges.close_exchange(now, exchange);
        }
        // After the response is queued, so closing sessions lets it go out first.
        self.after_state_change(now, Some(exchange.session));
    }

    /// Who a subscription on `session` belongs to: its fabric and peer node for CASE, the
    /// session alone for PASE.
    fn subscriber(&self, session: SessionRef, subject: Subject) -> Subscriber {
        let case = self
            .exchanges
            .sessions()
            .secure(session)
            .filter(|s| !s.is_pase());
        Subscriber {
            session,
            fabric_index: subject.fabric.map(|f| f.0),
            node_id: case.map(|s| s.peer_node_id()),
            subject,
        }
    }

    /// Starts due subscription reports and moves their messages to the exchange layer; returns
    /// whether anything moved.
    fn drive_subscriptions(&mut self, now: Instant) -> bool {
        let changed = self.model.take_changed();
        if !changed.is_empty() {
            self.subscriptions.handle_changed(&changed);
        }
        let exchanges = &mut self.exchanges;
        let mut open = |session: SessionRef| {
            exchanges
                .new_exchange(session, ProtocolId::INTERACTION_MODEL)
                .map_err(|e| debug!(?session, error = %e, "no exchange for a report"))
                .ok()
        };
        self.subscriptions
            .handle_timeout(now, &self.model, &self.state, &mut open);
        let mut moved = false;
        while let Some(t) = self.subscriptions.poll_transmit() {
            moved = true;
            if let Some(m) = &t.message {
                if let Err(e) = self
                    .exchanges
                    .send(now, t.exchange, m.opcode.value(), &m.payload)
                {
                    warn!(exchange = ?t.exchange, error = %e, "subscription message not sent");
                    self.subscriptions.handle_exchange_failed(t.exchange);
                    self.exchanges.close_exchange(now, t.exchange);
                    continue;
                }
            }
            if t.close_exchange {
                self.exchanges.close_exchange(now, t.exchange);
            }
        }
        while let Some(ev) = self.subscriptions.poll_event() {
            moved = true;
            match ev {
                SubscriptionEvent::Established { id, session, .. } => {
                    if let Some(s) = self.exchanges.sessions_mut().secure_mut(session) {
                        s.add_subscription(SubscriptionId(id));
                    }
                }
                SubscriptionEvent::Ended { id, session, .. } => {
                    if let Some(s) = self.exchanges.sessions_mut().secure_mut(session) {
                        s.remove_subscription(SubscriptionId(id));
                    }
                }
            }
        }
        moved
    }

    /// Who is behind `session` (Matter 1.3 §6.6.2.1, "Subjects"): a PASE session is
    /// [`crate::fabric::AuthMode::Pase`] with the fabric AddNOC bound to it, if any; a session
    /// with an operational peer node id is CASE on its fabric. Also the session's attestation
    /// challenge.
    fn session_subject(&self, session: SessionRef) -> Option<(Subject, Zeroizing<[u8; 16]>)> {
        let s = self.exchanges.sessions().secure(session)?;
        let challenge = Zeroizing::new(*s.attestation_challenge_key());
        let fabric = s.fabric().map(|f| f.index);
        let subject = if s.is_pase() {
            Subject::pase(fabric)
        } else {
            let cats = self.peer_cats.get(&session).map(Vec::as_slice);
            Subject::case(
                fabric?,
                s.peer_node_id(),
                crate::fabric::Cats::new(cats.unwrap_or_default()),
            )
        };
        Some((subject, challenge))
    }

    fn set_window_status(&mut self, status: WindowStatus) {
        if status != WindowStatus::WindowNotOpen {
            self.state.window.open = true;
        }
        if self.state.window.status != status {
            self.state.window.status = status;
            if status == WindowStatus::WindowNotOpen {
                self.state.window.admin_fabric = None;
                self.state.window.admin_vendor_id = None;
            }
            self.state
                .mark_changed(0, cluster_id::ADMINISTRATOR_COMMISSIONING, None);
            self.model.absorb_changes(&mut self.state);
        }
    }

    /// Runs the clusters' effects, moves changed paths into the data model and hands changed
    /// records to the shell. `session` is the session of the interaction that caused them.
    fn after_state_change(&mut self, now: Instant, session: Option<SessionRef>) {
        self.model.absorb_changes(&mut self.state);
        while let Some(e) = self.state.poll_effect() {
            self.execute(now, session, e);
            self.model.absorb_changes(&mut self.state);
        }
        for r in self.state.take_records() {
            debug!(record = %r.kind, len = r.bytes.len(), "record changed");
            self.events.push_back(NodeEvent::Persist(r));
        }
    }

    fn execute(&mut self, now: Instant, session: Option<SessionRef>, e: Effect) {
        debug!(effect = ?e, "executing effect");
        match e {
            Effect::OpenCommissioningWindow { window, timeout } => {
                let (verifier, discriminator, status) = match window {
                    WindowRequest::Enhanced {
                        verifier,
                        discriminator,
                    } => (
                        Some(*verifier),
                        Some(discriminator),
                        WindowStatus::EnhancedWindowOpen,
                    ),
                    WindowRequest::Basic => (
                        self.device_verifier.as_ref().and_then(copy_verifier),
                        None,
                        WindowStatus::BasicWindowOpen,
                    ),
                };
                let Some(verifier) = verifier else {
                    warn!("basic commissioning window asked for, but the device has no verifier");
                    return;
                };
                self.pase.open_window(now, verifier, Some(timeout));
                self.set_window_status(status);
                self.events.push_back(NodeEvent::CommissioningWindowOpened {
                    discriminator,
                    timeout,
                });
            }
            Effect::CloseCommissioningWindow => {
                // The responder reports WindowClosed, which clears the window status.
                self.pase.close_window(now);
                self.state.window.open = false;
                self.set_window_status(WindowStatus::WindowNotOpen);
            }
            Effect::CommissioningComplete { fabric } => {
                // The commissioner is on CASE now; the PASE session and its implicit
                // Administer privilege end, as the CHIP SDK expires PASE sessions on
                // commissioning complete.
                if let Some(s) = self.pase_session.filter(|s| Some(*s) != session) {
                    self.exchanges.close_session(now, s, Some(true));
                }
                self.events
                    .push_back(NodeEvent::CommissioningComplete { fabric });
            }
            Effect::BindSessionToFabric(index) => {
                let node_id = self.state.fabrics.get(index).map(|f| f.node_id);
                let bound = session.zip(node_id).and_then(|(s, node_id)| {
                    self.exchanges
                        .sessions_mut()
                        .secure_mut(s)
                        .map(|sess| sess.add_associated_fabric(SessionFabric { index, node_id }))
                });
                match bound {
                    Some(Ok(())) => debug!(fabric = index.0, "session bound to its new fabric"),
                    other => warn!(fabric = index.0, ?other, "session not bound to fabric"),
                }
            }
            Effect::FabricRemoved(fabric) => {
                self.close_fabric_sessions(now, fabric);
                self.events.push_back(NodeEvent::FabricRemoved { fabric });
            }
            Effect::CloseFabricSessions(fabric) => self.close_fabric_sessions(now, fabric),
            Effect::OnOffChanged { endpoint, on } => {
                self.events
                    .push_back(NodeEvent::OnOffChanged { endpoint, on });
            }
            Effect::FailSafeEnded(reason) => {
                // §11.10.7.2.2 steps 1-2: the PASE session ends, and with it its implicit
                // Administer privilege. After the current exchange, so ArmFailSafe(0)'s
                // response still goes out.
                if let Some(s) = self.pase_session {
                    self.exchanges.close_session(now, s, Some(true));
                }
                self.events.push_back(NodeEvent::FailSafeExpired { reason });
            }
        }
    }

    /// Closes every secure session of `fabric` (after their running exchanges).
    fn close_fabric_sessions(&mut self, now: Instant, fabric: FabricIndex) {
        let sessions: Vec<SessionRef> = self
            .secure_sessions
            .iter()
            .copied()
            .filter(|s| {
                self.exchanges
                    .sessions()
                    .secure(*s)
                    .and_then(|x| x.fabric())
                    .is_some_and(|f| f.index == fabric)
            })
            .collect();
        for s in sessions {
            debug!(session = ?s, fabric = fabric.0, "closing session of fabric");
            self.exchanges.close_session(now, s, Some(true));
        }
    }

    fn on_pase_event(&mut self, now: Instant, ev: PaseEvent<ExchangeRef>) {
        match ev {
            PaseEvent::HandshakeStarted { exchange } => {
                let peer = self.exchanges.sessions().peer(exchange.session).copied();
                self.handshake = Some(Handshake {
                    exchange,
                    peer,
                    reserved_id: self.pase.reserved_session_id(),
                });
                if let Some(peer) = peer {
                    self.events.push_back(NodeEvent::PaseStarted { peer });
                }
            }
            PaseEvent::Established { exchange, session } => {
                // The unsecured session goes once the final StatusReport is acknowledged.
                self.exchanges
                    .close_unsecured_session(now, exchange.session);
                let handshake = self.handshake.take();
                let Some(peer) = handshake
                    .and_then(|h| h.peer)
                    .or_else(|| self.exchanges.sessions().peer(exchange.session).copied())
                else {
                    warn!("PASE established on a session that is gone");
                    self.exchanges
                        .sessions_mut()
                        .release_session_id(session.local_session_id());
                    self.pase.handle_session_closed(now);
                    return;
                };
                let handover = session.handover();
                drop(session); // zeroizes its copy of Ke
                match self.exchanges.add_pase_session(now, peer, handover, ()) {
                    Ok(s) => {
                        debug!(session = ?s, %peer, "PASE session established");
                        self.secure_sessions.insert(s);
                        self.pase_session = Some(s);
                        self.events
                            .push_back(NodeEvent::PaseEstablished { session: s, peer });
                        // Arm the fail-safe for the new commissioner unless one is armed.
                        if !self.state.fail_safe.is_armed() {
                            let _ =
                                self.state
                                    .arm_fail_safe(now, None, false, PASE_FAIL_SAFE_SECS, 0);
                            self.after_state_change(now, Some(s));
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "PASE succeeded but the session could not be created");
                        self.pase.handle_session_closed(now);
                    }
                }
            }
            PaseEvent::HandshakeFailed {
                exchange,
                error,
                failed_attempts,
            } => {
                self.exchanges
                    .close_unsecured_session(now, exchange.session);
                let handshake = self.handshake.take().filter(|h| h.exchange == exchange);
                if let Some(id) = handshake.and_then(|h| h.reserved_id) {
                    self.exchanges.sessions_mut().release_session_id(id);
                }
                self.events.push_back(NodeEvent::PaseFailed {
                    peer: handshake.and_then(|h| h.peer),
                    error,
                    failed_attempts,
                });
            }
            PaseEvent::WindowClosed { reason } => {
                self.state.window.open = false;
                self.set_window_status(WindowStatus::WindowNotOpen);
                self.events
                    .push_back(NodeEvent::CommissioningWindowClosed { reason });
            }
        }
    }
}

impl<R: Rng> Node<R> {
    /// A Sigma1/Sigma3 (or a StatusReport of a CASE handshake) to the CASE responder, with the
    /// fabric table and resumption records it needs.
    fn on_case_message(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        op: SecureChannelOpcode,
        payload: &[u8],
    ) {
        let sessions = self.exchanges.sessions_mut();
        let mut alloc = || sessions.allocate_session_id().ok();
        self.case.handle_message(
            now,
            exchange,
            op,
            payload,
            &self.state.fabrics,
            &self.state.case_resumption,
            &mut self.rng,
            &mut alloc,
        );
    }

    /// Exchanges of `session` with a CASE handshake on them (a closed unsecured session ends
    /// them).
    fn case_exchanges_of(&self, session: SessionRef) -> Vec<ExchangeRef> {
        self.case
            .exchanges()
            .filter(|x| x.session == session)
            .copied()
            .collect()
    }

    fn on_case_event(&mut self, now: Instant, ev: CaseEvent<ExchangeRef>) {
        match ev {
            CaseEvent::Established { exchange, session } => {
                let peer = self.exchanges.sessions().peer(exchange.session).copied();
                // The unsecured session goes once the last message is acknowledged.
                self.exchanges
                    .close_unsecured_session(now, exchange.session);
                // The fabric may have been removed while the handshake ran (RemoveFabric, a
                // rollback): no session for a fabric that is gone.
                let fabric_alive = self.state.fabrics.get(session.fabric).is_some();
                let Some(peer) = peer.filter(|_| fabric_alive) else {
                    warn!(
                        fabric_alive,
                        "CASE established on a session or fabric that is gone"
                    );
                    self.exchanges
                        .sessions_mut()
                        .release_session_id(session.local_session_id);
                    return;
                };
                let params = SecureSessionParams {
                    local_session_id: session.local_session_id,
                    peer_session_id: session.peer_session_id,
                    peer_node_id: session.peer_node_id,
                    shared_secret: &session.shared_secret[..],
                    salt: &session.salt,
                    is_initiator: false,
                    is_resumption: session.is_resumption,
                    fabric: Some(SessionFabric {
                        index: session.fabric,
                        node_id: session.local_node_id,
                    }),
                    context: (),
                    peer_parameters: session.peer_params,
                    mrp_enabled: !peer.is_reliable_transport(),
                };
                match self.exchanges.add_secure_session(now, peer, params) {
                    Ok(s) => {
                        debug!(
                            session = ?s,
                            %peer,
                            fabric = session.fabric.0,
                            resumed = session.is_resumption,
                            "CASE session established"
                        );
                        self.secure_sessions.insert(s);
                        self.peer_cats.insert(s, session.peer_cats.clone());
                        // §4.14.2.2.4: the record is kept under the new resumption id.
                        self.state
                            .case_resumption
                            .insert(session.resumption_record());
                        self.events.push_back(NodeEvent::CaseEstablished {
                            session: s,
                            peer,
                            fabric: session.fabric,
                            peer_node_id: session.peer_node_id,
                            resumed: session.is_resumption,
                        });
                        self.after_state_change(now, Some(s));
                    }
                    Err(e) => {
                        warn!(error = %e, "CASE succeeded but the session could not be created");
                        self.exchanges
                            .sessions_mut()
                            .release_session_id(session.local_session_id);
                    }
                }
            }
            CaseEvent::HandshakeFailed {
                exchange,
                error,
                reserved_session_id,
            } => {
                debug!(?exchange, %error, "CASE handshake failed");
                if let Some(id) = reserved_session_id {
                    self.exchanges.sessions_mut().release_session_id(id);
                }
                self.exchanges
                    .close_unsecured_session(now, exchange.session);
            }
        }
    }
}

/// A copy of `v` (the verifier type is deliberately not `Clone`: copies of key material are
/// explicit).
fn copy_verifier(v: &PaseVerifier) -> Option<PaseVerifier> {
    PaseVerifier::from_serialized(&v.spake2p().to_bytes()[..], v.salt(), v.iterations()).ok()
}

#[cfg(test)]
mod commissioning_flow_tests;
#[cfg(test)]
mod light_tests;
#[cfg(test)]
mod test_sim;
#[cfg(test)]
mod tests;
