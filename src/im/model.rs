//! The data model: endpoints holding clusters, the [`Cluster`] trait each cluster file
//! implements, the global attributes (Matter 1.3 §7.13, "Global Elements") every cluster
//! gets from here rather than from its own code, and the access checks every read, write and
//! invoke passes through (the check orders of §8.4.3.2, §8.7.3.2 and §8.8.3.2).
//!
//! Clusters see the node's durable state ([`NodeState`]: fabrics, ACL, fail-safe, ...) and who
//! is asking ([`Subject`]) through the contexts: [`ReadContext`], [`WriteContext`],
//! [`InvokeContext`]. Whatever they change in the state they mark with
//! [`NodeState::mark_changed`]; [`DataModel::absorb_changes`] turns those marks into DataVersion
//! bumps and keeps them for subscriptions ([`DataModel::take_changed`]).

use std::collections::BTreeSet;
use std::fmt;

use tracing::debug;

use super::clusters::{
    AccessControl, BasicInformation, Descriptor, DeviceInfo, GeneralCommissioning,
};
use super::path::ConcreteAttributePath;
use super::Status;
use crate::fabric::{ChangedPath, FabricIndex, NodeState, Privilege, Subject};
use crate::rng::Rng;
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
    /// Whether `attribute` is writable (§8.7.3.2: UNSUPPORTED_WRITE otherwise, checked before
    /// access). Only writable attributes reach [`Cluster::write`].
    fn is_writable(&self, attribute: u32) -> bool {
        let _ = attribute;
        false
    }
    /// The privilege reading `attribute` needs (§6.6.5: View unless the cluster says otherwise).
    fn read_privilege(&self, attribute: u32) -> Privilege {
        let _ = attribute;
        Privilege::View
    }
    /// The privilege writing `attribute` needs (Operate unless the cluster says otherwise).
    fn write_privilege(&self, attribute: u32) -> Privilege {
        let _ = attribute;
        Privilege::Operate
    }
    /// The privilege invoking `command` needs (Operate unless the cluster says otherwise).
    fn invoke_privilege(&self, command: u32) -> Privilege {
        let _ = command;
        Privilege::Operate
    }
    /// Whether writing `attribute` needs a timed interaction (NEEDS_TIMED_INTERACTION).
    fn needs_timed_write(&self, attribute: u32) -> bool {
        let _ = attribute;
        false
    }
    /// Whether `command` needs a timed invoke (NEEDS_TIMED_INTERACTION, §8.8.3.2).
    fn needs_timed_invoke(&self, command: u32) -> bool {
        let _ = command;
        false
    }
    /// Whether `attribute` is fabric-scoped (§7.13.6): reads honour the fabric filter
    /// ([`ReadContext::fabric_filtered`]), and writes need an accessing fabric and replace only
    /// that fabric's entries.
    fn is_fabric_scoped(&self, attribute: u32) -> bool {
        let _ = attribute;
        false
    }
    /// Whether `command` is fabric-scoped: invoking it needs an accessing fabric
    /// (UNSUPPORTED_ACCESS otherwise, as over PASE before AddNOC).
    fn is_fabric_scoped_command(&self, command: u32) -> bool {
        let _ = command;
        false
    }
    /// Writes `value` to `attribute` (one for which [`Cluster::is_writable`] holds), after the
    /// data model has checked path, access, timing and DataVersion.
    ///
    /// # Errors
    /// The status to report: CONSTRAINT_ERROR or INVALID_DATA_TYPE for a bad value,
    /// UNSUPPORTED_WRITE by default.
    fn write(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        let _ = (ctx, attribute, value);
        Err(Status::UNSUPPORTED_WRITE)
    }
    /// Appends one entry to list attribute `attribute` (a write whose path has ListIndex null,
    /// Matter 1.3 §10.6.4.3.1; a chunked list write sends the list this way after an empty
    /// replace). Checked like [`Cluster::write`].
    ///
    /// # Errors
    /// As [`Cluster::write`]; UNSUPPORTED_WRITE for attributes that are no writable list.
    fn append_list_entry(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        let _ = (ctx, attribute, value);
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

/// Who is reading, and how: what a read interaction carries to every attribute it reads.
#[derive(Clone, Copy, Debug)]
pub struct ReadScope<'s> {
    /// The node's state.
    pub state: &'s NodeState,
    /// Who is asking.
    pub subject: Subject,
    /// The request's FabricFiltered flag.
    pub fabric_filtered: bool,
    /// The time the request arrived.
    pub now: Instant,
}

/// What a cluster may know while producing an attribute value.
#[derive(Clone, Copy, Debug)]
pub struct ReadContext<'m> {
    /// The endpoint being read.
    pub endpoint: u16,
    /// The whole data model (the Descriptor cluster describes its siblings).
    pub model: &'m DataModel,
    /// The node's state.
    pub state: &'m NodeState,
    /// Who is asking.
    pub subject: Subject,
    /// FabricFiltered: fabric-scoped lists show only the accessing fabric's entries.
    pub fabric_filtered: bool,
    /// The time the request arrived.
    pub now: Instant,
}

impl ReadContext<'_> {
    /// The accessing fabric (none for PASE before AddNOC).
    pub fn fabric(&self) -> Option<FabricIndex> {
        self.subject.fabric
    }
}

/// What a cluster may know and change while writing an attribute.
#[derive(Debug)]
pub struct WriteContext<'a> {
    /// The endpoint written.
    pub endpoint: u16,
    /// The node's state, to change.
    pub state: &'a mut NodeState,
    /// Who is writing.
    pub subject: Subject,
    /// The time the request arrived.
    pub now: Instant,
    /// True inside a timed interaction.
    pub timed: bool,
}

impl WriteContext<'_> {
    /// The accessing fabric (none for PASE before AddNOC).
    pub fn fabric(&self) -> Option<FabricIndex> {
        self.subject.fabric
    }
}

/// What the node knows about the session a request came on, lent to one IM exchange step.
pub struct SessionContext<'a> {
    /// Who is asking (derived from the session).
    pub subject: Subject,
    /// The node's state.
    pub state: &'a mut NodeState,
    /// Randomness for commands that need it (CSRRequest's key pair, nonces).
    pub rng: &'a mut dyn Rng,
    /// The session's attestation challenge (Matter 1.3 §4.13.2.6; AttestationRequest and
    /// CSRRequest sign over it).
    pub attestation_challenge: &'a [u8; 16],
}

impl fmt::Debug for SessionContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionContext")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What a cluster may know and change while running a command.
pub struct InvokeContext<'a> {
    /// The endpoint the command was sent to.
    pub endpoint: u16,
    /// The time the request arrived.
    pub now: Instant,
    /// True inside a timed interaction (commands that need one check it).
    pub timed: bool,
    /// Who is invoking.
    pub subject: Subject,
    /// The node's state, to change.
    pub state: &'a mut NodeState,
    /// Randomness (CSRRequest's operational key pair).
    pub rng: &'a mut dyn Rng,
    /// The session's attestation challenge.
    pub attestation_challenge: &'a [u8; 16],
}

impl InvokeContext<'_> {
    /// The accessing fabric (none for PASE before AddNOC).
    pub fn fabric(&self) -> Option<FabricIndex> {
        self.subject.fabric
    }
}

impl fmt::Debug for InvokeContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvokeContext")
            .field("endpoint", &self.endpoint)
            .field("now", &self.now)
            .field("timed", &self.timed)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
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
    /// Paths changed and not yet taken by the subscription engine.
    changed: BTreeSet<ChangedPath>,
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

    /// Endpoint 0 as a root node with the Descriptor, Access Control, Basic Information and
    /// General Commissioning clusters. `data_version_seed` should be random; cluster `i`
    /// starts at `seed + i`. Add the other commissioning clusters with
    /// [`Endpoint::add_cluster`] on [`DataModel::endpoint_mut`]`(0)`.
    pub fn root_node(info: DeviceInfo, data_version_seed: u32) -> Self {
        let mut m = Self::new();
        let ep = m.add_endpoint(0, vec![ROOT_NODE_DEVICE_TYPE]);
        let clusters: [Box<dyn Cluster + Send>; 4] = [
            Box::new(Descriptor::new()),
            Box::new(AccessControl::new()),
            Box::new(BasicInformation::new(info)),
            Box::new(GeneralCommissioning::new()),
        ];
        for (i, c) in (0u32..).zip(clusters) {
            ep.add_cluster(c, data_version_seed.wrapping_add(i));
        }
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
        scope: &ReadScope<'_>,
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
                    state: scope.state,
                    subject: scope.subject,
                    fabric_filtered: scope.fabric_filtered,
                    now: scope.now,
                };
                c.read(&ctx, a, w, tag)?;
            }
        }
        Ok(())
    }

    /// Whether `subject` holds `required` on (`endpoint`, `cluster`) (Matter 1.3 §6.6.6);
    /// device-type targets are answered from the endpoints' device types.
    pub fn allows(
        &self,
        state: &NodeState,
        subject: &Subject,
        endpoint: u16,
        cluster: u32,
        required: Privilege,
    ) -> bool {
        let has_device_type = |ep: u16, dt: u32| {
            self.endpoint(ep)
                .is_some_and(|e| e.device_types.iter().any(|d| d.id == dt))
        };
        state
            .acl
            .check(subject, endpoint, cluster, required, &has_device_type)
    }

    /// The access check for reading an existing concrete path: the cluster's read privilege
    /// for its own attributes, View for the global ones.
    pub fn read_allowed(
        &self,
        state: &NodeState,
        subject: &Subject,
        p: ConcreteAttributePath,
    ) -> bool {
        let required = match self.cluster(p.endpoint, p.cluster) {
            Some(c) if !global::ALL.contains(&p.attribute) => c.read_privilege(p.attribute),
            _ => Privilege::View,
        };
        self.allows(state, subject, p.endpoint, p.cluster, required)
    }

    /// Writes an attribute, checking in the order of Matter 1.3 §8.7.3.2 ("Incoming Write
    /// Request Action", which the CHIP SDK's WriteHandler follows): path (endpoint, cluster,
    /// attribute) -> writable (UNSUPPORTED_WRITE; global attributes never are) -> access
    /// (UNSUPPORTED_ACCESS) -> timed (NEEDS_TIMED_INTERACTION) -> fabric-scoped without an
    /// accessing fabric (UNSUPPORTED_ACCESS) -> DataVersion (DATA_VERSION_MISMATCH) -> the
    /// cluster. A successful write bumps the cluster's DataVersion and is recorded for
    /// subscriptions, with whatever else the cluster marked changed.
    pub fn write_attribute(
        &mut self,
        ctx: &mut WriteContext<'_>,
        p: ConcreteAttributePath,
        data_version: Option<u32>,
        value: &Value<'_>,
    ) -> Status {
        self.write_op(ctx, p, data_version, value, false)
    }

    /// Appends one entry to a list attribute (ListIndex null), with the checks of
    /// [`DataModel::write_attribute`].
    pub fn append_attribute(
        &mut self,
        ctx: &mut WriteContext<'_>,
        p: ConcreteAttributePath,
        data_version: Option<u32>,
        value: &Value<'_>,
    ) -> Status {
        self.write_op(ctx, p, data_version, value, true)
    }

    fn write_op(
        &mut self,
        ctx: &mut WriteContext<'_>,
        p: ConcreteAttributePath,
        data_version: Option<u32>,
        value: &Value<'_>,
        append: bool,
    ) -> Status {
        if let Err(s) = self.check_attribute(p) {
            return s;
        }
        let Some(c) = self.cluster(p.endpoint, p.cluster) else {
            return Status::UNSUPPORTED_CLUSTER;
        };
        if global::ALL.contains(&p.attribute) || !c.is_writable(p.attribute) {
            return Status::UNSUPPORTED_WRITE;
        }
        let (required, timed, scoped) = (
            c.write_privilege(p.attribute),
            c.needs_timed_write(p.attribute),
            c.is_fabric_scoped(p.attribute),
        );
        if !self.allows(ctx.state, &ctx.subject, p.endpoint, p.cluster, required) {
            return Status::UNSUPPORTED_ACCESS;
        }
        if timed && !ctx.timed {
            return Status::NEEDS_TIMED_INTERACTION;
        }
        if scoped && ctx.subject.fabric.is_none() {
            return Status::UNSUPPORTED_ACCESS;
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
        ctx.endpoint = p.endpoint;
        let r = if append {
            slot.cluster.append_list_entry(ctx, p.attribute, value)
        } else {
            slot.cluster.write(ctx, p.attribute, value)
        };
        match r {
            Ok(()) => {
                ctx.state
                    .mark_changed(p.endpoint, p.cluster, Some(p.attribute));
                self.absorb_changes(ctx.state);
                debug!(?p, "attribute written");
                Status::SUCCESS
            }
            Err(s) => {
                // A refused write may still have changed nothing; anything marked is real.
                self.absorb_changes(ctx.state);
                s
            }
        }
    }

    /// MaxPathsPerInvoke as Basic Information reports it (attribute 0x0016 on endpoint 0), so
    /// the limit the Invoke action enforces is the one advertised; 1 without that cluster.
    pub fn max_paths_per_invoke(&self, scope: &ReadScope<'_>) -> u16 {
        let mut buf = Vec::new();
        let p = ConcreteAttributePath {
            endpoint: 0,
            cluster: super::clusters::id::BASIC_INFORMATION,
            attribute: 0x0016,
        };
        if self
            .read_attribute(scope, p, &mut TlvWriter::new(&mut buf), Tag::Anonymous)
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

    /// Runs a command on (`ctx.endpoint`, `cluster`), checking in the order of Matter 1.3
    /// §8.8.3.2 ("Incoming Invoke Request Action"): path (endpoint, cluster, command) ->
    /// access (UNSUPPORTED_ACCESS) -> timed (NEEDS_TIMED_INTERACTION) -> fabric-scoped without
    /// an accessing fabric (UNSUPPORTED_ACCESS) -> the cluster. Changes the command marked are
    /// absorbed afterwards (DataVersions move).
    pub fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        cluster: u32,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let Some(ep) = self.endpoint(ctx.endpoint) else {
            return InvokeResult::Status(Status::UNSUPPORTED_ENDPOINT);
        };
        let Some(slot) = ep.slot(cluster) else {
            return InvokeResult::Status(Status::UNSUPPORTED_CLUSTER);
        };
        let c = &slot.cluster;
        if !c.accepted_commands().contains(&command) {
            return InvokeResult::Status(Status::UNSUPPORTED_COMMAND);
        }
        let (required, timed, scoped) = (
            c.invoke_privilege(command),
            c.needs_timed_invoke(command),
            c.is_fabric_scoped_command(command),
        );
        if !self.allows(ctx.state, &ctx.subject, ctx.endpoint, cluster, required) {
            return InvokeResult::Status(Status::UNSUPPORTED_ACCESS);
        }
        if timed && !ctx.timed {
            return InvokeResult::Status(Status::NEEDS_TIMED_INTERACTION);
        }
        if scoped && ctx.subject.fabric.is_none() {
            return InvokeResult::Status(Status::UNSUPPORTED_ACCESS);
        }
        let Some(slot) = self
            .endpoint_mut(ctx.endpoint)
            .and_then(|e| e.slot_mut(cluster))
        else {
            return InvokeResult::Status(Status::UNSUPPORTED_CLUSTER);
        };
        let result = slot.cluster.invoke(ctx, command, fields);
        self.absorb_changes(ctx.state);
        result
    }

    /// Moves the paths `state` marked changed into the model: each affected cluster's
    /// DataVersion goes up once, and the paths wait in [`DataModel::take_changed`] for the
    /// subscription engine. Paths of clusters the model does not have are dropped.
    pub fn absorb_changes(&mut self, state: &mut NodeState) {
        let changed = state.take_changed();
        let mut bumped: BTreeSet<(u16, u32)> = BTreeSet::new();
        for p in changed {
            let Some(slot) = self
                .endpoint_mut(p.endpoint)
                .and_then(|e| e.slot_mut(p.cluster))
            else {
                continue;
            };
            if bumped.insert((p.endpoint, p.cluster)) {
                slot.data_version = slot.data_version.wrapping_add(1);
                debug!(
                    endpoint = p.endpoint,
                    cluster = p.cluster,
                    version = slot.data_version,
                    "data version bumped"
                );
            }
            self.changed.insert(p);
        }
    }

    /// The changed paths recorded since the last call (for subscriptions' change reports).
    pub fn take_changed(&mut self) -> BTreeSet<ChangedPath> {
        core::mem::take(&mut self.changed)
    }
}
