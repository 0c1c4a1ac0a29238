//! Descriptor cluster, 0x001D (Matter 1.3 core §9.5): an endpoint's device types, its server and
//! client clusters, and (on endpoint 0) the other endpoints of the node.

use super::id;
use crate::im::model::{AttrError, Cluster, ReadContext};
use crate::im::Status;
use crate::tlv::{Tag, TlvWriter};

/// The Descriptor cluster. It has no state: it describes the endpoint it sits on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Descriptor;

mod attr {
    pub(super) const DEVICE_TYPE_LIST: u32 = 0x0000;
    pub(super) const SERVER_LIST: u32 = 0x0001;
    pub(super) const CLIENT_LIST: u32 = 0x0002;
    pub(super) const PARTS_LIST: u32 = 0x0003;
}

impl Descriptor {
    /// A Descriptor cluster.
    pub fn new() -> Self {
        Self
    }
}

impl Cluster for Descriptor {
    fn id(&self) -> u32 {
        id::DESCRIPTOR
    }

    /// Revision 2 (Matter 1.3; revision 2 added the optional TagList, which we do not offer,
    /// so FeatureMap stays 0).
    fn revision(&self) -> u16 {
        2
    }

    fn attributes(&self) -> &[u32] {
        &[
            attr::DEVICE_TYPE_LIST,
            attr::SERVER_LIST,
            attr::CLIENT_LIST,
            attr::PARTS_LIST,
        ]
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let ep = ctx
            .model
            .endpoint(ctx.endpoint)
            .ok_or(AttrError::Status(Status::UNSUPPORTED_ENDPOINT))?;
        w.start_array(tag)?;
        match attribute {
            attr::DEVICE_TYPE_LIST => {
                for dt in ep.device_types() {
                    // DeviceTypeStruct: 0 DeviceType (devtype-id), 1 Revision.
                    w.start_struct(Tag::Anonymous)?;
                    w.u32(Tag::Context(0), dt.id)?;
                    w.u16(Tag::Context(1), dt.revision)?;
                    w.end_container()?;
                }
            }
            attr::SERVER_LIST => {
                for c in ep.cluster_ids() {
                    w.u32(Tag::Anonymous, c)?;
                }
            }
            attr::CLIENT_LIST => {}
            attr::PARTS_LIST => {
                // The root endpoint lists every other endpoint (§9.5.6.4); other endpoints are
                // flat here (no composed devices yet), so their list is empty.
                if ctx.endpoint == 0 {
                    for e in ctx.model.endpoints().iter().filter(|e| e.id() != 0) {
                        w.u16(Tag::Anonymous, e.id())?;
                    }
                }
            }
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        w.end_container()?;
        Ok(())
    }
}
