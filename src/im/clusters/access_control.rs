//! Access Control cluster, 0x001F (Matter 1.3 core §9.10): the ACL and Extension attributes
//! (fabric-scoped lists over [`crate::fabric::AccessControlList`]) and the device's limits. The
//! entries themselves, their validation and the access check live in [`crate::fabric::acl`].

use super::id;
use crate::fabric::acl::{DecodeAclError, FABRIC_INDEX_TAG, MAX_EXTENSION_DATA};
use crate::fabric::{AclEntry, AclError, AclExtension, FabricIndex, Privilege};
use crate::im::model::{AttrError, Cluster, ReadContext, WriteContext};
use crate::im::Status;
use crate::tlv::{ElementType, Tag, TlvReader, TlvWriter, Value};

/// Attribute ids (§9.10.6).
pub mod attr {
    /// ACL: list of AccessControlEntryStruct, fabric-scoped.
    pub const ACL: u32 = 0x0000;
    /// Extension: list of AccessControlExtensionStruct, fabric-scoped.
    pub const EXTENSION: u32 = 0x0001;
    /// SubjectsPerAccessControlEntry.
    pub const SUBJECTS_PER_ENTRY: u32 = 0x0002;
    /// TargetsPerAccessControlEntry.
    pub const TARGETS_PER_ENTRY: u32 = 0x0003;
    /// AccessControlEntriesPerFabric.
    pub const ENTRIES_PER_FABRIC: u32 = 0x0004;
}

/// FeatureMap bit 0, EXTS: the Extension attribute is present (§9.10.4).
const FEATURE_EXTENSION: u32 = 0x1;

const ATTRIBUTES: [u32; 5] = [
    attr::ACL,
    attr::EXTENSION,
    attr::SUBJECTS_PER_ENTRY,
    attr::TARGETS_PER_ENTRY,
    attr::ENTRIES_PER_FABRIC,
];

/// The Access Control cluster (endpoint 0 only). Stateless: everything is in the node state.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessControl;

impl AccessControl {
    /// The cluster.
    pub fn new() -> Self {
        Self
    }
}

fn acl_status(e: AclError) -> Status {
    match e {
        AclError::LimitExceeded(_) => Status::RESOURCE_EXHAUSTED,
        _ => Status::CONSTRAINT_ERROR,
    }
}

fn decode_status(e: DecodeAclError) -> Status {
    match e {
        DecodeAclError::Tlv(_) => Status::INVALID_DATA_TYPE,
        _ => Status::CONSTRAINT_ERROR,
    }
}

/// The members of a list value (an array on the wire, a list accepted too).
fn list_members<'a>(
    value: &Value<'a>,
) -> Result<impl Iterator<Item = Result<crate::tlv::Element<'a>, crate::tlv::TlvError>>, Status> {
    match *value {
        Value::Array(c) | Value::List(c) => Ok(c.iter()),
        _ => Err(Status::INVALID_DATA_TYPE),
    }
}

fn decode_entry(v: &Value<'_>, fabric: FabricIndex) -> Result<AclEntry, Status> {
    let Value::Struct(s) = v else {
        return Err(Status::INVALID_DATA_TYPE);
    };
    AclEntry::decode(s, Some(fabric)).map_err(decode_status)
}

fn decode_extension(v: &Value<'_>, fabric: FabricIndex) -> Result<AclExtension, Status> {
    let Value::Struct(s) = v else {
        return Err(Status::INVALID_DATA_TYPE);
    };
    let x = AclExtension::decode(s, Some(fabric)).map_err(decode_status)?;
    // §9.10.5.6: Data is at most 128 bytes and SHALL be a TLV-encoded anonymous list.
    let is_list = TlvReader::new(&x.data)
        .read_element()
        .is_ok_and(|e| e.tag == Tag::Anonymous && e.value.element_type() == ElementType::List);
    if x.data.len() > MAX_EXTENSION_DATA || !is_list {
        return Err(Status::CONSTRAINT_ERROR);
    }
    Ok(x)
}

impl Cluster for AccessControl {
    fn id(&self) -> u32 {
        id::ACCESS_CONTROL
    }

    /// Revision 1 (Matter 1.3).
    fn revision(&self) -> u16 {
        1
    }

    fn feature_map(&self) -> u32 {
        FEATURE_EXTENSION
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    /// ACL and Extension are readable with Administer only (§9.10.6: "RW F A").
    fn read_privilege(&self, attribute: u32) -> Privilege {
        match attribute {
            attr::ACL | attr::EXTENSION => Privilege::Administer,
            _ => Privilege::View,
        }
    }

    fn is_writable(&self, attribute: u32) -> bool {
        matches!(attribute, attr::ACL | attr::EXTENSION)
    }

    fn write_privilege(&self, _attribute: u32) -> Privilege {
        Privilege::Administer
    }

    fn is_fabric_scoped(&self, attribute: u32) -> bool {
        matches!(attribute, attr::ACL | attr::EXTENSION)
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let acl = &ctx.state.acl;
        // A fabric-filtered read shows the accessing fabric's entries only; an unfiltered one
        // shows every fabric's, those of other fabrics reduced to their FabricIndex (every
        // field is fabric-sensitive, Matter 1.3 §7.13.6 and §8.4.3.2).
        let own = |f: FabricIndex| ctx.fabric() == Some(f);
        let shown = |f: FabricIndex| !ctx.fabric_filtered || own(f);
        let only_index = |w: &mut TlvWriter<'_>, f: FabricIndex| {
            w.start_struct(Tag::Anonymous)?;
            w.u8(Tag::Context(FABRIC_INDEX_TAG), f.0)?;
            w.end_container()
        };
        match attribute {
            attr::ACL => {
                w.start_array(tag)?;
                for e in acl.entries().iter().filter(|e| shown(e.fabric_index)) {
                    if own(e.fabric_index) {
                        e.encode(w, Tag::Anonymous, true)?;
                    } else {
                        only_index(w, e.fabric_index)?;
                    }
                }
                w.end_container()?;
            }
            attr::EXTENSION => {
                w.start_array(tag)?;
                for x in acl.extensions().iter().filter(|x| shown(x.fabric_index)) {
                    if own(x.fabric_index) {
                        x.encode(w, Tag::Anonymous, true)?;
                    } else {
                        only_index(w, x.fabric_index)?;
                    }
                }
                w.end_container()?;
            }
            attr::SUBJECTS_PER_ENTRY => w.u16(tag, acl.limits().subjects_per_entry)?,
            attr::TARGETS_PER_ENTRY => w.u16(tag, acl.limits().targets_per_entry)?,
            attr::ENTRIES_PER_FABRIC => w.u16(tag, acl.limits().entries_per_fabric)?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    /// A whole-list write replaces the accessing fabric's entries (§7.13.6); every entry is
    /// validated and the write is all or nothing.
    fn write(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        // The data model refuses fabric-scoped writes without an accessing fabric.
        let fabric = ctx.fabric().ok_or(Status::UNSUPPORTED_ACCESS)?;
        match attribute {
            attr::ACL => {
                let mut entries = Vec::new();
                for e in list_members(value)? {
                    let e = e.map_err(|_| Status::INVALID_DATA_TYPE)?;
                    entries.push(decode_entry(&e.value, fabric)?);
                }
                ctx.state
                    .acl
                    .replace_fabric_entries(fabric, entries)
                    .map_err(acl_status)
            }
            attr::EXTENSION => {
                let mut xs = Vec::new();
                for e in list_members(value)? {
                    let e = e.map_err(|_| Status::INVALID_DATA_TYPE)?;
                    xs.push(decode_extension(&e.value, fabric)?);
                }
                ctx.state
                    .acl
                    .replace_fabric_extensions(fabric, xs)
                    .map_err(acl_status)
            }
            _ => Err(Status::UNSUPPORTED_WRITE),
        }
    }

    /// Appends one entry to the accessing fabric's list (a write with ListIndex null).
    fn append_list_entry(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        let fabric = ctx.fabric().ok_or(Status::UNSUPPORTED_ACCESS)?;
        match attribute {
            attr::ACL => {
                let e = decode_entry(value, fabric)?;
                ctx.state.acl.add_entry(e).map_err(acl_status)
            }
            attr::EXTENSION => {
                let x = decode_extension(value, fabric)?;
                if ctx
                    .state
                    .acl
                    .extensions()
                    .iter()
                    .any(|o| o.fabric_index == fabric)
                {
                    // One extension per fabric (§9.10.6.2).
                    return Err(Status::RESOURCE_EXHAUSTED);
                }
                ctx.state
                    .acl
                    .replace_fabric_extensions(fabric, vec![x])
                    .map_err(acl_status)
            }
            _ => Err(Status::UNSUPPORTED_WRITE),
        }
    }
}
