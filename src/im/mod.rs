//! The Interaction Model responder (Matter 1.3 chapter 8, messages in §10.6): message codecs,
//! attribute/command paths, the data model (endpoints holding clusters, one file per cluster under
//! [`clusters`]) and the per-exchange state machine [`ImExchange`].
//!
//! # Driving it
//! The node decrypts a message, sees protocol id [`PROTOCOL_ID`] (0x0001), finds or creates the
//! [`ImExchange`] for that exchange id and feeds it the payload; then it sends every message that
//! [`ImExchange::poll_message`] yields on the same exchange, and drops the exchange once
//! [`ImExchange::is_done`]:
//! ```
//! use matter_ble::fabric::{NodeState, Subject};
//! use matter_ble::im::{clusters::DeviceInfo, DataModel, ImExchange, Opcode, SessionContext};
//! use matter_ble::rng::TestRng;
//! use matter_ble::time::Instant;
//! let mut model = DataModel::root_node(DeviceInfo::default(), 0x1234_5678);
//! let mut state = NodeState::default();
//! // Who is asking: here a PASE session (implicitly Administer while commissioning).
//! let mut session = SessionContext {
//!     subject: Subject::pase(None),
//!     state: &mut state,
//!     rng: &mut TestRng::new(1),
//!     attestation_challenge: &[0; 16],
//! };
//! let mut ex = ImExchange::new(1024); // the transport's payload limit for one IM message
//! // ReadRequest { AttributeRequests: [ {endpoint 0, cluster 0x28, attribute 1} ] }
//! let read = [0x15, 0x36, 0x00, 0x17, 0x24, 0x02, 0x00, 0x24, 0x03, 0x28, 0x24, 0x04, 0x01,
//!             0x18, 0x18, 0x28, 0x03, 0x24, 0xFF, 0x0B, 0x18];
//! ex.handle_message(Instant::ZERO, &mut model, &mut session, Opcode::READ_REQUEST, &read);
//! let reply = ex.poll_message().expect("a report");
//! assert_eq!(reply.opcode, Opcode::REPORT_DATA);
//! assert!(ex.is_done()); // one chunk, SuppressResponse set: nothing more to wait for
//! ```
//! A report larger than the payload limit goes out in chunks with MoreChunkedMessages set; the
//! exchange then waits for the peer's StatusResponse before producing the next chunk.
//!
//! Subscriptions are not per exchange: a SubscribeRequest that opens an exchange goes to the
//! node's [`SubscriptionManager`] (see [`subscription`]), which primes it, then opens a new
//! exchange for every change report and keep-alive.
//!
//! Implemented: Read (concrete and wildcard attribute paths, WildcardPathFlags, DataVersion
//! filters, FabricFiltered, chunking, long lists split into appended entries; event paths get
//! EventStatusIBs as this device has no events), Write (per-path statuses, list attributes as
//! replace-all plus ListIndex-null appends, chunked WriteRequests), Invoke (up to
//! MaxPathsPerInvoke paths with CommandRefs, chunked InvokeResponses, SuppressResponse), Timed
//! requests, Subscribe (priming, change reports after MinIntervalFloor, keep-alives at
//! MaxInterval, limits), StatusResponse everywhere a chunk or report awaits one, and access
//! control on all of them (the [`crate::fabric::Subject`] of [`SessionContext`] against the
//! node's ACL).

pub mod clusters;
mod exchange;
mod messages;
mod model;
mod path;
mod report;
pub mod subscription;

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod subscription_tests;
#[cfg(test)]
pub(crate) mod test_requests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_invoke_tests;

use core::fmt;

use thiserror::Error;

use crate::tlv::TlvError;

pub use exchange::{ImExchange, ImMessage};
pub use messages::{
    CommandData, EventPath, InvokeRequest, ReadRequest, StatusResponse, SubscribeRequest,
    SubscribeResponse, TimedRequest, WriteData, WriteRequest,
};
pub use model::{
    AttrError, Cluster, DataModel, DeviceType, Endpoint, InvokeContext, InvokeResult, ReadContext,
    ReadScope, SessionContext, WriteContext, ROOT_NODE_DEVICE_TYPE,
};
pub use path::{AttributePath, CommandPath, ConcreteAttributePath};
pub use subscription::{
    Subscriber, SubscriptionConfig, SubscriptionEvent, SubscriptionManager, SubscriptionTransmit,
};

/// Protocol id of the Interaction Model (Matter 1.3 §4.4.3.1, table "Protocol IDs").
pub const PROTOCOL_ID: u16 = 0x0001;

/// InteractionModelRevision (context tag 0xFF of every IM message) we send. Revision 11 is
/// Matter 1.3 (§8.1.1, "Revision History"); the CHIP SDK of Matter 1.4 sends 12 and peers
/// accept either. Incoming revisions are not checked, as in the CHIP SDK.
pub const INTERACTION_MODEL_REVISION: u8 = 11;

/// Context tag of the InteractionModelRevision field.
pub(crate) const IM_REVISION_TAG: u8 = 0xFF;

/// An Interaction Model opcode: the message layer's newtype, so there is one definition.
pub use crate::message::InteractionModelOpcode as Opcode;

/// An Interaction Model status code (Matter 1.3 §8.10.1, "Status Codes").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub u8);

impl Status {
    /// SUCCESS.
    pub const SUCCESS: Self = Self(0x00);
    /// FAILURE.
    pub const FAILURE: Self = Self(0x01);
    /// INVALID_SUBSCRIPTION.
    pub const INVALID_SUBSCRIPTION: Self = Self(0x7D);
    /// UNSUPPORTED_ACCESS.
    pub const UNSUPPORTED_ACCESS: Self = Self(0x7E);
    /// UNSUPPORTED_ENDPOINT.
    pub const UNSUPPORTED_ENDPOINT: Self = Self(0x7F);
    /// INVALID_ACTION.
    pub const INVALID_ACTION: Self = Self(0x80);
    /// UNSUPPORTED_COMMAND.
    pub const UNSUPPORTED_COMMAND: Self = Self(0x81);
    /// INVALID_COMMAND.
    pub const INVALID_COMMAND: Self = Self(0x85);
    /// UNSUPPORTED_ATTRIBUTE.
    pub const UNSUPPORTED_ATTRIBUTE: Self = Self(0x86);
    /// CONSTRAINT_ERROR.
    pub const CONSTRAINT_ERROR: Self = Self(0x87);
    /// UNSUPPORTED_WRITE.
    pub const UNSUPPORTED_WRITE: Self = Self(0x88);
    /// RESOURCE_EXHAUSTED.
    pub const RESOURCE_EXHAUSTED: Self = Self(0x89);
    /// NOT_FOUND.
    pub const NOT_FOUND: Self = Self(0x8B);
    /// UNREPORTABLE_ATTRIBUTE.
    pub const UNREPORTABLE_ATTRIBUTE: Self = Self(0x8C);
    /// INVALID_DATA_TYPE.
    pub const INVALID_DATA_TYPE: Self = Self(0x8D);
    /// UNSUPPORTED_READ.
    pub const UNSUPPORTED_READ: Self = Self(0x8F);
    /// DATA_VERSION_MISMATCH.
    pub const DATA_VERSION_MISMATCH: Self = Self(0x92);
    /// TIMEOUT.
    pub const TIMEOUT: Self = Self(0x94);
    /// BUSY.
    pub const BUSY: Self = Self(0x9C);
    /// UNSUPPORTED_CLUSTER.
    pub const UNSUPPORTED_CLUSTER: Self = Self(0xC3);
    /// NEEDS_TIMED_INTERACTION.
    pub const NEEDS_TIMED_INTERACTION: Self = Self(0xC6);
    /// UNSUPPORTED_EVENT.
    pub const UNSUPPORTED_EVENT: Self = Self(0xC7);
    /// PATHS_EXHAUSTED.
    pub const PATHS_EXHAUSTED: Self = Self(0xC8);
    /// TIMED_REQUEST_MISMATCH.
    pub const TIMED_REQUEST_MISMATCH: Self = Self(0xC9);
    /// FAILSAFE_REQUIRED.
    pub const FAILSAFE_REQUIRED: Self = Self(0xCA);
    /// INVALID_IN_STATE.
    pub const INVALID_IN_STATE: Self = Self(0xCB);
    /// NO_COMMAND_RESPONSE.
    pub const NO_COMMAND_RESPONSE: Self = Self(0xCC);

    fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::SUCCESS => "SUCCESS",
            Self::FAILURE => "FAILURE",
            Self::INVALID_SUBSCRIPTION => "INVALID_SUBSCRIPTION",
            Self::UNSUPPORTED_ACCESS => "UNSUPPORTED_ACCESS",
            Self::UNSUPPORTED_ENDPOINT => "UNSUPPORTED_ENDPOINT",
            Self::INVALID_ACTION => "INVALID_ACTION",
            Self::UNSUPPORTED_COMMAND => "UNSUPPORTED_COMMAND",
            Self::INVALID_COMMAND => "INVALID_COMMAND",
            Self::UNSUPPORTED_ATTRIBUTE => "UNSUPPORTED_ATTRIBUTE",
            Self::CONSTRAINT_ERROR => "CONSTRAINT_ERROR",
            Self::UNSUPPORTED_WRITE => "UNSUPPORTED_WRITE",
            Self::RESOURCE_EXHAUSTED => "RESOURCE_EXHAUSTED",
            Self::NOT_FOUND => "NOT_FOUND",
            Self::UNREPORTABLE_ATTRIBUTE => "UNREPORTABLE_ATTRIBUTE",
            Self::INVALID_DATA_TYPE => "INVALID_DATA_TYPE",
            Self::UNSUPPORTED_READ => "UNSUPPORTED_READ",
            Self::DATA_VERSION_MISMATCH => "DATA_VERSION_MISMATCH",
            Self::TIMEOUT => "TIMEOUT",
            Self::BUSY => "BUSY",
            Self::UNSUPPORTED_CLUSTER => "UNSUPPORTED_CLUSTER",
            Self::NEEDS_TIMED_INTERACTION => "NEEDS_TIMED_INTERACTION",
            Self::UNSUPPORTED_EVENT => "UNSUPPORTED_EVENT",
            Self::PATHS_EXHAUSTED => "PATHS_EXHAUSTED",
            Self::TIMED_REQUEST_MISMATCH => "TIMED_REQUEST_MISMATCH",
            Self::FAILSAFE_REQUIRED => "FAILSAFE_REQUIRED",
            Self::INVALID_IN_STATE => "INVALID_IN_STATE",
            Self::NO_COMMAND_RESPONSE => "NO_COMMAND_RESPONSE",
            _ => return None,
        })
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Status(0x{:02x})", self.0),
        }
    }
}

/// A malformed or unacceptable Interaction Model message from the peer. The exchange answers it
/// with a StatusResponse (see [`ImError::status`]); the value is for logs.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ImError {
    /// The payload is not valid TLV or lacks a required field.
    #[error("malformed {what}: {source}")]
    Malformed {
        /// The message being decoded.
        what: &'static str,
        /// The TLV error.
        source: TlvError,
    },
    /// A well-formed request the spec says to refuse with `status`.
    #[error("{what} refused: {status:?}")]
    Refused {
        /// What was wrong.
        what: &'static str,
        /// The status to answer with.
        status: Status,
    },
}

impl ImError {
    /// The status a StatusResponse carries for this error (Matter 1.3 §8.2.3: a message that
    /// cannot be parsed is answered with INVALID_ACTION).
    pub fn status(&self) -> Status {
        match self {
            Self::Malformed { .. } => Status::INVALID_ACTION,
            Self::Refused { status, .. } => *status,
        }
    }

    pub(crate) fn malformed(what: &'static str) -> impl FnOnce(TlvError) -> Self {
        move |source| Self::Malformed { what, source }
    }
}
