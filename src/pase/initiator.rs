//! The commissioner's side of PASE (Matter 1.3 §4.14.1): PBKDFParamRequest, then Pake1 and Pake3,
//! then the responder's StatusReport. Used by the tests, the benchmark and our test commissioner.
//!
//! Sans-IO like the responder: [`PaseInitiator::start`] queues the first message;
//! [`PaseInitiator::handle_message`] and [`PaseInitiator::handle_timeout`] are the inputs;
//! [`PaseInitiator::poll_transmit`], [`PaseInitiator::poll_timeout`] and
//! [`PaseInitiator::poll_event`] the outputs. One initiator runs one handshake on one exchange.

use std::collections::VecDeque;

use tracing::{debug, warn};
use zeroize::Zeroizing;

use crate::rng::Rng;
use crate::session::params::SessionParameters;
use crate::time::{Duration, Instant};

use crate::message::{SecureChannelOpcode as Op, StatusReport};

use super::messages::{
    Pake1, Pake2, Pake3, PbkdfParamRequest, PbkdfParamResponse, PbkdfParameters, RANDOM_LEN,
};
use super::spake2p::{self, Prover, ProverSecrets};
use super::{context_hash, encode_status, is_status_success, Established, PaseError, Role};

/// What the initiator needs.
#[derive(Clone, PartialEq, Eq)]
pub struct InitiatorConfig {
    /// The setup passcode.
    pub passcode: u32,
    /// Our session id for the new session (non-zero, unique among our live sessions).
    pub local_session_id: u16,
    /// Our session parameters for PBKDFParamRequest (tag 5).
    pub session_params: Option<SessionParameters>,
    /// Iterations and salt if already known (from an earlier attempt or the setup flow): sets
    /// `hasPBKDFParameters`, so the responder leaves them out.
    pub known_pbkdf_parameters: Option<PbkdfParameters>,
    /// Overall handshake timeout.
    pub timeout: Duration,
}

impl core::fmt::Debug for InitiatorConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitiatorConfig")
            .field("local_session_id", &self.local_session_id)
            .field("session_params", &self.session_params)
            .field("known_pbkdf_parameters", &self.known_pbkdf_parameters)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl InitiatorConfig {
    /// Defaults: no session parameters, PBKDF parameters asked for, 60 s timeout.
    pub fn new(passcode: u32, local_session_id: u16) -> Self {
        Self {
            passcode,
            local_session_id,
            session_params: None,
            known_pbkdf_parameters: None,
            timeout: super::responder::HANDSHAKE_TIMEOUT,
        }
    }
}

/// The initiator's result.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitiatorEvent {
    /// The responder confirmed with StatusReport success.
    Established(Box<Established>),
    /// The handshake failed; any StatusReport to the responder is already queued.
    Failed(PaseError),
}

/// A message for the responder: `(opcode, payload)`.
pub type InitiatorTransmit = (Op, Vec<u8>);

/// The commissioner's PASE engine for one handshake.
pub struct PaseInitiator {
    passcode: Zeroizing<u32>,
    local_session_id: u16,
    known: Option<PbkdfParameters>,
    deadline: Instant,
    state: State,
    transmits: VecDeque<InitiatorTransmit>,
    events: VecDeque<InitiatorEvent>,
}

enum State {
    ExpectPbkdfParamResponse {
        request: Vec<u8>,
        random: [u8; RANDOM_LEN],
    },
    ExpectPake2 {
        secrets: ProverSecrets,
        prover: Prover,
        context: [u8; 32],
        peer_session_id: u16,
        peer_params: SessionParameters,
    },
    ExpectStatus {
        established: Box<Established>,
    },
    Done,
}

impl State {
    fn expected(&self) -> &'static str {
        match self {
            Self::ExpectPbkdfParamResponse { .. } => "PBKDFParamResponse",
            Self::ExpectPake2 { .. } => "Pake2",
            Self::ExpectStatus { .. } => "StatusReport",
            Self::Done => "nothing",
        }
    }
}

impl PaseInitiator {
    /// Starts a handshake: queues PBKDFParamRequest.
    pub fn start(now: Instant, config: InitiatorConfig, rng: &mut dyn Rng) -> Self {
        let mut random = [0u8; RANDOM_LEN];
        rng.fill(&mut random);
        let req = PbkdfParamRequest {
            initiator_random: random,
            initiator_session_id: config.local_session_id,
            passcode_id: 0,
            has_pbkdf_parameters: config.known_pbkdf_parameters.is_some(),
            initiator_session_params: config.session_params,
        };
        let request = req.encode();
        debug!(
            local_session_id = config.local_session_id,
            "PBKDFParamRequest sent"
        );
        let mut transmits = VecDeque::new();
        transmits.push_back((Op::PBKDF_PARAM_REQUEST, request.clone()));
        Self {
            passcode: Zeroizing::new(config.passcode),
            local_session_id: config.local_session_id,
            known: config.known_pbkdf_parameters,
            deadline: now + config.timeout,
            state: State::ExpectPbkdfParamResponse { request, random },
            transmits,
            events: VecDeque::new(),
        }
    }

    /// A secure-channel message from the responder on our exchange.
    pub fn handle_message(
        &mut self,
        now: Instant,
        msg_opcode: Op,
        payload: &[u8],
        rng: &mut dyn Rng,
    ) {
        self.handle_timeout(now);
        if matches!(self.state, State::Done) {
            return;
        }
        let state = core::mem::replace(&mut self.state, State::Done);
        let result = match (state, msg_opcode) {
            (State::ExpectStatus { established }, Op::STATUS_REPORT) => {
                match StatusReport::decode(payload) {
                    Ok(s) if is_status_success(&s) => {
                        debug!("PASE established (initiator)");
                        self.events
                            .push_back(InitiatorEvent::Established(established));
                        return;
                    }
                    Ok(s) => Err(PaseError::from_status(s)),
                    Err(e) => Err(e.into()),
                }
            }
            (_, Op::STATUS_REPORT) => Err(match StatusReport::decode(payload) {
                Ok(s) => PaseError::from_status(s),
                Err(e) => e.into(),
            }),
            (State::ExpectPbkdfParamResponse { request, random }, Op::PBKDF_PARAM_RESPONSE) => {
                self.on_response(&request, &random, payload, rng)
            }
            (
                State::ExpectPake2 {
                    secrets,
                    prover,
                    context,
                    peer_session_id,
                    peer_params,
                },
                Op::PASE_PAKE2,
            ) => self.on_pake2(
                secrets,
                prover,
                &context,
                peer_session_id,
                peer_params,
                payload,
            ),
            (state, got) => Err(PaseError::Unexpected {
                expected: state.expected(),
                got,
            }),
        };
        match result {
            Ok(next) => self.state = next,
            Err(e) => self.fail(e),
        }
    }

    /// Timer input.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !matches!(self.state, State::Done) && now >= self.deadline {
            self.state = State::Done;
            self.fail(PaseError::TimedOut);
        }
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<InitiatorTransmit> {
        self.transmits.pop_front()
    }

    /// The handshake deadline, while it runs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!matches!(self.state, State::Done)).then_some(self.deadline)
    }

    /// The outcome, once.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<InitiatorEvent> {
        self.events.pop_front()
    }

    /// True once established or failed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn on_response(
        &mut self,
        request: &[u8],
        random: &[u8; RANDOM_LEN],
        payload: &[u8],
        rng: &mut dyn Rng,
    ) -> Result<State, PaseError> {
        let resp = PbkdfParamResponse::decode(payload)?;
        if resp.initiator_random != *random {
            return Err(PaseError::RandomMismatch);
        }
        if resp.responder_session_id == 0 {
            return Err(PaseError::InvalidPeerSessionId);
        }
        // With hasPBKDFParameters set we use ours; the CHIP SDK ignores any the responder sends.
        let params = match (&self.known, &resp.pbkdf_parameters) {
            (Some(p), _) | (None, Some(p)) => p.clone(),
            (None, None) => return Err(PaseError::MissingPbkdfParameters),
        };
        spake2p::check_pbkdf_parameters(params.iterations, &params.salt)?;
        debug!(
            peer_session_id = resp.responder_session_id,
            iterations = params.iterations,
            "PBKDFParamResponse accepted"
        );
        let secrets =
            ProverSecrets::from_passcode(*self.passcode, &params.salt, params.iterations)?;
        let context = context_hash(request, payload);
        let (prover, pa) = Prover::start(&secrets, rng)?;
        self.transmits
            .push_back((Op::PASE_PAKE1, Pake1 { pa }.encode()));
        debug!("Pake1 sent");
        Ok(State::ExpectPake2 {
            secrets,
            prover,
            context,
            peer_session_id: resp.responder_session_id,
            peer_params: resp.responder_session_params.unwrap_or_default(),
        })
    }

    fn on_pake2(
        &mut self,
        secrets: ProverSecrets,
        prover: Prover,
        context: &[u8; 32],
        peer_session_id: u16,
        peer_params: SessionParameters,
        payload: &[u8],
    ) -> Result<State, PaseError> {
        let pake2 = Pake2::decode(payload)?;
        let done = prover.finish(&secrets, context, &pake2.pb, &pake2.cb)?;
        self.transmits
            .push_back((Op::PASE_PAKE3, Pake3 { ca: done.ca }.encode()));
        debug!("Pake2 verified, Pake3 sent");
        Ok(State::ExpectStatus {
            established: Box::new(Established::new(
                self.local_session_id,
                peer_session_id,
                Role::Initiator,
                peer_params,
                done.secret,
                done.confirmed,
            )),
        })
    }

    fn fail(&mut self, error: PaseError) {
        warn!(%error, "PASE (initiator) failed");
        if let Some(report) = error.status_reply() {
            self.transmits
                .push_back((Op::STATUS_REPORT, encode_status(&report)));
        }
        self.state = State::Done;
        self.events.push_back(InitiatorEvent::Failed(error));
    }
}

impl core::fmt::Debug for PaseInitiator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PaseInitiator")
            .field("local_session_id", &self.local_session_id)
            .field("state", &self.state.expected())
            .finish_non_exhaustive()
    }
}
