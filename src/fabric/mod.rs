//! The node's durable, fail-safe-guarded state: fabrics, access control, the fail-safe, the
//! commissioning-window facts and the writable configuration, gathered in [`NodeState`].
//!
//! [`crate::node::Node`] owns one `NodeState` and lends it to the clusters through the
//! Interaction Model contexts (`&NodeState` for reads, `&mut NodeState` for writes and invokes).
//! Clusters change it directly and leave behind what the node must do about it:
//! - [`Effect`]s ([`NodeState::push_effect`]): open or close a commissioning window, close the
//!   sessions of a removed fabric, bind the current PASE session to a new fabric, ...;
//! - changed attribute paths ([`NodeState::mark_changed`]), so DataVersions move and
//!   subscriptions report;
//! - persistence is derived: after each interaction the node asks [`NodeState::take_records`]
//!   for the records whose encoded form changed (fail-safe-guarded ones only once committed).
//!
//! The fail-safe (Matter 1.3 §11.10.7.2) works by snapshot and rollback: arming it copies
//! everything it guards (fabric table and its pending state, ACL, network configuration);
//! expiry or disarming without CommissioningComplete puts the copy back and emits the effects of
//! the undo; CommissioningComplete drops the copy.

pub mod acl;
mod fail_safe;
pub mod groups;
pub mod light;
pub mod network;
mod persist;
mod resumption;
mod table;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use tracing::debug;

pub use crate::session::FabricIndex;
pub use acl::{
    AccessControlList, AclEntry, AclError, AclExtension, AclLimits, AuthMode, Cat, Cats, Privilege,
    Subject, Target,
};
pub use fail_safe::{BasicCommissioningInfo, FailSafe, FailSafeContext};
pub use groups::{GroupEntry, GroupError, GroupId, GroupTable};
pub use light::{LightState, StartUpOnOff, TimedOff, LIGHT_ENDPOINT};
pub use network::{NetworkConfig, NetworkStatus, NetworkingStatus, WifiNetwork};
pub use persist::{LoadError, Record, RecordKind};
pub use resumption::{ResumptionRecord, ResumptionStore, DEFAULT_RESUMPTION_CAPACITY};
pub use table::{
    Fabric, FabricError, FabricTable, Pending, DEFAULT_SUPPORTED_FABRICS, MAX_LABEL_LEN,
};

use crate::pase::PaseVerifier;
use crate::time::{Duration, Instant};

/// Cluster ids whose attributes the state feeds (for [`NodeState::mark_changed`]).
pub mod cluster_id {
    /// Access Control.
    pub const ACCESS_CONTROL: u32 = 0x001F;
    /// Basic Information.
    pub const BASIC_INFORMATION: u32 = 0x0028;
    /// General Commissioning.
    pub const GENERAL_COMMISSIONING: u32 = 0x0030;
    /// Network Commissioning.
    pub const NETWORK_COMMISSIONING: u32 = 0x0031;
    /// Administrator Commissioning.
    pub const ADMINISTRATOR_COMMISSIONING: u32 = 0x003C;
    /// Operational Credentials.
    pub const OPERATIONAL_CREDENTIALS: u32 = 0x003E;
    /// Group Key Management.
    pub const GROUP_KEY_MANAGEMENT: u32 = 0x003F;
    /// Identify.
    pub const IDENTIFY: u32 = 0x0003;
    /// Groups.
    pub const GROUPS: u32 = 0x0004;
    /// On/Off.
    pub const ON_OFF: u32 = 0x0006;
}

/// An attribute whose value changed: `attribute: None` means every attribute of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangedPath {
    /// Endpoint.
    pub endpoint: u16,
    /// Cluster.
    pub cluster: u32,
    /// Attribute, or `None` for all of the cluster's.
    pub attribute: Option<u32>,
}

/// Administrator Commissioning WindowStatus (Matter 1.3 §11.19.5.1, CommissioningWindowStatusEnum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum WindowStatus {
    /// No window open.
    #[default]
    WindowNotOpen = 0,
    /// Opened by OpenCommissioningWindow (a verifier from the administrator).
    EnhancedWindowOpen = 1,
    /// Opened by OpenBasicCommissioningWindow (the device's own passcode).
    BasicWindowOpen = 2,
}

/// The Administrator Commissioning cluster's attributes, which the node mirrors from the
/// window it actually has open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommissioningWindowInfo {
    /// WindowStatus: only windows an administrator opened (OpenCommissioningWindow or
    /// OpenBasicCommissioningWindow); the initial window at boot is WindowNotOpen
    /// (Matter 1.3 §11.19.7.1).
    pub status: WindowStatus,
    /// Whether any commissioning window is open, the initial one included (what
    /// OpenCommissioningWindow's Busy and ArmFailSafe's BusyWithOtherAdmin look at).
    pub open: bool,
    /// AdminFabricIndex: the fabric that opened the window (null when none, or when the
    /// initial window is open, or the fabric was removed).
    pub admin_fabric: Option<FabricIndex>,
    /// AdminVendorId: that fabric's vendor id.
    pub admin_vendor_id: Option<u16>,
}

/// RegulatoryLocationTypeEnum (Matter 1.3 §11.10.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RegulatoryLocation {
    /// Indoor only.
    Indoor = 0,
    /// Outdoor only.
    Outdoor = 1,
    /// Indoor and outdoor.
    IndoorOutdoor = 2,
}

impl RegulatoryLocation {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Indoor,
            1 => Self::Outdoor,
            2 => Self::IndoorOutdoor,
            _ => return None,
        })
    }
}

/// Regulatory configuration (General Commissioning RegulatoryConfig and LocationCapability).
/// The country code set by SetRegulatoryConfig is Basic Information's Location
/// ([`WritableInfo::location`]), as in the CHIP SDK, which keeps one country code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regulatory {
    /// RegulatoryConfig: where the device is installed.
    pub config: RegulatoryLocation,
    /// LocationCapability: where it may be installed (fixed by the product).
    pub location_capability: RegulatoryLocation,
}

impl Default for Regulatory {
    /// A host computer: indoor, capable of either.
    fn default() -> Self {
        Self {
            config: RegulatoryLocation::Indoor,
            location_capability: RegulatoryLocation::IndoorOutdoor,
        }
    }
}

/// The writable Basic Information attributes (persisted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritableInfo {
    /// NodeLabel (≤ 32 bytes).
    pub node_label: String,
    /// Location: ISO 3166-1 alpha-2 country code, "XX" when unknown (exactly 2 bytes).
    pub location: String,
}

impl Default for WritableInfo {
    fn default() -> Self {
        Self {
            node_label: String::new(),
            location: "XX".into(),
        }
    }
}

/// How the fail-safe ended without CommissioningComplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailSafeEnd {
    /// The timer ran out.
    Expired,
    /// ArmFailSafe with ExpiryLengthSeconds 0.
    Disarmed,
}

/// Which commissioning window an administrator asked for.
pub enum WindowRequest {
    /// OpenCommissioningWindow: PASE with the administrator's verifier and discriminator.
    Enhanced {
        /// The verifier (w0, L) with its PBKDF parameters.
        verifier: Box<PaseVerifier>,
        /// Discriminator to advertise.
        discriminator: u16,
    },
    /// OpenBasicCommissioningWindow: the device's own passcode and discriminator.
    Basic,
}

impl fmt::Debug for WindowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enhanced { discriminator, .. } => f
                .debug_struct("Enhanced")
                .field("discriminator", discriminator)
                .finish_non_exhaustive(),
            Self::Basic => f.write_str("Basic"),
        }
    }
}

/// Something the node must do because of a state change (executed in order after the
/// interaction that caused it).
#[derive(Debug)]
#[non_exhaustive]
pub enum Effect {
    /// Open a commissioning window (Administrator Commissioning) for `timeout`.
    OpenCommissioningWindow {
        /// Which window.
        window: WindowRequest,
        /// CommissioningTimeout.
        timeout: Duration,
    },
    /// Close the commissioning window (RevokeCommissioning, CommissioningComplete).
    CloseCommissioningWindow,
    /// Commissioning finished on `fabric` (the fail-safe committed).
    CommissioningComplete {
        /// The fabric commissioned.
        fabric: FabricIndex,
    },
    /// Bind the session of the current interaction (a PASE session) to `fabric` (AddNOC,
    /// Matter 1.3 §11.18.6.8).
    BindSessionToFabric(FabricIndex),
    /// A fabric is gone (RemoveFabric, rollback of AddNOC): close its sessions.
    FabricRemoved(FabricIndex),
    /// A fabric's NOC was reverted (rollback of UpdateNOC): close its CASE sessions
    /// (§11.10.7.2.2 step 3).
    CloseFabricSessions(FabricIndex),
    /// The fail-safe ended without commissioning: close the PASE session(s) and revoke their
    /// implicit administer privilege (§11.10.7.2.2 steps 1 and 2).
    FailSafeEnded(FailSafeEnd),
    /// The OnOff attribute of `endpoint` changed (a command, the timed-off countdown, the
    /// start-up behaviour): tell the shell, which drives the real output.
    OnOffChanged {
        /// The endpoint (the light's).
        endpoint: u16,
        /// The new OnOff value.
        on: bool,
    },
}

/// What the fail-safe guards, copied at arming.
#[derive(Clone, Debug)]
struct Snapshot {
    fabrics: FabricTable,
    acl: AccessControlList,
    network: NetworkConfig,
}

/// CommissioningErrorEnum of General Commissioning (Matter 1.3 §11.10.5.1), the outcome of the
/// fail-safe commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CommissioningError {
    /// A value out of range (e.g. a regulatory location the device cannot take).
    ValueOutsideRange = 1,
    /// CommissioningComplete from the wrong session kind or fabric.
    InvalidAuthentication = 2,
    /// The fail-safe is not armed.
    NoFailSafe = 3,
    /// The fail-safe is armed by another administrator, or a window is open for one.
    BusyWithOtherAdmin = 4,
}

/// The node's state. See the module docs.
#[derive(Debug)]
pub struct NodeState {
    /// The fabric table.
    pub fabrics: FabricTable,
    /// Access control entries and extensions.
    pub acl: AccessControlList,
    /// The fail-safe timer, its context and Breadcrumb.
    pub fail_safe: FailSafe,
    /// The commissioning window as Administrator Commissioning reports it (mirrored by the node).
    pub window: CommissioningWindowInfo,
    /// Regulatory configuration.
    pub regulatory: Regulatory,
    /// Writable Basic Information attributes.
    pub info: WritableInfo,
    /// Network configuration (fail-safe guarded, persisted).
    pub network: NetworkConfig,
    /// CASE resumption records (not fail-safe guarded: they belong to committed fabrics).
    pub case_resumption: ResumptionStore,
    /// The application endpoint's light (On/Off, Identify).
    pub light: LightState,
    /// The group table (Groups cluster, per fabric).
    pub groups: GroupTable,
    /// The last network scan or connection outcome (Network Commissioning's Last* attributes).
    pub network_status: NetworkStatus,
    snapshot: Option<Box<Snapshot>>,
    effects: VecDeque<Effect>,
    changed: BTreeSet<ChangedPath>,
    /// SHA-256 of each record as last handed out for persistence.
    persisted: BTreeMap<RecordKind, [u8; 32]>,
}

impl Default for NodeState {
    fn default() -> Self {
        Self::new(
            AclLimits::default(),
            DEFAULT_SUPPORTED_FABRICS,
            BasicCommissioningInfo::default(),
        )
    }
}

impl NodeState {
    /// A factory-new state.
    pub fn new(limits: AclLimits, supported_fabrics: u8, info: BasicCommissioningInfo) -> Self {
        Self {
            fabrics: FabricTable::new(supported_fabrics),
            acl: AccessControlList::new(limits),
            fail_safe: FailSafe::new(info),
            window: CommissioningWindowInfo::default(),
            regulatory: Regulatory::default(),
            info: WritableInfo::default(),
            network: NetworkConfig::default(),
            case_resumption: ResumptionStore::default(),
            light: LightState::default(),
            groups: GroupTable::default(),
            network_status: NetworkStatus::default(),
            snapshot: None,
            effects: VecDeque::new(),
            changed: BTreeSet::new(),
            persisted: BTreeMap::new(),
        }
    }

    // ---- effects and change tracking ----

    /// Queues an effect for the node.
    pub fn push_effect(&mut self, e: Effect) {
        debug!(effect = ?e, "state effect");
        self.effects.push_back(e);
    }

    /// The next effect to execute (the node drains these after each interaction).
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Records that an attribute changed (`None`: every attribute of the cluster).
    pub fn mark_changed(&mut self, endpoint: u16, cluster: u32, attribute: Option<u32>) {
        self.changed.insert(ChangedPath {
            endpoint,
            cluster,
            attribute,
        });
    }

    /// The paths changed since the last call.
    pub fn take_changed(&mut self) -> BTreeSet<ChangedPath> {
        core::mem::take(&mut self.changed)
    }

    /// Marks everything derived from the fabric table and the ACL as changed.
    fn mark_fabric_clusters_changed(&mut self) {
        for c in [
            cluster_id::OPERATIONAL_CREDENTIALS,
            cluster_id::ACCESS_CONTROL,
            cluster_id::GROUP_KEY_MANAGEMENT,
            cluster_id::NETWORK_COMMISSIONING,
            cluster_id::ADMINISTRATOR_COMMISSIONING,
        ] {
            self.mark_changed(0, c, None);
        }
    }

    // ---- fabrics ----

    /// Removes fabric `index` with everything scoped to it (RemoveFabric, §11.18.6.12, and the
    /// rollback of AddNOC): its record, ACL entries and extensions, the window's admin fabric;
    /// emits [`Effect::FabricRemoved`]. Returns whether it existed.
    pub fn remove_fabric(&mut self, index: FabricIndex) -> bool {
        let existed = self.fabrics.remove(index).is_some();
        self.acl.remove_fabric(index);
        // Its sessions cannot be resumed either (§11.18.6.12: everything scoped to it goes).
        self.case_resumption.remove_fabric(index);
        // Fabric-scoped application data goes with the fabric (§11.18.6.12).
        if self.groups.remove_fabric(index) {
            self.mark_changed(LIGHT_ENDPOINT, cluster_id::GROUPS, None);
        }
        // RemoveFabric is not something the fail-safe undoes (it is not in §11.10.7.2.2's
        // list): a fabric removed while armed must not come back from the snapshot.
        if let Some(snap) = self.snapshot.as_mut() {
            snap.fabrics.remove(index);
            snap.acl.remove_fabric(index);
        }
        if self.window.admin_fabric == Some(index) {
            // §11.19.5.2: AdminFabricIndex becomes null when that fabric leaves.
            self.window.admin_fabric = None;
            self.window.admin_vendor_id = None;
        }
        if existed {
            debug!(fabric = index.0, "fabric removed");
            self.push_effect(Effect::FabricRemoved(index));
            self.mark_fabric_clusters_changed();
        }
        existed
    }

    // ---- fail-safe ----

    /// ArmFailSafe (Matter 1.3 §11.10.7.2) for a subject of `fabric` (`None`: PASE without a
    /// fabric), `case` telling whether the request came over CASE. Arms, extends or, with
    /// `expiry_secs` 0, disarms (rolling back); Breadcrumb is set on success.
    ///
    /// # Errors
    /// [`CommissioningError::BusyWithOtherAdmin`] when another fabric armed it, or when a
    /// commissioning window is open and the request is over CASE.
    pub fn arm_fail_safe(
        &mut self,
        now: Instant,
        fabric: Option<FabricIndex>,
        case: bool,
        expiry_secs: u16,
        breadcrumb: u64,
    ) -> Result<(), CommissioningError> {
        if !self.fail_safe.is_owned_by(fabric) {
            return Err(CommissioningError::BusyWithOtherAdmin);
        }
        if !self.fail_safe.is_armed() && case && self.window.open {
            // §11.10.7.2: with a commissioning window open, CASE may not arm the fail-safe.
            return Err(CommissioningError::BusyWithOtherAdmin);
        }
        if expiry_secs == 0 {
            if self.fail_safe.is_armed() {
                self.rollback(FailSafeEnd::Disarmed);
            }
        } else {
            let expiry = Duration::from_secs(u64::from(expiry_secs));
            if self.fail_safe.arm(now, fabric, expiry) {
                debug!(expiry_secs, "fail-safe armed");
                self.snapshot = Some(Box::new(Snapshot {
                    fabrics: self.fabrics.clone(),
                    acl: self.acl.clone(),
                    network: self.network.clone(),
                }));
            } else {
                debug!(expiry_secs, "fail-safe extended");
            }
        }
        self.set_breadcrumb(breadcrumb);
        Ok(())
    }

    /// Sets Breadcrumb, marking it changed.
    pub fn set_breadcrumb(&mut self, v: u64) {
        if self.fail_safe.breadcrumb() != v {
            self.fail_safe.set_breadcrumb(v);
            self.mark_changed(0, cluster_id::GENERAL_COMMISSIONING, Some(0));
        }
    }

    /// CommissioningComplete (§11.10.7.6) from a subject of `fabric` over CASE (`case`):
    /// commits everything done under the fail-safe, resets Breadcrumb and emits
    /// [`Effect::CommissioningComplete`] and [`Effect::CloseCommissioningWindow`].
    ///
    /// # Errors
    /// [`CommissioningError::NoFailSafe`] when not armed; then
    /// [`CommissioningError::InvalidAuthentication`] unless over CASE on the fail-safe's fabric.
    pub fn commissioning_complete(
        &mut self,
        fabric: Option<FabricIndex>,
        case: bool,
    ) -> Result<FabricIndex, CommissioningError> {
        let ctx = self
            .fail_safe
            .context()
            .ok_or(CommissioningError::NoFailSafe)?;
        let owner = match (case, fabric, ctx.fabric) {
            (true, Some(f), Some(c)) if f == c => f,
            _ => return Err(CommissioningError::InvalidAuthentication),
        };
        self.fail_safe.disarm();
        self.snapshot = None;
        self.fabrics.pending = Pending::default();
        self.set_breadcrumb(0);
        debug!(
            fabric = owner.0,
            "commissioning complete: fail-safe committed"
        );
        self.push_effect(Effect::CommissioningComplete { fabric: owner });
        self.push_effect(Effect::CloseCommissioningWindow);
        Ok(owner)
    }

    /// The earliest deadline of the state (the fail-safe, the light's countdowns), for the
    /// node's `poll_timeout`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.fail_safe.deadline(), self.light.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Expires the fail-safe if its deadline has passed (rolling back) and runs the light's due
    /// countdown steps. Returns whether anything changed.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        let mut changed = self.light_handle_timeout(now);
        if self.fail_safe.is_expired(now) {
            debug!("fail-safe expired");
            self.rollback(FailSafeEnd::Expired);
            changed = true;
        }
        changed
    }

    /// Undoes everything done under the fail-safe (§11.10.7.2.2, "Behavior on expiry").
    fn rollback(&mut self, why: FailSafeEnd) {
        let ctx = self.fail_safe.disarm().unwrap_or_default();
        let Some(snap) = self.snapshot.take() else {
            return;
        };
        let Snapshot {
            fabrics,
            acl,
            network,
        } = *snap;
        // Fabrics that exist now but not in the snapshot were added (AddNOC): their removal is
        // a RemoveFabric (step 6). Fabrics whose NOC changed (UpdateNOC) lose their CASE
        // sessions (step 3) and get their old NOC and key back (step 5).
        let added: Vec<FabricIndex> = self
            .fabrics
            .iter()
            .map(|f| f.index)
            .filter(|i| fabrics.get(*i).is_none())
            .collect();
        let updated: Vec<FabricIndex> = self
            .fabrics
            .iter()
            .filter(|f| fabrics.get(f.index).is_some_and(|old| old.noc != f.noc))
            .map(|f| f.index)
            .collect();
        for i in &added {
            self.remove_fabric(*i);
        }
        // Steps 4, 5, 7, 8: the snapshot holds the network config, NOCs and keys, an empty
        // pending state (no CSR key, no pending root) and the ACL as they were.
        self.fabrics = fabrics;
        self.acl = acl;
        self.network = network;
        for i in updated {
            self.push_effect(Effect::CloseFabricSessions(i));
        }
        // Step 9.
        self.set_breadcrumb(0);
        self.mark_fabric_clusters_changed();
        debug!(?why, added = added.len(), fabric = ?ctx.fabric, "fail-safe rolled back");
        self.push_effect(Effect::FailSafeEnded(why));
    }

    // ---- persistence ----

    /// The records whose encoded form changed since last handed out, to persist. The fabric
    /// table and the ACL are held back while the fail-safe is armed (an uncommitted fabric must
    /// not survive a restart: after a crash the state is as before ArmFailSafe).
    pub fn take_records(&mut self) -> Vec<Record> {
        let armed = self.fail_safe.is_armed();
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            if armed && kind.is_fail_safe_guarded() {
                continue;
            }
            let rec = self.encode_record(kind);
            let digest = rec.digest();
            if self.persisted.get(&kind) != Some(&digest) {
                self.persisted.insert(kind, digest);
                out.push(rec);
            }
        }
        out
    }

    /// Loads persisted records into a factory-new state (`new` defaults for anything missing),
    /// and remembers them as persisted.
    ///
    /// # Errors
    /// [`LoadError`] for a corrupt or unsupported record: the caller reports it rather than
    /// silently resetting.
    pub fn load<'a>(
        mut self,
        records: impl IntoIterator<Item = (RecordKind, &'a [u8])>,
    ) -> Result<Self, LoadError> {
        for (kind, bytes) in records {
            self.decode_record(kind, bytes)?;
            let digest = Record::digest_of(bytes);
            self.persisted.insert(kind, digest);
        }
        Ok(self)
    }
}

#[cfg(test)]
pub(crate) use table::tests as table_tests;
#[cfg(test)]
mod tests;
