//! Network Commissioning cluster, 0x0031 (Matter 1.3 core §11.9), Ethernet feature only: the
//! host is already on an IP network, so the cluster reports that one network as connected and
//! offers no commands. With FeatureMap = Ethernet, commissioners skip the network-credentials
//! steps (the CHIP SDK's `kWiFiNetworkSetup`/`kThreadNetworkSetup` are not entered; §5.5 step 9).

use tracing::debug;

use super::id;
use crate::im::model::{AttrError, Cluster, ReadContext};
use crate::im::Status;
use crate::tlv::{Tag, TlvWriter, Value};

/// FeatureMap bit of the Ethernet feature ("ET", §11.9.4): bit 2 (WiFi is bit 0, Thread bit 1).
pub const FEATURE_ETHERNET: u32 = 1 << 2;

/// The interface name reported when the shell finds none (the CHIP SDK's Linux default too).
pub const DEFAULT_INTERFACE: &str = "eth0";

/// NetworkID is an octet string of 1..=32 bytes (§11.9.5.1, NetworkInfoStruct).
const MAX_NETWORK_ID_LEN: usize = 32;

mod attr {
    pub(super) const MAX_NETWORKS: u32 = 0x0000;
    pub(super) const NETWORKS: u32 = 0x0001;
    pub(super) const INTERFACE_ENABLED: u32 = 0x0004;
    pub(super) const LAST_NETWORKING_STATUS: u32 = 0x0005;
    pub(super) const LAST_NETWORK_ID: u32 = 0x0006;
    pub(super) const LAST_CONNECT_ERROR_VALUE: u32 = 0x0007;
}

/// The Network Commissioning cluster for one Ethernet-like interface of the host.
///
/// ScanMaxTimeSeconds, ConnectMaxTimeSeconds and the WiFi/Thread attributes and commands are
/// absent: their conformance is `WI | TH` (§11.9.6), which this instance does not claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkCommissioning {
    network_id: Vec<u8>,
    interface_enabled: bool,
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
        Self {
            network_id,
            interface_enabled: true,
        }
    }

    /// The NetworkID reported in Networks.
    pub fn network_id(&self) -> &[u8] {
        &self.network_id
    }

    /// InterfaceEnabled as last written. The cluster does not bring the host's interface up or
    /// down: the shell may act on this value (a Linux host's links belong to its administrator).
    pub fn interface_enabled(&self) -> bool {
        self.interface_enabled
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
        &[
            attr::MAX_NETWORKS,
            attr::NETWORKS,
            attr::INTERFACE_ENABLED,
            attr::LAST_NETWORKING_STATUS,
            attr::LAST_NETWORK_ID,
            attr::LAST_CONNECT_ERROR_VALUE,
        ]
    }

    fn read(
        &self,
        _ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        match attribute {
            // One interface, one network.
            attr::MAX_NETWORKS => w.u8(tag, 1)?,
            attr::NETWORKS => {
                w.start_array(tag)?;
                // NetworkInfoStruct: 0 NetworkID, 1 Connected (§11.9.5.1).
                w.start_struct(Tag::Anonymous)?;
                w.octets(Tag::Context(0), &self.network_id)?;
                w.bool(Tag::Context(1), self.interface_enabled)?;
                w.end_container()?;
                w.end_container()?;
            }
            attr::INTERFACE_ENABLED => w.bool(tag, self.interface_enabled)?,
            // No ConnectNetwork or ScanNetworks ever ran: the spec says these are null then
            // (§11.9.6.6-8), as the CHIP SDK reports for its Ethernet driver.
            attr::LAST_NETWORKING_STATUS
            | attr::LAST_NETWORK_ID
            | attr::LAST_CONNECT_ERROR_VALUE => w.null(tag)?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    /// InterfaceEnabled is writable (§11.9.6.5).
    fn write(&mut self, attribute: u32, value: &Value<'_>) -> Result<(), Status> {
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
        self.interface_enabled = on;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im::model::DataModel;
    use crate::im::path::ConcreteAttributePath;
    use crate::tlv::{TlvReader, TlvValue};

    fn model_with(c: NetworkCommissioning) -> DataModel {
        let mut m = DataModel::new();
        m.add_endpoint(0, vec![crate::im::ROOT_NODE_DEVICE_TYPE])
            .add_cluster(Box::new(c), 7);
        m
    }

    fn read(m: &DataModel, attribute: u32) -> Result<TlvValue, AttrError> {
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        m.read_attribute(
            ConcreteAttributePath {
                endpoint: 0,
                cluster: id::NETWORK_COMMISSIONING,
                attribute,
            },
            &mut w,
            Tag::Anonymous,
        )?;
        Ok(TlvValue::decode(&buf).expect("own encoding").1)
    }

    #[test]
    fn reports_one_connected_ethernet_network() {
        let m = model_with(NetworkCommissioning::ethernet("enp3s0"));
        // Golden: [ { 0: "enp3s0" (octets), 1: true } ]
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        m.read_attribute(
            ConcreteAttributePath {
                endpoint: 0,
                cluster: id::NETWORK_COMMISSIONING,
                attribute: attr::NETWORKS,
            },
            &mut w,
            Tag::Anonymous,
        )
        .unwrap();
        assert_eq!(
            buf,
            [
                0x16, 0x15, 0x30, 0x00, 0x06, b'e', b'n', b'p', b'3', b's', b'0', 0x29, 0x01, 0x18,
                0x18
            ]
        );
        assert_eq!(read(&m, attr::MAX_NETWORKS), Ok(TlvValue::UInt(1)));
        assert_eq!(read(&m, attr::INTERFACE_ENABLED), Ok(TlvValue::Bool(true)));
        for a in [
            attr::LAST_NETWORKING_STATUS,
            attr::LAST_NETWORK_ID,
            attr::LAST_CONNECT_ERROR_VALUE,
        ] {
            assert_eq!(read(&m, a), Ok(TlvValue::Null), "attribute {a}");
        }
        assert_eq!(read(&m, 0xFFFC), Ok(TlvValue::UInt(4)), "FeatureMap = ET");
        assert_eq!(read(&m, 0xFFFD), Ok(TlvValue::UInt(2)));
        // No WiFi/Thread attributes, no commands.
        assert_eq!(
            read(&m, 0x0002),
            Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE))
        );
        assert_eq!(read(&m, 0xFFF9), Ok(TlvValue::Array(vec![])));
    }

    #[test]
    fn interface_enabled_write() {
        let mut m = model_with(NetworkCommissioning::ethernet("eth1"));
        let p = |attribute| ConcreteAttributePath {
            endpoint: 0,
            cluster: id::NETWORK_COMMISSIONING,
            attribute,
        };
        assert_eq!(
            m.write_attribute(p(attr::INTERFACE_ENABLED), None, &Value::UInt(1)),
            Status::INVALID_DATA_TYPE
        );
        assert_eq!(
            m.write_attribute(p(attr::MAX_NETWORKS), None, &Value::UInt(2)),
            Status::UNSUPPORTED_WRITE
        );
        assert_eq!(
            m.write_attribute(p(attr::INTERFACE_ENABLED), None, &Value::Bool(false)),
            Status::SUCCESS
        );
        assert_eq!(read(&m, attr::INTERFACE_ENABLED), Ok(TlvValue::Bool(false)));
        let networks = read(&m, attr::NETWORKS).unwrap();
        let TlvValue::Array(entries) = networks else {
            panic!("not an array")
        };
        let (_, TlvValue::Struct(fields)) = &entries[0] else {
            panic!("not a struct")
        };
        assert_eq!(fields[1], (Tag::Context(1), TlvValue::Bool(false)));
    }

    #[test]
    fn network_id_rules() {
        assert_eq!(NetworkCommissioning::ethernet("").network_id(), b"eth0");
        let long = "x".repeat(40);
        assert_eq!(NetworkCommissioning::ethernet(&long).network_id().len(), 32);
        assert_eq!(default_interface_name(["lo", "wlp2s0", "eth0"]), "wlp2s0");
        assert_eq!(default_interface_name(["lo"]), "eth0");
        assert_eq!(default_interface_name([]), "eth0");
        // The reader accepts what we write (NetworkID stays an octet string).
        let m = model_with(NetworkCommissioning::ethernet("br0"));
        let v = read(&m, attr::NETWORKS).unwrap();
        let bytes = v.to_bytes(Tag::Anonymous);
        assert!(TlvReader::new(&bytes).read_element().is_ok());
    }
}
