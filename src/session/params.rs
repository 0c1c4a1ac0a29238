//! Session parameters a peer announces in PASE/CASE (`sessionParams`), and the MRP timing they imply.
//! Matter 1.3 §4.12.8 (MRP parameters), §2.12.5 (session parameter TLV, parsed by the PASE/CASE codecs).

use crate::time::Duration;

/// What a peer said about itself in its session parameters. `None` = field absent (use the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionParameters {
    /// SESSION_IDLE_INTERVAL (tag 1), milliseconds.
    pub idle_interval_ms: Option<u32>,
    /// SESSION_ACTIVE_INTERVAL (tag 2), milliseconds.
    pub active_interval_ms: Option<u32>,
    /// SESSION_ACTIVE_THRESHOLD (tag 3), milliseconds.
    pub active_threshold_ms: Option<u16>,
    /// DATA_MODEL_REVISION (tag 4).
    pub data_model_revision: Option<u16>,
    /// INTERACTION_MODEL_REVISION (tag 5).
    pub interaction_model_revision: Option<u16>,
    /// SPECIFICATION_VERSION (tag 6).
    pub specification_version: Option<u32>,
    /// MAX_PATHS_PER_INVOKE (tag 7).
    pub max_paths_per_invoke: Option<u16>,
}

/// MRP timing for one peer, with the spec's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrpParameters {
    /// Base retransmission interval while the peer is idle.
    pub idle_interval: Duration,
    /// Base retransmission interval while the peer is active.
    pub active_interval: Duration,
    /// How long after its last message the peer counts as active.
    pub active_threshold: Duration,
}

impl MrpParameters {
    /// Spec defaults: SESSION_IDLE_INTERVAL 500 ms, SESSION_ACTIVE_INTERVAL 300 ms,
    /// SESSION_ACTIVE_THRESHOLD 4000 ms (Matter 1.3 §4.12.8, table "MRP parameters").
    pub const DEFAULT: Self = Self {
        idle_interval: Duration::from_millis(500),
        active_interval: Duration::from_millis(300),
        active_threshold: Duration::from_millis(4000),
    };
}

impl Default for MrpParameters {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<&SessionParameters> for MrpParameters {
    fn from(p: &SessionParameters) -> Self {
        let d = Self::DEFAULT;
        Self {
            idle_interval: p
                .idle_interval_ms
                .map_or(d.idle_interval, |v| Duration::from_millis(v.into())),
            active_interval: p
                .active_interval_ms
                .map_or(d.active_interval, |v| Duration::from_millis(v.into())),
            active_threshold: p
                .active_threshold_ms
                .map_or(d.active_threshold, |v| Duration::from_millis(v.into())),
        }
    }
}
