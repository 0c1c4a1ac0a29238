//! Network Commissioning cluster, 0x0031 (Matter 1.3 core §11.9), for the one network interface
//! this host reports, in one of two forms ([`NetworkFeature`]):
//!
//! - **Ethernet** (FeatureMap ET): the host is on its network; the cluster reports that one
//!   network as connected and has no commands. Commissioners skip network setup for it — but
//!   only on-network: the CHIP SDK's AutoCommissioner, with the PASE session over BLE, requires
//!   Wi-Fi or Thread setup after AddNOC and stops with "Required network information not
//!   provided" for an Ethernet-only device (`GetNextCommissioningStageNetworkSetup`), and phones
//!   always provision Wi-Fi or Thread over BLE.
//! - **Wi-Fi** (FeatureMap WI): the full Wi-Fi server — Networks, ScanNetworks,
//!   AddOrUpdateWiFiNetwork, RemoveNetwork, ConnectNetwork, ReorderNetwork — over a
//!   [`WifiBackend`] that decides what scanning and connecting mean. The one backend today is
//!   [`WifiBackend::HostManaged`]: the host's own network configuration is used as it is, the
//!   credentials a commissioner sends are stored (and persisted) but not applied to the host, and
//!   ConnectNetwork succeeds when the host's interface is up. This lets a BLE commissioner (CHIP
//!   controller, phone) finish commissioning on a host that is already on the network; the
//!   matter.js examples do the same with their "dummy" Wi-Fi server.
//!
//! The list rules live with the state ([`crate::fabric::network`]); the fail-safe guards and
//! rolls back the configuration ([`crate::fabric::NodeState`]); this file decodes the commands,
//! checks the fail-safe and encodes the responses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::{debug, info};

use super::id;
use crate::fabric::network::is_valid_network_id;
use crate::fabric::{cluster_id, NetworkingStatus, Privilege, WifiNetwork};
use crate::im::model::{
    AttrError, Cluster, InvokeContext, InvokeResult, ReadContext, WriteContext,
};
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvError, TlvWriter, Value};

/// FeatureMap bit of the Wi-Fi feature ("WI", §11.9.4).
pub const FEATURE_WIFI: u32 = 1 << 0;
/// FeatureMap bit of the Ethernet feature ("ET", §11.9.4): bit 2 (Thread is bit 1).
pub const FEATURE_ETHERNET: u32 = 1 << 2;

/// The interface name reported when the shell finds none (the CHIP SDK's Linux default too).
pub const DEFAULT_INTERFACE: &str = "eth0";

/// MaxNetworks of a Wi-Fi instance by default. More than one so that a second commissioning
/// over BLE naming another SSID (another administrator's phone) is not refused with
/// BoundsExceeded; the host uses none of them anyway.
pub const DEFAULT_MAX_WIFI_NETWORKS: u8 = 4;

/// ScanMaxTimeSeconds (§11.9.6.3): the host-managed backend answers at once; this is the CHIP
/// SDK Linux driver's value, a bound a real scanning backend also meets.
pub const SCAN_MAX_TIME_SECONDS: u8 = 10;

/// ConnectMaxTimeSeconds (§11.9.6.4): the CHIP SDK Linux driver's value. Commissioners size
/// their ConnectNetwork timeout (and the fail-safe before it) from this.
pub const CONNECT_MAX_TIME_SECONDS: u8 = 20;

/// Attribute ids (§11.9.6).
pub mod attr {
    /// MaxNetworks.
    pub const MAX_NETWORKS: u32 = 0x0000;
    /// Networks.
    pub const NETWORKS: u32 = 0x0001;
    /// ScanMaxTimeSeconds (WI | TH).
    pub const SCAN_MAX_TIME_SECONDS: u32 = 0x0002;
    /// ConnectMaxTimeSeconds (WI | TH).
    pub const CONNECT_MAX_TIME_SECONDS: u32 = 0x0003;
    /// InterfaceEnabled.
    pub const INTERFACE_ENABLED: u32 = 0x0004;
    /// LastNetworkingStatus.
    pub const LAST_NETWORKING_STATUS: u32 = 0x0005;
    /// LastNetworkID.
    pub const LAST_NETWORK_ID: u32 = 0x0006;
    /// LastConnectErrorValue.
    pub const LAST_CONNECT_ERROR_VALUE: u32 = 0x0007;
    /// SupportedWiFiBands (WI).
    pub const SUPPORTED_WIFI_BANDS: u32 = 0x0008;
}

/// Command ids (§11.9.7).
pub mod cmd {
    /// ScanNetworks.
    pub const SCAN_NETWORKS: u32 = 0x00;
    /// ScanNetworksResponse.
    pub const SCAN_NETWORKS_RESPONSE: u32 = 0x01;
    /// AddOrUpdateWiFiNetwork.
    pub const ADD_OR_UPDATE_WIFI_NETWORK: u32 = 0x02;
    /// RemoveNetwork.
    pub const REMOVE_NETWORK: u32 = 0x04;
    /// NetworkConfigResponse.
    pub const NETWORK_CONFIG_RESPONSE: u32 = 0x05;
    /// ConnectNetwork.
    pub const CONNECT_NETWORK: u32 = 0x06;
    /// ConnectNetworkResponse.
    pub const CONNECT_NETWORK_RESPONSE: u32 = 0x07;
    /// ReorderNetwork.
    pub const REORDER_NETWORK: u32 = 0x08;
}

/// ErrorValues of a failed ConnectNetwork that is no 802.11 association failure: the
/// "implementation-dependent value" of §11.9.7.9.3.
pub mod connect_error {
    /// The host's interface is not up.
    pub const HOST_LINK_DOWN: i32 = -1;
    /// InterfaceEnabled is false.
    pub const INTERFACE_DISABLED: i32 = -2;
}

const ETHERNET_ATTRIBUTES: [u32; 6] = [
    attr::MAX_NETWORKS,
    attr::NETWORKS,
    attr::INTERFACE_ENABLED,
    attr::LAST_NETWORKING_STATUS,
    attr::LAST_NETWORK_ID,
    attr::LAST_CONNECT_ERROR_VALUE,
];
const WIFI_ATTRIBUTES: [u32; 9] = [
    attr::MAX_NETWORKS,
    attr::NETWORKS,
    attr::SCAN_MAX_TIME_SECONDS,
    attr::CONNECT_MAX_TIME_SECONDS,
    attr::INTERFACE_ENABLED,
    attr::LAST_NETWORKING_STATUS,
    attr::LAST_NETWORK_ID,
    attr::LAST_CONNECT_ERROR_VALUE,
    attr::SUPPORTED_WIFI_BANDS,
];
const WIFI_ACCEPTED: [u32; 5] = [
    cmd::SCAN_NETWORKS,
    cmd::ADD_OR_UPDATE_WIFI_NETWORK,
    cmd::REMOVE_NETWORK,
    cmd::CONNECT_NETWORK,
    cmd::REORDER_NETWORK,
];
const WIFI_GENERATED: [u32; 3] = [
    cmd::SCAN_NETWORKS_RESPONSE,
    cmd::NETWORK_CONFIG_RESPONSE,
    cmd::CONNECT_NETWORK_RESPONSE,
];

/// WiFiBandEnum (§11.9.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum WifiBand {
    /// 2.4 GHz.
    Band2G4 = 0,
    /// 3.65 GHz.
    Band3G65 = 1,
    /// 5 GHz.
    Band5G = 2,
    /// 6 GHz.
    Band6G = 3,
    /// 60 GHz.
    Band60G = 4,
    /// Sub-1 GHz.
    Band1G = 5,
}

/// The host's link, as the shell sees it: whether the reported interface is up. The shell
/// sets it (at start and whenever it looks again); the cluster only reads it, so the core
/// still reads no system state itself.
#[derive(Clone, Debug, Default)]
pub struct HostLink(Arc<AtomicBool>);

impl HostLink {
    /// A link that is up or not.
    pub fn new(up: bool) -> Self {
        Self(Arc::new(AtomicBool::new(up)))
    }

    /// Records whether the interface is up (shared with every clone).
    pub fn set_up(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }

    /// Whether the interface is up.
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What scanning and connecting mean for a Wi-Fi instance.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WifiBackend {
    /// The host's own network configuration is used as it is: AddOrUpdateWiFiNetwork stores the
    /// credentials without applying them to the host, ScanNetworks reports no networks (the host
    /// is not scanned), ConnectNetwork succeeds when the link is up.
    HostManaged(HostLink),
}

/// The Wi-Fi instance's fixed properties and backend.
#[derive(Clone, Debug)]
pub struct WifiSettings {
    /// MaxNetworks (at least 1).
    pub max_networks: u8,
    /// SupportedWiFiBands (at least one).
    pub bands: Vec<WifiBand>,
    /// The backend.
    pub backend: WifiBackend,
}

impl WifiSettings {
    /// The host-managed backend over `link`, [`DEFAULT_MAX_WIFI_NETWORKS`], and 2.4 and 5 GHz:
    /// the host's radio is not examined, and announcing both keeps commissioners from warning
    /// that the phone's 5 GHz network cannot be joined (the credentials are not used anyway).
    pub fn host_managed(link: HostLink) -> Self {
        Self {
            max_networks: DEFAULT_MAX_WIFI_NETWORKS,
            bands: vec![WifiBand::Band2G4, WifiBand::Band5G],
            backend: WifiBackend::HostManaged(link),
        }
    }
}

/// Which feature the cluster instance has (the node's configuration).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum NetworkFeature {
    /// Ethernet: nothing to configure.
    #[default]
    Ethernet,
    /// Wi-Fi, with its settings.
    WiFi(WifiSettings),
}

/// The Network Commissioning cluster for one interface of the host. InterfaceEnabled and the
/// Wi-Fi network list are [`crate::fabric::NetworkConfig`]'s (so the fail-safe guards them), the
/// Last* attributes [`crate::fabric::NetworkStatus`]'s.
#[derive(Clone, Debug)]
pub struct NetworkCommissioning {
    /// The Ethernet NetworkID: the interface name.
    network_id: Vec<u8>,
    wifi: Option<WifiSettings>,
}

impl NetworkCommissioning {
    /// The cluster for `feature` on the interface `interface`.
    pub fn new(interface: &str, feature: &NetworkFeature) -> Self {
        let mut c = Self::ethernet(interface);
        if let NetworkFeature::WiFi(s) = feature {
            let mut s = s.clone();
            // MaxNetworks and SupportedWiFiBands have a minimum of 1 (§11.9.6.1, §11.9.6.9).
            s.max_networks = s.max_networks.max(1);
            if s.bands.is_empty() {
                s.bands.push(WifiBand::Band2G4);
            }
            c.wifi = Some(s);
        }
        c
    }

    /// The Ethernet cluster for the interface `interface` (its name is the NetworkID, cut to 32
    /// bytes; an empty name becomes [`DEFAULT_INTERFACE`] because NetworkID has at least one
    /// byte).
    pub fn ethernet(interface: &str) -> Self {
        let name = if interface.is_empty() {
            DEFAULT_INTERFACE
        } else {
            interface
        };
        let bytes = name.as_bytes();
        let network_id = bytes
            .get(..bytes.len().min(crate::fabric::network::MAX_NETWORK_ID_LEN))
            .unwrap_or(bytes)
            .to_vec();
        Self {
            network_id,
            wifi: None,
        }
    }

    /// The Wi-Fi cluster with `settings`, for the interface `interface`.
    pub fn wifi(interface: &str, settings: WifiSettings) -> Self {
        Self::new(interface, &NetworkFeature::WiFi(settings))
    }

    /// The NetworkID reported in Networks by an Ethernet instance.
    pub fn network_id(&self) -> &[u8] {
        &self.network_id
    }

    fn host_link_up(&self) -> bool {
        match self.wifi.as_ref().map(|s| &s.backend) {
            Some(WifiBackend::HostManaged(link)) => link.is_up(),
            None => true,
        }
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
        if self.wifi.is_some() {
            FEATURE_WIFI
        } else {
            FEATURE_ETHERNET
        }
    }

    fn attributes(&self) -> &[u32] {
        if self.wifi.is_some() {
            &WIFI_ATTRIBUTES
        } else {
            &ETHERNET_ATTRIBUTES
        }
    }

    fn accepted_commands(&self) -> &[u32] {
        if self.wifi.is_some() {
            &WIFI_ACCEPTED
        } else {
            &[]
        }
    }

    fn generated_commands(&self) -> &[u32] {
        if self.wifi.is_some() {
            &WIFI_GENERATED
        } else {
            &[]
        }
    }

    /// "R V": InterfaceEnabled, ScanMaxTimeSeconds, ConnectMaxTimeSeconds, SupportedWiFiBands;
    /// every other attribute "R A" (§11.9.6).
    fn read_privilege(&self, attribute: u32) -> Privilege {
        match attribute {
            attr::INTERFACE_ENABLED
            | attr::SCAN_MAX_TIME_SECONDS
            | attr::CONNECT_MAX_TIME_SECONDS
            | attr::SUPPORTED_WIFI_BANDS => Privilege::View,
            _ => Privilege::Administer,
        }
    }

    fn is_writable(&self, attribute: u32) -> bool {
        attribute == attr::INTERFACE_ENABLED
    }

    fn write_privilege(&self, _attribute: u32) -> Privilege {
        Privilege::Administer
    }

    /// Every command needs Administer (§11.9.7: access "A").
    fn invoke_privilege(&self, _command: u32) -> Privilege {
        Privilege::Administer
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let net = &ctx.state.network;
        let enabled = net.interface_enabled;
        let Some(wifi) = &self.wifi else {
            return self.read_ethernet(enabled, attribute, w, tag);
        };
        // §11.9.6.6-8: null when no attempt was made or no network is configured.
        let status = (!net.wifi_networks().is_empty()).then_some(&ctx.state.network_status);
        match attribute {
            attr::MAX_NETWORKS => w.u8(tag, wifi.max_networks)?,
            attr::NETWORKS => {
                let link = enabled && self.host_link_up();
                w.start_array(tag)?;
                for n in net.wifi_networks() {
                    w.start_struct(Tag::Anonymous)?;
                    w.octets(Tag::Context(0), n.ssid())?;
                    w.bool(Tag::Context(1), link && net.connected() == Some(n.ssid()))?;
                    w.end_container()?;
                }
                w.end_container()?;
            }
            attr::SCAN_MAX_TIME_SECONDS => w.u8(tag, SCAN_MAX_TIME_SECONDS)?,
            attr::CONNECT_MAX_TIME_SECONDS => w.u8(tag, CONNECT_MAX_TIME_SECONDS)?,
            attr::INTERFACE_ENABLED => w.bool(tag, enabled)?,
            attr::LAST_NETWORKING_STATUS => match status.and_then(|s| s.last_networking_status) {
                Some(v) => w.u8(tag, v as u8)?,
                None => w.null(tag)?,
            },
            attr::LAST_NETWORK_ID => match status.and_then(|s| s.last_network_id.as_deref()) {
                Some(v) => w.octets(tag, v)?,
                None => w.null(tag)?,
            },
            attr::LAST_CONNECT_ERROR_VALUE => {
                match status.and_then(|s| s.last_connect_error_value) {
                    Some(v) => w.i32(tag, v)?,
                    None => w.null(tag)?,
                }
            }
            attr::SUPPORTED_WIFI_BANDS => {
                w.start_array(tag)?;
                for b in &wifi.bands {
                    w.u8(Tag::Anonymous, *b as u8)?;
                }
                w.end_container()?;
            }
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
        note_config_change(ctx.state, &[attr::NETWORKS, attr::INTERFACE_ENABLED]);
        Ok(())
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let Some(wifi) = self.wifi.clone() else {
            return InvokeResult::Status(Status::UNSUPPORTED_COMMAND);
        };
        let r = match command {
            cmd::SCAN_NETWORKS => scan_networks(ctx, fields),
            cmd::ADD_OR_UPDATE_WIFI_NETWORK => add_or_update(ctx, &wifi, fields),
            cmd::REMOVE_NETWORK => remove_network(ctx, fields),
            cmd::CONNECT_NETWORK => self.connect_network(ctx, fields),
            cmd::REORDER_NETWORK => reorder_network(ctx, fields),
            _ => Ok(InvokeResult::Status(Status::UNSUPPORTED_COMMAND)),
        };
        r.unwrap_or_else(|e| e)
    }
}

impl NetworkCommissioning {
    fn read_ethernet(
        &self,
        enabled: bool,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        match attribute {
            // One interface, one network.
            attr::MAX_NETWORKS => w.u8(tag, 1)?,
            attr::NETWORKS => {
                w.start_array(tag)?;
                // NetworkInfoStruct: 0 NetworkID, 1 Connected (§11.9.5.5).
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

    /// ConnectNetwork (§11.9.7.8). With the host-managed backend the outcome is the host's
    /// link: Success when the interface is up (and InterfaceEnabled), OtherConnectionFailure
    /// otherwise. The precedence order is not changed.
    fn connect_network(
        &self,
        ctx: &mut InvokeContext<'_>,
        f: Option<Container<'_>>,
    ) -> Result<InvokeResult, InvokeResult> {
        let f = f.ok_or(invalid_command())?;
        let id: &[u8] = f.get(0).map_err(invalid)?;
        let breadcrumb = f.opt_u64(1).map_err(invalid)?;
        require_fail_safe(ctx)?;
        let st = &mut *ctx.state;
        let (status, error, debug_text) = if !is_valid_network_id(id) {
            (
                NetworkingStatus::OutOfRange,
                None,
                "NetworkID must be 1 to 32 octets",
            )
        } else if st.network.position(id).is_none() {
            (NetworkingStatus::NetworkIdNotFound, None, "")
        } else if !st.network.interface_enabled {
            (
                NetworkingStatus::OtherConnectionFailure,
                Some(connect_error::INTERFACE_DISABLED),
                "InterfaceEnabled is false",
            )
        } else if !self.host_link_up() {
            (
                NetworkingStatus::OtherConnectionFailure,
                Some(connect_error::HOST_LINK_DOWN),
                "the host's network interface is not up",
            )
        } else {
            (NetworkingStatus::Success, None, "")
        };
        if st.network.position(id).is_some() {
            st.network
                .set_connect_result(id, status == NetworkingStatus::Success);
            note_config_change(st, &[attr::NETWORKS]);
        }
        debug!(?status, "ConnectNetwork");
        if status == NetworkingStatus::Success {
            info!(
                "ConnectNetwork: reporting the Wi-Fi network as joined because this host's \
                 interface is up; this host's network configuration is not changed"
            );
            apply_breadcrumb(st, breadcrumb);
        }
        // §11.9.7.9: Last* are set before the response is generated.
        let valid_id = is_valid_network_id(id).then(|| id.to_vec());
        set_last(st, status, valid_id, Some(error));
        Ok(connect_response(status, debug_text, error))
    }
}

/// ScanNetworks (§11.9.7.1). The host-managed backend does not scan the host's radio: it
/// reports Success with an empty result list, which §11.9.7.2.3 allows for both kinds of scan
/// ("the list may be empty if none were found ... or if directed scanning had been used and the
/// desired SSID was not found"). The CHIP SDK's AutoCommissioner scans only when asked to and
/// does not need results to continue.
fn scan_networks(
    ctx: &mut InvokeContext<'_>,
    f: Option<Container<'_>>,
) -> Result<InvokeResult, InvokeResult> {
    // All fields are optional: no fields at all is an undirected scan.
    let (ssid, breadcrumb) = match f {
        Some(f) => (
            f.opt_nullable::<&[u8]>(0).map_err(invalid)?.flatten(),
            f.opt_u64(1).map_err(invalid)?,
        ),
        None => (None, None),
    };
    // The spec requires an armed fail-safe (§11.9.7.1); the CHIP SDK does not check it for
    // scans. Following the spec is safe: commissioners scan after ArmFailSafe.
    require_fail_safe(ctx)?;
    let st = &mut *ctx.state;
    // An empty SSID is taken as null (undirected), as the CHIP SDK does; longer than 32 octets
    // is the response's OutOfRange ("network identifier was invalid", §11.9.7.2.1).
    let status = match ssid {
        Some(s) if s.len() > crate::fabric::network::MAX_NETWORK_ID_LEN => {
            NetworkingStatus::OutOfRange
        }
        _ => NetworkingStatus::Success,
    };
    debug!(
        directed = ssid.is_some_and(|s| !s.is_empty()),
        ?status,
        "ScanNetworks (host-managed: the host is not scanned)"
    );
    st.network_status.last_networking_status = Some(status);
    st.mark_changed(
        0,
        cluster_id::NETWORK_COMMISSIONING,
        Some(attr::LAST_NETWORKING_STATUS),
    );
    if status == NetworkingStatus::Success {
        apply_breadcrumb(st, breadcrumb);
    }
    build(cmd::SCAN_NETWORKS_RESPONSE, |w| {
        w.u8(Tag::Context(0), status as u8)?;
        if status == NetworkingStatus::Success {
            // WiFiScanResults: present on Success (§11.9.7.2.3), empty here.
            w.start_array(Tag::Context(2))?;
            w.end_container()?;
        } else {
            w.utf8(Tag::Context(1), "SSID must be at most 32 octets")?;
        }
        Ok(())
    })
}

/// AddOrUpdateWiFiNetwork (§11.9.7.3, §11.9.7.5).
fn add_or_update(
    ctx: &mut InvokeContext<'_>,
    wifi: &WifiSettings,
    f: Option<Container<'_>>,
) -> Result<InvokeResult, InvokeResult> {
    let f = f.ok_or(invalid_command())?;
    let ssid: &[u8] = f.get(0).map_err(invalid)?;
    let credentials: &[u8] = f.get(1).map_err(invalid)?;
    let breadcrumb = f.opt_u64(2).map_err(invalid)?;
    require_fail_safe(ctx)?;
    let st = &mut *ctx.state;
    // An invalid SSID or credentials is the response's OutOfRange (§11.9.7.7.1: "network
    // identifier was invalid (e.g. empty, too long)"); the CHIP SDK answers INVALID_COMMAND.
    let r = WifiNetwork::new(ssid, credentials)
        .and_then(|n| st.network.add_or_update_wifi(n, wifi.max_networks));
    let (status, index) = match r {
        Ok(i) => (NetworkingStatus::Success, Some(i)),
        Err(s) => (s, None),
    };
    debug!(?status, ?index, "AddOrUpdateWiFiNetwork");
    if status == NetworkingStatus::Success {
        match wifi.backend {
            WifiBackend::HostManaged(_) => info!(
                ssid = %String::from_utf8_lossy(ssid),
                "Wi-Fi credentials stored; this host's network configuration is not changed"
            ),
        }
        note_config_change(st, &[attr::NETWORKS]);
        apply_breadcrumb(st, breadcrumb);
    }
    let id = is_valid_network_id(ssid).then(|| ssid.to_vec());
    set_last(st, status, id, None);
    Ok(config_response(status, index))
}

/// RemoveNetwork (§11.9.7.6).
fn remove_network(
    ctx: &mut InvokeContext<'_>,
    f: Option<Container<'_>>,
) -> Result<InvokeResult, InvokeResult> {
    let f = f.ok_or(invalid_command())?;
    let id: &[u8] = f.get(0).map_err(invalid)?;
    let breadcrumb = f.opt_u64(1).map_err(invalid)?;
    require_fail_safe(ctx)?;
    let st = &mut *ctx.state;
    let r = if is_valid_network_id(id) {
        st.network.remove(id)
    } else {
        Err(NetworkingStatus::OutOfRange)
    };
    let (status, index) = match r {
        Ok(i) => (NetworkingStatus::Success, Some(i)),
        Err(s) => (s, None),
    };
    debug!(?status, ?index, "RemoveNetwork");
    if status == NetworkingStatus::Success {
        note_config_change(st, &[attr::NETWORKS]);
        apply_breadcrumb(st, breadcrumb);
    }
    let id = is_valid_network_id(id).then(|| id.to_vec());
    set_last(st, status, id, None);
    Ok(config_response(status, index))
}

/// ReorderNetwork (§11.9.7.10). Unlike the other commands the spec does not require an armed
/// fail-safe for it (nor does the CHIP SDK): without one the new order is final at once.
fn reorder_network(
    ctx: &mut InvokeContext<'_>,
    f: Option<Container<'_>>,
) -> Result<InvokeResult, InvokeResult> {
    let f = f.ok_or(invalid_command())?;
    let id: &[u8] = f.get(0).map_err(invalid)?;
    let index: u8 = f.get(1).map_err(invalid)?;
    let breadcrumb = f.opt_u64(2).map_err(invalid)?;
    if !ctx.state.fail_safe.is_owned_by(ctx.subject.fabric) {
        // Another administrator's fail-safe is armed: its rollback would undo this reorder.
        return Err(InvokeResult::Status(Status::BUSY));
    }
    let st = &mut *ctx.state;
    let r = if is_valid_network_id(id) {
        st.network.reorder(id, index)
    } else {
        Err(NetworkingStatus::OutOfRange)
    };
    let (status, new_index) = match r {
        Ok(i) => (NetworkingStatus::Success, Some(i)),
        Err(s) => (s, None),
    };
    debug!(?status, index, "ReorderNetwork");
    if status == NetworkingStatus::Success {
        note_config_change(st, &[attr::NETWORKS]);
        apply_breadcrumb(st, breadcrumb);
    }
    let id = is_valid_network_id(id).then(|| id.to_vec());
    set_last(st, status, id, None);
    Ok(config_response(status, new_index))
}

/// FAILSAFE_REQUIRED unless the fail-safe is armed by the accessing fabric (the CHIP SDK's
/// `IsFailSafeArmed(accessingFabricIndex)`; over PASE before AddNOC both are "no fabric").
fn require_fail_safe(ctx: &InvokeContext<'_>) -> Result<(), InvokeResult> {
    let fs = &ctx.state.fail_safe;
    if fs.is_armed() && fs.is_owned_by(ctx.subject.fabric) {
        Ok(())
    } else {
        debug!("network commissioning command without the fail-safe armed by this fabric");
        Err(InvokeResult::Status(Status::FAILSAFE_REQUIRED))
    }
}

/// Marks a network configuration change: under the fail-safe (which will commit or undo it)
/// and in the changed attributes.
fn note_config_change(st: &mut crate::fabric::NodeState, attributes: &[u32]) {
    if let Some(c) = st.fail_safe.context_mut() {
        c.network_changed = true;
    }
    for a in attributes {
        st.mark_changed(0, cluster_id::NETWORK_COMMISSIONING, Some(*a));
    }
}

/// Breadcrumb, set only on success (§11.9.7.1.2).
fn apply_breadcrumb(st: &mut crate::fabric::NodeState, breadcrumb: Option<u64>) {
    if let Some(b) = breadcrumb {
        st.set_breadcrumb(b);
    }
}

/// Sets LastNetworkingStatus, LastNetworkID and, when `error` is given, LastConnectErrorValue
/// (§11.9.7.7 and §11.9.7.9: before the response is generated).
fn set_last(
    st: &mut crate::fabric::NodeState,
    status: NetworkingStatus,
    id: Option<Vec<u8>>,
    error: Option<Option<i32>>,
) {
    let s = &mut st.network_status;
    s.last_networking_status = Some(status);
    s.last_network_id = id;
    let mut changed = vec![attr::LAST_NETWORKING_STATUS, attr::LAST_NETWORK_ID];
    if let Some(e) = error {
        s.last_connect_error_value = e;
        changed.push(attr::LAST_CONNECT_ERROR_VALUE);
    }
    for a in changed {
        st.mark_changed(0, cluster_id::NETWORK_COMMISSIONING, Some(a));
    }
}

/// NetworkConfigResponse: {0: NetworkingStatus, 2: NetworkIndex (on Success only)}
/// (§11.9.7.7; DebugText is optional and left out).
pub fn config_response(status: NetworkingStatus, index: Option<u8>) -> InvokeResult {
    build(cmd::NETWORK_CONFIG_RESPONSE, |w| {
        w.u8(Tag::Context(0), status as u8)?;
        if let (NetworkingStatus::Success, Some(i)) = (status, index) {
            w.u8(Tag::Context(2), i)?;
        }
        Ok(())
    })
    .unwrap_or_else(|e| e)
}

/// ConnectNetworkResponse: {0: NetworkingStatus, 1: DebugText (when not empty), 2: ErrorValue
/// (nullable, always present)} (§11.9.7.9).
pub fn connect_response(
    status: NetworkingStatus,
    debug_text: &str,
    error: Option<i32>,
) -> InvokeResult {
    build(cmd::CONNECT_NETWORK_RESPONSE, |w| {
        w.u8(Tag::Context(0), status as u8)?;
        if !debug_text.is_empty() {
            w.utf8(Tag::Context(1), debug_text)?;
        }
        match error {
            Some(e) => w.i32(Tag::Context(2), e),
            None => w.null(Tag::Context(2)),
        }
    })
    .unwrap_or_else(|e| e)
}

fn build(
    command: u32,
    body: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>,
) -> Result<InvokeResult, InvokeResult> {
    let mut fields = Vec::new();
    let mut w = TlvWriter::new(&mut fields);
    let r = w
        .start_struct(Tag::Anonymous)
        .and_then(|()| body(&mut w))
        .and_then(|()| w.end_container());
    match r {
        Ok(()) => Ok(InvokeResult::Response { command, fields }),
        Err(_) => Err(InvokeResult::Status(Status::FAILURE)),
    }
}

fn invalid_command() -> InvokeResult {
    InvokeResult::Status(Status::INVALID_COMMAND)
}

fn invalid(_: TlvError) -> InvokeResult {
    invalid_command()
}

#[cfg(test)]
mod tests;
