//! The commissionee's side of PASE: the commissioning window, the handshake state machine
//! (PBKDFParamRequest → PBKDFParamResponse, Pake1 → Pake2, Pake3 → StatusReport), failure counting
//! and timers. Matter 1.3 §4.14.1 (PASE) and §5.5 (Commissioning Flows).
//!
//! # Driving contract
//! [`PaseResponder`] is a sans-IO engine (see the crate docs):
//! * A, getters: [`PaseResponder::is_window_open`], [`PaseResponder::is_listening`],
//!   [`PaseResponder::failed_attempts`], [`PaseResponder::reserved_session_id`],
//!   [`PaseResponder::stats`];
//! * B, inputs: [`PaseResponder::handle_message`], [`PaseResponder::handle_timeout`],
//!   [`PaseResponder::handle_exchange_closed`], [`PaseResponder::handle_session_closed`];
//! * C, commands: [`PaseResponder::open_window`], [`PaseResponder::reopen_window`],
//!   [`PaseResponder::close_window`];
//! * D, outputs, drained after every B or C call: [`PaseResponder::poll_transmit`],
//!   [`PaseResponder::poll_timeout`], [`PaseResponder::poll_event`].
//!
//! `K` identifies the exchange a message came on (for instance the peer address plus the exchange
//! id); the responder binds a handshake to the exchange of its PBKDFParamRequest and answers on it.
//!
//! # Rules for unexpected input (and where they come from)
//! * **Window closed**: nothing is answered, PBKDFParamRequest included (issue: "while closed,
//!   PBKDFParamRequest is not answered"; the CHIP SDK unregisters its PBKDFParamRequest handler).
//! * **A second initiator** (a message on another exchange) while a handshake is in progress or a
//!   PASE session is established: ignored, unanswered, not counted, and the handshake in progress
//!   is untouched. This is Matter 1.3 §5.5: "the Commissionee SHALL NOT accept any more requests
//!   for new PASE sessions until session establishment fails or the successfully established PASE
//!   session is terminated", and what matter.js does. The CHIP SDK instead fails its own handshake
//!   when a message arrives on a foreign exchange (`PASESession::ValidateReceivedMessage`), which
//!   would let anyone in radio range abort a commissioning; we do not copy that.
//! * **An exact duplicate** of the last message accepted on the handshake's exchange (a transport
//!   retransmission that got through): ignored; the exchange layer owns retransmissions.
//! * **Any other message out of order** on the handshake's exchange (Pake3 before Pake1, a new
//!   PBKDFParamRequest mid-handshake, an unknown opcode): the handshake fails with StatusReport
//!   "invalid parameter", the attempt is counted and the state dropped, as for a malformed message.
//! * **A StatusReport** from the initiator mid-handshake: it gave up; the attempt is counted, no
//!   reply.
//! * **Messages other than PBKDFParamRequest with no handshake**: ignored (the CHIP SDK has no
//!   handler for them either).
//! * Every failed attempt counts, timeouts and vanished peers included, as in the CHIP SDK's
//!   `CommissioningWindowManager::HandleFailedAttempt`; at `max_failed_attempts` (20) the window
//!   closes until [`PaseResponder::open_window`] or [`PaseResponder::reopen_window`].

use std::collections::VecDeque;

use tracing::{debug, warn};

use crate::rng::Rng;
use crate::session::params::SessionParameters;
use crate::time::{Duration, Instant};

use crate::message::{SecureChannelOpcode as Op, StatusReport};

use super::messages::{
    Pake1, Pake2, Pake3, PbkdfParamRequest, PbkdfParamResponse, PbkdfParameters, RANDOM_LEN,
};
use super::spake2p::ExpectConfirmation;
use super::{
    context_hash, encode_status, status_busy, status_success, Established, PaseError, PaseVerifier,
    Role,
};

/// How long one handshake may take from PBKDFParamRequest to Pake3 (the CHIP SDK's
/// `kPASESessionEstablishmentTimeout` and matter.js' `PASE_PAIRING_TIMEOUT_MS`: 60 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Failed attempts after which the window closes (CHIP SDK `kMaxFailedCommissioningAttempts`,
/// matter.js `PASE_COMMISSIONING_MAX_ERRORS`: 20).
pub const MAX_FAILED_ATTEMPTS: u32 = 20;

/// The default commissioning window (Matter 1.3 §5.4.2.3.1: 15 minutes for the initial window).
pub const DEFAULT_WINDOW_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Minimum wait a Busy StatusReport asks for when no session id is free.
const BUSY_WAIT_MS: u16 = 500;

/// Responder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponderConfig {
    /// Our session parameters, sent in PBKDFParamResponse (tag 5); `None` leaves them out.
    pub session_params: Option<SessionParameters>,
    /// Stall timeout of one handshake.
    pub handshake_timeout: Duration,
    /// Failed attempts that close the window.
    pub max_failed_attempts: u32,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        Self {
            session_params: None,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            max_failed_attempts: MAX_FAILED_ATTEMPTS,
        }
    }
}

/// A secure-channel message to send on exchange `exchange` (unsecured session, protocol 0x0000).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PaseTransmit<K> {
    /// The exchange to send on (the one the handshake's messages came on).
    pub exchange: K,
    /// Secure-channel opcode.
    pub opcode: Op,
    /// TLV (or StatusReport) payload.
    pub payload: Vec<u8>,
    /// True if this ends the exchange (a StatusReport): close it once the message is acknowledged.
    pub ends_exchange: bool,
}

/// Why the commissioning window closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowCloseReason {
    /// `max_failed_attempts` handshakes failed.
    TooManyFailures,
    /// The window's timeout passed.
    Timeout,
    /// [`PaseResponder::close_window`] was called.
    Requested,
}

/// Something the node must know about.
#[derive(Debug)]
#[non_exhaustive]
pub enum PaseEvent<K> {
    /// A PBKDFParamRequest was accepted and answered: a handshake is running on `exchange`.
    HandshakeStarted {
        /// The handshake's exchange.
        exchange: K,
    },
    /// The handshake on `exchange` succeeded: create the secure session from `session`. The
    /// success StatusReport is already queued ahead of this event.
    Established {
        /// The handshake's exchange.
        exchange: K,
        /// Keys, session ids and peer parameters.
        session: Box<Established>,
    },
    /// The handshake on `exchange` failed; any StatusReport is already queued. The CHIP SDK also
    /// drops the BLE connection at this point.
    HandshakeFailed {
        /// The handshake's exchange.
        exchange: K,
        /// What went wrong.
        error: PaseError,
        /// Failed attempts in this window so far (this one included).
        failed_attempts: u32,
    },
    /// The commissioning window closed: stop advertising. An established PASE session is not
    /// affected (its fail-safe governs it).
    WindowClosed {
        /// Why.
        reason: WindowCloseReason,
    },
}

/// Counters for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Handshakes completed.
    pub established: u64,
    /// Handshakes failed (all windows).
    pub failed: u64,
    /// PBKDFParamRequests ignored because a handshake or PASE session was in progress.
    pub ignored_busy: u64,
    /// Messages ignored because the window was closed.
    pub ignored_closed: u64,
    /// Duplicates of the last accepted message, ignored.
    pub duplicates: u64,
    /// Messages ignored because no handshake was running (other than PBKDFParamRequest).
    pub ignored_stray: u64,
}

/// The commissionee's PASE engine. See the module docs for the driving contract and the rules for
/// unexpected input.
#[derive(Debug)]
pub struct PaseResponder<K> {
    config: ResponderConfig,
    verifier: Option<PaseVerifier>,
    window: Window<K>,
    failed_attempts: u32,
    /// A PASE session we established is alive: no new PASE until it ends (Matter 1.3 §5.5). Kept
    /// apart from the window, which may close and reopen while the session lives.
    session_active: bool,
    transmits: VecDeque<PaseTransmit<K>>,
    events: VecDeque<PaseEvent<K>>,
    stats: ResponderStats,
}

#[derive(Debug)]
enum Window<K> {
    Closed,
    Open {
        deadline: Option<Instant>,
        phase: Phase<K>,
    },
}

#[derive(Debug)]
enum Phase<K> {
    /// Waiting for a PBKDFParamRequest (advertising).
    Listening,
    /// One handshake in progress.
    Handshake(Box<Handshake<K>>),
}

#[derive(Debug)]
struct Handshake<K> {
    exchange: K,
    deadline: Instant,
    local_session_id: u16,
    peer_session_id: u16,
    peer_params: SessionParameters,
    /// Opcode and payload of the last message accepted, to recognise duplicates.
    last_input: (Op, Vec<u8>),
    step: Step,
}

#[derive(Debug)]
enum Step {
    ExpectPake1 { context: [u8; 32] },
    ExpectPake3 { confirm: ExpectConfirmation },
}

impl Step {
    fn expected(&self) -> &'static str {
        match self {
            Self::ExpectPake1 { .. } => "Pake1",
            Self::ExpectPake3 { .. } => "Pake3",
        }
    }
}

/// What one step of the handshake produced.
enum StepOutcome {
    Continue(Step, PaseReply),
    Done(Box<Established>),
}

struct PaseReply {
    opcode: Op,
    payload: Vec<u8>,
}

impl<K: Clone + Eq + core::fmt::Debug> PaseResponder<K> {
    /// A responder with its window closed. Call [`PaseResponder::open_window`] to start.
    pub fn new(config: ResponderConfig) -> Self {
        Self {
            config,
            verifier: None,
            window: Window::Closed,
            failed_attempts: 0,
            session_active: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ResponderStats::default(),
        }
    }

    // --- B: inputs ----------------------------------------------------------------------------

    /// One secure-channel message from the unsecured session, on exchange `exchange`.
    ///
    /// `session_ids` allocates our local session id when a handshake starts; it must return an id
    /// unique among live sessions (and the [`PaseResponder::reserved_session_id`] of a handshake in
    /// progress), never 0; `None` (or 0) answers the initiator with Busy.
    pub fn handle_message(
        &mut self,
        now: Instant,
        exchange: K,
        msg_opcode: Op,
        payload: &[u8],
        rng: &mut dyn Rng,
        session_ids: &mut dyn FnMut() -> Option<u16>,
    ) {
        // A message that arrives after a deadline the driver has not reported yet sees the
        // deadline's effect first.
        self.handle_timeout(now);
        let Window::Open { phase, .. } = &mut self.window else {
            self.stats.ignored_closed += 1;
            debug!(
                opcode = ?msg_opcode,
                "commissioning window closed, ignoring"
            );
            return;
        };
        match phase {
            Phase::Listening if self.session_active => {
                self.stats.ignored_busy += 1;
                warn!(
                    opcode = ?msg_opcode,
                    "PASE session already established, ignoring new request"
                );
            }
            Phase::Listening if msg_opcode == Op::PBKDF_PARAM_REQUEST => {
                self.start_handshake(now, exchange, payload, rng, session_ids);
            }
            Phase::Listening => {
                self.stats.ignored_stray += 1;
                debug!(
                    opcode = ?msg_opcode,
                    "no PASE handshake in progress, ignoring"
                );
            }
            Phase::Handshake(h) if h.exchange != exchange => {
                self.stats.ignored_busy += 1;
                warn!(
                    opcode = ?msg_opcode,
                    ?exchange,
                    "PASE handshake in progress on another exchange, ignoring"
                );
            }
            Phase::Handshake(h) if h.last_input.0 == msg_opcode && h.last_input.1 == payload => {
                self.stats.duplicates += 1;
                debug!(
                    opcode = ?msg_opcode,
                    "duplicate PASE message, ignoring"
                );
            }
            Phase::Handshake(_) => {
                let Phase::Handshake(h) = core::mem::replace(phase, Phase::Listening) else {
                    return; // matched just above
                };
                self.continue_handshake(now, *h, msg_opcode, payload, rng);
            }
        }
    }

    /// Timer input. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Window::Open { deadline, phase } = &mut self.window else {
            return;
        };
        if deadline.is_some_and(|d| now >= d) {
            debug!("commissioning window timed out");
            self.close(WindowCloseReason::Timeout);
            return;
        }
        if let Phase::Handshake(h) = phase {
            if now >= h.deadline {
                let Phase::Handshake(h) = core::mem::replace(phase, Phase::Listening) else {
                    return;
                };
                debug!(exchange = ?h.exchange, "PASE handshake timed out");
                self.fail(h.exchange, PaseError::TimedOut);
            }
        }
    }

    /// The exchange (or the BLE link / peer it ran on) went away. A handshake on it fails and is
    /// counted, as in the CHIP SDK.
    pub fn handle_exchange_closed(&mut self, now: Instant, exchange: &K) {
        self.handle_timeout(now);
        if let Window::Open { phase, .. } = &mut self.window {
            if matches!(phase, Phase::Handshake(h) if h.exchange == *exchange) {
                if let Phase::Handshake(h) = core::mem::replace(phase, Phase::Listening) {
                    self.fail(h.exchange, PaseError::PeerGone);
                }
            }
        }
    }

    /// The PASE session established in this window ended (closed, evicted, fail-safe expired)
    /// without commissioning completing: listen for PASE again if the window is still open.
    pub fn handle_session_closed(&mut self, now: Instant) {
        self.handle_timeout(now);
        if self.session_active {
            debug!("PASE session ended, listening for PASE again if the window is open");
            self.session_active = false;
        }
    }

    // --- C: commands --------------------------------------------------------------------------

    /// Opens the commissioning window with `verifier` for `timeout` (`None`: no timeout), resetting
    /// the failure count. Replaces any previous verifier; aborts a handshake in progress.
    pub fn open_window(&mut self, now: Instant, verifier: PaseVerifier, timeout: Option<Duration>) {
        self.verifier = Some(verifier);
        self.reopen_window(now, timeout);
    }

    /// Opens the window again with the verifier given last. Returns false (and stays closed) if no
    /// verifier was ever given.
    pub fn reopen_window(&mut self, now: Instant, timeout: Option<Duration>) -> bool {
        if self.verifier.is_none() {
            warn!("reopen_window without a verifier");
            return false;
        }
        if let Window::Open {
            phase: Phase::Handshake(h),
            ..
        } = core::mem::replace(&mut self.window, Window::Closed)
        {
            self.abort(h.exchange);
        }
        self.failed_attempts = 0;
        let deadline = timeout.map(|t| now + t);
        debug!(?deadline, "commissioning window open");
        self.window = Window::Open {
            deadline,
            phase: Phase::Listening,
        };
        true
    }

    /// Closes the window (commissioning complete, or the user asked). A handshake in progress is
    /// aborted without a reply; an established session is not affected.
    pub fn close_window(&mut self, _now: Instant) {
        if self.is_window_open() {
            self.close(WindowCloseReason::Requested);
        }
    }

    // --- D: outputs ---------------------------------------------------------------------------

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<PaseTransmit<K>> {
        self.transmits.pop_front()
    }

    /// The next deadline: the window timeout or the handshake stall timeout.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let Window::Open { deadline, phase } = &self.window else {
            return None;
        };
        let hs = match phase {
            Phase::Handshake(h) => Some(h.deadline),
            _ => None,
        };
        match (*deadline, hs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PaseEvent<K>> {
        self.events.pop_front()
    }

    // --- A: getters ---------------------------------------------------------------------------

    /// True while the commissioning window is open (even while a handshake or PASE session runs).
    pub fn is_window_open(&self) -> bool {
        matches!(self.window, Window::Open { .. })
    }

    /// True while a new PBKDFParamRequest would be answered: advertise commissionable only then.
    pub fn is_listening(&self) -> bool {
        !self.session_active
            && matches!(
                self.window,
                Window::Open {
                    phase: Phase::Listening,
                    ..
                }
            )
    }

    /// True while a PASE session established by this responder is alive (until
    /// [`PaseResponder::handle_session_closed`]).
    pub fn is_session_active(&self) -> bool {
        self.session_active
    }

    /// True while a handshake is in progress.
    pub fn is_handshaking(&self) -> bool {
        matches!(
            self.window,
            Window::Open {
                phase: Phase::Handshake(_),
                ..
            }
        )
    }

    /// Failed attempts in the current window.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// The local session id held by the handshake in progress, which the session-id allocator must
    /// not hand out again.
    pub fn reserved_session_id(&self) -> Option<u16> {
        match &self.window {
            Window::Open {
                phase: Phase::Handshake(h),
                ..
            } => Some(h.local_session_id),
            _ => None,
        }
    }

    /// Counters.
    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    // --- private ------------------------------------------------------------------------------

    fn start_handshake(
        &mut self,
        now: Instant,
        exchange: K,
        payload: &[u8],
        rng: &mut dyn Rng,
        session_ids: &mut dyn FnMut() -> Option<u16>,
    ) {
        let Some(verifier) = &self.verifier else {
            return; // an open window always has a verifier
        };
        let req = match PbkdfParamRequest::decode(payload) {
            Ok(r) => r,
            Err(e) => return self.fail(exchange, e.into()),
        };
        debug!(
            peer_session_id = req.initiator_session_id,
            has_pbkdf_parameters = req.has_pbkdf_parameters,
            "PBKDFParamRequest"
        );
        // Matter 1.3 §4.14.1.2: passcodeId 0 is the only one defined (the CHIP SDK answers any other
        // with invalid parameter).
        if req.passcode_id != 0 {
            return self.fail(exchange, PaseError::UnsupportedPasscodeId(req.passcode_id));
        }
        if req.initiator_session_id == 0 {
            return self.fail(exchange, PaseError::InvalidPeerSessionId);
        }
        let Some(local_session_id) = session_ids().filter(|&id| id != 0) else {
            // Not the peer's fault: Busy, not counted.
            warn!("no free session id, answering Busy");
            self.transmits.push_back(PaseTransmit {
                exchange,
                opcode: Op::STATUS_REPORT,
                payload: encode_status(&status_busy(BUSY_WAIT_MS)),
                ends_exchange: true,
            });
            return;
        };
        let mut responder_random = [0u8; RANDOM_LEN];
        rng.fill(&mut responder_random);
        let resp = PbkdfParamResponse {
            initiator_random: req.initiator_random,
            responder_random,
            responder_session_id: local_session_id,
            pbkdf_parameters: (!req.has_pbkdf_parameters).then(|| PbkdfParameters {
                iterations: verifier.iterations(),
                salt: verifier.salt().to_vec(),
            }),
            responder_session_params: self.config.session_params,
        };
        let resp_bytes = resp.encode();
        let context = context_hash(payload, &resp_bytes);
        self.transmits.push_back(PaseTransmit {
            exchange: exchange.clone(),
            opcode: Op::PBKDF_PARAM_RESPONSE,
            payload: resp_bytes,
            ends_exchange: false,
        });
        debug!(
            local_session_id,
            "PBKDFParamResponse sent, waiting for Pake1"
        );
        self.events.push_back(PaseEvent::HandshakeStarted {
            exchange: exchange.clone(),
        });
        let h = Handshake {
            exchange,
            deadline: now + self.config.handshake_timeout,
            local_session_id,
            peer_session_id: req.initiator_session_id,
            peer_params: req.initiator_session_params.unwrap_or_default(),
            last_input: (Op::PBKDF_PARAM_REQUEST, payload.to_vec()),
            step: Step::ExpectPake1 { context },
        };
        if let Window::Open { phase, .. } = &mut self.window {
            *phase = Phase::Handshake(Box::new(h));
        }
    }

    fn continue_handshake(
        &mut self,
        _now: Instant,
        mut h: Handshake<K>,
        msg_opcode: Op,
        payload: &[u8],
        rng: &mut dyn Rng,
    ) {
        let Some(verifier) = &self.verifier else {
            return;
        };
        let step = core::mem::replace(&mut h.step, Step::ExpectPake1 { context: [0; 32] });
        let outcome = match (step, msg_opcode) {
            (_, Op::STATUS_REPORT) => Err(match StatusReport::decode(payload) {
                Ok(s) => PaseError::from_status(s),
                Err(e) => e.into(),
            }),
            (Step::ExpectPake1 { context }, Op::PASE_PAKE1) => {
                Self::on_pake1(verifier, &context, payload, rng)
            }
            (Step::ExpectPake3 { confirm }, Op::PASE_PAKE3) => {
                Self::on_pake3(&h, confirm, payload).map(StepOutcome::Done)
            }
            (step, got) => Err(PaseError::Unexpected {
                expected: step.expected(),
                got,
            }),
        };
        match outcome {
            Err(e) => self.fail(h.exchange, e),
            Ok(StepOutcome::Continue(step, reply)) => {
                self.transmits.push_back(PaseTransmit {
                    exchange: h.exchange.clone(),
                    opcode: reply.opcode,
                    payload: reply.payload,
                    ends_exchange: false,
                });
                h.step = step;
                h.last_input = (msg_opcode, payload.to_vec());
                if let Window::Open { phase, .. } = &mut self.window {
                    *phase = Phase::Handshake(Box::new(h));
                }
            }
            Ok(StepOutcome::Done(session)) => {
                self.transmits.push_back(PaseTransmit {
                    exchange: h.exchange.clone(),
                    opcode: Op::STATUS_REPORT,
                    payload: encode_status(&status_success()),
                    ends_exchange: true,
                });
                self.stats.established += 1;
                debug!(
                    local_session_id = session.local_session_id(),
                    peer_session_id = session.peer_session_id(),
                    "PASE established"
                );
                self.events.push_back(PaseEvent::Established {
                    exchange: h.exchange,
                    session,
                });
                self.session_active = true;
            }
        }
    }

    fn on_pake1(
        verifier: &PaseVerifier,
        context: &[u8; 32],
        payload: &[u8],
        rng: &mut dyn Rng,
    ) -> Result<StepOutcome, PaseError> {
        let pake1 = Pake1::decode(payload)?;
        let (values, confirm) = verifier.spake2p().respond(context, &pake1.pa, rng)?;
        debug!("Pake1 accepted, Pake2 sent, waiting for Pake3");
        let pake2 = Pake2 {
            pb: values.pb,
            cb: values.cb,
        };
        Ok(StepOutcome::Continue(
            Step::ExpectPake3 { confirm },
            PaseReply {
                opcode: Op::PASE_PAKE2,
                payload: pake2.encode(),
            },
        ))
    }

    fn on_pake3(
        h: &Handshake<K>,
        confirm: ExpectConfirmation,
        payload: &[u8],
    ) -> Result<Box<Established>, PaseError> {
        let pake3 = Pake3::decode(payload)?;
        let (secret, confirmed) = confirm.verify(&pake3.ca)?;
        Ok(Box::new(Established::new(
            h.local_session_id,
            h.peer_session_id,
            Role::Responder,
            h.peer_params,
            secret,
            confirmed,
        )))
    }

    /// A failed attempt: reply as [`PaseError::status_reply`] says, count it, drop the state (the
    /// caller already took it), and close the window at the limit.
    fn fail(&mut self, exchange: K, error: PaseError) {
        warn!(%error, ?exchange, "PASE handshake failed");
        if let Some(report) = error.status_reply() {
            self.transmits.push_back(PaseTransmit {
                exchange: exchange.clone(),
                opcode: Op::STATUS_REPORT,
                payload: encode_status(&report),
                ends_exchange: true,
            });
        }
        if let Window::Open { phase, .. } = &mut self.window {
            *phase = Phase::Listening;
        }
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        self.stats.failed += 1;
        self.events.push_back(PaseEvent::HandshakeFailed {
            exchange,
            error,
            failed_attempts: self.failed_attempts,
        });
        if self.failed_attempts >= self.config.max_failed_attempts {
            warn!(
                failed_attempts = self.failed_attempts,
                "too many failed PASE attempts, closing the commissioning window"
            );
            self.close(WindowCloseReason::TooManyFailures);
        }
    }

    /// A handshake ended by our side: no reply, not counted.
    fn abort(&mut self, exchange: K) {
        debug!(?exchange, "PASE handshake aborted locally");
        self.events.push_back(PaseEvent::HandshakeFailed {
            exchange,
            error: PaseError::Aborted,
            failed_attempts: self.failed_attempts,
        });
    }

    fn close(&mut self, reason: WindowCloseReason) {
        if let Window::Open {
            phase: Phase::Handshake(h),
            ..
        } = core::mem::replace(&mut self.window, Window::Closed)
        {
            self.abort(h.exchange);
        }
        debug!(?reason, "commissioning window closed");
        self.events.push_back(PaseEvent::WindowClosed { reason });
    }
}
