//! Server clusters, one file each. A cluster implements [`super::Cluster`] and is added to an
//! endpoint with [`super::Endpoint::add_cluster`].

pub mod access_control;
mod basic_information;
mod descriptor;
pub mod general_commissioning;

pub use access_control::AccessControl;
pub use basic_information::{BasicInformation, CapabilityMinima, DeviceInfo};
pub use descriptor::Descriptor;
pub use general_commissioning::GeneralCommissioning;

/// Cluster ids (Matter 1.3 Application Cluster Specification and core §9, §11).
pub mod id {
    /// Descriptor.
    pub const DESCRIPTOR: u32 = 0x001D;
    /// Access Control.
    pub const ACCESS_CONTROL: u32 = 0x001F;
    /// Basic Information.
    pub const BASIC_INFORMATION: u32 = 0x0028;
    /// General Commissioning.
    pub const GENERAL_COMMISSIONING: u32 = 0x0030;
}
