//! Basic Information cluster, 0x0028 (Matter 1.3 core §11.1): vendor, product and version
//! facts about the node, from a [`DeviceInfo`] the application supplies, and the writable
//! NodeLabel and Location, which live (and are persisted) in the node state
//! ([`crate::fabric::WritableInfo`]).

use super::id;
use crate::fabric::Privilege;
use crate::im::model::{AttrError, Cluster, ReadContext, WriteContext};
use crate::im::Status;
use crate::tlv::{Tag, TlvWriter, Value};

/// DataModelRevision we report: 17 is Matter 1.3 (core §7.1.1, "Revision History"; the CHIP
/// SDK reports 18 for 1.4).
pub const DATA_MODEL_REVISION: u16 = 17;

/// SpecificationVersion we report: Matter 1.3.0 as major.minor.dot.reserved bytes (§11.1.5.22).
pub const SPECIFICATION_VERSION: u32 = 0x0103_0000;

/// CapabilityMinimaStruct (§11.1.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapabilityMinima {
    /// CASE sessions per fabric we guarantee (spec minimum 3).
    pub case_sessions_per_fabric: u16,
    /// Subscriptions per fabric we guarantee (spec minimum 3).
    pub subscriptions_per_fabric: u16,
}

/// What the Basic Information cluster reports. Strings longer than the spec's limits are cut at
/// a character boundary when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// VendorName (max 32 bytes).
    pub vendor_name: String,
    /// VendorID.
    pub vendor_id: u16,
    /// ProductName (max 32 bytes).
    pub product_name: String,
    /// ProductID.
    pub product_id: u16,
    /// NodeLabel (max 32 bytes, writable by the commissioner): the factory value, copied into
    /// the node state when no persisted value exists.
    pub node_label: String,
    /// Location: ISO 3166-1 alpha-2 country code, "XX" if unknown (writable; factory value as
    /// for `node_label`).
    pub location: String,
    /// HardwareVersion.
    pub hardware_version: u16,
    /// HardwareVersionString (1..=64 bytes).
    pub hardware_version_string: String,
    /// SoftwareVersion.
    pub software_version: u32,
    /// SoftwareVersionString (1..=64 bytes).
    pub software_version_string: String,
    /// ManufacturingDate ("YYYYMMDD" + optional vendor suffix, max 16), optional.
    pub manufacturing_date: Option<String>,
    /// PartNumber (max 32), optional.
    pub part_number: Option<String>,
    /// ProductURL (max 256), optional.
    pub product_url: Option<String>,
    /// ProductLabel (max 64), optional.
    pub product_label: Option<String>,
    /// SerialNumber (max 32), optional in the spec; commissioners display it.
    pub serial_number: Option<String>,
    /// UniqueID (max 32): must be unique per device and not derived from the serial number
    /// or other identifiers (§11.1.5.19); the application should generate and persist one.
    pub unique_id: String,
    /// CapabilityMinima.
    pub capability_minima: CapabilityMinima,
    /// MaxPathsPerInvoke (at least 1).
    pub max_paths_per_invoke: u16,
}

impl Default for DeviceInfo {
    /// Test vendor 0xFFF1 and product 0x8000 (the CHIP SDK's example ids), version 1.
    fn default() -> Self {
        Self {
            vendor_name: "matter-ble".into(),
            vendor_id: 0xFFF1,
            product_name: "matter-ble device".into(),
            product_id: 0x8000,
            node_label: String::new(),
            location: "XX".into(),
            hardware_version: 0,
            hardware_version_string: "0".into(),
            software_version: 1,
            software_version_string: env!("CARGO_PKG_VERSION").into(),
            manufacturing_date: None,
            part_number: None,
            product_url: None,
            product_label: None,
            serial_number: Some("0".into()),
            unique_id: "matter-ble-unset-unique-id".into(),
            capability_minima: CapabilityMinima {
                case_sessions_per_fabric: 3,
                subscriptions_per_fabric: 3,
            },
            max_paths_per_invoke: 10,
        }
    }
}

mod attr {
    pub(super) const DATA_MODEL_REVISION: u32 = 0x0000;
    pub(super) const VENDOR_NAME: u32 = 0x0001;
    pub(super) const VENDOR_ID: u32 = 0x0002;
    pub(super) const PRODUCT_NAME: u32 = 0x0003;
    pub(super) const PRODUCT_ID: u32 = 0x0004;
    pub(super) const NODE_LABEL: u32 = 0x0005;
    pub(super) const LOCATION: u32 = 0x0006;
    pub(super) const HARDWARE_VERSION: u32 = 0x0007;
    pub(super) const HARDWARE_VERSION_STRING: u32 = 0x0008;
    pub(super) const SOFTWARE_VERSION: u32 = 0x0009;
    pub(super) const SOFTWARE_VERSION_STRING: u32 = 0x000A;
    pub(super) const MANUFACTURING_DATE: u32 = 0x000B;
    pub(super) const PART_NUMBER: u32 = 0x000C;
    pub(super) const PRODUCT_URL: u32 = 0x000D;
    pub(super) const PRODUCT_LABEL: u32 = 0x000E;
    pub(super) const SERIAL_NUMBER: u32 = 0x000F;
    pub(super) const UNIQUE_ID: u32 = 0x0012;
    pub(super) const CAPABILITY_MINIMA: u32 = 0x0013;
    pub(super) const SPECIFICATION_VERSION: u32 = 0x0015;
    pub(super) const MAX_PATHS_PER_INVOKE: u32 = 0x0016;
}

/// The Basic Information cluster.
#[derive(Clone, Debug)]
pub struct BasicInformation {
    info: DeviceInfo,
    attributes: Vec<u32>,
}

impl BasicInformation {
    /// The cluster reporting `info`; optional attributes are listed only when set.
    pub fn new(info: DeviceInfo) -> Self {
        let mut attributes = vec![
            attr::DATA_MODEL_REVISION,
            attr::VENDOR_NAME,
            attr::VENDOR_ID,
            attr::PRODUCT_NAME,
            attr::PRODUCT_ID,
            attr::NODE_LABEL,
            attr::LOCATION,
            attr::HARDWARE_VERSION,
            attr::HARDWARE_VERSION_STRING,
            attr::SOFTWARE_VERSION,
            attr::SOFTWARE_VERSION_STRING,
        ];
        let optional = [
            (attr::MANUFACTURING_DATE, info.manufacturing_date.is_some()),
            (attr::PART_NUMBER, info.part_number.is_some()),
            (attr::PRODUCT_URL, info.product_url.is_some()),
            (attr::PRODUCT_LABEL, info.product_label.is_some()),
            (attr::SERIAL_NUMBER, info.serial_number.is_some()),
        ];
        attributes.extend(optional.iter().filter(|(_, on)| *on).map(|(a, _)| *a));
        attributes.extend([
            attr::UNIQUE_ID,
            attr::CAPABILITY_MINIMA,
            attr::SPECIFICATION_VERSION,
            attr::MAX_PATHS_PER_INVOKE,
        ]);
        Self { info, attributes }
    }

    /// The configured values (the current NodeLabel and Location are in the node state).
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }
}

impl Cluster for BasicInformation {
    fn id(&self) -> u32 {
        id::BASIC_INFORMATION
    }

    /// Revision 3 (Matter 1.3: SpecificationVersion and MaxPathsPerInvoke added, UniqueID
    /// mandatory).
    fn revision(&self) -> u16 {
        3
    }

    fn attributes(&self) -> &[u32] {
        &self.attributes
    }

    /// NodeLabel is "RW VM", Location "RW VA" (§11.1.5.6, §11.1.5.7).
    fn write_privilege(&self, attribute: u32) -> Privilege {
        match attribute {
            attr::LOCATION => Privilege::Administer,
            _ => Privilege::Manage,
        }
    }

    fn is_writable(&self, attribute: u32) -> bool {
        matches!(attribute, attr::NODE_LABEL | attr::LOCATION)
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let i = &self.info;
        let opt = |s: &Option<String>| {
            s.clone()
                .ok_or(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE))
        };
        match attribute {
            attr::DATA_MODEL_REVISION => w.u16(tag, DATA_MODEL_REVISION)?,
            attr::VENDOR_NAME => w.utf8(tag, cut(&i.vendor_name, 32))?,
            attr::VENDOR_ID => w.u16(tag, i.vendor_id)?,
            attr::PRODUCT_NAME => w.utf8(tag, cut(&i.product_name, 32))?,
            attr::PRODUCT_ID => w.u16(tag, i.product_id)?,
            attr::NODE_LABEL => w.utf8(tag, cut(&ctx.state.info.node_label, 32))?,
            attr::LOCATION => w.utf8(tag, cut(&ctx.state.info.location, 2))?,
            attr::HARDWARE_VERSION => w.u16(tag, i.hardware_version)?,
            attr::HARDWARE_VERSION_STRING => w.utf8(tag, cut(&i.hardware_version_string, 64))?,
            attr::SOFTWARE_VERSION => w.u32(tag, i.software_version)?,
            attr::SOFTWARE_VERSION_STRING => w.utf8(tag, cut(&i.software_version_string, 64))?,
            attr::MANUFACTURING_DATE => w.utf8(tag, cut(&opt(&i.manufacturing_date)?, 16))?,
            attr::PART_NUMBER => w.utf8(tag, cut(&opt(&i.part_number)?, 32))?,
            attr::PRODUCT_URL => w.utf8(tag, cut(&opt(&i.product_url)?, 256))?,
            attr::PRODUCT_LABEL => w.utf8(tag, cut(&opt(&i.product_label)?, 64))?,
            attr::SERIAL_NUMBER => w.utf8(tag, cut(&opt(&i.serial_number)?, 32))?,
            attr::UNIQUE_ID => w.utf8(tag, cut(&i.unique_id, 32))?,
            attr::CAPABILITY_MINIMA => {
                w.start_struct(tag)?;
                w.u16(
                    Tag::Context(0),
                    i.capability_minima.case_sessions_per_fabric,
                )?;
                w.u16(
                    Tag::Context(1),
                    i.capability_minima.subscriptions_per_fabric,
                )?;
                w.end_container()?;
            }
            attr::SPECIFICATION_VERSION => w.u32(tag, SPECIFICATION_VERSION)?,
            attr::MAX_PATHS_PER_INVOKE => w.u16(tag, i.max_paths_per_invoke.max(1))?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    /// NodeLabel (max 32 bytes) and Location (exactly 2 bytes) are writable (§11.1.5.6/7);
    /// the node persists them (a changed record after the write).
    fn write(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        let info = &mut ctx.state.info;
        let (slot, ok_len): (&mut String, fn(usize) -> bool) = match attribute {
            attr::NODE_LABEL => (&mut info.node_label, |n| n <= 32),
            attr::LOCATION => (&mut info.location, |n| n == 2),
            _ => return Err(Status::UNSUPPORTED_WRITE),
        };
        let Value::Utf8(s) = *value else {
            return Err(Status::INVALID_DATA_TYPE);
        };
        if !ok_len(s.len()) {
            return Err(Status::CONSTRAINT_ERROR);
        }
        s.clone_into(slot);
        Ok(())
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}
