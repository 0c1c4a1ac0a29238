//! The node's Group Table (Matter 1.3 core §11.2.6.2, GroupInfoMapStruct): per fabric, the
//! groups the node's endpoints are members of, with their names, as the Groups cluster
//! (Application Cluster Specification §1.3) edits it per endpoint.
//!
//! The group table is scoped to fabrics: every operation names the accessing fabric, and
//! RemoveFabric drops that fabric's entries ([`GroupTable::remove_fabric`]). It is persisted
//! (record "groups") and not guarded by the fail-safe (Groups commands are not in the list of
//! §11.10.7.2.2).
//!
//! AddGroup needs a group key for the group (§1.3.7.1.3: UNSUPPORTED_ACCESS when the Group Key
//! Management cluster's GroupKeyMap has no entry for it). That map is [`GroupTable::key_map`];
//! Group Key Management fills it when it supports group key sets. Today it holds the IPK only
//! (src/im/clusters/group_key_management.rs), so the map stays empty and real controllers get
//! UNSUPPORTED_ACCESS, as the spec says.

use std::collections::{BTreeMap, BTreeSet};

use super::FabricIndex;

/// A group id (group-id, 16 bits; 0 is not a valid group).
pub type GroupId = u16;

/// Group entries per fabric the table holds (the GetGroupMembership Capacity counts down from
/// here).
pub const GROUPS_PER_FABRIC: usize = 8;

/// The longest group name (§1.3.7.1.2: max 16).
pub const MAX_GROUP_NAME_LEN: usize = 16;

/// One group of one fabric.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupEntry {
    /// GroupName (≤ 16 bytes; empty when the client gave none).
    pub name: String,
    /// The endpoints that are members.
    pub endpoints: BTreeSet<u16>,
}

/// Why a group could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupError {
    /// No group key is mapped to the group (UNSUPPORTED_ACCESS).
    NoKey,
    /// The fabric's share of the table is full (RESOURCE_EXHAUSTED).
    Full,
}

/// The group table. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupTable {
    groups: BTreeMap<(FabricIndex, GroupId), GroupEntry>,
    /// GroupKeyMap: (fabric, group) -> GroupKeySetID. Owned by Group Key Management; not
    /// persisted here.
    pub key_map: BTreeMap<(FabricIndex, GroupId), u16>,
}

impl GroupTable {
    /// Whether `fabric` has a key mapped to `group`.
    pub fn has_key(&self, fabric: FabricIndex, group: GroupId) -> bool {
        self.key_map.contains_key(&(fabric, group))
    }

    /// Adds `endpoint` to `group` of `fabric` under `name` (an existing group takes the new
    /// name, as AddGroup on an existing group updates it in the CHIP SDK and matter.js).
    ///
    /// # Errors
    /// [`GroupError::NoKey`], [`GroupError::Full`].
    pub fn add(
        &mut self,
        fabric: FabricIndex,
        group: GroupId,
        endpoint: u16,
        name: &str,
    ) -> Result<(), GroupError> {
        if !self.has_key(fabric, group) {
            return Err(GroupError::NoKey);
        }
        if !self.groups.contains_key(&(fabric, group)) && self.remaining(fabric) == 0 {
            return Err(GroupError::Full);
        }
        let e = self.groups.entry((fabric, group)).or_default();
        name.clone_into(&mut e.name);
        e.endpoints.insert(endpoint);
        Ok(())
    }

    /// Inserts an entry as loaded from storage (no key check: the key map is not persisted
    /// here).
    pub(super) fn insert_loaded(&mut self, fabric: FabricIndex, group: GroupId, e: GroupEntry) {
        self.groups.insert((fabric, group), e);
    }

    /// Removes `endpoint` from `group` of `fabric`; a group left without endpoints goes.
    /// Returns whether the endpoint was a member.
    pub fn remove(&mut self, fabric: FabricIndex, group: GroupId, endpoint: u16) -> bool {
        let Some(e) = self.groups.get_mut(&(fabric, group)) else {
            return false;
        };
        let was = e.endpoints.remove(&endpoint);
        if e.endpoints.is_empty() {
            self.groups.remove(&(fabric, group));
        }
        was
    }

    /// Removes `endpoint` from every group of `fabric`. Returns whether it was in any.
    pub fn remove_endpoint(&mut self, fabric: FabricIndex, endpoint: u16) -> bool {
        let groups: Vec<GroupId> = self.groups_of(fabric, endpoint).collect();
        for g in &groups {
            self.remove(fabric, *g, endpoint);
        }
        !groups.is_empty()
    }

    /// Drops every entry (and key mapping) of `fabric` (RemoveFabric).
    pub fn remove_fabric(&mut self, fabric: FabricIndex) -> bool {
        let before = self.groups.len();
        self.groups.retain(|(f, _), _| *f != fabric);
        self.key_map.retain(|(f, _), _| *f != fabric);
        before != self.groups.len()
    }

    /// The entry of `group` of `fabric` if `endpoint` is a member.
    pub fn membership(
        &self,
        fabric: FabricIndex,
        group: GroupId,
        endpoint: u16,
    ) -> Option<&GroupEntry> {
        self.groups
            .get(&(fabric, group))
            .filter(|e| e.endpoints.contains(&endpoint))
    }

    /// The groups of `fabric` that `endpoint` is a member of, ascending.
    pub fn groups_of(
        &self,
        fabric: FabricIndex,
        endpoint: u16,
    ) -> impl Iterator<Item = GroupId> + '_ {
        self.groups
            .iter()
            .filter(move |((f, _), e)| *f == fabric && e.endpoints.contains(&endpoint))
            .map(|((_, g), _)| *g)
    }

    /// How many more groups `fabric` may add.
    pub fn remaining(&self, fabric: FabricIndex) -> usize {
        let used = self.groups.keys().filter(|(f, _)| *f == fabric).count();
        GROUPS_PER_FABRIC.saturating_sub(used)
    }

    /// Every entry, ordered by fabric and group.
    pub fn iter(&self) -> impl Iterator<Item = (FabricIndex, GroupId, &GroupEntry)> + '_ {
        self.groups.iter().map(|((f, g), e)| (*f, *g, e))
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F1: FabricIndex = FabricIndex(1);
    const F2: FabricIndex = FabricIndex(2);

    fn table() -> GroupTable {
        let mut t = GroupTable::default();
        for f in [F1, F2] {
            for g in 1..=20 {
                t.key_map.insert((f, g), 0x1234);
            }
        }
        t
    }

    #[test]
    fn add_needs_a_key_and_room() {
        let mut t = table();
        assert_eq!(t.add(F1, 99, 1, ""), Err(GroupError::NoKey));
        for g in 1..=GROUPS_PER_FABRIC as u16 {
            assert_eq!(t.add(F1, g, 1, "x"), Ok(()));
        }
        assert_eq!(t.remaining(F1), 0);
        assert_eq!(t.add(F1, 20, 1, ""), Err(GroupError::Full));
        // An existing group is not a new entry; another fabric has its own share.
        assert_eq!(t.add(F1, 1, 2, "renamed"), Ok(()));
        assert_eq!(
            t.membership(F1, 1, 2).map(|e| e.name.as_str()),
            Some("renamed")
        );
        assert_eq!(t.add(F2, 20, 1, ""), Ok(()));
    }

    #[test]
    fn fabrics_do_not_see_each_other() {
        let mut t = table();
        t.add(F1, 5, 1, "a").expect("add");
        assert!(t.membership(F2, 5, 1).is_none());
        assert!(!t.remove(F2, 5, 1));
        assert!(!t.remove_endpoint(F2, 1));
        assert_eq!(t.groups_of(F1, 1).collect::<Vec<_>>(), vec![5]);
        assert!(t.remove_fabric(F1));
        assert!(t.is_empty());
        assert!(!t.has_key(F1, 5) && t.has_key(F2, 5));
    }

    #[test]
    fn removing_the_last_endpoint_removes_the_group() {
        let mut t = table();
        t.add(F1, 5, 1, "a").expect("add");
        t.add(F1, 5, 2, "a").expect("add");
        assert!(t.remove(F1, 5, 1));
        assert!(!t.remove(F1, 5, 1));
        assert_eq!(t.iter().count(), 1);
        assert!(t.remove_endpoint(F1, 2));
        assert!(t.is_empty());
        assert_eq!(t.remaining(F1), GROUPS_PER_FABRIC);
    }
}
