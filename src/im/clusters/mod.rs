//! Server clusters, one file each. A cluster implements [`super::Cluster`] and is added to an
//! endpoint with [`super::Endpoint::add_cluster`].

pub mod admin_commissioning_codec;
pub mod administrator_commissioning;
mod basic_information;
mod descriptor;
pub mod group_key_management;
mod network_commissioning;
pub mod opcreds_codec;
pub mod operational_credentials;
#[cfg(test)]
mod test_support;

pub use basic_information::{BasicInformation, CapabilityMinima, DeviceInfo};
pub use descriptor::Descriptor;
pub use network_commissioning::{default_interface_name, NetworkCommissioning};

/// Cluster ids (Matter 1.3 Application Cluster Specification and core §9, §11).
pub mod id {
    /// Descriptor.
    pub const DESCRIPTOR: u32 = 0x001D;
    /// Basic Information.
    pub const BASIC_INFORMATION: u32 = 0x0028;
    /// Network Commissioning.
    pub const NETWORK_COMMISSIONING: u32 = 0x0031;
    /// Administrator Commissioning.
    pub const ADMINISTRATOR_COMMISSIONING: u32 = 0x003C;
    /// Operational Credentials.
    pub const OPERATIONAL_CREDENTIALS: u32 = 0x003E;
    /// Group Key Management.
    pub const GROUP_KEY_MANAGEMENT: u32 = 0x003F;
}
