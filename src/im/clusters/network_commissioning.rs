//! Network Commissioning cluster, 0x0031 (Matter 1.3 core §11.9), Ethernet feature only: the
//! host is already on an IP network, so the cluster reports that one network as connected and
//! offers no commands. With FeatureMap = Ethernet, commissioners skip the network-credentials
//! steps (the CHIP SDK's `kWiFiNetworkSetup`/`kThreadNetworkSetup` are not entered; §5.5 step 9).

use tracing::debug;

use super::id;
use crate::fabric::{cluster_id, Privilege};
use crate::im::model::{AttrError, Cluster, ReadContext, WriteContext};
use crate::im::Status;
use crate::tlv::{Tag, TlvWriter, Value};

/// FeatureMap bit of the Ethernet feature ("ET", §11.9.4): bit 2 (WiFi is bit 0, Thread bit 1).
pub const FEATURE_ETHERNET: u32 = 1 << 2;

/// The interface name reported when the shell finds none (the CHIP SDK's Linux default too).
pub const DEFAULT_INTERFACE: &str = "eth0";

/// NetworkID is an octet string of 1..=32 bytes (§11.9.5.1, NetworkInfoStruct).
const MAX_NETWORK_ID_LEN: usize = 32;

/// Attribute ids (§11.9.6).
pub mod attr {
    /// MaxNetworks.
    pub const MAX_NETWORKS: u32 = 0x0000;
    /// Networks.
    pub const NETWORKS: u32 = 0x0001;
    /// InterfaceEnabled.
    pub const INTERFACE_ENABLED: u32 = 0x0004;
    /// LastNetworkingStatus.
    pub const LAST_NETWORKING_STATUS: u32 = 0x0005;
    /// LastNetworkID.
    pub const LAST_NETWORK_ID: u32 = 0x0006;
    /// LastConnectErrorValue.
    pub const LAST_CONNECT_ERROR_VALUE: u32 = 0x0007;
}

const ATTRIBUTES: [u32; 6] = [
    attr::MAX_NETWORKS,
    attr::NETWORKS,
    attr::INTERFACE_ENABLED,
    attr::LAST_NETWORKING_STATUS,
    attr::LAST_NETWORK_ID,
    attr::LAST_CONNECT_ERROR_VALUE,
];

/// The Network Commissioning cluster for one Ethernet-like interface of the host.
/// InterfaceEnabled is [`crate::fabric::NetworkConfig`]'s (so the fail-safe guards it).
///
/// ScanMaxTimeSeconds, ConnectMaxTimeSeconds and the WiFi/Thread attributes and commands are
/// absent: their conformance is `WI | TH` (§11.9.6), which this instance does not claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkCommissioning {
    network_id: Vec<u8>,
}

impl NetworkCommissioning {
    /// The cluster for the interface `interface` (its name is the NetworkID, cut to 32 bytes;
    /// an empty name becomes [`DEFAULT_INTERFACE`] because NetworkID has at least one byte).
    pub fn ethernet(interface: &str) -> Self {
        let name = if interface.is_empty() {
            DEFAULT_INTERFACE
        } else {
            interface
        };
        let bytes = name.as_bytes();
        let network_id = bytes
            .get(..bytes.len().min(MAX_NETWORK_ID_LEN))
            .unwrap_or(bytes)
            .to_vec();
        Self { network_id }
    }

    /// The NetworkID reported in Networks.
    pub fn network_id(&self) -> &[u8] {
        &self.network_id
    }
}

/// Picks the interface a host reports: the first name in `names` that is not loopback ("lo"),
/// or [`DEFAULT_INTERFACE`]. The shell passes the host's interface names in; the core reads no
/// system state.
pub fn default_interface_name<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .find(|n| !n.is_empty() && *n != "lo")
        .unwrap_or(DEFAULT_INTERFACE)
        .to_owned()
}

impl Cluster for NetworkCommissioning {
    fn id(&self) -> u32 {
        id::NETWORK_COMMISSIONING
    }

    /// Revision 2 (Matter 1.3: SupportedWiFiBands and the Thread attributes added).
    fn revision(&self) -> u16 {
        2
    }

    fn feature_map(&self) -> u32 {
        FEATURE_ETHERNET
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    /// InterfaceEnabled is "RW VA"; every other attribute "R A" (§11.9.6).
    fn read_privilege(&self, attribute: u32) -> Privilege {
        if attribute == attr::INTERFACE_ENABLED {
            Privilege::View
        } else {
            Privilege::Administer
        }
    }

    fn is_writable(&self, attribute: u32) -> bool {
        attribute == attr::INTERFACE_ENABLED
    }

    fn write_privilege(&self, _attribute: u32) -> Privilege {
        Privilege::Administer
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let enabled = ctx.state.network.interface_enabled;
        match attribute {
            // One interface, one network.
            attr::MAX_NETWORKS => w.u8(tag, 1)?,
            attr::NETWORKS => {
                w.start_array(tag)?;
                // NetworkInfoStruct: 0 NetworkID, 1 Connected (§11.9.5.1).
                w.start_struct(Tag::Anonymous)?;
                w.octets(Tag::Context(0), &self.network_id)?;
                w.bool(Tag::Context(1), enabled)?;
                w.end_container()?;
                w.end_container()?;
            }
            attr::INTERFACE_ENABLED => w.bool(tag, enabled)?,
            // No ConnectNetwork or ScanNetworks ever ran: the spec says these are null then
            // (§11.9.6.6-8), as the CHIP SDK reports for its Ethernet driver.
            attr::LAST_NETWORKING_STATUS
            | attr::LAST_NETWORK_ID
            | attr::LAST_CONNECT_ERROR_VALUE => w.null(tag)?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    /// InterfaceEnabled (§11.9.6.5). The cluster does not bring the host's interface up or
    /// down (a Linux host's links belong to its administrator); the value is kept and
    /// reported, and Networks shows the network as not connected while it is false.
    fn write(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        if attribute != attr::INTERFACE_ENABLED {
            return Err(Status::UNSUPPORTED_WRITE);
        }
        let Value::Bool(on) = *value else {
            return Err(Status::INVALID_DATA_TYPE);
        };
        debug!(
            enabled = on,
            "network commissioning: InterfaceEnabled written"
        );
        ctx.state.network.interface_enabled = on;
        if let Some(c) = ctx.state.fail_safe.context_mut() {
            c.network_changed = true;
        }
        ctx.state
            .mark_changed(0, cluster_id::NETWORK_COMMISSIONING, Some(attr::NETWORKS));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::{NodeState, Subject};
    use crate::im::model::{DataModel, ReadScope};
    use crate::im::path::ConcreteAttributePath;
    use crate::time::Instant;
    use crate::tlv::{TlvReader, TlvValue};

    fn model_with(c: NetworkCommissioning) -> DataModel {
        let mut m = DataModel::new();
        m.add_endpoint(0, vec![crate::im::ROOT_NODE_DEVICE_TYPE])
            .add_cluster(Box::new(c), 7);
        m
    }

    fn p(attribute: u32) -> ConcreteAttributePath {
        ConcreteAttributePath {
            endpoint: 0,
            cluster: id::NETWORK_COMMISSIONING,
            attribute,
        }
    }

    fn raw(m: &DataModel, s: &NodeState, attribute: u32) -> Result<Vec<u8>, AttrError> {
        let scope = ReadScope {
            state: s,
            subject: Subject::pase(None),
            fabric_filtered: false,
            now: Instant::ZERO,
        };
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        m.read_attribute(&scope, p(attribute), &mut w, Tag::Anonymous)?;
        Ok(buf)
    }

    fn read(m: &DataModel, s: &NodeState, attribute: u32) -> Result<TlvValue, AttrError> {
        raw(m, s, attribute).map(|b| TlvValue::decode(&b).expect("own encoding").1)
    }

    #[test]
    fn reports_one_connected_ethernet_network() {
        let m = model_with(NetworkCommissioning::ethernet("enp3s0"));
        let s = NodeState::default();
        // Golden: [ { 0: "enp3s0" (octets), 1: true } ]
        assert_eq!(
            raw(&m, &s, attr::NETWORKS).unwrap(),
            [
                0x16, 0x15, 0x30, 0x00, 0x06, b'e', b'n', b'p', b'3', b's', b'0', 0x29, 0x01, 0x18,
                0x18
            ]
        );
        assert_eq!(read(&m, &s, attr::MAX_NETWORKS), Ok(TlvValue::UInt(1)));
        assert_eq!(
            read(&m, &s, attr::INTERFACE_ENABLED),
            Ok(TlvValue::Bool(true))
        );
        for a in [
            attr::LAST_NETWORKING_STATUS,
            attr::LAST_NETWORK_ID,
            attr::LAST_CONNECT_ERROR_VALUE,
        ] {
            assert_eq!(read(&m, &s, a), Ok(TlvValue::Null), "attribute {a}");
        }
        assert_eq!(
            read(&m, &s, 0xFFFC),
            Ok(TlvValue::UInt(4)),
            "FeatureMap = ET"
        );
        assert_eq!(read(&m, &s, 0xFFFD), Ok(TlvValue::UInt(2)));
        // No WiFi/Thread attributes, no commands.
        assert_eq!(
            read(&m, &s, 0x0002),
            Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE))
        );
        assert_eq!(read(&m, &s, 0xFFF9), Ok(TlvValue::Array(vec![])));
        // Administer to read the network list, View for InterfaceEnabled.
        let c = NetworkCommissioning::ethernet("x");
        assert_eq!(c.read_privilege(attr::NETWORKS), Privilege::Administer);
        assert_eq!(c.read_privilege(attr::INTERFACE_ENABLED), Privilege::View);
    }

    #[test]
    fn interface_enabled_write_is_state_and_guarded_by_the_fail_safe() {
        let mut m = model_with(NetworkCommissioning::ethernet("eth1"));
        let mut s = NodeState::default();
        let write = |m: &mut DataModel, s: &mut NodeState, a: u32, v: &Value<'_>| {
            let mut ctx = WriteContext {
                endpoint: 0,
                state: s,
                subject: Subject::pase(None),
                now: Instant::ZERO,
                timed: false,
            };
            m.write_attribute(&mut ctx, p(a), None, v)
        };
        assert_eq!(
            write(&mut m, &mut s, attr::INTERFACE_ENABLED, &Value::UInt(1)),
            Status::INVALID_DATA_TYPE
        );
        assert_eq!(
            write(&mut m, &mut s, attr::MAX_NETWORKS, &Value::UInt(2)),
            Status::UNSUPPORTED_WRITE
        );
        s.arm_fail_safe(Instant::ZERO, None, false, 60, 0).unwrap();
        assert_eq!(
            write(&mut m, &mut s, attr::INTERFACE_ENABLED, &Value::Bool(false)),
            Status::SUCCESS
        );
        assert_eq!(
            read(&m, &s, attr::INTERFACE_ENABLED),
            Ok(TlvValue::Bool(false))
        );
        let TlvValue::Array(entries) = read(&m, &s, attr::NETWORKS).unwrap() else {
            panic!("not an array")
        };
        let (_, TlvValue::Struct(fields)) = &entries[0] else {
            panic!("not a struct")
        };
        assert_eq!(fields[1], (Tag::Context(1), TlvValue::Bool(false)));
        // The fail-safe expires: InterfaceEnabled comes back.
        assert!(s.handle_timeout(Instant::from_millis(60_000)));
        assert_eq!(
            read(&m, &s, attr::INTERFACE_ENABLED),
            Ok(TlvValue::Bool(true))
        );
    }

    #[test]
    fn network_id_rules() {
        assert_eq!(NetworkCommissioning::ethernet("").network_id(), b"eth0");
        let long = "x".repeat(40);
        assert_eq!(NetworkCommissioning::ethernet(&long).network_id().len(), 32);
        assert_eq!(default_interface_name(["lo", "wlp2s0", "eth0"]), "wlp2s0");
        assert_eq!(default_interface_name(["lo"]), "eth0");
        assert_eq!(default_interface_name([]), "eth0");
        let m = model_with(NetworkCommissioning::ethernet("br0"));
        let b = raw(&m, &NodeState::default(), attr::NETWORKS).unwrap();
        assert!(TlvReader::new(&b).read_element().is_ok());
    }
}
