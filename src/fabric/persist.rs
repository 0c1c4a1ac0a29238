//! The durable form of [`NodeState`]: one named record per kind (fabrics, ACL, Basic Information,
//! General Commissioning, Network Commissioning, CASE resumption, the light's On/Off, the group
//! table), each a versioned TLV structure. The shell stores them as named blobs
//! (src/store) and hands them back to [`NodeState::load`] at start; a record that does not decode
//! is a [`LoadError`], never a silent reset.
//!
//! Every record is `{0: version (u8), 1..: fields}`; version 1 is the only one so far.

use core::fmt;

use p256::SecretKey;
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

use super::acl::{AclEntry, AclExtension, DecodeAclError};
use super::table::Fabric;
use super::{FabricIndex, NetworkConfig, NodeState, RegulatoryLocation, StartUpOnOff, WifiNetwork};
use crate::tlv::{Container, Tag, TlvError, TlvReader, TlvWriter, Value};

/// The record format version written.
const VERSION: u8 = 1;

/// Which record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// The fabric table (certificates, keys, labels).
    Fabrics,
    /// ACL entries and extensions.
    Acl,
    /// Writable Basic Information attributes (NodeLabel, Location).
    BasicInformation,
    /// General Commissioning's RegulatoryConfig.
    GeneralCommissioning,
    /// Network Commissioning: InterfaceEnabled, the Wi-Fi networks with their credentials (a
    /// device must rejoin its network after a restart; the state folder is private, mode 0700,
    /// and records are written owner-only) and the connected network.
    NetworkCommissioning,
    /// CASE session resumption records (Matter 1.3 §4.14.2.2.4).
    CaseResumption,
    /// The light's OnOff and StartUpOnOff.
    OnOff,
    /// The group table (Groups cluster).
    Groups,
}

impl RecordKind {
    /// Every kind, in load order.
    pub const ALL: [RecordKind; 8] = [
        Self::Fabrics,
        Self::Acl,
        Self::BasicInformation,
        Self::GeneralCommissioning,
        Self::NetworkCommissioning,
        Self::CaseResumption,
        Self::OnOff,
        Self::Groups,
    ];

    /// The record's name (a file name in the state folder).
    pub fn name(self) -> &'static str {
        match self {
            Self::Fabrics => "fabrics",
            Self::Acl => "acl",
            Self::BasicInformation => "basic-information",
            Self::GeneralCommissioning => "general-commissioning",
            Self::NetworkCommissioning => "network-commissioning",
            Self::CaseResumption => "case-resumption",
            Self::OnOff => "on-off",
            Self::Groups => "groups",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the fail-safe guards this record (held back from persistence while armed).
    /// Resumption records are held back too: one made during commissioning names a fabric
    /// index that a crash would leave unused, for a later fabric to inherit.
    pub fn is_fail_safe_guarded(self) -> bool {
        matches!(
            self,
            Self::Fabrics | Self::Acl | Self::NetworkCommissioning | Self::CaseResumption
        )
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One record to persist. The bytes may hold private keys: they are zeroized on drop.
pub struct Record {
    /// Which record.
    pub kind: RecordKind,
    /// Its encoded form.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("kind", &self.kind)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Record {
    pub(super) fn digest(&self) -> [u8; 32] {
        Self::digest_of(&self.bytes)
    }

    pub(super) fn digest_of(bytes: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&Sha256::digest(bytes));
        out
    }
}

/// A persisted record that cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not valid TLV, or a field missing or of the wrong type.
    #[error("record {kind} is corrupt: {source}")]
    Corrupt {
        /// The record.
        kind: RecordKind,
        /// The TLV error.
        source: TlvError,
    },
    /// Written by a newer version of this program.
    #[error("record {kind} has unsupported version {version}")]
    UnsupportedVersion {
        /// The record.
        kind: RecordKind,
        /// Its version.
        version: u8,
    },
    /// Decodes, but a value is invalid (a bad key, a duplicate fabric, an invalid ACL entry).
    #[error("record {kind} holds an invalid {what}")]
    Invalid {
        /// The record.
        kind: RecordKind,
        /// What is wrong.
        what: &'static str,
    },
}

mod tag {
    pub(super) const VERSION: u8 = 0;
    // Fabrics record.
    pub(super) const FABRICS: u8 = 1;
    // One fabric.
    pub(super) const INDEX: u8 = 0;
    pub(super) const RCAC: u8 = 1;
    pub(super) const ICAC: u8 = 2;
    pub(super) const NOC: u8 = 3;
    pub(super) const FABRIC_ID: u8 = 4;
    pub(super) const NODE_ID: u8 = 5;
    pub(super) const ROOT_KEY: u8 = 6;
    pub(super) const VENDOR_ID: u8 = 7;
    pub(super) const LABEL: u8 = 8;
    pub(super) const IPK: u8 = 9;
    pub(super) const OP_KEY: u8 = 10;
    pub(super) const COMPRESSED_ID: u8 = 11;
    pub(super) const CATS: u8 = 12;
    // ACL record.
    pub(super) const ENTRIES: u8 = 1;
    pub(super) const EXTENSIONS: u8 = 2;
    // Basic Information record.
    pub(super) const NODE_LABEL: u8 = 1;
    pub(super) const LOCATION: u8 = 2;
    // General Commissioning record.
    pub(super) const REGULATORY_CONFIG: u8 = 1;
    // Network Commissioning record.
    pub(super) const INTERFACE_ENABLED: u8 = 1;
    pub(super) const WIFI_NETWORKS: u8 = 2;
    pub(super) const CONNECTED: u8 = 3;
    // One Wi-Fi network.
    pub(super) const SSID: u8 = 0;
    pub(super) const CREDENTIALS: u8 = 1;
    // CASE resumption record: a list of {id, secret, fabric, peer node id, CATs}.
    pub(super) const RESUMPTION: u8 = 1;
    pub(super) const R_ID: u8 = 0;
    pub(super) const R_SECRET: u8 = 1;
    pub(super) const R_FABRIC: u8 = 2;
    pub(super) const R_NODE: u8 = 3;
    pub(super) const R_CATS: u8 = 4;
    // On/Off record.
    pub(super) const ON_OFF: u8 = 1;
    pub(super) const START_UP_ON_OFF: u8 = 2;
    // Groups record: a list of {fabric, group, name, endpoints}.
    pub(super) const GROUPS: u8 = 1;
    pub(super) const GROUP_FABRIC: u8 = 0;
    pub(super) const GROUP_ID: u8 = 1;
    pub(super) const GROUP_NAME: u8 = 2;
    pub(super) const GROUP_ENDPOINTS: u8 = 3;
}

fn encode_fabric(w: &mut TlvWriter<'_>, f: &Fabric) -> Result<(), TlvError> {
    w.start_struct(Tag::Anonymous)?;
    w.u8(Tag::Context(tag::INDEX), f.index.0)?;
    w.octets(Tag::Context(tag::RCAC), &f.rcac)?;
    if let Some(icac) = &f.icac {
        w.octets(Tag::Context(tag::ICAC), icac)?;
    }
    w.octets(Tag::Context(tag::NOC), &f.noc)?;
    w.u64(Tag::Context(tag::FABRIC_ID), f.fabric_id)?;
    w.u64(Tag::Context(tag::NODE_ID), f.node_id)?;
    w.octets(Tag::Context(tag::ROOT_KEY), &f.root_public_key)?;
    w.u16(Tag::Context(tag::VENDOR_ID), f.vendor_id)?;
    w.utf8(Tag::Context(tag::LABEL), &f.label)?;
    w.octets(Tag::Context(tag::IPK), &f.ipk_epoch_key[..])?;
    let key = Zeroizing::new(f.operational_key.to_bytes());
    w.octets(Tag::Context(tag::OP_KEY), &key[..])?;
    w.octets(Tag::Context(tag::COMPRESSED_ID), &f.compressed_fabric_id)?;
    w.start_array(Tag::Context(tag::CATS))?;
    for c in &f.cats {
        w.u32(Tag::Anonymous, *c)?;
    }
    w.end_container()?;
    w.end_container()
}

fn decode_fabric(c: &Container<'_>, kind: RecordKind) -> Result<Fabric, LoadError> {
    let corrupt = |source| LoadError::Corrupt { kind, source };
    let key_bytes: [u8; 32] = c.get(tag::OP_KEY).map_err(corrupt)?;
    let key_bytes = Zeroizing::new(key_bytes);
    let operational_key =
        SecretKey::from_slice(&key_bytes[..]).map_err(|_| LoadError::Invalid {
            kind,
            what: "operational key",
        })?;
    let mut cats = Vec::new();
    for e in c.array(tag::CATS).map_err(corrupt)?.iter() {
        cats.push(e.and_then(|e| e.value.decode::<u32>()).map_err(corrupt)?);
    }
    if cats.len() > 3 {
        return Err(LoadError::Invalid {
            kind,
            what: "CAT list",
        });
    }
    Ok(Fabric {
        index: FabricIndex(c.u8(tag::INDEX).map_err(corrupt)?),
        rcac: c.octets(tag::RCAC).map_err(corrupt)?.to_vec(),
        icac: c
            .opt_octets(tag::ICAC)
            .map_err(corrupt)?
            .map(<[u8]>::to_vec),
        noc: c.octets(tag::NOC).map_err(corrupt)?.to_vec(),
        fabric_id: c.u64(tag::FABRIC_ID).map_err(corrupt)?,
        node_id: c.u64(tag::NODE_ID).map_err(corrupt)?,
        root_public_key: c.get(tag::ROOT_KEY).map_err(corrupt)?,
        vendor_id: c.u16(tag::VENDOR_ID).map_err(corrupt)?,
        label: c.utf8(tag::LABEL).map_err(corrupt)?.to_owned(),
        ipk_epoch_key: Zeroizing::new(c.get(tag::IPK).map_err(corrupt)?),
        operational_key,
        compressed_fabric_id: c.get(tag::COMPRESSED_ID).map_err(corrupt)?,
        cats,
    })
}

fn acl_error(kind: RecordKind) -> impl Fn(DecodeAclError) -> LoadError {
    move |e| match e {
        DecodeAclError::Tlv(source) => LoadError::Corrupt { kind, source },
        DecodeAclError::Value(what) => LoadError::Invalid { kind, what },
        // A future variant: treat as invalid content.
        #[allow(unreachable_patterns)]
        _ => LoadError::Invalid {
            kind,
            what: "entry",
        },
    }
}

impl NodeState {
    /// Encodes one record from the current state.
    pub(super) fn encode_record(&self, kind: RecordKind) -> Record {
        let mut buf = Zeroizing::new(Vec::new());
        let mut w = TlvWriter::new(&mut buf);
        let body = |w: &mut TlvWriter<'_>| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.u8(Tag::Context(tag::VERSION), VERSION)?;
            match kind {
                RecordKind::Fabrics => {
                    w.start_array(Tag::Context(tag::FABRICS))?;
                    for f in self.fabrics.iter() {
                        encode_fabric(w, f)?;
                    }
                    w.end_container()?;
                }
                RecordKind::Acl => {
                    w.start_array(Tag::Context(tag::ENTRIES))?;
                    for e in self.acl.entries() {
                        e.encode(w, Tag::Anonymous, true)?;
                    }
                    w.end_container()?;
                    w.start_array(Tag::Context(tag::EXTENSIONS))?;
                    for x in self.acl.extensions() {
                        x.encode(w, Tag::Anonymous, true)?;
                    }
                    w.end_container()?;
                }
                RecordKind::BasicInformation => {
                    w.utf8(Tag::Context(tag::NODE_LABEL), &self.info.node_label)?;
                    w.utf8(Tag::Context(tag::LOCATION), &self.info.location)?;
                }
                RecordKind::GeneralCommissioning => {
                    w.u8(
                        Tag::Context(tag::REGULATORY_CONFIG),
                        self.regulatory.config as u8,
                    )?;
                }
                RecordKind::NetworkCommissioning => {
                    let n = &self.network;
                    w.bool(Tag::Context(tag::INTERFACE_ENABLED), n.interface_enabled)?;
                    w.start_array(Tag::Context(tag::WIFI_NETWORKS))?;
                    for net in n.wifi_networks() {
                        w.start_struct(Tag::Anonymous)?;
                        w.octets(Tag::Context(tag::SSID), net.ssid())?;
                        w.octets(Tag::Context(tag::CREDENTIALS), net.credentials())?;
                        w.end_container()?;
                    }
                    w.end_container()?;
                    if let Some(c) = n.connected() {
                        w.octets(Tag::Context(tag::CONNECTED), c)?;
                    }
                }
                RecordKind::CaseResumption => {
                    w.start_array(Tag::Context(tag::RESUMPTION))?;
                    for r in self.case_resumption.iter() {
                        w.start_struct(Tag::Anonymous)?;
                        w.octets(Tag::Context(tag::R_ID), &r.resumption_id)?;
                        w.octets(Tag::Context(tag::R_SECRET), &r.shared_secret[..])?;
                        w.u8(Tag::Context(tag::R_FABRIC), r.fabric.0)?;
                        w.u64(Tag::Context(tag::R_NODE), r.peer_node_id)?;
                        w.start_array(Tag::Context(tag::R_CATS))?;
                        for c in &r.peer_cats {
                            w.u32(Tag::Anonymous, *c)?;
                        }
                        w.end_container()?;
                        w.end_container()?;
                    }
                    w.end_container()?;
                }
                RecordKind::OnOff => {
                    w.bool(Tag::Context(tag::ON_OFF), self.light.on_off)?;
                    match self.light.start_up_on_off {
                        Some(v) => w.u8(Tag::Context(tag::START_UP_ON_OFF), v as u8)?,
                        None => w.null(Tag::Context(tag::START_UP_ON_OFF))?,
                    }
                }
                RecordKind::Groups => {
                    w.start_array(Tag::Context(tag::GROUPS))?;
                    for (fabric, group, e) in self.groups.iter() {
                        w.start_struct(Tag::Anonymous)?;
                        w.u8(Tag::Context(tag::GROUP_FABRIC), fabric.0)?;
                        w.u16(Tag::Context(tag::GROUP_ID), group)?;
                        w.utf8(Tag::Context(tag::GROUP_NAME), &e.name)?;
                        w.start_array(Tag::Context(tag::GROUP_ENDPOINTS))?;
                        for ep in &e.endpoints {
                            w.u16(Tag::Anonymous, *ep)?;
                        }
                        w.end_container()?;
                        w.end_container()?;
                    }
                    w.end_container()?;
                }
            }
            w.end_container()
        };
        // An unlimited writer fails only on unbalanced containers, which `body` balances.
        let _ = body(&mut w);
        Record { kind, bytes: buf }
    }

    /// Decodes one record into the state.
    pub(super) fn decode_record(
        &mut self,
        kind: RecordKind,
        bytes: &[u8],
    ) -> Result<(), LoadError> {
        let corrupt = |source| LoadError::Corrupt { kind, source };
        let c = TlvReader::new(bytes).read_struct().map_err(corrupt)?;
        let version = c.u8(tag::VERSION).map_err(corrupt)?;
        if version != VERSION {
            return Err(LoadError::UnsupportedVersion { kind, version });
        }
        match kind {
            RecordKind::Fabrics => {
                let mut table = super::FabricTable::new(self.fabrics.supported());
                for e in c.array(tag::FABRICS).map_err(corrupt)?.iter() {
                    let e = e.map_err(corrupt)?;
                    let Value::Struct(f) = e.value else {
                        return Err(LoadError::Invalid {
                            kind,
                            what: "fabric",
                        });
                    };
                    let f = decode_fabric(&f, kind)?;
                    table.insert_loaded(f).map_err(|_| LoadError::Invalid {
                        kind,
                        what: "fabric index",
                    })?;
                }
                self.fabrics = table;
            }
            RecordKind::Acl => {
                let mut acl = super::AccessControlList::new(*self.acl.limits());
                let mut entries: Vec<AclEntry> = Vec::new();
                for e in c.array(tag::ENTRIES).map_err(corrupt)?.iter() {
                    let Value::Struct(s) = e.map_err(corrupt)?.value else {
                        return Err(LoadError::Invalid {
                            kind,
                            what: "entry",
                        });
                    };
                    entries.push(AclEntry::decode(&s, None).map_err(acl_error(kind))?);
                }
                for e in entries {
                    acl.add_entry(e).map_err(|_| LoadError::Invalid {
                        kind,
                        what: "entry",
                    })?;
                }
                let mut by_fabric: Vec<AclExtension> = Vec::new();
                for e in c.array(tag::EXTENSIONS).map_err(corrupt)?.iter() {
                    let Value::Struct(s) = e.map_err(corrupt)?.value else {
                        return Err(LoadError::Invalid {
                            kind,
                            what: "extension",
                        });
                    };
                    by_fabric.push(AclExtension::decode(&s, None).map_err(acl_error(kind))?);
                }
                for x in by_fabric {
                    acl.replace_fabric_extensions(x.fabric_index, vec![x])
                        .map_err(|_| LoadError::Invalid {
                            kind,
                            what: "extension",
                        })?;
                }
                self.acl = acl;
            }
            RecordKind::BasicInformation => {
                let label = c.utf8(tag::NODE_LABEL).map_err(corrupt)?;
                let location = c.utf8(tag::LOCATION).map_err(corrupt)?;
                if label.len() > 32 || location.len() != 2 {
                    return Err(LoadError::Invalid {
                        kind,
                        what: "attribute length",
                    });
                }
                self.info.node_label = label.to_owned();
                self.info.location = location.to_owned();
            }
            RecordKind::GeneralCommissioning => {
                let v = c.u8(tag::REGULATORY_CONFIG).map_err(corrupt)?;
                self.regulatory.config =
                    RegulatoryLocation::from_u8(v).ok_or(LoadError::Invalid {
                        kind,
                        what: "regulatory config",
                    })?;
            }
            RecordKind::NetworkCommissioning => {
                let enabled = c.bool(tag::INTERFACE_ENABLED).map_err(corrupt)?;
                let mut wifi = Vec::new();
                for e in c.array(tag::WIFI_NETWORKS).map_err(corrupt)?.iter() {
                    let Value::Struct(n) = e.map_err(corrupt)?.value else {
                        return Err(LoadError::Invalid {
                            kind,
                            what: "Wi-Fi network",
                        });
                    };
                    let ssid = n.octets(tag::SSID).map_err(corrupt)?;
                    let credentials = n.octets(tag::CREDENTIALS).map_err(corrupt)?;
                    wifi.push(WifiNetwork::new(ssid, credentials).map_err(|_| {
                        LoadError::Invalid {
                            kind,
                            what: "Wi-Fi network",
                        }
                    })?);
                }
                let connected = c
                    .opt_octets(tag::CONNECTED)
                    .map_err(corrupt)?
                    .map(<[u8]>::to_vec);
                self.network = NetworkConfig::from_parts(enabled, wifi, connected)
                    .map_err(|what| LoadError::Invalid { kind, what })?;
            }
            RecordKind::CaseResumption => {
                let mut store = super::ResumptionStore::new(self.case_resumption.capacity());
                for e in c.array(tag::RESUMPTION).map_err(corrupt)?.iter() {
                    let Value::Struct(r) = e.map_err(corrupt)?.value else {
                        return Err(LoadError::Invalid {
                            kind,
                            what: "resumption record",
                        });
                    };
                    let secret: [u8; 32] = r.get(tag::R_SECRET).map_err(corrupt)?;
                    let mut peer_cats = Vec::new();
                    for x in r.array(tag::R_CATS).map_err(corrupt)?.iter() {
                        peer_cats.push(x.and_then(|x| x.value.decode::<u32>()).map_err(corrupt)?);
                    }
                    if peer_cats.len() > 3 {
                        return Err(LoadError::Invalid {
                            kind,
                            what: "CAT list",
                        });
                    }
                    store.insert(super::ResumptionRecord {
                        resumption_id: r.get(tag::R_ID).map_err(corrupt)?,
                        shared_secret: Zeroizing::new(secret),
                        fabric: FabricIndex(r.u8(tag::R_FABRIC).map_err(corrupt)?),
                        peer_node_id: r.u64(tag::R_NODE).map_err(corrupt)?,
                        peer_cats,
                    });
                }
                self.case_resumption = store;
            }
            RecordKind::OnOff => {
                self.light.on_off = c.get(tag::ON_OFF).map_err(corrupt)?;
                self.light.start_up_on_off = match c.nullable::<u8>(tag::START_UP_ON_OFF) {
                    Ok(None) => None,
                    Ok(Some(v)) => Some(StartUpOnOff::from_u8(v).ok_or(LoadError::Invalid {
                        kind,
                        what: "StartUpOnOff",
                    })?),
                    Err(source) => return Err(LoadError::Corrupt { kind, source }),
                };
            }
            RecordKind::Groups => {
                let mut table = super::GroupTable::default();
                let invalid = |what| LoadError::Invalid { kind, what };
                for e in c.array(tag::GROUPS).map_err(corrupt)?.iter() {
                    let Value::Struct(g) = e.map_err(corrupt)?.value else {
                        return Err(invalid("group"));
                    };
                    let fabric = FabricIndex(g.u8(tag::GROUP_FABRIC).map_err(corrupt)?);
                    let group = g.u16(tag::GROUP_ID).map_err(corrupt)?;
                    let name = g.utf8(tag::GROUP_NAME).map_err(corrupt)?;
                    if group == 0 || name.len() > super::groups::MAX_GROUP_NAME_LEN {
                        return Err(invalid("group"));
                    }
                    let mut entry = super::GroupEntry {
                        name: name.to_owned(),
                        endpoints: Default::default(),
                    };
                    for ep in g.array(tag::GROUP_ENDPOINTS).map_err(corrupt)?.iter() {
                        let ep = ep.and_then(|e| e.value.decode::<u16>()).map_err(corrupt)?;
                        entry.endpoints.insert(ep);
                    }
                    if entry.endpoints.is_empty() {
                        return Err(invalid("group"));
                    }
                    table.insert_loaded(fabric, group, entry);
                }
                // The key map is Group Key Management's and is not part of this record.
                table.key_map = core::mem::take(&mut self.groups.key_map);
                self.groups = table;
            }
        }
        Ok(())
    }
}
