//! Server clusters, one file each. A cluster implements [`super::Cluster`] and is added to an
//! endpoint with [`super::Endpoint::add_cluster`].

pub mod access_control;
pub mod admin_commissioning_codec;
pub mod administrator_commissioning;
mod basic_information;
#[cfg(test)]
mod commissioning_tests;
mod descriptor;
pub mod general_commissioning;
pub mod group_key_management;
pub mod groups;
pub mod identify;
#[cfg(test)]
mod light_tests;
pub mod network_commissioning;
pub mod on_off;
pub mod opcreds_codec;
pub mod operational_credentials;
#[cfg(test)]
mod test_support;

pub use access_control::AccessControl;
pub use administrator_commissioning::AdministratorCommissioning;
pub use basic_information::{BasicInformation, CapabilityMinima, DeviceInfo};
pub use descriptor::Descriptor;
pub use general_commissioning::GeneralCommissioning;
pub use group_key_management::GroupKeyManagement;
pub use groups::Groups;
pub use identify::Identify;
pub use network_commissioning::{
    default_interface_name, HostLink, NetworkCommissioning, NetworkFeature, WifiSettings,
};
pub use on_off::OnOff;
pub use operational_credentials::OperationalCredentials;

use crate::attestation::DeviceCredentials;

/// Adds the commissioning clusters of endpoint 0 beyond the root node's (Network
/// Commissioning for `network_interface` with `network_feature`, Administrator Commissioning,
/// Group Key Management,
/// and Operational Credentials when `credentials` are given: without attestation credentials
/// a device cannot be commissioned, so the cluster would only mislead). Cluster `i` starts at
/// DataVersion `data_version_seed + i` (random seeds, §7.10.3).
pub fn add_commissioning_clusters(
    ep: &mut super::Endpoint,
    credentials: Option<DeviceCredentials>,
    network_interface: &str,
    network_feature: &NetworkFeature,
    data_version_seed: u32,
) {
    let mut clusters: Vec<Box<dyn super::Cluster + Send>> = vec![
        Box::new(NetworkCommissioning::new(
            network_interface,
            network_feature,
        )),
        Box::new(AdministratorCommissioning::new()),
        Box::new(GroupKeyManagement::new()),
    ];
    if let Some(c) = credentials {
        clusters.push(Box::new(OperationalCredentials::new(c)));
    }
    for (i, c) in (0u32..).zip(clusters) {
        ep.add_cluster(c, data_version_seed.wrapping_add(i));
    }
}

/// On/Off Light device type (Matter 1.3 Device Library §4.1): id 0x0100, revision 3.
pub const ON_OFF_LIGHT_DEVICE_TYPE: super::DeviceType = super::DeviceType {
    id: 0x0100,
    revision: 3,
};

/// Adds the application endpoint, [`crate::fabric::LIGHT_ENDPOINT`], as an On/Off Light with
/// the server clusters its device type requires (Device Library §4.1.4): Identify (with
/// TriggerEffect), Groups, On/Off (Lighting feature) and Descriptor. Scenes Management is
/// "P, M" there, provisional in 1.3, so it is left out, as the CHIP SDK's lighting app and
/// matter.js (which lists it as optional) do. Cluster `i` starts at DataVersion
/// `data_version_seed + i`.
pub fn add_light_endpoint(model: &mut super::DataModel, data_version_seed: u32) {
    let ep = model.add_endpoint(
        crate::fabric::LIGHT_ENDPOINT,
        vec![ON_OFF_LIGHT_DEVICE_TYPE],
    );
    let clusters: [Box<dyn super::Cluster + Send>; 4] = [
        Box::new(Identify::new()),
        Box::new(Groups::new()),
        Box::new(OnOff::new()),
        Box::new(Descriptor::new()),
    ];
    for (i, c) in (0u32..).zip(clusters) {
        ep.add_cluster(c, data_version_seed.wrapping_add(i));
    }
}

/// Cluster ids (Matter 1.3 Application Cluster Specification and core §9, §11).
pub mod id {
    /// Identify.
    pub const IDENTIFY: u32 = 0x0003;
    /// Groups.
    pub const GROUPS: u32 = 0x0004;
    /// On/Off.
    pub const ON_OFF: u32 = 0x0006;
    /// Descriptor.
    pub const DESCRIPTOR: u32 = 0x001D;
    /// Access Control.
    pub const ACCESS_CONTROL: u32 = 0x001F;
    /// Basic Information.
    pub const BASIC_INFORMATION: u32 = 0x0028;
    /// General Commissioning.
    pub const GENERAL_COMMISSIONING: u32 = 0x0030;
    /// Network Commissioning.
    pub const NETWORK_COMMISSIONING: u32 = 0x0031;
    /// Administrator Commissioning.
    pub const ADMINISTRATOR_COMMISSIONING: u32 = 0x003C;
    /// Operational Credentials.
    pub const OPERATIONAL_CREDENTIALS: u32 = 0x003E;
    /// Group Key Management.
    pub const GROUP_KEY_MANAGEMENT: u32 = 0x003F;
}
