//! The unsecured (plain-text) session used by PASE and CASE before keys exist (Matter 1.3 §4.13.2
//! "Unsecured Session Context"). One per (peer address, initiator's ephemeral node id, role); its
//! messages carry session id 0 and the global unencrypted message counter.

use super::counter::{CounterVerdict, ReceptionState};
use super::params::{MrpParameters, SessionParameters};
use super::{Activity, Session};
use crate::message::{Destination, PacketHeader};
use crate::time::Instant;

/// Which side of the unsecured session we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsecuredRole {
    /// We sent the first message (with our ephemeral node id as source).
    Initiator,
    /// The peer did (its ephemeral node id is our destination).
    Responder,
}

/// An unsecured session with one peer.
#[derive(Debug, Clone)]
pub struct UnsecuredSession {
    ephemeral_node_id: u64,
    role: UnsecuredRole,
    rx_state: ReceptionState,
    peer_parameters: SessionParameters,
    mrp: MrpParameters,
    mrp_enabled: bool,
    activity: Activity,
}

impl UnsecuredSession {
    /// A session identified by the initiator's ephemeral node id.
    pub fn new(
        now: Instant,
        ephemeral_node_id: u64,
        role: UnsecuredRole,
        mrp_enabled: bool,
    ) -> Self {
        Self {
            ephemeral_node_id,
            role,
            rx_state: ReceptionState::unencrypted(),
            peer_parameters: SessionParameters::default(),
            mrp: MrpParameters::DEFAULT,
            mrp_enabled,
            activity: Activity::new(now),
        }
    }

    /// The initiator's ephemeral node id.
    pub const fn ephemeral_node_id(&self) -> u64 {
        self.ephemeral_node_id
    }

    /// Our role.
    pub const fn role(&self) -> UnsecuredRole {
        self.role
    }

    /// Records the peer's session parameters (PASE learns them from PBKDFParamRequest) so that
    /// MRP uses its intervals.
    pub fn set_peer_parameters(&mut self, params: SessionParameters) {
        self.peer_parameters = params;
        self.mrp = MrpParameters::from(&params);
    }

    /// Applies the unencrypted counter rules (Matter 1.3 §4.6.5.2) to a received counter.
    pub fn receive_counter(&mut self, now: Instant, counter: u32) -> CounterVerdict {
        let v = self.rx_state.receive(counter);
        self.notify_activity(now, true);
        v
    }

    /// The header of our next message with `counter` from the global unencrypted counter.
    pub const fn header(&self, counter: u32) -> PacketHeader {
        match self.role {
            UnsecuredRole::Initiator => PacketHeader {
                source_node_id: Some(self.ephemeral_node_id),
                ..PacketHeader::unsecured(counter)
            },
            UnsecuredRole::Responder => PacketHeader {
                destination: Destination::Node(self.ephemeral_node_id),
                ..PacketHeader::unsecured(counter)
            },
        }
    }
}

impl Session for UnsecuredSession {
    fn name(&self) -> String {
        format!("unsecured/{:016x}", self.ephemeral_node_id)
    }

    fn is_secure(&self) -> bool {
        false
    }

    fn is_pase(&self) -> bool {
        false
    }

    fn peer_node_id(&self) -> u64 {
        match self.role {
            UnsecuredRole::Responder => self.ephemeral_node_id,
            UnsecuredRole::Initiator => 0,
        }
    }

    fn mrp_parameters(&self) -> MrpParameters {
        self.mrp
    }

    fn mrp_enabled(&self) -> bool {
        self.mrp_enabled
    }

    fn last_activity(&self) -> Instant {
        self.activity.last_activity()
    }

    fn last_received(&self) -> Option<Instant> {
        self.activity.last_received()
    }

    fn notify_activity(&mut self, now: Instant, received: bool) {
        self.activity.notify(now, received);
    }
}
