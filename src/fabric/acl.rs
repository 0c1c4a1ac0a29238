//! Access control (Matter 1.3 §6.6 "Access Control", the Access Control cluster's data in
//! §9.10.4): the entries, their validation and limits, and the access check itself
//! ([`AccessControlList::check`], §6.6.6 "Access Control Privilege Granting Algorithm").
//!
//! The IM layer builds a [`Subject`] from the session of each request and asks
//! [`AccessControlList::check`] whether it holds the privilege a path needs.

use core::fmt;

use thiserror::Error;

use super::FabricIndex;
use crate::tlv::{Container, Tag, TlvError, TlvWriter, Value};

/// An access privilege (Matter 1.3 §9.10.5.2 AccessControlEntryPrivilegeEnum; wire values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Privilege {
    /// Read and subscribe.
    View = 1,
    /// View for proxies (§6.6.2.3); not implied by View.
    ProxyView = 2,
    /// Operate the device (most commands, writes of operational attributes).
    Operate = 3,
    /// Change the device's configuration.
    Manage = 4,
    /// Everything, including access control itself.
    Administer = 5,
}

impl Privilege {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::View,
            2 => Self::ProxyView,
            3 => Self::Operate,
            4 => Self::Manage,
            5 => Self::Administer,
            _ => return None,
        })
    }

    /// Whether holding `self` grants `required` (§6.6.2.3, "Privileges"): Administer implies
    /// every other privilege (ProxyView included), Manage implies Operate and View, Operate
    /// implies View, ProxyView implies View. View does not imply ProxyView.
    pub fn grants(self, required: Privilege) -> bool {
        use Privilege::*;
        match (self, required) {
            (a, b) if a == b => true,
            (Administer, _) => true,
            (Manage, Operate | View) => true,
            (Operate, View) => true,
            (ProxyView, View) => true,
            _ => false,
        }
    }
}

/// How a subject authenticated (§9.10.5.3 AccessControlEntryAuthModeEnum; wire values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AuthMode {
    /// Passcode-authenticated session (commissioning). Never stored in an entry.
    Pase = 1,
    /// Certificate-authenticated session (operational).
    Case = 2,
    /// Group-keyed message.
    Group = 3,
}

impl AuthMode {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Pase,
            2 => Self::Case,
            3 => Self::Group,
            _ => return None,
        })
    }
}

/// Node id ranges (Matter 1.3 §2.5.5, table "Node Identifier Allocations").
pub mod node_id {
    /// Largest operational node id.
    pub const MAX_OPERATIONAL: u64 = 0xFFFF_FFEF_FFFF_FFFF;
    /// Upper 32 bits of a CASE Authenticated Tag subject (§6.6.2.1.2).
    pub const CAT_PREFIX: u64 = 0xFFFF_FFFD_0000_0000;
    /// Upper 48 bits of a group node id.
    pub const GROUP_PREFIX: u64 = 0xFFFF_FFFF_FFFF_0000;
    /// Upper 48 bits of a PAKE key id (the PASE subject, §6.6.2.1.1).
    pub const PAKE_PREFIX: u64 = 0xFFFF_FFFB_0000_0000;

    /// An operational node id (1..=MAX_OPERATIONAL).
    pub fn is_operational(id: u64) -> bool {
        (1..=MAX_OPERATIONAL).contains(&id)
    }

    /// A CAT subject with a non-zero version (§6.6.2.1.2: version 0 is invalid).
    pub fn is_cat(id: u64) -> bool {
        id & 0xFFFF_FFFF_0000_0000 == CAT_PREFIX && id & 0xFFFF != 0
    }
}

/// A CASE Authenticated Tag: identifier (upper 16 bits) and version (lower 16 bits)
/// (Matter 1.3 §6.6.2.1.2). A NOC carries at most three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cat(pub u32);

impl Cat {
    /// The tag identifier.
    pub fn identifier(self) -> u16 {
        (self.0 >> 16) as u16
    }
    /// The tag version (1..=0xFFFF for a valid tag).
    pub fn version(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
    /// Whether an ACL subject `id` (a CAT subject) is matched by this tag: same identifier and
    /// at least the subject's version (§6.6.6 step "subject matching").
    pub fn matches_subject(self, id: u64) -> bool {
        node_id::is_cat(id)
            && self.version() != 0
            && u64::from(self.identifier()) == (id >> 16) & 0xFFFF
            && self.version() >= (id & 0xFFFF) as u16
    }
}

/// The CATs of a CASE subject (up to 3, §6.6.2.1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cats([Option<Cat>; 3]);

impl Cats {
    /// At most the first three tags of `tags` (values with version 0 are dropped as invalid).
    pub fn new(tags: &[u32]) -> Self {
        let mut c = [None; 3];
        for (slot, t) in c.iter_mut().zip(tags.iter().filter(|t| *t & 0xFFFF != 0)) {
            *slot = Some(Cat(*t));
        }
        Self(c)
    }

    /// The tags present.
    pub fn iter(&self) -> impl Iterator<Item = Cat> + '_ {
        self.0.iter().flatten().copied()
    }
}

/// Who is asking (§6.6.6 "Incoming Subject Descriptor"): built by the node from the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject {
    /// How the subject authenticated.
    pub auth_mode: AuthMode,
    /// Node id (CASE), group id (Group) or PAKE key id (PASE).
    pub id: u64,
    /// CASE Authenticated Tags of the peer's NOC (CASE only).
    pub cats: Cats,
    /// The accessing fabric; `None` for a PASE session not yet bound to a fabric by AddNOC.
    pub fabric: Option<FabricIndex>,
}

impl Subject {
    /// A PASE session's subject: PAKE key id 0 (the only passcode id, §6.6.2.1.1), and the
    /// fabric AddNOC bound to the session, if any.
    pub fn pase(fabric: Option<FabricIndex>) -> Self {
        Self {
            auth_mode: AuthMode::Pase,
            id: node_id::PAKE_PREFIX,
            cats: Cats::default(),
            fabric,
        }
    }

    /// A CASE session's subject.
    pub fn case(fabric: FabricIndex, peer_node_id: u64, cats: Cats) -> Self {
        Self {
            auth_mode: AuthMode::Case,
            id: peer_node_id,
            cats,
            fabric: Some(fabric),
        }
    }
}

/// A target of an entry (AccessControlTargetStruct, §9.10.5.4): each present field narrows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Target {
    /// Cluster id.
    pub cluster: Option<u32>,
    /// Endpoint id (never together with `device_type`).
    pub endpoint: Option<u16>,
    /// Device type id: every endpoint implementing it.
    pub device_type: Option<u32>,
}

/// One access control entry (AccessControlEntryStruct, §9.10.5.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AclEntry {
    /// The fabric the entry belongs to (fabric-scoped).
    pub fabric_index: FabricIndex,
    /// Privilege granted.
    pub privilege: Privilege,
    /// Authentication mode it applies to (CASE or Group; PASE is refused by validation).
    pub auth_mode: AuthMode,
    /// Subjects; empty means any subject of `auth_mode` on the fabric (null on the wire).
    pub subjects: Vec<u64>,
    /// Targets; empty means every endpoint and cluster (null on the wire).
    pub targets: Vec<Target>,
}

/// One access control extension (AccessControlExtensionStruct, §9.10.5.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AclExtension {
    /// The fabric it belongs to.
    pub fabric_index: FabricIndex,
    /// Opaque TLV data, at most [`MAX_EXTENSION_DATA`] bytes.
    pub data: Vec<u8>,
}

/// Largest Extension Data field (§9.10.5.6: max 128 bytes).
pub const MAX_EXTENSION_DATA: usize = 128;

/// The device's ACL limits (Access Control cluster attributes 2, 3, 4; §9.10.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclLimits {
    /// SubjectsPerAccessControlEntry (spec minimum 4).
    pub subjects_per_entry: u16,
    /// TargetsPerAccessControlEntry (spec minimum 3).
    pub targets_per_entry: u16,
    /// AccessControlEntriesPerFabric (spec minimum 4).
    pub entries_per_fabric: u16,
}

impl Default for AclLimits {
    /// The CHIP SDK's defaults (4 subjects, 3 targets, 4 entries), the spec minimums.
    fn default() -> Self {
        Self {
            subjects_per_entry: 4,
            targets_per_entry: 3,
            entries_per_fabric: 4,
        }
    }
}

/// Why an entry or a set of entries was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AclError {
    /// The entry breaks a rule of §9.10.5 (the Access Control cluster answers CONSTRAINT_ERROR).
    #[error("invalid access control entry: {0}")]
    Invalid(&'static str),
    /// More entries, subjects or targets than the limits allow (RESOURCE_EXHAUSTED).
    #[error("access control limit exceeded: {0}")]
    LimitExceeded(&'static str),
}

/// Is `c` a valid cluster id (§7.10, "Cluster ID": standard 0x0000..=0x7FFF or manufacturer
/// 0xFC00..=0xFFFE suffix, vendor prefix not 0xFFFF)?
fn valid_cluster_id(c: u32) -> bool {
    let (prefix, suffix) = (c >> 16, c & 0xFFFF);
    prefix != 0xFFFF && (suffix <= 0x7FFF || (0xFC00..=0xFFFE).contains(&suffix))
}

/// Is `d` a valid device type id (§7.15: suffix 0x0000..=0xBFFF, vendor prefix not 0xFFFF)?
fn valid_device_type_id(d: u32) -> bool {
    d >> 16 != 0xFFFF && d & 0xFFFF <= 0xBFFF
}

impl AclEntry {
    /// Checks the entry against the rules of §9.10.5.5 and the limits.
    ///
    /// # Errors
    /// [`AclError::Invalid`] or [`AclError::LimitExceeded`].
    pub fn validate(&self, limits: &AclLimits) -> Result<(), AclError> {
        if self.fabric_index.0 == 0 || self.fabric_index.0 == 0xFF {
            return Err(AclError::Invalid("fabric index"));
        }
        match self.auth_mode {
            // PASE access is implicit (§6.6.2.9) and never listed.
            AuthMode::Pase => return Err(AclError::Invalid("PASE auth mode")),
            AuthMode::Group if self.privilege == Privilege::Administer => {
                // §6.6.2.2: group-authenticated access never gets Administer.
                return Err(AclError::Invalid("Administer for Group auth mode"));
            }
            _ => {}
        }
        if self.subjects.len() > usize::from(limits.subjects_per_entry) {
            return Err(AclError::LimitExceeded("subjects per entry"));
        }
        if self.targets.len() > usize::from(limits.targets_per_entry) {
            return Err(AclError::LimitExceeded("targets per entry"));
        }
        for &s in &self.subjects {
            let ok = match self.auth_mode {
                AuthMode::Case => node_id::is_operational(s) || node_id::is_cat(s),
                AuthMode::Group => (1..=0xFFFF).contains(&s),
                AuthMode::Pase => false,
            };
            if !ok {
                return Err(AclError::Invalid("subject"));
            }
        }
        for t in &self.targets {
            if t.cluster.is_none() && t.endpoint.is_none() && t.device_type.is_none() {
                return Err(AclError::Invalid("empty target"));
            }
            if t.endpoint.is_some() && t.device_type.is_some() {
                return Err(AclError::Invalid("target with endpoint and device type"));
            }
            if t.cluster.is_some_and(|c| !valid_cluster_id(c)) {
                return Err(AclError::Invalid("target cluster id"));
            }
            if t.device_type.is_some_and(|d| !valid_device_type_id(d)) {
                return Err(AclError::Invalid("target device type id"));
            }
        }
        Ok(())
    }

    /// Does this entry admit `subject` (fabric, auth mode and subject list; not privilege)?
    fn matches_subject(&self, subject: &Subject) -> bool {
        if subject.fabric != Some(self.fabric_index) || subject.auth_mode != self.auth_mode {
            return false;
        }
        if self.subjects.is_empty() {
            return true;
        }
        self.subjects.iter().any(|&s| match subject.auth_mode {
            AuthMode::Case => {
                s == subject.id || subject.cats.iter().any(|cat| cat.matches_subject(s))
            }
            AuthMode::Group => s == subject.id,
            AuthMode::Pase => false,
        })
    }

    /// Does this entry cover (`endpoint`, `cluster`)?
    fn matches_target(
        &self,
        endpoint: u16,
        cluster: u32,
        has_device_type: &dyn Fn(u16, u32) -> bool,
    ) -> bool {
        self.targets.is_empty()
            || self.targets.iter().any(|t| {
                t.cluster.is_none_or(|c| c == cluster)
                    && t.endpoint.is_none_or(|e| e == endpoint)
                    && t.device_type.is_none_or(|d| has_device_type(endpoint, d))
            })
    }

    /// Encodes the entry as AccessControlEntryStruct (also the persisted form). With
    /// `fabric_index` false the FabricIndex field (0xFE) is left out.
    ///
    /// # Errors
    /// The writer's.
    pub fn encode(
        &self,
        w: &mut TlvWriter<'_>,
        tag: Tag,
        fabric_index: bool,
    ) -> Result<(), TlvError> {
        w.start_struct(tag)?;
        w.u8(Tag::Context(1), self.privilege as u8)?;
        w.u8(Tag::Context(2), self.auth_mode as u8)?;
        if self.subjects.is_empty() {
            w.null(Tag::Context(3))?;
        } else {
            w.start_array(Tag::Context(3))?;
            for &s in &self.subjects {
                w.u64(Tag::Anonymous, s)?;
            }
            w.end_container()?;
        }
        if self.targets.is_empty() {
            w.null(Tag::Context(4))?;
        } else {
            w.start_array(Tag::Context(4))?;
            for t in &self.targets {
                w.start_struct(Tag::Anonymous)?;
                nullable(w, 0, t.cluster.map(u64::from))?;
                nullable(w, 1, t.endpoint.map(u64::from))?;
                nullable(w, 2, t.device_type.map(u64::from))?;
                w.end_container()?;
            }
            w.end_container()?;
        }
        if fabric_index {
            w.u8(Tag::Context(FABRIC_INDEX_TAG), self.fabric_index.0)?;
        }
        w.end_container()
    }

    /// Decodes an AccessControlEntryStruct. The fabric index is `fabric` when given (a write's
    /// accessing fabric overrides whatever the client sent, §7.13.6), else the FabricIndex field.
    ///
    /// # Errors
    /// [`DecodeAclError::Tlv`] for a malformed struct, [`DecodeAclError::Value`] for an
    /// out-of-range enum value.
    pub fn decode(c: &Container<'_>, fabric: Option<FabricIndex>) -> Result<Self, DecodeAclError> {
        let privilege = Privilege::from_u8(c.u8(1)?).ok_or(DecodeAclError::Value("privilege"))?;
        let auth_mode = AuthMode::from_u8(c.u8(2)?).ok_or(DecodeAclError::Value("auth mode"))?;
        let mut subjects = Vec::new();
        if let Some(list) = c.nullable::<Container<'_>>(3)? {
            for e in list.iter() {
                subjects.push(e?.value.decode::<u64>()?);
            }
        }
        let mut targets = Vec::new();
        if let Some(list) = c.nullable::<Container<'_>>(4)? {
            for e in list.iter() {
                let Value::Struct(t) = e?.value else {
                    return Err(DecodeAclError::Value("target"));
                };
                targets.push(Target {
                    cluster: t.opt_nullable::<u32>(0)?.flatten(),
                    endpoint: t.opt_nullable::<u16>(1)?.flatten(),
                    device_type: t.opt_nullable::<u32>(2)?.flatten(),
                });
            }
        }
        let fabric_index = match fabric {
            Some(f) => f,
            None => FabricIndex(c.u8(FABRIC_INDEX_TAG)?),
        };
        Ok(Self {
            fabric_index,
            privilege,
            auth_mode,
            subjects,
            targets,
        })
    }
}

impl AclExtension {
    /// Encodes AccessControlExtensionStruct `{1: Data, 0xFE: FabricIndex}`.
    ///
    /// # Errors
    /// The writer's.
    pub fn encode(
        &self,
        w: &mut TlvWriter<'_>,
        tag: Tag,
        fabric_index: bool,
    ) -> Result<(), TlvError> {
        w.start_struct(tag)?;
        w.octets(Tag::Context(1), &self.data)?;
        if fabric_index {
            w.u8(Tag::Context(FABRIC_INDEX_TAG), self.fabric_index.0)?;
        }
        w.end_container()
    }

    /// Decodes AccessControlExtensionStruct (fabric index as in [`AclEntry::decode`]).
    ///
    /// # Errors
    /// As [`AclEntry::decode`].
    pub fn decode(c: &Container<'_>, fabric: Option<FabricIndex>) -> Result<Self, DecodeAclError> {
        let data = c.octets(1)?.to_vec();
        let fabric_index = match fabric {
            Some(f) => f,
            None => FabricIndex(c.u8(FABRIC_INDEX_TAG)?),
        };
        Ok(Self { fabric_index, data })
    }
}

/// Context tag of the FabricIndex field of every fabric-scoped struct (Matter 1.3 §7.13.6).
pub const FABRIC_INDEX_TAG: u8 = 0xFE;

fn nullable(w: &mut TlvWriter<'_>, tag: u8, v: Option<u64>) -> Result<(), TlvError> {
    match v {
        Some(v) => w.uint(Tag::Context(tag), v),
        None => w.null(Tag::Context(tag)),
    }
}

/// A malformed entry or extension.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeAclError {
    /// Not the struct's shape (the cluster answers INVALID_DATA_TYPE or CONSTRAINT_ERROR).
    #[error("malformed access control struct: {0}")]
    Tlv(#[from] TlvError),
    /// A field's value is outside its enum (CONSTRAINT_ERROR).
    #[error("access control field {0} out of range")]
    Value(&'static str),
}

/// The node's ACL: entries and extensions of every fabric, and the limits.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccessControlList {
    entries: Vec<AclEntry>,
    extensions: Vec<AclExtension>,
    limits: AclLimits,
}

impl fmt::Debug for AccessControlList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessControlList")
            .field("entries", &self.entries.len())
            .field("extensions", &self.extensions.len())
            .field("limits", &self.limits)
            .finish()
    }
}

impl AccessControlList {
    /// An empty ACL with `limits`.
    pub fn new(limits: AclLimits) -> Self {
        Self {
            entries: Vec::new(),
            extensions: Vec::new(),
            limits,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &AclLimits {
        &self.limits
    }

    /// Every entry, in fabric-index order and, within a fabric, in the order written.
    pub fn entries(&self) -> &[AclEntry] {
        &self.entries
    }

    /// The entries of `fabric`.
    pub fn fabric_entries(&self, fabric: FabricIndex) -> impl Iterator<Item = &AclEntry> + '_ {
        self.entries
            .iter()
            .filter(move |e| e.fabric_index == fabric)
    }

    /// Every extension.
    pub fn extensions(&self) -> &[AclExtension] {
        &self.extensions
    }

    /// Replaces the entries of `fabric` with `entries` (a fabric-scoped list write, §7.13.6:
    /// other fabrics' entries are untouched). Every entry gets `fabric` as its index. All or
    /// nothing: on error the ACL is unchanged.
    ///
    /// # Errors
    /// The first invalid entry, or [`AclError::LimitExceeded`] for too many entries.
    pub fn replace_fabric_entries(
        &mut self,
        fabric: FabricIndex,
        mut entries: Vec<AclEntry>,
    ) -> Result<(), AclError> {
        if entries.len() > usize::from(self.limits.entries_per_fabric) {
            return Err(AclError::LimitExceeded("entries per fabric"));
        }
        for e in &mut entries {
            e.fabric_index = fabric;
            e.validate(&self.limits)?;
        }
        self.entries.retain(|e| e.fabric_index != fabric);
        self.entries.extend(entries);
        self.entries.sort_by_key(|e| e.fabric_index);
        Ok(())
    }

    /// Appends one entry to its fabric's (AddNOC's admin entry, a list-append write).
    ///
    /// # Errors
    /// As [`AccessControlList::replace_fabric_entries`].
    pub fn add_entry(&mut self, entry: AclEntry) -> Result<(), AclError> {
        entry.validate(&self.limits)?;
        let n = self.fabric_entries(entry.fabric_index).count();
        if n >= usize::from(self.limits.entries_per_fabric) {
            return Err(AclError::LimitExceeded("entries per fabric"));
        }
        // Keep fabric order: insert after the fabric's last entry.
        let at = self
            .entries
            .iter()
            .rposition(|e| e.fabric_index <= entry.fabric_index)
            .map_or(0, |i| i + 1);
        self.entries.insert(at, entry);
        Ok(())
    }

    /// Replaces the extensions of `fabric` (at most one per fabric, §9.10.6.2).
    ///
    /// # Errors
    /// [`AclError::LimitExceeded`] for more than one, [`AclError::Invalid`] for oversized data.
    pub fn replace_fabric_extensions(
        &mut self,
        fabric: FabricIndex,
        mut extensions: Vec<AclExtension>,
    ) -> Result<(), AclError> {
        if extensions.len() > 1 {
            return Err(AclError::LimitExceeded("extensions per fabric"));
        }
        for x in &mut extensions {
            if x.data.len() > MAX_EXTENSION_DATA {
                return Err(AclError::Invalid("extension data longer than 128 bytes"));
            }
            x.fabric_index = fabric;
        }
        self.extensions.retain(|x| x.fabric_index != fabric);
        self.extensions.extend(extensions);
        self.extensions.sort_by_key(|x| x.fabric_index);
        Ok(())
    }

    /// Removes every entry and extension of `fabric` (RemoveFabric, fail-safe rollback).
    pub fn remove_fabric(&mut self, fabric: FabricIndex) {
        self.entries.retain(|e| e.fabric_index != fabric);
        self.extensions.retain(|x| x.fabric_index != fabric);
    }

    /// The access check (Matter 1.3 §6.6.6): does `subject` hold `required` on
    /// (`endpoint`, `cluster`)? PASE subjects hold Administer implicitly during commissioning
    /// (§6.6.2.9); every other subject needs an entry of its own fabric whose auth mode, subjects
    /// and targets match and whose privilege grants `required`. `has_device_type(ep, dt)` answers
    /// for device-type targets.
    pub fn check(
        &self,
        subject: &Subject,
        endpoint: u16,
        cluster: u32,
        required: Privilege,
        has_device_type: &dyn Fn(u16, u32) -> bool,
    ) -> bool {
        if subject.auth_mode == AuthMode::Pase {
            return true;
        }
        if subject.fabric.is_none() {
            return false;
        }
        self.entries.iter().any(|e| {
            e.privilege.grants(required)
                && e.matches_subject(subject)
                && e.matches_target(endpoint, cluster, has_device_type)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::TlvReader;
    use proptest::prelude::*;

    fn arb_entry() -> impl Strategy<Value = AclEntry> {
        let target = (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(|(cluster, endpoint, device_type)| Target {
                cluster,
                endpoint,
                device_type,
            });
        (
            1u8..=254,
            1u8..=5,
            1u8..=3,
            proptest::collection::vec(any::<u64>(), 0..6),
            proptest::collection::vec(target, 0..5),
        )
            .prop_map(|(f, p, a, subjects, targets)| AclEntry {
                fabric_index: FabricIndex(f),
                privilege: Privilege::from_u8(p).unwrap_or(Privilege::View),
                auth_mode: AuthMode::from_u8(a).unwrap_or(AuthMode::Case),
                subjects,
                targets,
            })
    }

    proptest! {
        /// Any entry, valid or not, survives encode -> decode unchanged (the persisted form),
        /// and validating it never panics.
        #[test]
        fn prop_entry_round_trip(e in arb_entry()) {
            let mut buf = Vec::new();
            e.encode(&mut TlvWriter::new(&mut buf), Tag::Anonymous, true).expect("encode");
            let c = TlvReader::new(&buf).read_struct().expect("struct");
            prop_assert_eq!(AclEntry::decode(&c, None).expect("decode"), e.clone());
            let _ = e.validate(&AclLimits::default());
        }

        /// Arbitrary bytes never panic the entry decoder.
        #[test]
        fn prop_decode_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(c) = TlvReader::new(&bytes).read_struct() {
                let _ = AclEntry::decode(&c, None);
                let _ = AclExtension::decode(&c, Some(FabricIndex(1)));
            }
        }
    }

    const F1: FabricIndex = FabricIndex(1);
    const F2: FabricIndex = FabricIndex(2);
    const NODE: u64 = 0x0000_0000_1234_5678;

    fn no_dt(_: u16, _: u32) -> bool {
        false
    }

    fn entry(privilege: Privilege, subjects: Vec<u64>, targets: Vec<Target>) -> AclEntry {
        AclEntry {
            fabric_index: F1,
            privilege,
            auth_mode: AuthMode::Case,
            subjects,
            targets,
        }
    }

    fn acl(entries: Vec<AclEntry>) -> AccessControlList {
        let mut a = AccessControlList::new(AclLimits::default());
        for e in entries {
            a.add_entry(e).expect("valid entry");
        }
        a
    }

    fn case(id: u64, cats: &[u32]) -> Subject {
        Subject::case(F1, id, Cats::new(cats))
    }

    #[test]
    fn privilege_implication_table() {
        use Privilege::*;
        let all = [View, ProxyView, Operate, Manage, Administer];
        // (held, required) pairs that grant, per §6.6.2.3.
        let grants = [
            (View, View),
            (ProxyView, View),
            (ProxyView, ProxyView),
            (Operate, View),
            (Operate, Operate),
            (Manage, View),
            (Manage, Operate),
            (Manage, Manage),
        ];
        for held in all {
            for req in all {
                let want = held == Administer || grants.contains(&(held, req));
                assert_eq!(held.grants(req), want, "{held:?} grants {req:?}");
            }
        }
    }

    #[test]
    fn pase_is_implicitly_administer() {
        let empty = AccessControlList::default();
        for p in [Privilege::View, Privilege::ProxyView, Privilege::Administer] {
            assert!(empty.check(&Subject::pase(None), 0, 0x1F, p, &no_dt));
            assert!(empty.check(&Subject::pase(Some(F1)), 0, 0x1F, p, &no_dt));
        }
    }

    #[test]
    fn case_without_entries_is_denied() {
        let empty = AccessControlList::default();
        assert!(!empty.check(&case(NODE, &[]), 0, 0x28, Privilege::View, &no_dt));
    }

    #[test]
    fn privilege_must_be_granted() {
        let a = acl(vec![entry(Privilege::Operate, vec![NODE], vec![])]);
        let s = case(NODE, &[]);
        assert!(a.check(&s, 1, 6, Privilege::View, &no_dt));
        assert!(a.check(&s, 1, 6, Privilege::Operate, &no_dt));
        assert!(!a.check(&s, 1, 6, Privilege::Manage, &no_dt));
        assert!(!a.check(&s, 1, 6, Privilege::ProxyView, &no_dt));
    }

    #[test]
    fn subject_must_match_or_list_be_empty() {
        let a = acl(vec![entry(Privilege::View, vec![NODE], vec![])]);
        assert!(!a.check(&case(NODE + 1, &[]), 0, 6, Privilege::View, &no_dt));
        let any = acl(vec![entry(Privilege::View, vec![], vec![])]);
        assert!(any.check(&case(NODE + 1, &[]), 0, 6, Privilege::View, &no_dt));
    }

    #[test]
    fn fabric_must_match() {
        let a = acl(vec![entry(Privilege::Administer, vec![], vec![])]);
        let other = Subject::case(F2, NODE, Cats::default());
        assert!(!a.check(&other, 0, 6, Privilege::View, &no_dt));
    }

    #[test]
    fn auth_mode_must_match() {
        let mut e = entry(Privilege::View, vec![7], vec![]);
        e.auth_mode = AuthMode::Group;
        let a = acl(vec![e]);
        let group = Subject {
            auth_mode: AuthMode::Group,
            id: 7,
            cats: Cats::default(),
            fabric: Some(F1),
        };
        assert!(a.check(&group, 1, 6, Privilege::View, &no_dt));
        // A CASE node whose node id equals the group id gets nothing from a Group entry.
        assert!(!a.check(&case(7, &[]), 1, 6, Privilege::View, &no_dt));
    }

    #[test]
    fn cat_matching_uses_identifier_and_version() {
        // Entry subject CAT id 0xABCD version 2.
        let cat_subject = node_id::CAT_PREFIX | 0xABCD_0002;
        let a = acl(vec![entry(Privilege::Operate, vec![cat_subject], vec![])]);
        let ok = |cats: &[u32]| a.check(&case(NODE, cats), 1, 6, Privilege::Operate, &no_dt);
        assert!(ok(&[0xABCD_0002]), "same version");
        assert!(ok(&[0xABCD_0003]), "newer version");
        assert!(!ok(&[0xABCD_0001]), "older version");
        assert!(!ok(&[0xABCE_0002]), "other identifier");
        assert!(ok(&[0x1111_0001, 0x2222_0001, 0xABCD_FFFF]), "third tag");
        assert!(!ok(&[]), "no tags");
        // Version 0 is not a valid tag, even with a matching identifier.
        assert!(!Cat(0xABCD_0000).matches_subject(node_id::CAT_PREFIX | 0xABCD_0000));
    }

    #[test]
    fn targets_narrow_by_cluster_endpoint_and_device_type() {
        let a = acl(vec![entry(
            Privilege::Operate,
            vec![],
            vec![
                Target {
                    cluster: Some(6),
                    endpoint: Some(1),
                    device_type: None,
                },
                Target {
                    cluster: Some(8),
                    ..Target::default()
                },
                Target {
                    device_type: Some(0x0100),
                    ..Target::default()
                },
            ],
        )]);
        let s = case(NODE, &[]);
        let dt = |ep: u16, d: u32| ep == 3 && d == 0x0100;
        assert!(a.check(&s, 1, 6, Privilege::Operate, &dt));
        assert!(
            !a.check(&s, 2, 6, Privilege::Operate, &dt),
            "cluster 6 only on ep 1"
        );
        assert!(
            a.check(&s, 2, 8, Privilege::Operate, &dt),
            "cluster 8 anywhere"
        );
        assert!(
            a.check(&s, 3, 0x1234, Privilege::Operate, &dt),
            "device type ep 3"
        );
        assert!(!a.check(&s, 4, 0x1234, Privilege::Operate, &dt));
    }

    #[test]
    fn validation_table() {
        let l = AclLimits::default();
        let ok = entry(Privilege::View, vec![NODE], vec![]);
        assert_eq!(ok.validate(&l), Ok(()));
        let cases: Vec<(AclEntry, &str)> = vec![
            (
                AclEntry {
                    auth_mode: AuthMode::Pase,
                    ..ok.clone()
                },
                "PASE",
            ),
            (
                AclEntry {
                    auth_mode: AuthMode::Group,
                    privilege: Privilege::Administer,
                    subjects: vec![1],
                    ..ok.clone()
                },
                "group admin",
            ),
            (entry(Privilege::View, vec![0], vec![]), "node id 0"),
            (
                entry(Privilege::View, vec![0xFFFF_FFFF_FFFF_0001], vec![]),
                "group node id as CASE subject",
            ),
            (
                entry(
                    Privilege::View,
                    vec![node_id::CAT_PREFIX | 0x0001_0000],
                    vec![],
                ),
                "CAT version 0",
            ),
            (
                AclEntry {
                    auth_mode: AuthMode::Group,
                    subjects: vec![0x1_0000],
                    ..ok.clone()
                },
                "group id out of range",
            ),
            (
                entry(Privilege::View, vec![], vec![Target::default()]),
                "empty target",
            ),
            (
                entry(
                    Privilege::View,
                    vec![],
                    vec![Target {
                        endpoint: Some(1),
                        device_type: Some(0x100),
                        cluster: None,
                    }],
                ),
                "endpoint and device type",
            ),
            (
                entry(
                    Privilege::View,
                    vec![],
                    vec![Target {
                        cluster: Some(0x0000_8000),
                        ..Target::default()
                    }],
                ),
                "cluster id",
            ),
            (
                AclEntry {
                    fabric_index: FabricIndex(0),
                    ..ok.clone()
                },
                "fabric 0",
            ),
        ];
        for (e, what) in cases {
            assert!(
                matches!(e.validate(&l), Err(AclError::Invalid(_))),
                "{what} accepted"
            );
        }
        let many = entry(Privilege::View, vec![1, 2, 3, 4, 5], vec![]);
        assert!(matches!(many.validate(&l), Err(AclError::LimitExceeded(_))));
        let t = Target {
            cluster: Some(6),
            ..Target::default()
        };
        let many = entry(Privilege::View, vec![], vec![t; 4]);
        assert!(matches!(many.validate(&l), Err(AclError::LimitExceeded(_))));
    }

    #[test]
    fn fabric_scoped_replace_keeps_other_fabrics_and_is_atomic() {
        let mut a = AccessControlList::default();
        let mut e2 = entry(Privilege::View, vec![], vec![]);
        e2.fabric_index = F2;
        a.add_entry(e2.clone()).expect("add");
        a.replace_fabric_entries(F1, vec![entry(Privilege::Operate, vec![], vec![])])
            .expect("replace");
        assert_eq!(a.entries().len(), 2);
        // Too many for the fabric: refused, nothing changed.
        let five = vec![entry(Privilege::View, vec![], vec![]); 5];
        assert!(a.replace_fabric_entries(F1, five).is_err());
        assert_eq!(a.fabric_entries(F1).count(), 1);
        // One invalid entry refuses the whole list.
        let bad = vec![
            entry(Privilege::View, vec![], vec![]),
            entry(Privilege::View, vec![0], vec![]),
        ];
        assert!(a.replace_fabric_entries(F1, bad).is_err());
        assert_eq!(
            a.fabric_entries(F1).next().map(|e| e.privilege),
            Some(Privilege::Operate)
        );
        a.remove_fabric(F1);
        assert_eq!(a.entries(), &[e2][..]);
    }

    #[test]
    fn add_entry_respects_the_per_fabric_limit() {
        let mut a = AccessControlList::default();
        for _ in 0..4 {
            a.add_entry(entry(Privilege::View, vec![], vec![]))
                .expect("add");
        }
        assert!(matches!(
            a.add_entry(entry(Privilege::View, vec![], vec![])),
            Err(AclError::LimitExceeded(_))
        ));
    }

    #[test]
    fn entry_tlv_round_trip_and_golden() {
        let e = entry(
            Privilege::Administer,
            vec![0x0000_0000_0001_B669],
            vec![Target {
                cluster: Some(0x1F),
                endpoint: Some(0),
                device_type: None,
            }],
        );
        let mut buf = Vec::new();
        e.encode(&mut TlvWriter::new(&mut buf), Tag::Anonymous, true)
            .expect("encode");
        // Hand-assembled from §9.10.5.5 and Appendix A: {1: 5, 2: 2, 3: [0x1B669],
        // 4: [{0: 0x1F, 1: 0, 2: null}], 0xFE: 1}.
        let golden = [
            0x15, 0x24, 0x01, 0x05, 0x24, 0x02, 0x02, 0x36, 0x03, 0x06, 0x69, 0xB6, 0x01, 0x00,
            0x18, 0x36, 0x04, 0x15, 0x24, 0x00, 0x1F, 0x24, 0x01, 0x00, 0x34, 0x02, 0x18, 0x18,
            0x24, 0xFE, 0x01, 0x18,
        ];
        assert_eq!(buf, golden);
        let c = TlvReader::new(&buf).read_struct().expect("struct");
        assert_eq!(AclEntry::decode(&c, None).expect("decode"), e);
        // The accessing fabric overrides the field.
        assert_eq!(
            AclEntry::decode(&c, Some(F2)).expect("decode").fabric_index,
            F2
        );
    }

    #[test]
    fn malformed_entries_are_errors() {
        let bad: [&[u8]; 4] = [
            // privilege 6
            &[
                0x15, 0x24, 0x01, 0x06, 0x24, 0x02, 0x02, 0x34, 0x03, 0x34, 0x04, 0x18,
            ],
            // auth mode 0
            &[
                0x15, 0x24, 0x01, 0x01, 0x24, 0x02, 0x00, 0x34, 0x03, 0x34, 0x04, 0x18,
            ],
            // missing auth mode
            &[0x15, 0x24, 0x01, 0x01, 0x34, 0x03, 0x34, 0x04, 0x18],
            // subjects holds a string
            &[
                0x15, 0x24, 0x01, 0x01, 0x24, 0x02, 0x02, 0x36, 0x03, 0x0C, 0x01, 0x41, 0x18, 0x34,
                0x04, 0x18,
            ],
        ];
        for b in bad {
            let c = TlvReader::new(b).read_struct().expect("struct");
            assert!(AclEntry::decode(&c, Some(F1)).is_err(), "{b:02x?}");
        }
    }
}
