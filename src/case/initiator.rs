//! The initiator's side of CASE (Matter 1.3 §4.14.2), for our commissioner and the tests:
//! Sigma1 (optionally with a resumption id and MIC) → Sigma2 → Sigma3 → StatusReport, or
//! Sigma1 → Sigma2Resume → StatusReport. One handshake per engine.
//!
//! Driving contract: [`CaseInitiator::start`] queues Sigma1; feed the responder's messages to
//! [`CaseInitiator::handle_message`], timers to [`CaseInitiator::handle_timeout`]; drain
//! [`CaseInitiator::poll_transmit`] (send each on the handshake's exchange) and
//! [`CaseInitiator::poll_event`].

use std::collections::VecDeque;

use p256::SecretKey;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::keys::{self, EphemeralKey, ResumeMic};
use super::messages::{Sigma1, Sigma2, Sigma2Resume, Sigma3, Tbe, Tbs};
use super::{CaseError, CaseSession, RESUMPTION_ID_LEN};
use crate::fabric::{FabricIndex, ResumptionRecord};
use crate::message::{SecureChannelOpcode as Op, StatusReport};
use crate::pase::{encode_status, is_status_success, status_success};
use crate::rng::Rng;
use crate::session::params::SessionParameters;
use crate::time::{Duration, Instant};

/// The initiator's own operational credentials on one fabric.
#[derive(Clone)]
pub struct CaseCredentials {
    /// The index the caller gives this fabric (sessions are bound to it).
    pub fabric: FabricIndex,
    /// Our NOC, Matter TLV.
    pub noc: Vec<u8>,
    /// Our ICAC, if any.
    pub icac: Option<Vec<u8>>,
    /// The fabric's root certificate.
    pub rcac: Vec<u8>,
    /// The private key of our NOC.
    pub operational_key: SecretKey,
    /// The fabric's IPK epoch key.
    pub ipk_epoch_key: Zeroizing<[u8; 16]>,
}

impl core::fmt::Debug for CaseCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CaseCredentials")
            .field("fabric", &self.fabric)
            .finish_non_exhaustive()
    }
}

/// One handshake's settings.
#[derive(Debug, Clone)]
pub struct InitiatorConfig {
    /// Our credentials.
    pub credentials: CaseCredentials,
    /// The node to reach.
    pub peer_node_id: u64,
    /// Our session id (allocated by the caller's session table).
    pub local_session_id: u16,
    /// Our session parameters for Sigma1.
    pub session_params: Option<SessionParameters>,
    /// A record of an earlier session with this peer, to resume.
    pub resumption: Option<ResumptionRecord>,
    /// Stall timeout.
    pub timeout: Duration,
}

impl InitiatorConfig {
    /// Settings with no resumption and a 60 s timeout.
    pub fn new(credentials: CaseCredentials, peer_node_id: u64, local_session_id: u16) -> Self {
        Self {
            credentials,
            peer_node_id,
            local_session_id,
            session_params: None,
            resumption: None,
            timeout: super::responder::HANDSHAKE_TIMEOUT,
        }
    }
}

/// The outcome.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitiatorEvent {
    /// The session exists; `resumed` is `session.is_resumption`.
    Established(Box<CaseSession>),
    /// The handshake failed.
    Failed(CaseError),
}

/// The CASE initiator. See the module docs.
#[derive(Debug)]
pub struct CaseInitiator {
    deadline: Instant,
    state: State,
    transmits: VecDeque<(Op, Vec<u8>)>,
    events: VecDeque<InitiatorEvent>,
}

enum State {
    ExpectSigma2(Box<Pending>),
    ExpectStatus(Box<CaseSession>),
    Done,
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::ExpectSigma2(_) => "ExpectSigma2",
            Self::ExpectStatus(_) => "ExpectStatus",
            Self::Done => "Done",
        })
    }
}

struct Pending {
    config: InitiatorConfig,
    fabric_id: u64,
    local_node_id: u64,
    root_public_key: [u8; 65],
    ipk: Zeroizing<[u8; 16]>,
    eph: EphemeralKey,
    random: [u8; 32],
    sigma1: Vec<u8>,
}

impl CaseInitiator {
    /// Validates our own credentials and queues Sigma1.
    ///
    /// # Errors
    /// [`CaseError::LocalCredentials`] for an unusable chain, [`CaseError::KeyGeneration`].
    pub fn start(
        now: Instant,
        config: InitiatorConfig,
        rng: &mut dyn Rng,
    ) -> Result<Self, CaseError> {
        let c = &config.credentials;
        let chain = crate::cert::validate_chain(&c.noc, c.icac.as_deref(), &c.rcac, None)
            .map_err(|_| CaseError::LocalCredentials("own certificate chain"))?;
        if chain.noc_public_key != keys::public_key_of(&c.operational_key) {
            return Err(CaseError::LocalCredentials(
                "operational key does not match the NOC",
            ));
        }
        let ipk = keys::operational_ipk(&c.ipk_epoch_key, &chain.compressed_fabric_id());
        let eph = EphemeralKey::generate(rng)?;
        let mut random = [0u8; 32];
        rng.fill(&mut random);
        let resumption = config.resumption.as_ref().map(|r| {
            (
                r.resumption_id,
                keys::resume_mic(
                    ResumeMic::Sigma1,
                    &r.shared_secret,
                    &random,
                    &r.resumption_id,
                ),
            )
        });
        let sigma1 = Sigma1 {
            initiator_random: random,
            initiator_session_id: config.local_session_id,
            destination_id: keys::destination_id(
                &ipk,
                &random,
                &chain.root_public_key,
                chain.fabric_id,
                config.peer_node_id,
            ),
            initiator_eph_pub: *eph.public(),
            initiator_session_params: config.session_params,
            resumption,
        }
        .encode();
        debug!(
            resume = config.resumption.is_some(),
            "CASE initiator: Sigma1 sent"
        );
        let mut transmits = VecDeque::new();
        transmits.push_back((Op::CASE_SIGMA1, sigma1.clone()));
        Ok(Self {
            deadline: now + config.timeout,
            state: State::ExpectSigma2(Box::new(Pending {
                fabric_id: chain.fabric_id,
                local_node_id: chain.node_id,
                root_public_key: chain.root_public_key,
                ipk,
                eph,
                random,
                sigma1,
                config,
            })),
            transmits,
            events: VecDeque::new(),
        })
    }

    /// A message from the responder on the handshake's exchange.
    pub fn handle_message(&mut self, now: Instant, opcode: Op, payload: &[u8]) {
        self.handle_timeout(now);
        let state = core::mem::replace(&mut self.state, State::Done);
        if opcode == Op::STATUS_REPORT {
            let report = StatusReport::decode(payload);
            match (state, report) {
                (State::Done, _) => {}
                (State::ExpectStatus(session), Ok(r)) if is_status_success(&r) => {
                    debug!("CASE initiator: responder confirmed, session established");
                    self.events.push_back(InitiatorEvent::Established(session));
                }
                (_, Ok(r)) => self.fail_silently(CaseError::from_status(r)),
                (_, Err(e)) => self.fail_silently(e.into()),
            }
            return;
        }
        let outcome = match (state, opcode) {
            (State::Done, _) => return,
            (State::ExpectSigma2(p), Op::CASE_SIGMA2) => self.on_sigma2(*p, payload),
            (State::ExpectSigma2(p), Op::CASE_SIGMA2_RESUME) => self.on_sigma2_resume(*p, payload),
            (State::ExpectSigma2(_), got) => Err(CaseError::Unexpected {
                expected: "Sigma2 or Sigma2Resume",
                got,
            }),
            (State::ExpectStatus(_), got) => Err(CaseError::Unexpected {
                expected: "StatusReport",
                got,
            }),
        };
        if let Err(e) = outcome {
            self.fail(e);
        }
    }

    /// Timer input.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !matches!(self.state, State::Done) && now >= self.deadline {
            self.state = State::Done;
            self.fail(CaseError::TimedOut);
        }
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(Op, Vec<u8>)> {
        self.transmits.pop_front()
    }

    /// The deadline, while running.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!matches!(self.state, State::Done)).then_some(self.deadline)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<InitiatorEvent> {
        self.events.pop_front()
    }

    /// Whether the handshake has ended.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn on_sigma2(&mut self, p: Pending, payload: &[u8]) -> Result<(), CaseError> {
        let s2 = Sigma2::decode(payload)?;
        if s2.responder_session_id == 0 {
            return Err(CaseError::InvalidPeerSessionId);
        }
        let shared = p.eph.agree(&s2.responder_eph_pub)?;
        let s2k = keys::sigma2_key(
            &shared,
            &p.ipk,
            &s2.responder_random,
            &s2.responder_eph_pub,
            &p.sigma1,
        );
        let plain = keys::tbe_decrypt(&s2k, keys::TBE2_NONCE, &s2.encrypted2)?;
        let tbe = Tbe::decode(&plain, true)?;
        let c = &p.config.credentials;
        let chain =
            crate::cert::validate_chain(&tbe.sender_noc, tbe.sender_icac.as_deref(), &c.rcac, None)
                .map_err(CaseError::Certificate)?;
        if chain.root_public_key != p.root_public_key {
            return Err(CaseError::NoSharedTrustRoots);
        }
        if chain.fabric_id != p.fabric_id {
            return Err(CaseError::FabricMismatch);
        }
        if chain.node_id != p.config.peer_node_id {
            return Err(CaseError::PeerNodeMismatch);
        }
        let tbs2 = Tbs {
            sender_noc: &tbe.sender_noc,
            sender_icac: tbe.sender_icac.as_deref(),
            sender_eph_pub: &s2.responder_eph_pub,
            receiver_eph_pub: p.eph.public(),
        };
        keys::verify(&chain.noc_public_key, &tbs2.encode(), &tbe.signature)?;
        let tbs3 = Tbs {
            sender_noc: &c.noc,
            sender_icac: c.icac.as_deref(),
            sender_eph_pub: p.eph.public(),
            receiver_eph_pub: &s2.responder_eph_pub,
        };
        let signature = keys::sign(&c.operational_key, &tbs3.encode());
        let tbe3 = Zeroizing::new(
            Tbe {
                sender_noc: c.noc.clone(),
                sender_icac: c.icac.clone(),
                signature,
                resumption_id: None,
            }
            .encode(),
        );
        let s3k = keys::sigma3_key(&shared, &p.ipk, &p.sigma1, payload);
        let sigma3 = Sigma3 {
            encrypted3: keys::tbe_encrypt(&s3k, keys::TBE3_NONCE, &tbe3),
        }
        .encode();
        let salt = keys::session_salt(&p.ipk, &p.sigma1, payload, &sigma3);
        self.transmits.push_back((Op::CASE_SIGMA3, sigma3));
        debug!("CASE initiator: Sigma2 verified, Sigma3 sent");
        let resumption_id = tbe.resumption_id.unwrap_or([0; RESUMPTION_ID_LEN]);
        self.state = State::ExpectStatus(Box::new(CaseSession {
            local_session_id: p.config.local_session_id,
            peer_session_id: s2.responder_session_id,
            shared_secret: shared,
            salt,
            is_resumption: false,
            is_initiator: true,
            fabric: c.fabric,
            local_node_id: p.local_node_id,
            peer_node_id: chain.node_id,
            peer_cats: chain.cats,
            peer_params: s2.responder_session_params.unwrap_or_default(),
            resumption_id,
        }));
        Ok(())
    }

    fn on_sigma2_resume(&mut self, p: Pending, payload: &[u8]) -> Result<(), CaseError> {
        let Some(record) = p.config.resumption.as_ref() else {
            return Err(CaseError::Unexpected {
                expected: "Sigma2",
                got: Op::CASE_SIGMA2_RESUME,
            });
        };
        let s = Sigma2Resume::decode(payload)?;
        if s.responder_session_id == 0 {
            return Err(CaseError::InvalidPeerSessionId);
        }
        if !keys::verify_resume_mic(
            ResumeMic::Sigma2,
            &record.shared_secret,
            &p.random,
            &s.resumption_id,
            &s.sigma2_resume_mic,
        ) {
            return Err(CaseError::Decrypt);
        }
        self.transmits
            .push_back((Op::STATUS_REPORT, encode_status(&status_success())));
        debug!("CASE initiator: Sigma2Resume verified, session resumed");
        self.state = State::Done;
        self.events
            .push_back(InitiatorEvent::Established(Box::new(CaseSession {
                local_session_id: p.config.local_session_id,
                peer_session_id: s.responder_session_id,
                shared_secret: record.shared_secret.clone(),
                salt: keys::resumption_salt(&p.random, &record.resumption_id),
                is_resumption: true,
                is_initiator: true,
                fabric: p.config.credentials.fabric,
                local_node_id: p.local_node_id,
                peer_node_id: record.peer_node_id,
                peer_cats: record.peer_cats.clone(),
                peer_params: s.responder_session_params.unwrap_or_default(),
                resumption_id: s.resumption_id,
            })));
        Ok(())
    }

    /// A failure the peer already knows of (its own StatusReport): no reply.
    fn fail_silently(&mut self, e: CaseError) {
        warn!(error = %e, "CASE initiator: responder refused");
        self.state = State::Done;
        self.events.push_back(InitiatorEvent::Failed(e));
    }

    fn fail(&mut self, e: CaseError) {
        warn!(error = %e, "CASE initiator: handshake failed");
        if let Some(r) = e.status_reply() {
            self.transmits
                .push_back((Op::STATUS_REPORT, encode_status(&r)));
        }
        self.state = State::Done;
        self.events.push_back(InitiatorEvent::Failed(e));
    }
}
