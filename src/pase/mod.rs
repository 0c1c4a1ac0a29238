//! PASE, passcode-authenticated session establishment (Matter 1.3 §4.14.1): SPAKE2+ on P-256
//! ([`spake2p`]), the TLV messages ([`messages`]), the commissionee's [`PaseResponder`] and the
//! commissioner's [`PaseInitiator`] (used by tests, benchmarks and our test commissioner).
//!
//! Both engines are sans-IO. They see only the secure-channel messages of one handshake, as
//! `(opcode, payload)` pairs, plus `now`; they know nothing of message headers, exchanges or
//! transports. The node layer unwraps PASE messages from the unsecured session, feeds them in, and
//! wraps what [`PaseResponder::poll_transmit`] returns back into the exchange they belong to.
//! A handshake that completes yields an [`Established`] outcome holding the shared secret `Ke`,
//! which only exists after the peer's key confirmation was checked (see
//! [`spake2p::KeyConfirmed`]).
//!
//! How the node drives the responder (`K` is whatever names an exchange, e.g. peer + exchange id):
//! ```text
//! at start:  responder.open_window(now, PaseVerifier::from_passcode(..)?, Some(timeout))
//! on an unsecured secure-channel message (opcode 0x20..=0x24 or 0x40):
//!            responder.handle_message(now, key, opcode, payload, rng, &mut alloc_session_id)
//! on a timer: responder.handle_timeout(now)      (deadline: responder.poll_timeout())
//! on a link/exchange loss: responder.handle_exchange_closed(now, &key)
//! when the PASE session dies without commissioning: responder.handle_session_closed(now)
//! on commissioning complete: responder.close_window(now)
//! then drain: poll_transmit() -> PaseTransmit { exchange, opcode, payload, ends_exchange }
//!             poll_event()    -> Established { session } => SecureSession from session.into_keys()
//!                                HandshakeFailed / WindowClosed => stop advertising, drop BLE link
//! advertise commissionable only while responder.is_listening()
//! ```

use thiserror::Error;

use crate::message::{
    GeneralCode, MessageError, SecureChannelOpcode, SecureChannelStatus, StatusReport,
};
use crate::session::params::SessionParameters;
use crate::session::PaseHandover;

pub mod initiator;
pub mod messages;
pub mod responder;
pub mod spake2p;
pub mod verifier;

pub use initiator::{InitiatorConfig, InitiatorEvent, PaseInitiator};
pub use messages::PaseMessageError;
pub use responder::{
    PaseEvent, PaseResponder, PaseTransmit, ResponderConfig, ResponderStats, WindowCloseReason,
};
pub use spake2p::{KeyConfirmed, SharedSecret, Spake2pError};
pub use verifier::{PaseVerifier, VerifierError};

/// The context prefix hashed before the PBKDF messages (Matter 1.3 §4.14.1.3, "Protocol
/// Details": `Context = Crypto_Hash("CHIP PAKE V1 Commissioning" || PBKDFParamRequest ||
/// PBKDFParamResponse)`).
pub const CONTEXT_PREFIX: &[u8] = b"CHIP PAKE V1 Commissioning";

/// Which side of the handshake we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The commissioner, which sent PBKDFParamRequest.
    Initiator,
    /// The commissionee, which answered it.
    Responder,
}

/// A completed PASE handshake: everything the secure session needs. It can only be made after the
/// peer's confirmation value matched, and it carries the [`KeyConfirmed`] proof of that.
/// The shared secret is zeroized when this is dropped.
#[derive(Debug)]
pub struct Established {
    local_session_id: u16,
    peer_session_id: u16,
    role: Role,
    peer_params: SessionParameters,
    secret: SharedSecret,
    confirmed: KeyConfirmed,
}

impl Established {
    pub(crate) fn new(
        local_session_id: u16,
        peer_session_id: u16,
        role: Role,
        peer_params: SessionParameters,
        secret: SharedSecret,
        confirmed: KeyConfirmed,
    ) -> Self {
        Self {
            local_session_id,
            peer_session_id,
            role,
            peer_params,
            secret,
            confirmed,
        }
    }

    /// Our session id for the new secure session (the peer puts it in the messages it sends us).
    pub fn local_session_id(&self) -> u16 {
        self.local_session_id
    }

    /// The peer's session id (we put it in the messages we send).
    pub fn peer_session_id(&self) -> u16 {
        self.peer_session_id
    }

    /// Our role: the responder encrypts with R2I and decrypts with I2R.
    pub fn role(&self) -> Role {
        self.role
    }

    /// What the peer said about itself (MRP intervals, revisions); fields it left out are `None`.
    pub fn peer_params(&self) -> &SessionParameters {
        &self.peer_params
    }

    /// What the session layer needs to create the PASE session (Matter 1.3 §4.14.1.4): the
    /// session ids, `Ke`, our role and the peer's parameters. The copy of `Ke` it holds is
    /// zeroized when the handover is dropped, as is this outcome's.
    pub fn handover(&self) -> PaseHandover {
        PaseHandover {
            local_session_id: self.local_session_id,
            peer_session_id: self.peer_session_id,
            ke: zeroize::Zeroizing::new(*self.secret.as_bytes()),
            is_initiator: self.role == Role::Initiator,
            peer_parameters: self.peer_params,
        }
    }

    /// The SPAKE2+ shared secret `Ke`, input of `HKDF(Ke, "SessionKeys")`. Never log it.
    pub fn shared_secret(&self) -> &SharedSecret {
        &self.secret
    }

    /// The proof that the peer's confirmation was verified.
    pub fn confirmation(&self) -> &KeyConfirmed {
        &self.confirmed
    }

    /// Splits off the secret and its proof, for session creation that takes ownership.
    pub fn into_keys(self) -> (SharedSecret, KeyConfirmed) {
        (self.secret, self.confirmed)
    }
}

/// Why a PASE handshake failed. Sorted by fault: the peer's messages, the peer's own report,
/// time, or our side closing the window.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PaseError {
    /// A message did not match its schema.
    #[error("malformed message: {0}")]
    Malformed(#[from] PaseMessageError),
    /// A StatusReport too short to decode.
    #[error("malformed status report: {0}")]
    MalformedStatusReport(#[from] MessageError),
    /// A message arrived out of order.
    #[error("unexpected {got:?} while waiting for {expected}")]
    Unexpected {
        /// What the state machine waited for.
        expected: &'static str,
        /// The opcode that came.
        got: SecureChannelOpcode,
    },
    /// PBKDFParamRequest named a passcode other than the default (0).
    #[error("unsupported passcode id {0}")]
    UnsupportedPasscodeId(u16),
    /// The peer proposed session id 0, which is the unsecured session's.
    #[error("peer proposed session id 0")]
    InvalidPeerSessionId,
    /// PBKDFParamResponse did not echo our random.
    #[error("PBKDFParamResponse does not echo the initiator random")]
    RandomMismatch,
    /// PBKDFParamResponse left out iterations and salt we do not have.
    #[error("PBKDFParamResponse lacks the PBKDF parameters")]
    MissingPbkdfParameters,
    /// SPAKE2+ failed: an invalid point, a failed confirmation (wrong passcode), bad parameters.
    #[error(transparent)]
    Spake2p(#[from] Spake2pError),
    /// The peer sent a failure StatusReport.
    #[error("peer reported failure: {0:?}")]
    PeerStatus(StatusReport),
    /// The responder is busy (it sent a Busy StatusReport).
    #[error("responder busy, retry after {min_wait_ms} ms")]
    Busy {
        /// Minimum wait time the responder asked for.
        min_wait_ms: u16,
    },
    /// The handshake did not finish in time.
    #[error("handshake timed out")]
    TimedOut,
    /// The exchange or link carrying the handshake went away.
    #[error("the peer's exchange or link closed")]
    PeerGone,
    /// Our side aborted it (the commissioning window closed).
    #[error("handshake aborted locally")]
    Aborted,
}

impl PaseError {
    /// The StatusReport to send the peer for this failure, if any: the one place errors map to
    /// wire responses. Peer-caused failures get "invalid parameter" as the CHIP SDK sends; a peer's
    /// own StatusReport, timeouts and local aborts get nothing (the peer is gone or already knows).
    pub fn status_reply(&self) -> Option<StatusReport> {
        match self {
            Self::Malformed(_)
            | Self::MalformedStatusReport(_)
            | Self::Unexpected { .. }
            | Self::UnsupportedPasscodeId(_)
            | Self::InvalidPeerSessionId
            | Self::RandomMismatch
            | Self::MissingPbkdfParameters
            | Self::Spake2p(_) => Some(status_invalid_parameter()),
            Self::PeerStatus(_)
            | Self::Busy { .. }
            | Self::TimedOut
            | Self::PeerGone
            | Self::Aborted => None,
        }
    }

    /// Maps a received StatusReport that is not a success to an error.
    pub(crate) fn from_status(s: StatusReport) -> Self {
        if s.general_code == GeneralCode::BUSY
            && s.secure_channel_status() == Some(SecureChannelStatus::BUSY)
        {
            let min_wait_ms = s
                .data
                .get(..2)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u16::from_le_bytes);
            return Self::Busy { min_wait_ms };
        }
        Self::PeerStatus(s)
    }
}

/// StatusReport success of session establishment (general SUCCESS, SESSION_ESTABLISHMENT_SUCCESS).
pub fn status_success() -> StatusReport {
    StatusReport::secure_channel(
        GeneralCode::SUCCESS,
        SecureChannelStatus::SESSION_ESTABLISHMENT_SUCCESS,
    )
}

/// StatusReport for any PASE failure: general FAILURE, INVALID_PARAMETER (what the CHIP SDK sends).
pub fn status_invalid_parameter() -> StatusReport {
    StatusReport::secure_channel(GeneralCode::FAILURE, SecureChannelStatus::INVALID_PARAMETER)
}

/// StatusReport Busy (general BUSY, protocol BUSY) with the minimum wait time in milliseconds as
/// protocol data (Matter 1.3 §4.11.1.4).
pub fn status_busy(min_wait_ms: u16) -> StatusReport {
    let mut s = StatusReport::secure_channel(GeneralCode::BUSY, SecureChannelStatus::BUSY);
    s.data = min_wait_ms.to_le_bytes().to_vec();
    s
}

/// True for a secure-channel session-establishment success.
pub fn is_status_success(s: &StatusReport) -> bool {
    s.general_code == GeneralCode::SUCCESS
        && s.secure_channel_status() == Some(SecureChannelStatus::SESSION_ESTABLISHMENT_SUCCESS)
}

pub(crate) fn encode_status(s: &StatusReport) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.encoded_len());
    s.encode(&mut out);
    out
}

/// `SHA-256(CONTEXT_PREFIX || request || response)`, the SPAKE2+ context.
pub(crate) fn context_hash(request: &[u8], response: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CONTEXT_PREFIX);
    h.update(request);
    h.update(response);
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.finalize());
    out
}
