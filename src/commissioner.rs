//! Our own test commissioner, sans-IO: PASE as initiator, then Interaction Model reads,
//! invokes (plain or timed), writes and subscriptions over the PASE session — and, once the
//! device has a fabric, CASE to it with the administrator's operational credentials (resuming
//! an earlier CASE session when it can), after which requests go over the CASE session. It runs on the same exchange layer as the device ([`ExchangeManager`]), so the
//! in-process tests drive the real device stack against a real peer stack, and the BLE test
//! commissioner (a btleplug central) only has to move bytes.
//!
//! Driving contract as everywhere: `handle_*` inputs, `read` command, then drain
//! `poll_transmit`, `poll_timeout` and `poll_event`.

use std::collections::VecDeque;

use tracing::{debug, warn};

use crate::case::{self, CaseCredentials, CaseError, CaseInitiator};
use crate::exchange::{ExchangeConfig, ExchangeEvent, ExchangeManager, ExchangeRef};
use crate::fabric::ResumptionRecord;
use crate::im::{
    AttributePath, CommandPath, ReadRequest, Status, StatusResponse, SubscribeRequest,
    SubscribeResponse,
};
use crate::message::{InteractionModelOpcode, ProtocolId, SecureChannelOpcode};
use crate::node::PeerAddr;
use crate::pase::{InitiatorConfig, InitiatorEvent, PaseError, PaseInitiator};
use crate::rng::Rng;
use crate::session::{
    Fabric as SessionFabric, PeerAddress, SecureSessionParams, SessionManagerEvent, SessionRef,
};
use crate::time::Instant;
use crate::tlv::{Container, ElementType, Tag, TlvError, TlvReader, TlvValue, TlvWriter, Value};

/// One attribute value (or status) from a ReportData.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeReport {
    /// Endpoint.
    pub endpoint: u16,
    /// Cluster id.
    pub cluster: u32,
    /// Attribute id.
    pub attribute: u32,
    /// The value, or the status the device reported for the path.
    pub value: Result<TlvValue, Status>,
}

/// What the commissioner reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum CommissionerEvent {
    /// PASE succeeded; reads may start.
    PaseEstablished {
        /// The secure session.
        session: SessionRef,
    },
    /// PASE failed.
    PaseFailed(PaseError),
    /// PASE succeeded but our own session table refused the new session.
    SessionRejected(String),
    /// A read finished (all chunks); `reports` in the order received.
    ReadDone {
        /// Every attribute report of the read.
        reports: Vec<AttributeReport>,
        /// How many ReportData messages carried them.
        chunks: usize,
    },
    /// A read failed (bad report, status response, send failure).
    ReadFailed(String),
    /// An invoke got its InvokeResponse.
    InvokeDone(InvokeOutcome),
    /// An invoke failed before a response (refused TimedRequest, status response, bad
    /// message, no acknowledgement).
    InvokeFailed(String),
    /// A write finished: the status of each path, in order.
    WriteDone(Vec<Status>),
    /// A write failed.
    WriteFailed(String),
    /// The priming report was received and SubscribeResponse came.
    SubscriptionEstablished {
        /// SubscriptionId.
        id: u32,
        /// MaxInterval granted, seconds.
        max_interval: u16,
        /// The priming report's attribute reports.
        reports: Vec<AttributeReport>,
    },
    /// A report of an established subscription (empty for a keep-alive), already answered.
    SubscriptionReport {
        /// SubscriptionId.
        id: u32,
        /// Its attribute reports.
        reports: Vec<AttributeReport>,
    },
    /// Subscribing failed (refused with a status, bad message, send failure).
    SubscribeFailed(String),
    /// The device's answer to a [`Commissioner::request`].
    Response {
        /// IM opcode of the answer.
        opcode: InteractionModelOpcode,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// A [`Commissioner::request`] was not acknowledged.
    RequestFailed,
    /// The device closed the session.
    SessionClosed,
    /// CASE succeeded; requests now go over this session.
    CaseEstablished {
        /// The CASE session.
        session: SessionRef,
        /// Whether the device resumed an earlier session (Sigma2Resume).
        resumed: bool,
    },
    /// CASE failed.
    CaseFailed(CaseError),
}

/// What the device answered to one command.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InvokeOutcome {
    /// A response command with its fields (an anonymous structure).
    Response {
        /// Response command id.
        command: u32,
        /// Its fields.
        fields: TlvValue,
    },
    /// A status (SUCCESS for a command without a response).
    Status {
        /// IM status.
        status: Status,
        /// Cluster-specific status, if any.
        cluster_status: Option<u8>,
    },
}

/// Errors of commissioner commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommissionerError {
    /// No PASE session yet, or it is gone.
    #[error("no secure session")]
    NoSession,
    /// A read or invoke is already running.
    #[error("a read or invoke is in progress")]
    Busy,
    /// The command fields are not one anonymous TLV structure.
    #[error("command fields are not a TLV structure: {0}")]
    Fields(TlvError),
    /// The exchange layer refused.
    #[error("exchange error: {0}")]
    Exchange(String),
    /// CASE could not start.
    #[error("CASE: {0}")]
    Case(CaseError),
}

enum Phase {
    Pase {
        exchange: ExchangeRef,
        initiator: Box<PaseInitiator>,
    },
    Ready,
    Failed,
}

struct Read {
    exchange: ExchangeRef,
    reports: Vec<AttributeReport>,
    chunks: usize,
}

/// A subscription being primed.
struct Priming {
    exchange: ExchangeRef,
    reports: Vec<AttributeReport>,
}

struct Invoke {
    exchange: ExchangeRef,
    /// The InvokeRequest held back until the TimedRequest is accepted.
    held: Option<Vec<u8>>,
}

/// The commissioner side of one device.
pub struct Commissioner<R: Rng> {
    exchanges: ExchangeManager<PeerAddr, (), R>,
    rng: R,
    peer: PeerAddr,
    phase: Phase,
    session: Option<SessionRef>,
    read: Option<Read>,
    invoke: Option<Invoke>,
    /// The exchange of a single-message request awaiting its answer.
    request: Option<ExchangeRef>,
    write: Option<ExchangeRef>,
    priming: Option<Priming>,
    /// Established subscription ids; reports for others get INVALID_SUBSCRIPTION.
    subscriptions: Vec<u32>,
    /// Device-initiated report exchanges being reassembled: (exchange, reports so far).
    incoming_reports: Vec<(ExchangeRef, Vec<AttributeReport>)>,
    /// A CASE handshake in progress, on its exchange.
    case: Option<(ExchangeRef, Box<CaseInitiator>)>,
    /// The local session id reserved for the CASE handshake in progress: released when it
    /// fails, taken by the session when it succeeds.
    case_local_id: Option<u16>,
    /// What the last CASE session left to resume it with.
    case_resumption: Option<ResumptionRecord>,
    events: VecDeque<CommissionerEvent>,
}

impl<R: Rng> Commissioner<R> {
    /// Starts PASE with `passcode` toward the device at `peer` (PBKDFParamRequest is queued).
    ///
    /// # Errors
    /// Only if the fresh exchange layer cannot allocate a session id or exchange (it always
    /// can; the error is kept for honesty rather than hidden behind a panic).
    pub fn start(
        now: Instant,
        peer: PeerAddr,
        passcode: u32,
        exchange_rng: R,
        mut rng: R,
    ) -> Result<Self, CommissionerError> {
        let mut exchanges = ExchangeManager::new(ExchangeConfig::default(), exchange_rng);
        let unsecured = exchanges.add_unsecured_initiator(now, peer);
        let exchange = exchanges
            .new_exchange(unsecured, ProtocolId::SECURE_CHANNEL)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let local_id = exchanges
            .sessions_mut()
            .allocate_session_id()
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let initiator =
            PaseInitiator::start(now, InitiatorConfig::new(passcode, local_id), &mut rng);
        let mut c = Self {
            exchanges,
            rng,
            peer,
            phase: Phase::Pase {
                exchange,
                initiator: Box::new(initiator),
            },
            session: None,
            read: None,
            invoke: None,
            request: None,
            write: None,
            priming: None,
            subscriptions: Vec::new(),
            incoming_reports: Vec::new(),
            case: None,
            case_local_id: None,
            case_resumption: None,
            events: VecDeque::new(),
        };
        c.process(now);
        Ok(c)
    }

    /// A commissioner toward an already commissioned device at `peer` (its operational
    /// address): no PASE; call [`Commissioner::start_case`] next. Requests wait for CASE.
    pub fn operational(peer: PeerAddr, exchange_rng: R, rng: R) -> Self {
        Self {
            exchanges: ExchangeManager::new(ExchangeConfig::default(), exchange_rng),
            rng,
            peer,
            phase: Phase::Ready,
            session: None,
            read: None,
            invoke: None,
            request: None,
            write: None,
            priming: None,
            subscriptions: Vec::new(),
            incoming_reports: Vec::new(),
            case: None,
            case_local_id: None,
            case_resumption: None,
            events: VecDeque::new(),
        }
    }

    /// The attestation challenge of the current session (Matter 1.3 §4.13.2.6: derived with
    /// the session keys; AttestationRequest and CSRRequest signatures cover it). `None`
    /// without a session.
    pub fn attestation_challenge(&self) -> Option<[u8; 16]> {
        let s = self.session?;
        let session = self.exchanges.sessions().secure(s)?;
        Some(*session.attestation_challenge_key())
    }

    /// A datagram/SDU from the device.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let _ = self.exchanges.handle_datagram(now, self.peer, datagram);
        self.process(now);
    }

    /// Timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.exchanges.handle_timeout(now);
        if let Phase::Pase { initiator, .. } = &mut self.phase {
            initiator.handle_timeout(now);
        }
        if let Some((_, i)) = &mut self.case {
            i.handle_timeout(now);
        }
        self.process(now);
    }

    /// Starts CASE to the device's operational node `peer_node_id` with `credentials` (Matter
    /// 1.3 §4.14.2), offering resumption when an earlier CASE session left a record (and
    /// `resume`). The outcome is [`CommissionerEvent::CaseEstablished`] or
    /// [`CommissionerEvent::CaseFailed`]; afterwards reads, invokes and writes use the CASE
    /// session.
    ///
    /// # Errors
    /// [`CommissionerError::Busy`] while a CASE handshake runs; [`CommissionerError::Exchange`]
    /// if no exchange or session id is free; [`CommissionerError::Case`] for unusable
    /// credentials.
    pub fn start_case(
        &mut self,
        now: Instant,
        credentials: CaseCredentials,
        peer_node_id: u64,
        resume: bool,
    ) -> Result<(), CommissionerError> {
        if self.case.is_some() {
            return Err(CommissionerError::Busy);
        }
        let unsecured = self.exchanges.add_unsecured_initiator(now, self.peer);
        let exchange = self
            .exchanges
            .new_exchange(unsecured, ProtocolId::SECURE_CHANNEL)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let local_id = self
            .exchanges
            .sessions_mut()
            .allocate_session_id()
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let mut config = case::InitiatorConfig::new(credentials, peer_node_id, local_id);
        if resume {
            config.resumption = self
                .case_resumption
                .clone()
                .filter(|r| r.peer_node_id == peer_node_id);
        }
        let initiator = CaseInitiator::start(now, config, &mut self.rng).map_err(|e| {
            self.exchanges.sessions_mut().release_session_id(local_id);
            self.exchanges.close_exchange(now, exchange);
            self.exchanges.close_unsecured_session(now, unsecured);
            CommissionerError::Case(e)
        })?;
        self.case = Some((exchange, Box::new(initiator)));
        self.case_local_id = Some(local_id);
        self.process(now);
        Ok(())
    }

    /// Local session ids reserved and not yet released or used (tests check that none leak).
    #[cfg(test)]
    pub(crate) fn reserved_session_ids(&self) -> usize {
        self.exchanges.sessions().reserved_count()
    }

    /// The record the last CASE session left for resuming it.
    pub fn case_resumption(&self) -> Option<&ResumptionRecord> {
        self.case_resumption.as_ref()
    }

    /// Reads `paths` over the PASE session; the result comes as [`CommissionerEvent::ReadDone`].
    ///
    /// # Errors
    /// [`CommissionerError::NoSession`] before PASE, [`CommissionerError::Busy`] during a read.
    pub fn read(&mut self, now: Instant, paths: &[AttributePath]) -> Result<(), CommissionerError> {
        let session = self.session.ok_or(CommissionerError::NoSession)?;
        if self.read.is_some() || self.invoke.is_some() {
            return Err(CommissionerError::Busy);
        }
        let exchange = self
            .exchanges
            .new_exchange(session, ProtocolId::INTERACTION_MODEL)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let request = ReadRequest {
            attribute_requests: paths.to_vec(),
            fabric_filtered: true,
            ..ReadRequest::default()
        };
        self.exchanges
            .send(
                now,
                exchange,
                InteractionModelOpcode::READ_REQUEST.value(),
                &request.encode(),
            )
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        self.read = Some(Read {
            exchange,
            reports: Vec::new(),
            chunks: 0,
        });
        self.process(now);
        Ok(())
    }

    /// Invokes `command` on (`endpoint`, `cluster`) with `fields` (one anonymous TLV structure,
    /// e.g. `TlvValue::Struct(..).to_bytes(Tag::Anonymous)`). With `timed_ms` a TimedRequest
    /// goes first on the same exchange (Matter 1.3 §8.7.2.1) and the InvokeRequest follows its
    /// StatusResponse. The result comes as [`CommissionerEvent::InvokeDone`] or
    /// [`CommissionerEvent::InvokeFailed`].
    ///
    /// # Errors
    /// [`CommissionerError::NoSession`], [`CommissionerError::Busy`],
    /// [`CommissionerError::Fields`].
    pub fn invoke(
        &mut self,
        now: Instant,
        endpoint: u16,
        cluster: u32,
        command: u32,
        fields: &[u8],
        timed_ms: Option<u16>,
    ) -> Result<(), CommissionerError> {
        let session = self.session.ok_or(CommissionerError::NoSession)?;
        if self.read.is_some() || self.invoke.is_some() {
            return Err(CommissionerError::Busy);
        }
        let f = TlvReader::new(fields)
            .read_struct()
            .map_err(CommissionerError::Fields)?;
        let path = CommandPath {
            endpoint: Some(endpoint),
            cluster: Some(cluster),
            command: Some(command),
        };
        let request =
            encode_invoke(&path, &f, timed_ms.is_some()).map_err(CommissionerError::Fields)?;
        let exchange = self
            .exchanges
            .new_exchange(session, ProtocolId::INTERACTION_MODEL)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let (opcode, first, held) = match timed_ms {
            Some(ms) => {
                let mut t = Vec::new();
                let mut w = TlvWriter::new(&mut t);
                // TimedRequestMessage {0: Timeout, 0xFF: revision}; an unlimited writer.
                let _ = (|| -> Result<(), TlvError> {
                    w.start_struct(Tag::Anonymous)?;
                    w.u16(Tag::Context(0), ms)?;
                    w.u8(Tag::Context(0xFF), crate::im::INTERACTION_MODEL_REVISION)?;
                    w.end_container()
                })();
                (InteractionModelOpcode::TIMED_REQUEST, t, Some(request))
            }
            None => (InteractionModelOpcode::INVOKE_REQUEST, request, None),
        };
        self.exchanges
            .send(now, exchange, opcode.value(), &first)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        self.invoke = Some(Invoke { exchange, held });
        self.process(now);
        Ok(())
    }

    /// Sends one IM request (a WriteRequest, an untimed InvokeRequest, ...) as given on a new
    /// exchange over the PASE session; the device's first answer comes as
    /// [`CommissionerEvent::Response`] and the exchange closes.
    ///
    /// # Errors
    /// [`CommissionerError::NoSession`] before PASE, [`CommissionerError::Busy`] while another
    /// request runs.
    pub fn request(
        &mut self,
        now: Instant,
        opcode: InteractionModelOpcode,
        payload: &[u8],
    ) -> Result<(), CommissionerError> {
        let session = self.session.ok_or(CommissionerError::NoSession)?;
        if self.request.is_some() {
            return Err(CommissionerError::Busy);
        }
        let exchange = self
            .exchanges
            .new_exchange(session, ProtocolId::INTERACTION_MODEL)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        self.exchanges
            .send(now, exchange, opcode.value(), payload)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        self.request = Some(exchange);
        self.process(now);
        Ok(())
    }

    /// Writes `value` to the concrete attribute `path`; the result comes as
    /// [`CommissionerEvent::WriteDone`].
    ///
    /// # Errors
    /// As [`Commissioner::read`].
    pub fn write(
        &mut self,
        now: Instant,
        path: AttributePath,
        value: &TlvValue,
    ) -> Result<(), CommissionerError> {
        let session = self.session.ok_or(CommissionerError::NoSession)?;
        if self.write.is_some() {
            return Err(CommissionerError::Busy);
        }
        // WriteRequest {0: SuppressResponse false, 1: TimedRequest false, 2: [AttributeDataIB
        // {1: path, 2: data}], 0xFF: revision} (Matter 1.3 §10.7.6).
        let mut payload = Vec::new();
        let mut w = TlvWriter::new(&mut payload);
        (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.bool(Tag::Context(0), false)?;
            w.bool(Tag::Context(1), false)?;
            w.start_array(Tag::Context(2))?;
            w.start_struct(Tag::Anonymous)?;
            path.write(&mut w, Tag::Context(1))?;
            value.encode(Tag::Context(2), &mut w)?;
            w.end_container()?;
            w.end_container()?;
            w.u8(Tag::Context(0xFF), crate::im::INTERACTION_MODEL_REVISION)?;
            w.end_container()
        })()
        .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        let exchange = self.open_and_send(
            now,
            session,
            InteractionModelOpcode::WRITE_REQUEST,
            &payload,
        )?;
        self.write = Some(exchange);
        self.process(now);
        Ok(())
    }

    /// Subscribes to `paths` with the given interval bounds (seconds). The priming report
    /// comes as [`CommissionerEvent::SubscriptionEstablished`], later reports as
    /// [`CommissionerEvent::SubscriptionReport`]; each report is answered with
    /// StatusResponse(SUCCESS) as a subscriber must (Matter 1.3 §8.5.2).
    ///
    /// # Errors
    /// As [`Commissioner::read`].
    pub fn subscribe(
        &mut self,
        now: Instant,
        paths: &[AttributePath],
        min_interval_floor: u16,
        max_interval_ceiling: u16,
        keep_subscriptions: bool,
    ) -> Result<(), CommissionerError> {
        let session = self.session.ok_or(CommissionerError::NoSession)?;
        if self.priming.is_some() {
            return Err(CommissionerError::Busy);
        }
        let request = SubscribeRequest {
            keep_subscriptions,
            min_interval_floor,
            max_interval_ceiling,
            attribute_requests: paths.to_vec(),
            fabric_filtered: true,
            ..SubscribeRequest::default()
        };
        let exchange = self.open_and_send(
            now,
            session,
            InteractionModelOpcode::SUBSCRIBE_REQUEST,
            &request.encode(),
        )?;
        self.priming = Some(Priming {
            exchange,
            reports: Vec::new(),
        });
        self.process(now);
        Ok(())
    }

    fn open_and_send(
        &mut self,
        now: Instant,
        session: SessionRef,
        opcode: InteractionModelOpcode,
        payload: &[u8],
    ) -> Result<ExchangeRef, CommissionerError> {
        let exchange = self
            .exchanges
            .new_exchange(session, ProtocolId::INTERACTION_MODEL)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        self.exchanges
            .send(now, exchange, opcode.value(), payload)
            .map_err(|e| CommissionerError::Exchange(e.to_string()))?;
        Ok(exchange)
    }

    /// Sends CloseSession on the PASE session.
    pub fn close(&mut self, now: Instant) {
        if let Some(s) = self.session {
            self.exchanges.close_session(now, s, Some(false));
        }
        self.process(now);
    }

    /// The next datagram/SDU for the device.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.exchanges.poll_transmit(now, buf).map(|t| t.len)
    }

    /// The earliest deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pase = match &self.phase {
            Phase::Pase { initiator, .. } => initiator.poll_timeout(),
            _ => None,
        };
        let case = self.case.as_ref().and_then(|(_, i)| i.poll_timeout());
        [self.exchanges.poll_timeout(), pase, case]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<CommissionerEvent> {
        self.events.pop_front()
    }

    /// Whether PASE has completed and the session is alive.
    pub fn is_established(&self) -> bool {
        self.session.is_some()
    }

    fn process(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.exchanges.poll_event() {
                progressed = true;
                self.on_exchange_event(now, ev);
            }
            if let Phase::Pase {
                exchange,
                initiator,
            } = &mut self.phase
            {
                let exchange = *exchange;
                while let Some((op, payload)) = initiator.poll_transmit() {
                    progressed = true;
                    if let Err(e) = self.exchanges.send(now, exchange, op.value(), &payload) {
                        warn!(error = %e, "PASE message not sent");
                    }
                }
                if let Some(ev) = initiator.poll_event() {
                    progressed = true;
                    self.on_pase_event(now, exchange, ev);
                }
            }
            if let Some((exchange, initiator)) = &mut self.case {
                let exchange = *exchange;
                while let Some((op, payload)) = initiator.poll_transmit() {
                    progressed = true;
                    if let Err(e) = self.exchanges.send(now, exchange, op.value(), &payload) {
                        warn!(error = %e, "CASE message not sent");
                    }
                }
                if let Some(ev) = initiator.poll_event() {
                    progressed = true;
                    self.case = None;
                    self.on_case_event(now, exchange, ev);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_pase_event(&mut self, now: Instant, exchange: ExchangeRef, ev: InitiatorEvent) {
        self.exchanges.close_exchange(now, exchange);
        match ev {
            InitiatorEvent::Established(est) => {
                let handover = est.handover();
                drop(est); // zeroizes its copy of Ke
                match self
                    .exchanges
                    .add_pase_session(now, self.peer, handover, ())
                {
                    Ok(s) => {
                        debug!(session = ?s, "commissioner: PASE established");
                        self.session = Some(s);
                        self.phase = Phase::Ready;
                        self.events
                            .push_back(CommissionerEvent::PaseEstablished { session: s });
                    }
                    Err(e) => {
                        self.phase = Phase::Failed;
                        self.events
                            .push_back(CommissionerEvent::SessionRejected(e.to_string()));
                    }
                }
            }
            InitiatorEvent::Failed(e) => {
                self.phase = Phase::Failed;
                self.events.push_back(CommissionerEvent::PaseFailed(e));
            }
        }
    }

    fn on_case_event(&mut self, now: Instant, exchange: ExchangeRef, ev: case::InitiatorEvent) {
        self.exchanges.close_exchange(now, exchange);
        self.exchanges
            .close_unsecured_session(now, exchange.session);
        // Reserved for this handshake: a session that is created takes it over, every other
        // outcome gives it back.
        if let Some(id) = self.case_local_id.take() {
            self.exchanges.sessions_mut().release_session_id(id);
        }
        match ev {
            case::InitiatorEvent::Established(est) => {
                let params = SecureSessionParams {
                    local_session_id: est.local_session_id,
                    peer_session_id: est.peer_session_id,
                    peer_node_id: est.peer_node_id,
                    shared_secret: &est.shared_secret[..],
                    salt: &est.salt,
                    is_initiator: true,
                    is_resumption: est.is_resumption,
                    fabric: Some(SessionFabric {
                        index: est.fabric,
                        node_id: est.local_node_id,
                    }),
                    context: (),
                    peer_parameters: est.peer_params,
                    mrp_enabled: !self.peer.is_reliable_transport(),
                };
                match self.exchanges.add_secure_session(now, self.peer, params) {
                    Ok(s) => {
                        debug!(session = ?s, resumed = est.is_resumption, "commissioner: CASE established");
                        self.session = Some(s);
                        self.case_resumption = Some(est.resumption_record());
                        self.events.push_back(CommissionerEvent::CaseEstablished {
                            session: s,
                            resumed: est.is_resumption,
                        });
                    }
                    Err(e) => {
                        self.events
                            .push_back(CommissionerEvent::SessionRejected(e.to_string()));
                    }
                }
            }
            case::InitiatorEvent::Failed(e) => {
                self.events.push_back(CommissionerEvent::CaseFailed(e));
            }
        }
    }

    fn on_exchange_event(&mut self, now: Instant, ev: ExchangeEvent) {
        match ev {
            ExchangeEvent::Incoming {
                exchange, message, ..
            } => {
                let ph = message.payload_header;
                if let Some((case_ex, initiator)) = &mut self.case {
                    if *case_ex == exchange && ph.protocol_id == ProtocolId::SECURE_CHANNEL {
                        initiator.handle_message(
                            now,
                            SecureChannelOpcode::from(ph.opcode),
                            &message.payload,
                        );
                        return;
                    }
                }
                if let Phase::Pase {
                    exchange: pase_ex,
                    initiator,
                } = &mut self.phase
                {
                    if *pase_ex == exchange && ph.protocol_id == ProtocolId::SECURE_CHANNEL {
                        initiator.handle_message(
                            now,
                            SecureChannelOpcode::from(ph.opcode),
                            &message.payload,
                            &mut self.rng,
                        );
                        return;
                    }
                }
                if self.request == Some(exchange) && ph.protocol_id == ProtocolId::INTERACTION_MODEL
                {
                    self.request = None;
                    self.exchanges.close_exchange(now, exchange);
                    self.events.push_back(CommissionerEvent::Response {
                        opcode: InteractionModelOpcode::from(ph.opcode),
                        payload: message.payload.to_vec(),
                    });
                    return;
                }
                if self.read.as_ref().is_some_and(|r| r.exchange == exchange)
                    && ph.protocol_id == ProtocolId::INTERACTION_MODEL
                {
                    self.on_read_message(now, exchange, ph.opcode, &message.payload);
                    return;
                }
                if ph.protocol_id == ProtocolId::INTERACTION_MODEL {
                    if self.write == Some(exchange) {
                        self.on_write_message(now, exchange, ph.opcode, &message.payload);
                        return;
                    }
                    if self
                        .priming
                        .as_ref()
                        .is_some_and(|p| p.exchange == exchange)
                    {
                        self.on_priming_message(now, exchange, ph.opcode, &message.payload);
                        return;
                    }
                    if InteractionModelOpcode::from(ph.opcode)
                        == InteractionModelOpcode::REPORT_DATA
                        && self.invoke.as_ref().is_none_or(|i| i.exchange != exchange)
                    {
                        self.on_subscription_report(now, exchange, &message.payload);
                        return;
                    }
                }
                if self.invoke.as_ref().is_some_and(|i| i.exchange == exchange)
                    && ph.protocol_id == ProtocolId::INTERACTION_MODEL
                {
                    self.on_invoke_message(now, exchange, ph.opcode, &message.payload);
                    return;
                }
                debug!(
                    ?exchange,
                    opcode = ph.opcode,
                    "commissioner: unexpected message"
                );
                self.exchanges.close_exchange(now, exchange);
            }
            ExchangeEvent::SendFailed { exchange, .. } => {
                self.exchanges.close_exchange(now, exchange);
                if self.case.as_ref().is_some_and(|(x, _)| *x == exchange) {
                    self.case = None;
                    if let Some(id) = self.case_local_id.take() {
                        self.exchanges.sessions_mut().release_session_id(id);
                    }
                    self.events
                        .push_back(CommissionerEvent::CaseFailed(CaseError::PeerGone));
                }
                if self.read.as_ref().is_some_and(|r| r.exchange == exchange) {
                    self.read = None;
                    self.events
                        .push_back(CommissionerEvent::ReadFailed("no acknowledgement".into()));
                }
                if self.request == Some(exchange) {
                    self.request = None;
                    self.events.push_back(CommissionerEvent::RequestFailed);
                }
                if self.invoke.as_ref().is_some_and(|i| i.exchange == exchange) {
                    self.invoke = None;
                    self.events
                        .push_back(CommissionerEvent::InvokeFailed("no acknowledgement".into()));
                }
                if self.write == Some(exchange) {
                    self.write = None;
                    self.events
                        .push_back(CommissionerEvent::WriteFailed("no acknowledgement".into()));
                }
                if self
                    .priming
                    .as_ref()
                    .is_some_and(|p| p.exchange == exchange)
                {
                    self.priming = None;
                    self.events.push_back(CommissionerEvent::SubscribeFailed(
                        "no acknowledgement".into(),
                    ));
                }
                self.incoming_reports.retain(|(x, _)| *x != exchange);
            }
            ExchangeEvent::Session(SessionManagerEvent::Closed { session, .. })
                if Some(session) == self.session =>
            {
                self.session = None;
                self.read = None;
                self.invoke = None;
                self.request = None;
                self.write = None;
                self.priming = None;
                self.subscriptions.clear();
                self.incoming_reports.clear();
                self.events.push_back(CommissionerEvent::SessionClosed);
            }
            _ => {}
        }
    }

    fn on_read_message(&mut self, now: Instant, exchange: ExchangeRef, opcode: u8, payload: &[u8]) {
        let op = InteractionModelOpcode::from(opcode);
        let result = if op == InteractionModelOpcode::REPORT_DATA {
            parse_report(payload).map_err(|e| format!("bad ReportData: {e}"))
        } else if op == InteractionModelOpcode::STATUS_RESPONSE {
            Err(match StatusResponse::parse(payload) {
                Ok(s) => format!("device answered with status {:?}", s.status),
                Err(e) => format!("bad StatusResponse: {e}"),
            })
        } else {
            Err(format!("unexpected opcode {op:?}"))
        };
        let Some(mut read) = self.read.take() else {
            return;
        };
        match result {
            Ok(chunk) => {
                read.chunks += 1;
                read.reports.extend(chunk.reports);
                if chunk.more_chunks {
                    // Matter 1.3 §8.4.3.2 (chunked reports): ask for the next chunk.
                    let status = StatusResponse {
                        status: Status::SUCCESS,
                    };
                    if let Err(e) = self.exchanges.send(
                        now,
                        exchange,
                        InteractionModelOpcode::STATUS_RESPONSE.value(),
                        &status.encode(),
                    ) {
                        self.events
                            .push_back(CommissionerEvent::ReadFailed(e.to_string()));
                        return;
                    }
                    self.read = Some(read);
                    return;
                }
                if !chunk.suppress_response {
                    let status = StatusResponse {
                        status: Status::SUCCESS,
                    };
                    let _ = self.exchanges.send(
                        now,
                        exchange,
                        InteractionModelOpcode::STATUS_RESPONSE.value(),
                        &status.encode(),
                    );
                }
                self.exchanges.close_exchange(now, exchange);
                self.events.push_back(CommissionerEvent::ReadDone {
                    reports: read.reports,
                    chunks: read.chunks,
                });
            }
            Err(e) => {
                self.exchanges.close_exchange(now, exchange);
                self.events.push_back(CommissionerEvent::ReadFailed(e));
            }
        }
    }
}

impl<R: Rng> Commissioner<R> {
    fn on_invoke_message(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
    ) {
        let Some(mut invoke) = self.invoke.take() else {
            return;
        };
        let op = InteractionModelOpcode::from(opcode);
        if op == InteractionModelOpcode::STATUS_RESPONSE {
            let status = StatusResponse::parse(payload).map(|s| s.status);
            match (status, invoke.held.take()) {
                (Ok(Status::SUCCESS), Some(request)) => {
                    // The TimedRequest was accepted: the InvokeRequest follows at once.
                    match self.exchanges.send(
                        now,
                        exchange,
                        InteractionModelOpcode::INVOKE_REQUEST.value(),
                        &request,
                    ) {
                        Ok(_) => self.invoke = Some(invoke),
                        Err(e) => self
                            .events
                            .push_back(CommissionerEvent::InvokeFailed(e.to_string())),
                    }
                }
                (Ok(s), _) => {
                    self.exchanges.close_exchange(now, exchange);
                    self.events
                        .push_back(CommissionerEvent::InvokeFailed(format!(
                            "device answered with status {s:?}"
                        )));
                }
                (Err(e), _) => {
                    self.exchanges.close_exchange(now, exchange);
                    self.events
                        .push_back(CommissionerEvent::InvokeFailed(format!(
                            "bad StatusResponse: {e}"
                        )));
                }
            }
            return;
        }
        self.exchanges.close_exchange(now, exchange);
        let ev = if op == InteractionModelOpcode::INVOKE_RESPONSE && invoke.held.is_none() {
            match parse_invoke_response(payload) {
                Ok(o) => CommissionerEvent::InvokeDone(o),
                Err(e) => CommissionerEvent::InvokeFailed(format!("bad InvokeResponse: {e}")),
            }
        } else {
            CommissionerEvent::InvokeFailed(format!("unexpected opcode {op:?}"))
        };
        self.events.push_back(ev);
    }
}

/// InvokeRequestMessage (Matter 1.3 §10.7.9) with one CommandDataIB.
fn encode_invoke(
    path: &CommandPath,
    fields: &Container<'_>,
    timed: bool,
) -> Result<Vec<u8>, TlvError> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    w.start_struct(Tag::Anonymous)?;
    w.bool(Tag::Context(0), false)?;
    w.bool(Tag::Context(1), timed)?;
    w.start_array(Tag::Context(2))?;
    w.start_struct(Tag::Anonymous)?;
    path.write(&mut w, Tag::Context(0))?;
    w.value(Tag::Context(1), &Value::Struct(*fields))?;
    w.end_container()?;
    w.end_container()?;
    w.u8(Tag::Context(0xFF), crate::im::INTERACTION_MODEL_REVISION)?;
    w.end_container()?;
    Ok(buf)
}

/// The first InvokeResponseIB of an InvokeResponseMessage (Matter 1.3 §10.7.10).
///
/// # Errors
/// Malformed TLV or no response in the message.
pub fn parse_invoke_response(payload: &[u8]) -> Result<InvokeOutcome, TlvError> {
    let s = TlvReader::new(payload).read_struct()?;
    let list = s.array(1)?;
    let first = list
        .iter()
        .next()
        .ok_or(TlvError::MissingField { tag: 1 })??;
    let Value::Struct(ib) = first.value else {
        return Err(TlvError::WrongType {
            expected: ElementType::Structure,
            found: first.value.element_type(),
        });
    };
    if let Some(data) = ib.opt_structure(0)? {
        let command = data.list(0)?.u32(2)?;
        let fields = match data.find(1)? {
            Some(e) => TlvValue::from_value(&e.value)?,
            None => TlvValue::Struct(Vec::new()),
        };
        return Ok(InvokeOutcome::Response { command, fields });
    }
    let status = ib.structure(1)?.structure(1)?;
    Ok(InvokeOutcome::Status {
        status: Status(status.u8(0)?),
        cluster_status: status.opt_u8(1)?,
    })
}

impl<R: Rng> Commissioner<R> {
    fn send_status(&mut self, now: Instant, exchange: ExchangeRef, status: Status) {
        let _ = self.exchanges.send(
            now,
            exchange,
            InteractionModelOpcode::STATUS_RESPONSE.value(),
            &StatusResponse { status }.encode(),
        );
    }

    fn on_write_message(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
    ) {
        self.write = None;
        self.exchanges.close_exchange(now, exchange);
        let ev = if InteractionModelOpcode::from(opcode) == InteractionModelOpcode::WRITE_RESPONSE {
            match parse_write_response(payload) {
                Ok(st) => CommissionerEvent::WriteDone(st),
                Err(e) => CommissionerEvent::WriteFailed(format!("bad WriteResponse: {e}")),
            }
        } else {
            CommissionerEvent::WriteFailed(format!("unexpected opcode {opcode:#04x}"))
        };
        self.events.push_back(ev);
    }

    fn on_priming_message(
        &mut self,
        now: Instant,
        exchange: ExchangeRef,
        opcode: u8,
        payload: &[u8],
    ) {
        let op = InteractionModelOpcode::from(opcode);
        let fail = |this: &mut Self, why: String| {
            this.priming = None;
            this.exchanges.close_exchange(now, exchange);
            this.events
                .push_back(CommissionerEvent::SubscribeFailed(why));
        };
        if op == InteractionModelOpcode::REPORT_DATA {
            match parse_report(payload) {
                Ok(chunk) => {
                    if let Some(p) = self.priming.as_mut() {
                        p.reports.extend(chunk.reports);
                    }
                    // Every priming chunk, the last one too, is answered (§8.5.1).
                    self.send_status(now, exchange, Status::SUCCESS);
                }
                Err(e) => fail(self, format!("bad priming ReportData: {e}")),
            }
        } else if op == InteractionModelOpcode::SUBSCRIBE_RESPONSE {
            match SubscribeResponse::parse(payload) {
                Ok(rsp) => {
                    let reports = self.priming.take().map(|p| p.reports).unwrap_or_default();
                    self.exchanges.close_exchange(now, exchange);
                    self.subscriptions.push(rsp.subscription_id);
                    debug!(
                        id = rsp.subscription_id,
                        max = rsp.max_interval,
                        "subscribed"
                    );
                    self.events
                        .push_back(CommissionerEvent::SubscriptionEstablished {
                            id: rsp.subscription_id,
                            max_interval: rsp.max_interval,
                            reports,
                        });
                }
                Err(e) => fail(self, format!("bad SubscribeResponse: {e}")),
            }
        } else if op == InteractionModelOpcode::STATUS_RESPONSE {
            let why = match StatusResponse::parse(payload) {
                Ok(s) => format!("device answered with status {:?}", s.status),
                Err(e) => format!("bad StatusResponse: {e}"),
            };
            fail(self, why);
        } else {
            fail(self, format!("unexpected opcode {op:?}"));
        }
    }

    /// A ReportData the device sent on an exchange it opened: a subscription's change report
    /// or keep-alive. Answered with StatusResponse: SUCCESS for a subscription we hold,
    /// INVALID_SUBSCRIPTION otherwise (§8.5.2).
    fn on_subscription_report(&mut self, now: Instant, exchange: ExchangeRef, payload: &[u8]) {
        let chunk = match parse_report(payload) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "bad subscription ReportData");
                self.send_status(now, exchange, Status::INVALID_ACTION);
                self.exchanges.close_exchange(now, exchange);
                return;
            }
        };
        let Some(id) = chunk
            .subscription_id
            .filter(|id| self.subscriptions.contains(id))
        else {
            self.send_status(now, exchange, Status::INVALID_SUBSCRIPTION);
            self.exchanges.close_exchange(now, exchange);
            return;
        };
        self.send_status(now, exchange, Status::SUCCESS);
        let mut reports = match self
            .incoming_reports
            .iter()
            .position(|(x, _)| *x == exchange)
        {
            Some(i) => self.incoming_reports.swap_remove(i).1,
            None => Vec::new(),
        };
        reports.extend(chunk.reports);
        if chunk.more_chunks {
            self.incoming_reports.push((exchange, reports));
            return;
        }
        self.exchanges.close_exchange(now, exchange);
        self.events
            .push_back(CommissionerEvent::SubscriptionReport { id, reports });
    }
}

/// The statuses of a WriteResponse (Matter 1.3 §10.7.7), in order.
fn parse_write_response(payload: &[u8]) -> Result<Vec<Status>, TlvError> {
    let s = TlvReader::new(payload).read_struct()?;
    let mut out = Vec::new();
    if let Some(a) = s.opt_array(0)? {
        for ib in a.iter() {
            let ib = ib?.value.decode::<Container<'_>>()?;
            out.push(Status(ib.structure(1)?.u8(0)?));
        }
    }
    Ok(out)
}

/// One ReportData message, parsed.
#[derive(Debug, Default)]
pub struct ReportChunk {
    /// SubscriptionId (tag 0), in reports of a subscription.
    pub subscription_id: Option<u32>,
    /// Attribute reports (tag 1).
    pub reports: Vec<AttributeReport>,
    /// MoreChunkedMessages (tag 3).
    pub more_chunks: bool,
    /// SuppressResponse (tag 4).
    pub suppress_response: bool,
}

/// Parses a ReportDataMessage (Matter 1.3 §10.7.3): AttributeReportIBs of data or status.
///
/// # Errors
/// Malformed TLV or a report without its path.
pub fn parse_report(payload: &[u8]) -> Result<ReportChunk, TlvError> {
    let s = TlvReader::new(payload).read_struct()?;
    let mut chunk = ReportChunk {
        subscription_id: s.opt_u32(0)?,
        more_chunks: s.opt_bool(3)?.unwrap_or(false),
        suppress_response: s.opt_bool(4)?.unwrap_or(false),
        ..ReportChunk::default()
    };
    if let Some(list) = s.opt_array(1)? {
        for ib in list.iter() {
            let ib = ib?.value;
            let Value::Struct(ib) = ib else {
                return Err(TlvError::WrongType {
                    expected: ElementType::Structure,
                    found: ib.element_type(),
                });
            };
            chunk.reports.push(parse_attribute_report(&ib)?);
        }
    }
    Ok(chunk)
}

fn parse_attribute_report(ib: &Container<'_>) -> Result<AttributeReport, TlvError> {
    // AttributeReportIB: 0 AttributeStatusIB {0 path, 1 StatusIB {0 status}}, 1 AttributeDataIB
    // {0 DataVersion, 1 path, 2 data}.
    if let Some(status) = ib.opt_structure(0)? {
        let (endpoint, cluster, attribute) = parse_path(&status.list(0)?)?;
        let code = status.structure(1)?.u8(0)?;
        return Ok(AttributeReport {
            endpoint,
            cluster,
            attribute,
            value: Err(Status(code)),
        });
    }
    let data = ib.structure(1)?;
    let (endpoint, cluster, attribute) = parse_path(&data.list(1)?)?;
    let element = data.find(2)?.ok_or(TlvError::MissingField { tag: 2 })?;
    Ok(AttributeReport {
        endpoint,
        cluster,
        attribute,
        value: Ok(TlvValue::from_value(&element.value)?),
    })
}

fn parse_path(p: &Container<'_>) -> Result<(u16, u32, u32), TlvError> {
    Ok((p.u16(2)?, p.u32(3)?, p.u32(4)?))
}
