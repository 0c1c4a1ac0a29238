//! CASE, certificate-authenticated session establishment (Matter 1.3 §4.14.2): the Sigma
//! messages ([`messages`]), the key schedule ([`keys`]), the node's [`CaseResponder`] and the
//! commissioner's [`CaseInitiator`], with session resumption (§4.14.2.2.4).
//!
//! Both engines are sans-IO, like PASE's: they see only the secure-channel messages of their
//! handshakes as `(opcode, payload)` pairs plus `now`, and read the fabric table and the
//! resumption records the caller passes in. A completed handshake yields a [`CaseSession`]:
//! what the session layer needs (shared secret, salt, session ids, peer identity) and the
//! resumption record to keep.
//!
//! ```text
//! initiator                                  responder
//!   Sigma1 {random, sid, destinationId, eph key [, resumptionId, resumeMIC]}  ->
//!                 <- Sigma2 {random, sid, eph key, TBE2(NOC, ICAC, sig, resumptionId)}
//!   Sigma3 {TBE3(NOC, ICAC, sig)}                                           ->
//!                 <- StatusReport success
//! resumption:
//!   Sigma1 with resumptionId + initiatorResumeMIC                           ->
//!                 <- Sigma2Resume {resumptionId', MIC, sid}
//!   StatusReport success                                                    ->
//! ```

use thiserror::Error;

use crate::cert::CertError;
use crate::fabric::{FabricIndex, ResumptionRecord};
use crate::message::{
    GeneralCode, MessageError, SecureChannelOpcode, SecureChannelStatus, StatusReport,
};
use crate::session::params::SessionParameters;
use zeroize::Zeroizing;

pub mod initiator;
pub mod keys;
pub mod messages;
pub mod responder;

pub use initiator::{CaseCredentials, CaseInitiator, InitiatorConfig, InitiatorEvent};
pub use messages::CaseMessageError;
pub use responder::{CaseEvent, CaseResponder, CaseTransmit, ResponderConfig};

/// Length of a resumption id (Matter 1.3 §4.14.2.3: 16 bytes).
pub const RESUMPTION_ID_LEN: usize = 16;
/// Length of the ECDH shared secret (the P-256 x coordinate).
pub const SHARED_SECRET_LEN: usize = 32;

/// Why a CASE handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CaseError {
    /// A Sigma message or encrypted part did not decode.
    #[error("malformed message: {0}")]
    Malformed(#[from] CaseMessageError),
    /// A StatusReport from the peer did not decode.
    #[error("malformed status report: {0}")]
    MalformedStatusReport(#[from] MessageError),
    /// A message that does not fit the handshake's state.
    #[error("expected {expected}, got {got:?}")]
    Unexpected {
        /// What the state waits for.
        expected: &'static str,
        /// What came.
        got: SecureChannelOpcode,
    },
    /// The destination id matches none of our fabrics (Sigma1), or the peer's chain does not
    /// lead to the root we expect.
    #[error("no shared trust root")]
    NoSharedTrustRoots,
    /// The peer's ephemeral public key is not a P-256 point.
    #[error("invalid ephemeral public key")]
    InvalidEphemeralKey,
    /// The encrypted part (TBEData2/3) or a resumption MIC did not authenticate.
    #[error("decryption or MIC check failed")]
    Decrypt,
    /// The peer's certificate chain is invalid.
    #[error("peer certificate chain invalid: {0}")]
    Certificate(CertError),
    /// The peer's NOC is for another fabric.
    #[error("peer NOC belongs to another fabric")]
    FabricMismatch,
    /// The peer's NOC is not for the node we wanted to reach (initiator side).
    #[error("peer NOC has an unexpected node id")]
    PeerNodeMismatch,
    /// The signature over TBSData2/3 does not verify.
    #[error("signature invalid")]
    BadSignature,
    /// Session id 0 is not a valid peer session id.
    #[error("invalid peer session id")]
    InvalidPeerSessionId,
    /// The peer answered with a StatusReport that is not success.
    #[error("peer reported failure: {0:?}")]
    PeerStatus(StatusReport),
    /// The peer is busy.
    #[error("responder busy, retry after {min_wait_ms} ms")]
    Busy {
        /// Minimum wait the peer asked for.
        min_wait_ms: u16,
    },
    /// The handshake did not finish in time.
    #[error("handshake timed out")]
    TimedOut,
    /// The exchange or link went away.
    #[error("the peer's exchange or link closed")]
    PeerGone,
    /// Our random source failed to yield a key.
    #[error("ephemeral key generation failed")]
    KeyGeneration,
    /// Our own credentials are unusable (initiator side).
    #[error("local credentials invalid: {0}")]
    LocalCredentials(&'static str),
}

impl CaseError {
    /// The StatusReport to send the peer for this failure, if any. A destination id that
    /// matches no fabric is NoSharedTrustRoots (Matter 1.3 §4.14.2.3.1, and the CHIP SDK's
    /// `kProtocolCodeNoSharedRoot`); every other peer-caused failure is InvalidParameter, as the
    /// CHIP SDK and matter.js send; a peer's own report, timeouts and vanished peers get nothing.
    pub fn status_reply(&self) -> Option<StatusReport> {
        match self {
            Self::NoSharedTrustRoots => Some(StatusReport::secure_channel(
                GeneralCode::FAILURE,
                SecureChannelStatus::NO_SHARED_TRUST_ROOTS,
            )),
            Self::Malformed(_)
            | Self::MalformedStatusReport(_)
            | Self::Unexpected { .. }
            | Self::InvalidEphemeralKey
            | Self::Decrypt
            | Self::Certificate(_)
            | Self::FabricMismatch
            | Self::PeerNodeMismatch
            | Self::BadSignature
            | Self::InvalidPeerSessionId
            | Self::KeyGeneration
            | Self::LocalCredentials(_) => Some(crate::pase::status_invalid_parameter()),
            Self::PeerStatus(_) | Self::Busy { .. } | Self::TimedOut | Self::PeerGone => None,
        }
    }

    /// Maps a received StatusReport that is not success to an error.
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

/// A completed CASE handshake: everything the secure session and the resumption store need.
/// The shared secret and the salt (which holds the IPK) are zeroized on drop.
pub struct CaseSession {
    /// Our session id.
    pub local_session_id: u16,
    /// The peer's session id.
    pub peer_session_id: u16,
    /// The ECDH shared secret (of the original handshake, for a resumed session).
    pub shared_secret: Zeroizing<[u8; SHARED_SECRET_LEN]>,
    /// The session-key HKDF salt: IPK || SHA-256(Sigma1 || Sigma2 || Sigma3), or for a resumed
    /// session initiatorRandom || resumptionId (Matter 1.3 §4.14.2.6, §4.14.2.2.4).
    pub salt: Zeroizing<Vec<u8>>,
    /// Whether the session was resumed ("SessionResumptionKeys").
    pub is_resumption: bool,
    /// Whether we initiated.
    pub is_initiator: bool,
    /// The fabric the session belongs to.
    pub fabric: FabricIndex,
    /// Our node id on that fabric.
    pub local_node_id: u64,
    /// The peer's operational node id.
    pub peer_node_id: u64,
    /// The peer's CASE Authenticated Tags (from its NOC).
    pub peer_cats: Vec<u32>,
    /// What the peer said about itself.
    pub peer_params: SessionParameters,
    /// The resumption id for the next resumption of this session.
    pub resumption_id: [u8; RESUMPTION_ID_LEN],
}

impl core::fmt::Debug for CaseSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CaseSession")
            .field("local_session_id", &self.local_session_id)
            .field("peer_session_id", &self.peer_session_id)
            .field("is_resumption", &self.is_resumption)
            .field("fabric", &self.fabric)
            .field("peer_node_id", &format_args!("{:016X}", self.peer_node_id))
            .field("peer_cats", &self.peer_cats)
            .finish_non_exhaustive()
    }
}

impl CaseSession {
    /// The resumption record to keep for this session (Matter 1.3 §4.14.2.2.4).
    pub fn resumption_record(&self) -> ResumptionRecord {
        ResumptionRecord {
            resumption_id: self.resumption_id,
            shared_secret: self.shared_secret.clone(),
            fabric: self.fabric,
            peer_node_id: self.peer_node_id,
            peer_cats: self.peer_cats.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
