//! The data model: endpoints holding clusters, the [`Cluster`] trait each cluster file
//! implements, and the global attributes (Matter 1.3 §7.13, "Global Elements") every cluster
//! gets from here rather than from its own code.

use tracing::debug;

use super::clusters::{BasicInformation, Descriptor, DeviceInfo};
use super::path::ConcreteAttributePath;
use super::Status;
use crate::time::Instant;
use crate::tlv::{Container, Tag, TlvError, TlvWriter, Value};

/// Global attribute ids (Matter 1.3 §7.13, table "Global Attributes").
pub(crate) mod global {
    /// GeneratedCommandList.
    pub(crate) const GENERATED_COMMAND_LIST: u32 = 0xFFF8;
    /// AcceptedCommandList.
    pub(crate) const ACCEPTED_COMMAND_LIST: u32 = 0xFFF9;
    /// AttributeList.
    pub(crate) const ATTRIBUTE_LIST: u32 = 0xFFFB;
    /// FeatureMap.
    pub(crate) const FEATURE_MAP: u32 = 0xFFFC;
    /// ClusterRevision.
    pub(crate) const CLUSTER_REVISION: u32 = 0xFFFD;
    /// All of them, in the order AttributeList reports them (ascending).
    pub(crate) const ALL: [u32; 5] = [
        GENERATED_COMMAND_LIST,
        ACCEPTED_COMMAND_LIST,
        ATTRIBUTE_LIST,
        FEATURE_MAP,
        CLUSTER_REVISION,
    ];
}

/// One server cluster instance. Each cluster lives in its own file under `im/clusters/`.
///
/// The data model answers the global attributes (FeatureMap, ClusterRevision, AttributeList,
/// AcceptedCommandList, GeneratedCommandList) from [`Cluster::feature_map`],
/// [`Cluster::revision`], [`Cluster::attributes`] and the command lists, and checks that a path
/// names a listed attribute or accepted command before calling [`Cluster::read`],
/// [`Cluster::write`] or [`Cluster::invoke`].
pub trait Cluster {
    /// Cluster id.
    fn id(&self) -> u32;
    /// ClusterRevision.
    fn revision(&self) -> u16;
    /// FeatureMap.
    fn feature_map(&self) -> u32 {
        0
    }
    /// The cluster's own attribute ids (no global ones), ascending.
    fn attributes(&self) -> &[u32];
    /// Command ids the server accepts, ascending.
    fn accepted_commands(&self) -> &[u32] {
        &[]
    }
    /// Command ids the server sends as responses, ascending.
    fn generated_commands(&self) -> &[u32] {
        &[]
    }
    /// Writes the value of `attribute` (one of [`Cluster::attributes`]) under `tag`.
    ///
    /// # Errors
    /// A status to report instead, or a TLV error ([`TlvError::BufferFull`] must be passed up).
    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError>;
    /// Writes `value` to `attribute` (one of [`Cluster::attributes`]).
    ///
    /// # Errors
    /// The status to report: UNSUPPORTED_WRITE by default, CONSTRAINT_ERROR or
    /// INVALID_DATA_TYPE for a bad value.
    fn write(&mut self, attribute: u32, value: &Value<'_>) -> Result<(), Status> {
        let _ = (attribute, value);
        Err(Status::UNSUPPORTED_WRITE)
    }
    /// Runs `command` (one of [`Cluster::accepted_commands`]).
    fn invoke(
        &mut self,
        ctx: &mut InvokeContext,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let _ = (ctx, command, fields);
        InvokeResult::Status(Status::UNSUPPORTED_COMMAND)
    }
}

/// Why a cluster did not produce an attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrError {
    /// Report this status for the path.
    Status(Status),
    /// The writer failed (full): the caller rolls back and retries in the next chunk.
    Tlv(TlvError),
}

impl From<TlvError> for AttrError {
    fn from(e: TlvError) -> Self {
        Self::Tlv(e)
    }
}

/// What a command produced.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvokeResult {
    /// A status (SUCCESS for a command without a response command).
    Status(Status),
    /// A status with a cluster-specific status code.
    ClusterStatus(Status, u8),
    /// A response command: its id and its fields encoded as one anonymous TLV structure.
    Response {
        /// Response command id.
        command: u32,
        /// Anonymous structure holding the response fields.
        fields: Vec<u8>,
    },
}

/// What a cluster may know while producing an attribute value.
#[derive(Clone, Copy, Debug)]
pub struct ReadContext<'m> {
    /// The endpoint being read.
    pub endpoint: u16,
    /// The whole data model (the Descriptor cluster describes its siblings).
    pub model: &'m DataModel,
}

/// What a cluster may know while running a command.
#[derive(Clone, Copy, Debug)]
pub struct InvokeContext {
    /// The endpoint the command was sent to.
    pub endpoint: u16,
    /// The time the request arrived.
    pub now: Instant,
    /// True inside a timed interaction (commands that need one check it).
    pub timed: bool,
}

/// A device type an endpoint implements (Descriptor DeviceTypeStruct).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceType {
    /// Device type id.
    pub id: u32,
    /// Device type revision.
    pub revision: u16,
}

/// One endpoint: its device types and server clusters (kept sorted by cluster id).
pub struct Endpoint {
    id: u16,
    device_types: Vec<DeviceType>,
    clusters: Vec<Slot>,
}

struct Slot {
    cluster: Box<dyn Cluster + Send>,
    data_version: u32,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("device_types", &self.device_types)
            .field("clusters", &self.cluster_ids().collect::<Vec<_>>())
            .finish()
    }
}

impl Endpoint {
    /// Endpoint id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Device types.
    pub fn device_types(&self) -> &[DeviceType] {
        &self.device_types
    }

    /// Server cluster ids, ascending.
    pub fn cluster_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.clusters.iter().map(|s| s.cluster.id())
    }

    /// Adds a cluster (replacing one with the same id). `data_version` is its initial
    /// DataVersion, which the spec wants random (§7.10.3).
    pub fn add_cluster(&mut self, cluster: Box<dyn Cluster + Send>, data_version: u32) {
        let slot = Slot {
            cluster,
            data_version,
        };
        match self
            .clusters
            .binary_search_by_key(&slot.cluster.id(), |s| s.cluster.id())
        {
            Ok(i) => {
                if let Some(s) = self.clusters.get_mut(i) {
                    *s = slot;
                }
            }
            Err(i) => self.clusters.insert(i, slot),
        }
    }

    fn slot(&self, cluster: u32) -> Option<&Slot> {
        self.clusters.iter().find(|s| s.cluster.id() == cluster)
    }

    fn slot_mut(&mut self, cluster: u32) -> Option<&mut Slot> {
        self.clusters.iter_mut().find(|s| s.cluster.id() == cluster)
    }
}

/// The node's endpoints (kept sorted by id).
#[derive(Debug, Default)]
pub struct DataModel {
    endpoints: Vec<Endpoint>,
}

/// Root Node device type (Matter 1.3 Device Library §2.1): id 0x0016, revision 2.
pub const ROOT_NODE_DEVICE_TYPE: DeviceType = DeviceType {
    id: 0x0016,
    revision: 2,
};

impl DataModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Endpoint 0 as a root node with the Descriptor and Basic Information clusters.
    /// `data_version_seed` should be random; cluster `i` starts at `seed + i`.
    pub fn root_node(info: DeviceInfo, data_version_seed: u32) -> Self {
        let mut m = Self::new();
        let ep = m.add_endpoint(0, vec![ROOT_NODE_DEVICE_TYPE]);
        ep.add_cluster(Box::new(Descriptor::new()), data_version_seed);
        ep.add_cluster(
            Box::new(BasicInformation::new(info)),
            data_version_seed.wrapping_add(1),
        );
        m
    }

    /// Adds (or replaces) endpoint `id` and returns it for adding clusters.
    pub fn add_endpoint(&mut self, id: u16, device_types: Vec<DeviceType>) -> &mut Endpoint {
        let ep = Endpoint {
            id,
            device_types,
            clusters: Vec::new(),
        };
        let i = match self.endpoints.binary_search_by_key(&id, |e| e.id) {
            Ok(i) => {
                if let Some(slot) = self.endpoints.get_mut(i) {
                    *slot = ep;
                }
                i
            }
            Err(i) => {
                self.endpoints.insert(i, ep);
                i
            }
        };
        // `i` is the index just written.
        &mut self.endpoints[i]
    }

    /// All endpoints, ascending by id.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Endpoint `id`.
    pub fn endpoint(&self, id: u16) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }

    /// Endpoint `id`, mutably (to add clusters later).
    pub fn endpoint_mut(&mut self, id: u16) -> Option<&mut Endpoint> {
        self.endpoints.iter_mut().find(|e| e.id == id)
    }

    /// The cluster at (`endpoint`, `cluster`).
    pub fn cluster(&self, endpoint: u16, cluster: u32) -> Option<&(dyn Cluster + Send)> {
        self.endpoint(endpoint)?
            .slot(cluster)
            .map(|s| s.cluster.as_ref())
    }

    /// The cluster's current DataVersion.
    pub fn data_version(&self, endpoint: u16, cluster: u32) -> Option<u32> {
        self.endpoint(endpoint)?
            .slot(cluster)
            .map(|s| s.data_version)
    }

    /// Attribute ids of a cluster as AttributeList reports them: its own, then the globals.
    pub fn attribute_ids(&self, endpoint: u16, cluster: u32) -> Vec<u32> {
        self.cluster(endpoint, cluster)
            .map(|c| c.attributes().iter().copied().chain(global::ALL).collect())
            .unwrap_or_default()
    }

    /// Whether a concrete path exists: the status a concrete read of it gets otherwise,
    /// checked outermost first (endpoint, then cluster, then attribute), as the CHIP SDK does.
    ///
    /// # Errors
    /// UNSUPPORTED_ENDPOINT, UNSUPPORTED_CLUSTER or UNSUPPORTED_ATTRIBUTE.
    pub fn check_attribute(&self, p: ConcreteAttributePath) -> Result<(), Status> {
        let ep = self
            .endpoint(p.endpoint)
            .ok_or(Status::UNSUPPORTED_ENDPOINT)?;
        let slot = ep.slot(p.cluster).ok_or(Status::UNSUPPORTED_CLUSTER)?;
        if slot.cluster.attributes().contains(&p.attribute) || global::ALL.contains(&p.attribute) {
            Ok(())
        } else {
            Err(Status::UNSUPPORTED_ATTRIBUTE)
        }
    }

    /// Writes the value of an existing attribute under `tag`, global attributes included.
    ///
    /// # Errors
    /// As [`DataModel::check_attribute`], or what the cluster reports.
    pub fn read_attribute(
        &self,
        p: ConcreteAttributePath,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        self.check_attribute(p).map_err(AttrError::Status)?;
        let Some(c) = self.cluster(p.endpoint, p.cluster) else {
            return Err(AttrError::Status(Status::UNSUPPORTED_CLUSTER));
        };
        let list = |w: &mut TlvWriter<'_>, ids: &mut dyn Iterator<Item = u32>| {
            w.start_array(tag)?;
            for id in ids {
                w.u32(Tag::Anonymous, id)?;
            }
            w.end_container()
        };
        match p.attribute {
            global::CLUSTER_REVISION => w.u16(tag, c.revision())?,
            global::FEATURE_MAP => w.u32(tag, c.feature_map())?,
            global::ATTRIBUTE_LIST => {
                list(w, &mut c.attributes().iter().copied().chain(global::ALL))?
            }
            global::ACCEPTED_COMMAND_LIST => list(w, &mut c.accepted_commands().iter().copied())?,
            global::GENERATED_COMMAND_LIST => list(w, &mut c.generated_commands().iter().copied())?,
            a => {
                let ctx = ReadContext {
                    endpoint: p.endpoint,
                    model: self,
                };
                c.read(&ctx, a, w, tag)?;
            }
        }
        Ok(())
    }

    /// Writes an attribute (Matter 1.3 §8.7.3.2): path checks, DataVersion check, then the
    /// cluster; a successful write bumps the cluster's DataVersion.
    pub fn write_attribute(
        &mut self,
        p: ConcreteAttributePath,
        data_version: Option<u32>,
        value: &Value<'_>,
    ) -> Status {
        if let Err(s) = self.check_attribute(p) {
            return s;
        }
        if global::ALL.contains(&p.attribute) {
            return Status::UNSUPPORTED_WRITE;
        }
        let Some(slot) = self
            .endpoint_mut(p.endpoint)
            .and_then(|e| e.slot_mut(p.cluster))
        else {
            return Status::UNSUPPORTED_CLUSTER;
        };
        if data_version.is_some_and(|v| v != slot.data_version) {
            return Status::DATA_VERSION_MISMATCH;
        }
        match slot.cluster.write(p.attribute, value) {
            Ok(()) => {
                slot.data_version = slot.data_version.wrapping_add(1);
                debug!(?p, version = slot.data_version, "attribute written");
                Status::SUCCESS
            }
            Err(s) => s,
        }
    }

    /// Appends `item` to list attribute `p` (a write with ListIndex null, Matter 1.3
    /// §10.6.4.3.1): the current list is read, the item added, and the whole list written through
    /// [`Cluster::write`], so every writable list attribute supports appends with the cluster's
    /// own validation. A successful append bumps the DataVersion like any write.
    pub fn append_list_item(
        &mut self,
        p: ConcreteAttributePath,
        data_version: Option<u32>,
        item: &Value<'_>,
    ) -> Status {
        if let Err(s) = self.check_attribute(p) {
            return s;
        }
        if global::ALL.contains(&p.attribute) {
            return Status::UNSUPPORTED_WRITE;
        }
        let mut current = Vec::new();
        match self.read_attribute(p, &mut TlvWriter::new(&mut current), Tag::Anonymous) {
            Ok(()) => {}
            Err(AttrError::Status(s)) => return s,
            Err(AttrError::Tlv(_)) => return Status::FAILURE,
        }
        let Ok(Value::Array(list)) = crate::tlv::TlvReader::new(&current)
            .read_element()
            .map(|e| e.value)
        else {
            // Appending to something that is not a list.
            return Status::INVALID_ACTION;
        };
        let mut whole = Vec::with_capacity(current.len() + 16);
        let mut w = TlvWriter::new(&mut whole);
        let encoded = (|| -> Result<(), TlvError> {
            w.start_array(Tag::Anonymous)?;
            for e in list.iter() {
                w.value(Tag::Anonymous, &e?.value)?;
            }
            w.value(Tag::Anonymous, item)?;
            w.end_container()
        })();
        if encoded.is_err() {
            return Status::FAILURE;
        }
        let Ok(value) = crate::tlv::TlvReader::new(&whole)
            .read_element()
            .map(|e| e.value)
        else {
            return Status::FAILURE;
        };
        self.write_attribute(p, data_version, &value)
    }

    /// MaxPathsPerInvoke as Basic Information reports it (attribute 0x0016 on endpoint 0), so
    /// the limit the Invoke action enforces is the one advertised; 1 without that cluster.
    pub fn max_paths_per_invoke(&self) -> u16 {
        let mut buf = Vec::new();
        let p = ConcreteAttributePath {
            endpoint: 0,
            cluster: super::clusters::id::BASIC_INFORMATION,
            attribute: 0x0016,
        };
        if self
            .read_attribute(p, &mut TlvWriter::new(&mut buf), Tag::Anonymous)
            .is_err()
        {
            return 1;
        }
        crate::tlv::TlvReader::new(&buf)
            .read_element()
            .ok()
            .and_then(|e| e.value.decode::<u16>().ok())
            .unwrap_or(1)
            .max(1)
    }

    /// Runs a command on (`endpoint`, `cluster`), checking the path first.
    pub fn invoke(
        &mut self,
        ctx: &mut InvokeContext,
        cluster: u32,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let Some(ep) = self.endpoint_mut(ctx.endpoint) else {
            return InvokeResult::Status(Status::UNSUPPORTED_ENDPOINT);
        };
        let Some(slot) = ep.slot_mut(cluster) else {
            return InvokeResult::Status(Status::UNSUPPORTED_CLUSTER);
        };
        if !slot.cluster.accepted_commands().contains(&command) {
            return InvokeResult::Status(Status::UNSUPPORTED_COMMAND);
        }
        slot.cluster.invoke(ctx, command, fields)
    }
}
