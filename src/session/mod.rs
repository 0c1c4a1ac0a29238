//! Sessions: the unsecured session used during PASE, secure (PASE/CASE) sessions with their
//! AES-128-CCM protection and message counters, and the session manager that owns them all
//! (Matter 1.3 §4.6 "Message Counters", §4.7 "Message Security", §4.13 "Session Establishment").
//!
//! - [`SecureSession`]: keys, nonce/AAD, counters, receive window, activity, subscriptions,
//!   close lifecycle (modelled on matter.js `SecureSession`).
//! - [`UnsecuredSession`]: session id 0, global unencrypted counter, unencrypted window rules.
//! - [`SessionManager`]: session id allocation, lookup of incoming packets, eviction.

pub mod counter;
pub mod keys;
mod manager;
pub mod params;
mod secure;
mod unsecured;

pub use manager::{
    CloseReason, Incoming, Outgoing, PaseHandover, SessionManager, SessionManagerConfig,
    SessionManagerEvent, SessionRef, SessionView,
};
pub use secure::{
    Fabric, FabricIndex, Lifecycle, Received, SecureSession, SecureSessionParams, SessionEvent,
    SubscriptionId, UNSPECIFIED_NODE_ID,
};
pub use unsecured::{UnsecuredRole, UnsecuredSession};

use core::fmt;
use core::hash::Hash;

use thiserror::Error;

use crate::message::MessageError;
use crate::time::Instant;
use params::MrpParameters;

/// What every session, secure or not, offers (matter.js `Session`).
pub trait Session {
    /// A short name for logs, e.g. `secure/4711`.
    fn name(&self) -> String;
    /// Whether messages are encrypted.
    fn is_secure(&self) -> bool;
    /// Whether this is a PASE session.
    fn is_pase(&self) -> bool;
    /// The peer's node id (0 when unknown or not applicable).
    fn peer_node_id(&self) -> u64;
    /// The peer's MRP parameters, with spec defaults for what it did not send.
    fn mrp_parameters(&self) -> MrpParameters;
    /// Whether MRP runs on this session (off over BTP).
    fn mrp_enabled(&self) -> bool;
    /// Last time a message was sent or received.
    fn last_activity(&self) -> Instant;
    /// Last time a message was received.
    fn last_received(&self) -> Option<Instant>;
    /// Notes activity at `now`; `received` when a message came in.
    fn notify_activity(&mut self, now: Instant, received: bool);

    /// Whether the peer counts as active: it sent something within its
    /// SESSION_ACTIVE_THRESHOLD (Matter 1.3 §4.12.8).
    fn is_peer_active(&self, now: Instant) -> bool {
        self.last_received()
            .is_some_and(|t| now - t < self.mrp_parameters().active_threshold)
    }
}

/// When a session last sent or received, and last received: the bookkeeping every session kind
/// shares behind [`Session::last_activity`], [`Session::last_received`] and
/// [`Session::notify_activity`]. Time never goes backwards here, even if a caller's does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Activity {
    last_activity: Instant,
    last_received: Option<Instant>,
}

impl Activity {
    /// Created at `now`, nothing received yet.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            last_activity: now,
            last_received: None,
        }
    }

    pub(crate) fn last_activity(&self) -> Instant {
        self.last_activity
    }

    pub(crate) fn last_received(&self) -> Option<Instant> {
        self.last_received
    }

    /// A message went out, or came in when `received`.
    pub(crate) fn notify(&mut self, now: Instant, received: bool) {
        self.last_activity = self.last_activity.max(now);
        if received {
            self.last_received = Some(self.last_received.map_or(now, |t| t.max(now)));
        }
    }
}

/// A transport address of a peer. The node layer implements it for its address type.
pub trait PeerAddress: Clone + Eq + Hash + fmt::Debug {
    /// Whether the transport is reliable (BTP, TCP): MRP is off for sessions over it.
    fn is_reliable_transport(&self) -> bool;
}

/// Errors of the session layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The message frame could not be decoded.
    #[error("bad message: {0}")]
    Message(#[from] MessageError),
    /// The MIC did not verify; the packet was dropped and the session left untouched.
    #[error("message authentication failed")]
    Mic,
    /// Group sessions and privacy-obfuscated unicast packets are not supported.
    #[error("unsupported session type or privacy flag")]
    Unsupported,
    /// No session has this local id.
    #[error("no session with id {0}")]
    UnknownSession(u16),
    /// The handle refers to a session that no longer exists.
    #[error("session handle is stale")]
    StaleHandle,
    /// An unsecured message named neither a source nor a destination node id, or both.
    #[error("unsecured message without a valid node id pair")]
    BadUnsecuredAddressing,
    /// Local session id 0 is reserved for the unsecured session.
    #[error("session id 0 is reserved")]
    InvalidSessionId,
    /// The session id is in use.
    #[error("session id {0} is in use")]
    SessionIdInUse(u16),
    /// All 65535 session ids are taken.
    #[error("no free session id")]
    NoFreeSessionIds,
    /// The table is full of sessions that may not be evicted.
    #[error("session table full")]
    TableFull,
    /// The session is closed.
    #[error("session closed")]
    Closed,
    /// The outgoing counter is used up; the session must close.
    #[error("message counter exhausted")]
    CounterExhausted,
    /// The payload is too long for CCM.
    #[error("message of {0} bytes too long")]
    MessageTooLong(usize),
    /// The session already has a fabric.
    #[error("session already has an associated fabric")]
    FabricAlreadySet,
    /// A fabric-scoped operation on a session without one.
    #[error("session has no associated fabric")]
    NoAssociatedFabric,
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod activity_tests {
    use super::Activity;
    use crate::time::Instant;

    #[test]
    fn activity_never_goes_backwards_and_tracks_receptions_apart() {
        let t = Instant::from_millis;
        let mut a = Activity::new(t(10));
        assert_eq!((a.last_activity(), a.last_received()), (t(10), None));
        a.notify(t(20), false);
        assert_eq!((a.last_activity(), a.last_received()), (t(20), None));
        a.notify(t(30), true);
        // An older timestamp (a caller's clock hiccup) moves neither instant back.
        a.notify(t(25), true);
        assert_eq!((a.last_activity(), a.last_received()), (t(30), Some(t(30))));
    }
}
