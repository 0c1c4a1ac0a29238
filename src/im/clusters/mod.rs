//! Server clusters, one file each. A cluster implements [`super::Cluster`] and is added to an
//! endpoint with [`super::Endpoint::add_cluster`].

mod basic_information;
mod descriptor;

pub use basic_information::{BasicInformation, CapabilityMinima, DeviceInfo};
pub use descriptor::Descriptor;

/// Cluster ids (Matter 1.3 Application Cluster Specification and core §9, §11).
pub mod id {
    /// Descriptor.
    pub const DESCRIPTOR: u32 = 0x001D;
    /// Basic Information.
    pub const BASIC_INFORMATION: u32 = 0x0028;
}
