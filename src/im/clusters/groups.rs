//! Groups cluster, 0x0004 (Matter 1.3 Application Cluster Specification §1.3), revision 4, with
//! the GroupNames feature: the endpoint's memberships in the node's group table
//! ([`crate::fabric::GroupTable`]). Every command is fabric-scoped and sees only the accessing
//! fabric's groups.
//!
//! AddGroup's checks (§1.3.7.1.3), in the order the CHIP SDK and matter.js apply them: GroupID 0
//! or a name over 16 bytes is CONSTRAINT_ERROR; a group without a key in Group Key
//! Management's GroupKeyMap is UNSUPPORTED_ACCESS; a full table is RESOURCE_EXHAUSTED. Our Group
//! Key Management holds only the IPK (no GroupKeyMap entries), so today every AddGroup gets
//! UNSUPPORTED_ACCESS: the spec's answer for a group with no key.

use tracing::debug;

use super::id;
use crate::fabric::groups::MAX_GROUP_NAME_LEN;
use crate::fabric::{FabricIndex, GroupError, GroupId, NodeState, Privilege};
use crate::im::model::{AttrError, Cluster, InvokeContext, InvokeResult, ReadContext};
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvError, TlvWriter};

/// Command ids (§1.3.7).
pub mod cmd {
    /// AddGroup.
    pub const ADD_GROUP: u32 = 0x00;
    /// ViewGroup.
    pub const VIEW_GROUP: u32 = 0x01;
    /// GetGroupMembership.
    pub const GET_GROUP_MEMBERSHIP: u32 = 0x02;
    /// RemoveGroup.
    pub const REMOVE_GROUP: u32 = 0x03;
    /// RemoveAllGroups.
    pub const REMOVE_ALL_GROUPS: u32 = 0x04;
    /// AddGroupIfIdentifying.
    pub const ADD_GROUP_IF_IDENTIFYING: u32 = 0x05;
    /// AddGroupResponse.
    pub const ADD_GROUP_RESPONSE: u32 = 0x00;
    /// ViewGroupResponse.
    pub const VIEW_GROUP_RESPONSE: u32 = 0x01;
    /// GetGroupMembershipResponse.
    pub const GET_GROUP_MEMBERSHIP_RESPONSE: u32 = 0x02;
    /// RemoveGroupResponse.
    pub const REMOVE_GROUP_RESPONSE: u32 = 0x03;
}

/// NameSupport (§1.3.6.1).
pub const NAME_SUPPORT: u32 = 0x0000;

/// FeatureMap bit 0, GroupNames (§1.3.4.1).
pub const FEATURE_GROUP_NAMES: u32 = 0x1;

/// NameSupport bit 7 mirrors the GroupNames feature.
const NAME_SUPPORT_GROUP_NAMES: u8 = 0x80;

const ATTRIBUTES: [u32; 1] = [NAME_SUPPORT];
const ACCEPTED: [u32; 6] = [
    cmd::ADD_GROUP,
    cmd::VIEW_GROUP,
    cmd::GET_GROUP_MEMBERSHIP,
    cmd::REMOVE_GROUP,
    cmd::REMOVE_ALL_GROUPS,
    cmd::ADD_GROUP_IF_IDENTIFYING,
];
const GENERATED: [u32; 4] = [
    cmd::ADD_GROUP_RESPONSE,
    cmd::VIEW_GROUP_RESPONSE,
    cmd::GET_GROUP_MEMBERSHIP_RESPONSE,
    cmd::REMOVE_GROUP_RESPONSE,
];

const INVALID: InvokeResult = InvokeResult::Status(Status::INVALID_COMMAND);

/// The Groups cluster of one endpoint (its state is the node's group table).
#[derive(Clone, Copy, Debug, Default)]
pub struct Groups;

impl Groups {
    /// The cluster.
    pub fn new() -> Self {
        Self
    }
}

impl Cluster for Groups {
    fn id(&self) -> u32 {
        id::GROUPS
    }

    fn revision(&self) -> u16 {
        4
    }

    fn feature_map(&self) -> u32 {
        FEATURE_GROUP_NAMES
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    fn accepted_commands(&self) -> &[u32] {
        &ACCEPTED
    }

    fn generated_commands(&self) -> &[u32] {
        &GENERATED
    }

    /// ViewGroup and GetGroupMembership are "F O", the others "F M" (§1.3.7).
    fn invoke_privilege(&self, command: u32) -> Privilege {
        match command {
            cmd::VIEW_GROUP | cmd::GET_GROUP_MEMBERSHIP => Privilege::Operate,
            _ => Privilege::Manage,
        }
    }

    fn is_fabric_scoped_command(&self, _command: u32) -> bool {
        true
    }

    fn read(
        &self,
        _ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        match attribute {
            NAME_SUPPORT => w.u8(tag, NAME_SUPPORT_GROUP_NAMES)?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        // The data model checked that there is an accessing fabric (fabric-scoped commands).
        let Some(fabric) = ctx.fabric() else {
            return InvokeResult::Status(Status::UNSUPPORTED_ACCESS);
        };
        let endpoint = ctx.endpoint;
        let st = &mut *ctx.state;
        match command {
            cmd::ADD_GROUP => {
                let Some((group, name)) = fields.and_then(|f| group_and_name(&f)) else {
                    return INVALID;
                };
                let status = add_group(st, fabric, endpoint, group, name);
                response(cmd::ADD_GROUP_RESPONSE, |w| {
                    w.u8(Tag::Context(0), status.0)?;
                    w.u16(Tag::Context(1), group)
                })
            }
            cmd::VIEW_GROUP => {
                let Some(group) = fields.and_then(|f| f.u16(0).ok()) else {
                    return INVALID;
                };
                let entry = st.groups.membership(fabric, group, endpoint);
                let (status, name) = match entry {
                    _ if group == 0 => (Status::CONSTRAINT_ERROR, ""),
                    Some(e) => (Status::SUCCESS, e.name.as_str()),
                    None => (Status::NOT_FOUND, ""),
                };
                response(cmd::VIEW_GROUP_RESPONSE, |w| {
                    w.u8(Tag::Context(0), status.0)?;
                    w.u16(Tag::Context(1), group)?;
                    w.utf8(Tag::Context(2), name)
                })
            }
            cmd::GET_GROUP_MEMBERSHIP => {
                let Some(list) = fields.and_then(|f| f.array(0).ok()) else {
                    return INVALID;
                };
                let mut asked: Vec<GroupId> = Vec::new();
                for e in list.iter() {
                    match e.and_then(|e| e.value.decode::<u16>()) {
                        Ok(g) => asked.push(g),
                        Err(_) => return INVALID,
                    }
                }
                let groups: Vec<GroupId> = st
                    .groups
                    .groups_of(fabric, endpoint)
                    .filter(|g| asked.is_empty() || asked.contains(g))
                    .collect();
                // Capacity: the groups this fabric may still add (below 0xFE: exact).
                let capacity = u8::try_from(st.groups.remaining(fabric).min(0xFE)).unwrap_or(0xFE);
                response(cmd::GET_GROUP_MEMBERSHIP_RESPONSE, |w| {
                    w.u8(Tag::Context(0), capacity)?;
                    w.start_array(Tag::Context(1))?;
                    for g in &groups {
                        w.u16(Tag::Anonymous, *g)?;
                    }
                    w.end_container()
                })
            }
            cmd::REMOVE_GROUP => {
                let Some(group) = fields.and_then(|f| f.u16(0).ok()) else {
                    return INVALID;
                };
                let status = if group == 0 {
                    Status::CONSTRAINT_ERROR
                } else if st.groups.remove(fabric, group, endpoint) {
                    debug!(fabric = fabric.0, group, endpoint, "group removed");
                    Status::SUCCESS
                } else {
                    Status::NOT_FOUND
                };
                response(cmd::REMOVE_GROUP_RESPONSE, |w| {
                    w.u8(Tag::Context(0), status.0)?;
                    w.u16(Tag::Context(1), group)
                })
            }
            cmd::REMOVE_ALL_GROUPS => {
                st.groups.remove_endpoint(fabric, endpoint);
                debug!(fabric = fabric.0, endpoint, "all groups removed");
                InvokeResult::Status(Status::SUCCESS)
            }
            cmd::ADD_GROUP_IF_IDENTIFYING => {
                let Some((group, name)) = fields.and_then(|f| group_and_name(&f)) else {
                    return INVALID;
                };
                // Not identifying: nothing to do, and that is a success (§1.3.7.6.3).
                if !st.light.is_identifying() {
                    debug!(
                        group,
                        "AddGroupIfIdentifying while not identifying: ignored"
                    );
                    return InvokeResult::Status(Status::SUCCESS);
                }
                InvokeResult::Status(add_group(st, fabric, endpoint, group, name))
            }
            _ => InvokeResult::Status(Status::UNSUPPORTED_COMMAND),
        }
    }
}

/// GroupID and GroupName of AddGroup and AddGroupIfIdentifying. The name's length is checked
/// by [`add_group`] (CONSTRAINT_ERROR in the response, not INVALID_COMMAND).
fn group_and_name<'a>(f: &Container<'a>) -> Option<(GroupId, &'a str)> {
    Some((f.u16(0).ok()?, f.utf8(1).ok()?))
}

/// AddGroup's effect on receipt (§1.3.7.1.3).
fn add_group(
    st: &mut NodeState,
    fabric: FabricIndex,
    endpoint: u16,
    group: GroupId,
    name: &str,
) -> Status {
    if group == 0 || name.len() > MAX_GROUP_NAME_LEN {
        return Status::CONSTRAINT_ERROR;
    }
    match st.groups.add(fabric, group, endpoint, name) {
        Ok(()) => {
            debug!(fabric = fabric.0, group, endpoint, "group added");
            Status::SUCCESS
        }
        Err(GroupError::NoKey) => {
            debug!(fabric = fabric.0, group, "AddGroup: no group key mapped");
            Status::UNSUPPORTED_ACCESS
        }
        Err(_) => Status::RESOURCE_EXHAUSTED,
    }
}

fn response(
    command: u32,
    body: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>,
) -> InvokeResult {
    let mut fields = Vec::new();
    let mut w = TlvWriter::new(&mut fields);
    let r = w
        .start_struct(Tag::Anonymous)
        .and_then(|()| body(&mut w))
        .and_then(|()| w.end_container());
    match r {
        Ok(()) => InvokeResult::Response { command, fields },
        Err(_) => InvokeResult::Status(Status::FAILURE),
    }
}
