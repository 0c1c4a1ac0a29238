//! Matter message codec: the message header, the protocol header, protocol ids and opcodes, and
//! the StatusReport payload (Matter 1.3 §4.4 "Message Frame Format", §4.11 "Secure Channel").
//!
//! - [`Packet`]: message header + still-encrypted payload, borrowed from the datagram; keeps the
//!   raw header bytes, which are the AES-CCM additional data of secure sessions.
//! - [`Message`]: message header + protocol header + application payload.
//!
//! Decoding checks every length and rejects what the spec reserves (versions other than 0,
//! DSIZ 3, session types 2 and 3); encoding emits exactly the bytes the spec lays out.

mod header;
mod protocol;
mod status_report;

pub use header::{
    Destination, Message, Packet, PacketHeader, PayloadHeader, SessionType, MESSAGE_VERSION,
};
pub use protocol::{InteractionModelOpcode, ProtocolId, SecureChannelOpcode};
pub use status_report::{GeneralCode, SecureChannelStatus, StatusReport};

use thiserror::Error;

use crate::error::DecodeError;

/// A message frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Truncated input (or another low-level layout error).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The message header version is not 0.
    #[error("unsupported message header version {0}")]
    UnsupportedVersion(u8),
    /// DSIZ = 3 is reserved.
    #[error("reserved destination size (DSIZ 3)")]
    ReservedDestinationSize,
    /// Session types 2 and 3 are reserved.
    #[error("reserved session type {0}")]
    ReservedSessionType(u8),
    /// The destination field does not fit the session type (node id on a group session, group
    /// id on a unicast session, or a group message without its group id).
    #[error("destination size {dsiz} does not fit a {session_type:?} session")]
    DestinationMismatch {
        /// The DSIZ bits as received.
        dsiz: u8,
        /// The session type as received.
        session_type: SessionType,
    },
}
