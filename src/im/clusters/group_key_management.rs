//! Group Key Management cluster, 0x003F (Matter 1.3 core §11.2): the fabric's group key sets
//! and the group-to-key-set map.
//!
//! The node does not do groupcast, so it supports one key set per fabric: set 0, the Identity
//! Protection Key that AddNOC installs (§11.18.6.8.3) and CASE uses. The IPK lives in the
//! fabric record ([`crate::fabric::Fabric::ipk_epoch_key`]), so it is rolled back, persisted
//! and removed with the fabric. MaxGroupsPerFabric is 0 and MaxGroupKeysPerFabric 1, so
//! KeySetWrite checks its argument as the spec says and then answers RESOURCE_EXHAUSTED (no
//! room for a second set), and GroupKeyMap and GroupTable stay empty.

use tracing::debug;

use super::id;
use crate::fabric::Privilege;
use crate::fabric::{FabricIndex, NodeState};
use crate::im::model::{
    AttrError, Cluster, InvokeContext, InvokeResult, ReadContext, WriteContext,
};
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvError, TlvWriter, Value};

/// Command ids (§11.2.7).
pub mod cmd {
    /// KeySetWrite.
    pub const KEY_SET_WRITE: u32 = 0x00;
    /// KeySetRead.
    pub const KEY_SET_READ: u32 = 0x01;
    /// KeySetReadResponse.
    pub const KEY_SET_READ_RESPONSE: u32 = 0x02;
    /// KeySetRemove.
    pub const KEY_SET_REMOVE: u32 = 0x03;
    /// KeySetReadAllIndices.
    pub const KEY_SET_READ_ALL_INDICES: u32 = 0x04;
    /// KeySetReadAllIndicesResponse.
    pub const KEY_SET_READ_ALL_INDICES_RESPONSE: u32 = 0x05;
}

/// Attribute ids (§11.2.6).
pub mod attr {
    /// GroupKeyMap (fabric-scoped, writable).
    pub const GROUP_KEY_MAP: u32 = 0x0000;
    /// GroupTable (fabric-scoped).
    pub const GROUP_TABLE: u32 = 0x0001;
    /// MaxGroupsPerFabric.
    pub const MAX_GROUPS_PER_FABRIC: u32 = 0x0002;
    /// MaxGroupKeysPerFabric.
    pub const MAX_GROUP_KEYS_PER_FABRIC: u32 = 0x0003;
}

/// The key set id of the IPK (§4.16.3.5.1: GroupKeySetID 0 is the IPK).
pub const IPK_KEY_SET_ID: u16 = 0;

/// MaxGroupsPerFabric: no groups (no Groups cluster, no groupcast).
pub const MAX_GROUPS_PER_FABRIC: u16 = 0;

/// MaxGroupKeysPerFabric: the IPK only.
pub const MAX_GROUP_KEYS_PER_FABRIC: u16 = 1;

const INVALID: InvokeResult = InvokeResult::Status(Status::INVALID_COMMAND);

/// The Group Key Management cluster (stateless: the IPK is the fabric's).
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupKeyManagement;

impl GroupKeyManagement {
    /// The cluster.
    pub fn new() -> Self {
        Self
    }

    /// Runs one command for the accessing fabric (every command is fabric-scoped: without an
    /// accessing fabric the answer is UNSUPPORTED_ACCESS, as the IM gives fabric-scoped
    /// commands over a session without a fabric).
    pub fn handle(
        &self,
        state: &NodeState,
        fabric: Option<FabricIndex>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let Some(fabric) = fabric.filter(|f| state.fabrics.get(*f).is_some()) else {
            return InvokeResult::Status(Status::UNSUPPORTED_ACCESS);
        };
        match command {
            cmd::KEY_SET_WRITE => key_set_write(fields),
            cmd::KEY_SET_READ => match key_set_id(fields, 0) {
                Err(e) => e,
                Ok(IPK_KEY_SET_ID) => {
                    debug!(fabric = fabric.0, "group keys: KeySetRead of the IPK set");
                    ipk_read_response()
                }
                Ok(_) => InvokeResult::Status(Status::NOT_FOUND),
            },
            cmd::KEY_SET_REMOVE => match key_set_id(fields, 0) {
                Err(e) => e,
                // Only RemoveFabric removes the IPK (§11.2.7.4).
                Ok(IPK_KEY_SET_ID) => INVALID,
                Ok(_) => InvokeResult::Status(Status::NOT_FOUND),
            },
            cmd::KEY_SET_READ_ALL_INDICES => {
                response(cmd::KEY_SET_READ_ALL_INDICES_RESPONSE, |w| {
                    w.start_array(Tag::Context(0))?;
                    w.u16(Tag::Anonymous, IPK_KEY_SET_ID)?;
                    w.end_container()
                })
            }
            _ => InvokeResult::Status(Status::UNSUPPORTED_COMMAND),
        }
    }

    /// Reads one attribute.
    pub fn read_attribute(
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        match attribute {
            // No groups: both fabric-scoped lists are empty for every fabric.
            attr::GROUP_KEY_MAP | attr::GROUP_TABLE => {
                w.start_array(tag)?;
                w.end_container()?;
            }
            attr::MAX_GROUPS_PER_FABRIC => w.u16(tag, MAX_GROUPS_PER_FABRIC)?,
            attr::MAX_GROUP_KEYS_PER_FABRIC => w.u16(tag, MAX_GROUP_KEYS_PER_FABRIC)?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    /// A write of GroupKeyMap: an empty list (or no list items) is accepted, any entry exceeds
    /// MaxGroupsPerFabric (RESOURCE_EXHAUSTED).
    ///
    /// # Errors
    /// INVALID_DATA_TYPE for something that is not a list or an entry structure,
    /// RESOURCE_EXHAUSTED for an entry.
    pub fn write_group_key_map(value: &Value<'_>) -> Result<(), Status> {
        match value {
            Value::Array(c) | Value::List(c) if c.is_empty() => Ok(()),
            Value::Array(_) | Value::List(_) | Value::Struct(_) => Err(Status::RESOURCE_EXHAUSTED),
            _ => Err(Status::INVALID_DATA_TYPE),
        }
    }
}

const ATTRIBUTES: [u32; 4] = [
    attr::GROUP_KEY_MAP,
    attr::GROUP_TABLE,
    attr::MAX_GROUPS_PER_FABRIC,
    attr::MAX_GROUP_KEYS_PER_FABRIC,
];
const ACCEPTED: [u32; 4] = [
    cmd::KEY_SET_WRITE,
    cmd::KEY_SET_READ,
    cmd::KEY_SET_REMOVE,
    cmd::KEY_SET_READ_ALL_INDICES,
];
const GENERATED: [u32; 2] = [
    cmd::KEY_SET_READ_RESPONSE,
    cmd::KEY_SET_READ_ALL_INDICES_RESPONSE,
];

impl Cluster for GroupKeyManagement {
    fn id(&self) -> u32 {
        id::GROUP_KEY_MANAGEMENT
    }

    /// Revision 2 (Matter 1.3: GroupKeyMulticastPolicy added).
    fn revision(&self) -> u16 {
        2
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

    /// GroupKeyMap is "RW F VM": read with View, written with Manage.
    fn is_writable(&self, attribute: u32) -> bool {
        attribute == attr::GROUP_KEY_MAP
    }

    fn write_privilege(&self, _attribute: u32) -> Privilege {
        Privilege::Manage
    }

    /// Every command is "F A" (§11.2.7).
    fn invoke_privilege(&self, _command: u32) -> Privilege {
        Privilege::Administer
    }

    fn is_fabric_scoped(&self, attribute: u32) -> bool {
        matches!(attribute, attr::GROUP_KEY_MAP | attr::GROUP_TABLE)
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
        Self::read_attribute(attribute, w, tag)
    }

    fn write(
        &mut self,
        _ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        if attribute != attr::GROUP_KEY_MAP {
            return Err(Status::UNSUPPORTED_WRITE);
        }
        Self::write_group_key_map(value)
    }

    /// Any appended GroupKeyMap entry exceeds MaxGroupsPerFabric (0).
    fn append_list_entry(
        &mut self,
        _ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        if attribute != attr::GROUP_KEY_MAP {
            return Err(Status::UNSUPPORTED_WRITE);
        }
        match value {
            Value::Struct(_) => Err(Status::RESOURCE_EXHAUSTED),
            _ => Err(Status::INVALID_DATA_TYPE),
        }
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        self.handle(ctx.state, ctx.fabric(), command, fields)
    }
}

fn key_set_id(fields: Option<Container<'_>>, tag: u8) -> Result<u16, InvokeResult> {
    fields.ok_or(INVALID)?.u16(tag).map_err(|_| INVALID)
}

/// KeySetReadResponse for set 0 as AddNOC synthesizes it (§11.18.6.8.3): TrustFirst, one epoch
/// key starting at 0, and every EpochKey redacted to null (§11.2.7.2).
fn ipk_read_response() -> InvokeResult {
    response(cmd::KEY_SET_READ_RESPONSE, |w| {
        // GroupKeySetStruct: 0 id, 1 policy, 2 key0, 3 start0, 4 key1, 5 start1, 6 key2,
        // 7 start2.
        w.start_struct(Tag::Context(0))?;
        w.u16(Tag::Context(0), IPK_KEY_SET_ID)?;
        w.u8(Tag::Context(1), 0)?;
        w.null(Tag::Context(2))?;
        w.u64(Tag::Context(3), 0)?;
        for t in 4..=7 {
            w.null(Tag::Context(t))?;
        }
        w.end_container()
    })
}

/// KeySetWrite (§11.2.7.1): the argument's checks in the spec's order, then
/// RESOURCE_EXHAUSTED because the IPK fills MaxGroupKeysPerFabric.
fn key_set_write(fields: Option<Container<'_>>) -> InvokeResult {
    match check_key_set(fields) {
        Err(e) => e,
        Ok(()) => {
            debug!("group keys: KeySetWrite refused, no room beyond the IPK");
            InvokeResult::Status(Status::RESOURCE_EXHAUSTED)
        }
    }
}

fn check_key_set(fields: Option<Container<'_>>) -> Result<(), InvokeResult> {
    let f = fields.ok_or(INVALID)?;
    let s = f.structure(0).map_err(|_| INVALID)?;
    let id = s.u16(0).map_err(|_| INVALID)?;
    let policy = s.u8(1).map_err(|_| INVALID)?;
    let key = |t| s.nullable::<&[u8]>(t).map_err(|_| INVALID);
    let start = |t| s.nullable::<u64>(t).map_err(|_| INVALID);
    let (k0, t0) = (key(2)?, start(3)?);
    let (k1, t1) = (key(4)?, start(5)?);
    let (k2, t2) = (key(6)?, start(7)?);
    if id == IPK_KEY_SET_ID {
        // Set 0 is written only by AddNOC (§11.2.7.1).
        return Err(INVALID);
    }
    // TrustFirst only: CacheAndSync needs the CS feature (§11.2.5.4); other values are not
    // in the enum.
    if policy != 0 {
        return Err(INVALID);
    }
    let (Some(k0), Some(t0)) = (k0, t0) else {
        return Err(INVALID);
    };
    let len_ok = |k: &[u8]| k.len() == 16;
    if !len_ok(k0) {
        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
    }
    if t0 == 0 {
        return Err(INVALID);
    }
    match (k1, t1) {
        (None, None) => {
            if k2.is_some() || t2.is_some() {
                return Err(INVALID);
            }
        }
        (Some(k1), Some(t1)) => {
            if !len_ok(k1) {
                return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
            }
            if t1 <= t0 {
                return Err(INVALID);
            }
            match (k2, t2) {
                (None, None) => {}
                (Some(k2), Some(t2)) => {
                    if !len_ok(k2) {
                        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
                    }
                    if t2 <= t1 {
                        return Err(INVALID);
                    }
                }
                _ => return Err(INVALID),
            }
        }
        _ => return Err(INVALID),
    }
    Ok(())
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

#[cfg(test)]
mod tests;
