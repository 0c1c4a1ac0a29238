//! The node's side of CASE (Matter 1.3 §4.14.2): Sigma1 → Sigma2 (or Sigma2Resume), Sigma3 →
//! StatusReport, with up to [`ResponderConfig::max_handshakes`] handshakes at once (two
//! controllers reconnecting together must not collide), a stall timeout per handshake, and Busy
//! when the table is full.
//!
//! # Driving contract
//! [`CaseResponder`] is a sans-IO engine (see the crate docs):
//! * A, getters: [`CaseResponder::owns_exchange`], [`CaseResponder::exchanges`],
//!   [`CaseResponder::handshakes`],
//!   [`CaseResponder::stats`];
//! * B, inputs: [`CaseResponder::handle_message`] (with the fabric table and resumption records
//!   to read), [`CaseResponder::handle_timeout`], [`CaseResponder::handle_exchange_closed`];
//! * D, outputs: [`CaseResponder::poll_transmit`], [`CaseResponder::poll_timeout`],
//!   [`CaseResponder::poll_event`].
//!
//! # Rules
//! * Sigma1 on an exchange without a handshake starts one. With a resumption id and MIC that
//!   match a stored record it is answered with Sigma2Resume; an unknown id or a bad MIC falls
//!   back to the full handshake (§4.14.2.2.4: "the responder SHALL continue with the regular
//!   Sigma2").
//! * A destination id that matches none of our fabrics: StatusReport NoSharedTrustRoots.
//! * Any malformed or out-of-order message on a handshake's exchange, a bad MIC, an invalid
//!   chain, a foreign fabric or a bad signature: StatusReport InvalidParameter and the handshake
//!   ends. A peer's StatusReport ends it silently.
//! * An exact duplicate of the last accepted message on the same exchange is ignored (the
//!   exchange layer owns retransmissions).
//! * No free handshake slot or session id: StatusReport Busy with [`BUSY_WAIT_MS`].

use std::collections::VecDeque;

use subtle::ConstantTimeEq;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::keys::{self, EphemeralKey, ResumeMic};
use super::messages::{Sigma1, Sigma2, Sigma2Resume, Sigma3, Tbe, Tbs};
use super::{CaseError, CaseSession, RESUMPTION_ID_LEN, SHARED_SECRET_LEN};
use crate::fabric::{FabricIndex, FabricTable, ResumptionStore};
use crate::message::{SecureChannelOpcode as Op, StatusReport};
use crate::pase::{encode_status, status_busy, status_success};
use crate::rng::Rng;
use crate::session::params::SessionParameters;
use crate::time::{Duration, Instant};

/// Stall timeout of one handshake, Sigma1 to Sigma3 (or to the initiator's success after
/// Sigma2Resume). Sigma3 needs a chain validation and a signature on a slow controller; 60 s
/// matches the PASE responder's allowance.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Handshakes at once by default.
pub const DEFAULT_MAX_HANDSHAKES: usize = 4;

/// Minimum wait a Busy StatusReport asks for.
pub const BUSY_WAIT_MS: u16 = 500;

/// Responder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponderConfig {
    /// Our session parameters, sent in Sigma2 / Sigma2Resume; `None` leaves them out.
    pub session_params: Option<SessionParameters>,
    /// Stall timeout of one handshake.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once.
    pub max_handshakes: usize,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        Self {
            session_params: None,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
        }
    }
}

/// A secure-channel message to send on `exchange` (unsecured session).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CaseTransmit<K> {
    /// The exchange.
    pub exchange: K,
    /// Secure-channel opcode.
    pub opcode: Op,
    /// Payload.
    pub payload: Vec<u8>,
    /// A StatusReport that ends the exchange: close it once acknowledged.
    pub ends_exchange: bool,
}

/// What the node must act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum CaseEvent<K> {
    /// The handshake on `exchange` succeeded: create the secure session, keep the resumption
    /// record. Any final StatusReport is queued ahead of this.
    Established {
        /// The handshake's exchange.
        exchange: K,
        /// Keys, ids, peer identity.
        session: Box<CaseSession>,
    },
    /// The handshake on `exchange` failed (any StatusReport is queued); release
    /// `reserved_session_id` if set.
    HandshakeFailed {
        /// The exchange.
        exchange: K,
        /// Why.
        error: CaseError,
        /// The session id reserved for it, if one was.
        reserved_session_id: Option<u16>,
    },
}

/// Counters for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Full handshakes completed.
    pub established: u64,
    /// Resumptions completed.
    pub resumed: u64,
    /// Resumption attempts that fell back to the full handshake.
    pub resume_fallbacks: u64,
    /// Handshakes failed.
    pub failed: u64,
    /// Sigma1s answered Busy.
    pub busy: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Messages with no handshake, ignored.
    pub ignored_stray: u64,
}

/// The CASE responder. See the module docs.
#[derive(Debug)]
pub struct CaseResponder<K> {
    config: ResponderConfig,
    handshakes: Vec<Handshake<K>>,
    transmits: VecDeque<CaseTransmit<K>>,
    events: VecDeque<CaseEvent<K>>,
    stats: ResponderStats,
}

#[derive(Debug)]
struct Handshake<K> {
    exchange: K,
    deadline: Instant,
    local_session_id: u16,
    last_input: (Op, Vec<u8>),
    step: Step,
}

enum Step {
    ExpectSigma3(Box<FullState>),
    ExpectResumeSuccess(Box<CaseSession>),
}

impl core::fmt::Debug for Step {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.expected())
    }
}

impl Step {
    fn expected(&self) -> &'static str {
        match self {
            Self::ExpectSigma3(_) => "Sigma3",
            Self::ExpectResumeSuccess(_) => "StatusReport after Sigma2Resume",
        }
    }
}

/// What a full handshake keeps between Sigma2 and Sigma3. Secrets zeroize on drop.
struct FullState {
    fabric: FabricIndex,
    local_node_id: u64,
    fabric_id: u64,
    rcac: Vec<u8>,
    root_public_key: [u8; 65],
    ipk: Zeroizing<[u8; 16]>,
    shared_secret: Zeroizing<[u8; SHARED_SECRET_LEN]>,
    eph_pub: [u8; 65],
    peer_eph_pub: [u8; 65],
    sigma1: Vec<u8>,
    sigma2: Vec<u8>,
    peer_session_id: u16,
    peer_params: SessionParameters,
    resumption_id: [u8; RESUMPTION_ID_LEN],
}

impl<K: Clone + Eq + core::fmt::Debug> CaseResponder<K> {
    /// A responder with no handshakes.
    pub fn new(config: ResponderConfig) -> Self {
        Self {
            config,
            handshakes: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ResponderStats::default(),
        }
    }

    // --- B: inputs ----------------------------------------------------------------------------

    /// One secure-channel message (Sigma1, Sigma3 or StatusReport) on exchange `exchange` of an
    /// unsecured session. `fabrics` and `resumption` are read to find the fabric and the
    /// resumption record; `session_ids` reserves our session id (never 0; `None` answers Busy).
    #[allow(clippy::too_many_arguments)] // the engine's inputs, each distinct
    pub fn handle_message(
        &mut self,
        now: Instant,
        exchange: K,
        opcode: Op,
        payload: &[u8],
        fabrics: &FabricTable,
        resumption: &ResumptionStore,
        rng: &mut dyn Rng,
        session_ids: &mut dyn FnMut() -> Option<u16>,
    ) {
        self.handle_timeout(now);
        if let Some(i) = self.handshakes.iter().position(|h| h.exchange == exchange) {
            let h = &self.handshakes[i];
            if h.last_input.0 == opcode && h.last_input.1 == payload {
                self.stats.duplicates += 1;
                debug!(?opcode, "duplicate CASE message, ignoring");
                return;
            }
            let h = self.handshakes.swap_remove(i);
            self.continue_handshake(h, opcode, payload);
            return;
        }
        if opcode != Op::CASE_SIGMA1 {
            self.stats.ignored_stray += 1;
            debug!(?opcode, "no CASE handshake on this exchange, ignoring");
            return;
        }
        if self.handshakes.len() >= self.config.max_handshakes {
            self.busy(exchange, "handshake table full");
            return;
        }
        match self.on_sigma1(
            now,
            &exchange,
            payload,
            fabrics,
            resumption,
            rng,
            session_ids,
        ) {
            Ok(Some((h, reply))) => {
                self.transmits.push_back(CaseTransmit {
                    exchange,
                    opcode: reply.0,
                    payload: reply.1,
                    ends_exchange: false,
                });
                self.handshakes.push(h);
            }
            Ok(None) => self.busy(exchange, "no free session id"),
            Err(e) => self.fail(exchange, e, None),
        }
    }

    /// Timer input. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(i) = self.handshakes.iter().position(|h| now >= h.deadline) {
            let h = self.handshakes.swap_remove(i);
            debug!(exchange = ?h.exchange, "CASE handshake timed out");
            self.fail(h.exchange, CaseError::TimedOut, Some(h.local_session_id));
        }
    }

    /// The exchange (or its link) went away: a handshake on it fails.
    pub fn handle_exchange_closed(&mut self, now: Instant, exchange: &K) {
        self.handle_timeout(now);
        if let Some(i) = self.handshakes.iter().position(|h| h.exchange == *exchange) {
            let h = self.handshakes.swap_remove(i);
            self.fail(h.exchange, CaseError::PeerGone, Some(h.local_session_id));
        }
    }

    // --- A: getters ---------------------------------------------------------------------------

    /// Whether a handshake runs on `exchange` (its StatusReports belong here).
    pub fn owns_exchange(&self, exchange: &K) -> bool {
        self.handshakes.iter().any(|h| h.exchange == *exchange)
    }

    /// The exchanges with a handshake in progress.
    pub fn exchanges(&self) -> impl Iterator<Item = &K> + '_ {
        self.handshakes.iter().map(|h| &h.exchange)
    }

    /// Handshakes in progress.
    pub fn handshakes(&self) -> usize {
        self.handshakes.len()
    }

    /// Counters.
    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    // --- D: outputs ---------------------------------------------------------------------------

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<CaseTransmit<K>> {
        self.transmits.pop_front()
    }

    /// The earliest handshake deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.handshakes.iter().map(|h| h.deadline).min()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<CaseEvent<K>> {
        self.events.pop_front()
    }

    // --- private ------------------------------------------------------------------------------

    /// Sigma1: resumption if possible, else the full Sigma2. `Ok(None)`: no session id (Busy).
    #[allow(clippy::too_many_arguments)]
    #[allow(clippy::type_complexity)]
    fn on_sigma1(
        &mut self,
        now: Instant,
        exchange: &K,
        payload: &[u8],
        fabrics: &FabricTable,
        resumption: &ResumptionStore,
        rng: &mut dyn Rng,
        session_ids: &mut dyn FnMut() -> Option<u16>,
    ) -> Result<Option<(Handshake<K>, (Op, Vec<u8>))>, CaseError> {
        let s1 = Sigma1::decode(payload)?;
        if s1.initiator_session_id == 0 {
            return Err(CaseError::InvalidPeerSessionId);
        }
        let peer_params = s1.initiator_session_params.unwrap_or_default();
        let deadline = now + self.config.handshake_timeout;
        let last_input = (Op::CASE_SIGMA1, payload.to_vec());

        if let Some((rid, mic)) = &s1.resumption {
            let record = resumption.find(rid).filter(|r| {
                keys::verify_resume_mic(
                    ResumeMic::Sigma1,
                    &r.shared_secret,
                    &s1.initiator_random,
                    rid,
                    mic,
                )
            });
            let local = record.and_then(|r| fabrics.get(r.fabric).map(|f| (r, f.node_id)));
            if let Some((record, local_node_id)) = local {
                let Some(local_session_id) = session_ids().filter(|id| *id != 0) else {
                    return Ok(None);
                };
                let mut new_id = [0u8; RESUMPTION_ID_LEN];
                rng.fill(&mut new_id);
                let reply = Sigma2Resume {
                    resumption_id: new_id,
                    sigma2_resume_mic: keys::resume_mic(
                        ResumeMic::Sigma2,
                        &record.shared_secret,
                        &s1.initiator_random,
                        &new_id,
                    ),
                    responder_session_id: local_session_id,
                    responder_session_params: self.config.session_params,
                };
                let session = CaseSession {
                    local_session_id,
                    peer_session_id: s1.initiator_session_id,
                    shared_secret: record.shared_secret.clone(),
                    // §4.14.2.2.4: the resumed session's salt is the Sigma1 random and the
                    // resumption id the initiator sent (the CHIP SDK's mResumeResumptionId).
                    salt: keys::resumption_salt(&s1.initiator_random, rid),
                    is_resumption: true,
                    is_initiator: false,
                    fabric: record.fabric,
                    local_node_id,
                    peer_node_id: record.peer_node_id,
                    peer_cats: record.peer_cats.clone(),
                    peer_params,
                    resumption_id: new_id,
                };
                debug!(
                    fabric = record.fabric.0,
                    local_session_id, "CASE Sigma1 resumes a session: Sigma2Resume sent"
                );
                let h = Handshake {
                    exchange: exchange.clone(),
                    deadline,
                    local_session_id,
                    last_input,
                    step: Step::ExpectResumeSuccess(Box::new(session)),
                };
                return Ok(Some((h, (Op::CASE_SIGMA2_RESUME, reply.encode()))));
            }
            self.stats.resume_fallbacks += 1;
            debug!("CASE resumption id unknown or MIC invalid: full handshake");
        }

        // §4.14.2.3.1 step 1: the fabric whose destination id matches (constant-time compare).
        let found = fabrics.iter().find_map(|f| {
            let ipk = keys::operational_ipk(&f.ipk_epoch_key, &f.compressed_fabric_id);
            let d = keys::destination_id(
                &ipk,
                &s1.initiator_random,
                &f.root_public_key,
                f.fabric_id,
                f.node_id,
            );
            bool::from(d.ct_eq(&s1.destination_id)).then_some((f, ipk))
        });
        let Some((fabric, ipk)) = found else {
            return Err(CaseError::NoSharedTrustRoots);
        };
        let eph = EphemeralKey::generate(rng)?;
        let shared_secret = eph.agree(&s1.initiator_eph_pub)?;
        let Some(local_session_id) = session_ids().filter(|id| *id != 0) else {
            return Ok(None);
        };
        let mut responder_random = [0u8; 32];
        rng.fill(&mut responder_random);
        let mut resumption_id = [0u8; RESUMPTION_ID_LEN];
        rng.fill(&mut resumption_id);
        let tbs = Tbs {
            sender_noc: &fabric.noc,
            sender_icac: fabric.icac.as_deref(),
            sender_eph_pub: eph.public(),
            receiver_eph_pub: &s1.initiator_eph_pub,
        };
        let signature = keys::sign(&fabric.operational_key, &tbs.encode());
        let tbe = Zeroizing::new(
            Tbe {
                sender_noc: fabric.noc.clone(),
                sender_icac: fabric.icac.clone(),
                signature,
                resumption_id: Some(resumption_id),
            }
            .encode(),
        );
        let s2k = keys::sigma2_key(
            &shared_secret,
            &ipk,
            &responder_random,
            eph.public(),
            payload,
        );
        let sigma2 = Sigma2 {
            responder_random,
            responder_session_id: local_session_id,
            responder_eph_pub: *eph.public(),
            encrypted2: keys::tbe_encrypt(&s2k, keys::TBE2_NONCE, &tbe),
            responder_session_params: self.config.session_params,
        }
        .encode();
        debug!(
            fabric = fabric.index.0,
            local_session_id, "CASE Sigma1 accepted, Sigma2 sent, waiting for Sigma3"
        );
        let state = FullState {
            fabric: fabric.index,
            local_node_id: fabric.node_id,
            fabric_id: fabric.fabric_id,
            rcac: fabric.rcac.clone(),
            root_public_key: fabric.root_public_key,
            ipk,
            shared_secret,
            eph_pub: *eph.public(),
            peer_eph_pub: s1.initiator_eph_pub,
            sigma1: payload.to_vec(),
            sigma2: sigma2.clone(),
            peer_session_id: s1.initiator_session_id,
            peer_params,
            resumption_id,
        };
        let h = Handshake {
            exchange: exchange.clone(),
            deadline,
            local_session_id,
            last_input,
            step: Step::ExpectSigma3(Box::new(state)),
        };
        Ok(Some((h, (Op::CASE_SIGMA2, sigma2))))
    }

    fn continue_handshake(&mut self, h: Handshake<K>, opcode: Op, payload: &[u8]) {
        let Handshake {
            exchange,
            local_session_id,
            step,
            ..
        } = h;
        let outcome = match (step, opcode) {
            (Step::ExpectSigma3(st), Op::CASE_SIGMA3) => {
                Self::on_sigma3(*st, local_session_id, payload).map(|s| (s, true))
            }
            (Step::ExpectResumeSuccess(session), Op::STATUS_REPORT) => {
                match StatusReport::decode(payload) {
                    Ok(s) if crate::pase::is_status_success(&s) => Ok((session, false)),
                    Ok(s) => Err(CaseError::from_status(s)),
                    Err(e) => Err(e.into()),
                }
            }
            (_, Op::STATUS_REPORT) => Err(match StatusReport::decode(payload) {
                Ok(s) => CaseError::from_status(s),
                Err(e) => e.into(),
            }),
            (step, got) => Err(CaseError::Unexpected {
                expected: step.expected(),
                got,
            }),
        };
        match outcome {
            Ok((session, full)) => {
                if full {
                    self.transmits.push_back(CaseTransmit {
                        exchange: exchange.clone(),
                        opcode: Op::STATUS_REPORT,
                        payload: encode_status(&status_success()),
                        ends_exchange: true,
                    });
                    self.stats.established += 1;
                } else {
                    self.stats.resumed += 1;
                }
                debug!(
                    fabric = session.fabric.0,
                    local_session_id,
                    resumed = !full,
                    "CASE established"
                );
                self.events
                    .push_back(CaseEvent::Established { exchange, session });
            }
            Err(e) => self.fail(exchange, e, Some(local_session_id)),
        }
    }

    fn on_sigma3(
        st: FullState,
        local_session_id: u16,
        payload: &[u8],
    ) -> Result<Box<CaseSession>, CaseError> {
        let s3 = Sigma3::decode(payload)?;
        let s3k = keys::sigma3_key(&st.shared_secret, &st.ipk, &st.sigma1, &st.sigma2);
        let plain = keys::tbe_decrypt(&s3k, keys::TBE3_NONCE, &s3.encrypted3)?;
        let tbe = Tbe::decode(&plain, false)?;
        // §4.14.2.4 step 5: the initiator's chain must lead to this fabric's root.
        let chain = crate::cert::validate_chain(
            &tbe.sender_noc,
            tbe.sender_icac.as_deref(),
            &st.rcac,
            None,
        )
        .map_err(CaseError::Certificate)?;
        if chain.root_public_key != st.root_public_key {
            return Err(CaseError::NoSharedTrustRoots);
        }
        if chain.fabric_id != st.fabric_id {
            return Err(CaseError::FabricMismatch);
        }
        let tbs = Tbs {
            sender_noc: &tbe.sender_noc,
            sender_icac: tbe.sender_icac.as_deref(),
            sender_eph_pub: &st.peer_eph_pub,
            receiver_eph_pub: &st.eph_pub,
        };
        keys::verify(&chain.noc_public_key, &tbs.encode(), &tbe.signature)?;
        debug!(
            peer_node_id = format_args!("{:016X}", chain.node_id),
            "CASE Sigma3 verified"
        );
        Ok(Box::new(CaseSession {
            local_session_id,
            peer_session_id: st.peer_session_id,
            salt: keys::session_salt(&st.ipk, &st.sigma1, &st.sigma2, payload),
            shared_secret: st.shared_secret,
            is_resumption: false,
            is_initiator: false,
            fabric: st.fabric,
            local_node_id: st.local_node_id,
            peer_node_id: chain.node_id,
            peer_cats: chain.cats,
            peer_params: st.peer_params,
            resumption_id: st.resumption_id,
        }))
    }

    fn busy(&mut self, exchange: K, why: &'static str) {
        warn!(?exchange, why, "CASE Sigma1 answered Busy");
        self.stats.busy += 1;
        self.transmits.push_back(CaseTransmit {
            exchange: exchange.clone(),
            opcode: Op::STATUS_REPORT,
            payload: encode_status(&status_busy(BUSY_WAIT_MS)),
            ends_exchange: true,
        });
        self.events.push_back(CaseEvent::HandshakeFailed {
            exchange,
            error: CaseError::Busy {
                min_wait_ms: BUSY_WAIT_MS,
            },
            reserved_session_id: None,
        });
    }

    fn fail(&mut self, exchange: K, error: CaseError, reserved_session_id: Option<u16>) {
        warn!(%error, ?exchange, "CASE handshake failed");
        if let Some(report) = error.status_reply() {
            self.transmits.push_back(CaseTransmit {
                exchange: exchange.clone(),
                opcode: Op::STATUS_REPORT,
                payload: encode_status(&report),
                ends_exchange: true,
            });
        }
        self.stats.failed += 1;
        self.events.push_back(CaseEvent::HandshakeFailed {
            exchange,
            error,
            reserved_session_id,
        });
    }
}
