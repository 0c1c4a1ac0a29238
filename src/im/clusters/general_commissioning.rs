//! General Commissioning cluster, 0x0030 (Matter 1.3 core §11.10): ArmFailSafe,
//! SetRegulatoryConfig, CommissioningComplete and the Breadcrumb, BasicCommissioningInfo,
//! RegulatoryConfig, LocationCapability and SupportsConcurrentConnection attributes. The
//! fail-safe itself (timer, snapshot, rollback, commit) is [`crate::fabric::NodeState`]'s.

use tracing::debug;

use super::id;
use crate::fabric::{cluster_id, AuthMode, CommissioningError, Privilege, RegulatoryLocation};
use crate::im::model::{
    AttrError, Cluster, InvokeContext, InvokeResult, ReadContext, WriteContext,
};
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvError, TlvWriter, Value};

/// Attribute ids (§11.10.6).
pub mod attr {
    /// Breadcrumb (u64, writable with Administer).
    pub const BREADCRUMB: u32 = 0x0000;
    /// BasicCommissioningInfo.
    pub const BASIC_COMMISSIONING_INFO: u32 = 0x0001;
    /// RegulatoryConfig.
    pub const REGULATORY_CONFIG: u32 = 0x0002;
    /// LocationCapability.
    pub const LOCATION_CAPABILITY: u32 = 0x0003;
    /// SupportsConcurrentConnection.
    pub const SUPPORTS_CONCURRENT_CONNECTION: u32 = 0x0004;
}

/// Command ids (§11.10.7).
pub mod cmd {
    /// ArmFailSafe.
    pub const ARM_FAIL_SAFE: u32 = 0x00;
    /// ArmFailSafeResponse.
    pub const ARM_FAIL_SAFE_RESPONSE: u32 = 0x01;
    /// SetRegulatoryConfig.
    pub const SET_REGULATORY_CONFIG: u32 = 0x02;
    /// SetRegulatoryConfigResponse.
    pub const SET_REGULATORY_CONFIG_RESPONSE: u32 = 0x03;
    /// CommissioningComplete.
    pub const COMMISSIONING_COMPLETE: u32 = 0x04;
    /// CommissioningCompleteResponse.
    pub const COMMISSIONING_COMPLETE_RESPONSE: u32 = 0x05;
}

const ATTRIBUTES: [u32; 5] = [
    attr::BREADCRUMB,
    attr::BASIC_COMMISSIONING_INFO,
    attr::REGULATORY_CONFIG,
    attr::LOCATION_CAPABILITY,
    attr::SUPPORTS_CONCURRENT_CONNECTION,
];
const ACCEPTED: [u32; 3] = [
    cmd::ARM_FAIL_SAFE,
    cmd::SET_REGULATORY_CONFIG,
    cmd::COMMISSIONING_COMPLETE,
];
const GENERATED: [u32; 3] = [
    cmd::ARM_FAIL_SAFE_RESPONSE,
    cmd::SET_REGULATORY_CONFIG_RESPONSE,
    cmd::COMMISSIONING_COMPLETE_RESPONSE,
];

/// Basic Information's Location attribute id (SetRegulatoryConfig's CountryCode sets it).
const BASIC_INFORMATION_LOCATION: u32 = 0x0006;

/// The General Commissioning cluster (endpoint 0 only).
#[derive(Clone, Copy, Debug)]
pub struct GeneralCommissioning {
    supports_concurrent_connection: bool,
}

impl Default for GeneralCommissioning {
    fn default() -> Self {
        Self::new()
    }
}

impl GeneralCommissioning {
    /// The cluster. SupportsConcurrentConnection is true: the device keeps its IP connection
    /// (and BLE) while commissioned over either, so a commissioner need not drop BLE before
    /// reaching the device operationally (§11.10.6.5).
    pub fn new() -> Self {
        Self {
            supports_concurrent_connection: true,
        }
    }
}

/// `{0: ErrorCode, 1: DebugText}`, the shape of all three responses.
fn response(command: u32, error: Option<CommissioningError>, debug_text: &str) -> InvokeResult {
    let code = error.map_or(0, |e| e as u8);
    let mut fields = Vec::new();
    let mut w = TlvWriter::new(&mut fields);
    let r = (|| -> Result<(), TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.u8(Tag::Context(0), code)?;
        w.utf8(Tag::Context(1), debug_text)?;
        w.end_container()
    })();
    match r {
        Ok(()) => InvokeResult::Response { command, fields },
        Err(_) => InvokeResult::Status(Status::FAILURE),
    }
}

/// A command's fields, or INVALID_COMMAND when a required one is absent or mistyped.
fn fields_of<'a>(f: Option<Container<'a>>) -> Result<Container<'a>, InvokeResult> {
    f.ok_or(InvokeResult::Status(Status::INVALID_COMMAND))
}

fn invalid(_: TlvError) -> InvokeResult {
    InvokeResult::Status(Status::INVALID_COMMAND)
}

impl GeneralCommissioning {
    /// ArmFailSafe (§11.10.7.2).
    fn arm_fail_safe(
        ctx: &mut InvokeContext<'_>,
        f: Option<Container<'_>>,
    ) -> Result<InvokeResult, InvokeResult> {
        let f = fields_of(f)?;
        let expiry: u16 = f.get(0).map_err(invalid)?;
        let breadcrumb: u64 = f.get(1).map_err(invalid)?;
        let case = ctx.subject.auth_mode == AuthMode::Case;
        let r = ctx
            .state
            .arm_fail_safe(ctx.now, ctx.subject.fabric, case, expiry, breadcrumb);
        debug!(expiry, breadcrumb, result = ?r, "ArmFailSafe");
        Ok(match r {
            Ok(()) => response(cmd::ARM_FAIL_SAFE_RESPONSE, None, ""),
            Err(e) => response(cmd::ARM_FAIL_SAFE_RESPONSE, Some(e), "fail-safe busy"),
        })
    }

    /// SetRegulatoryConfig (§11.10.7.4).
    fn set_regulatory_config(
        ctx: &mut InvokeContext<'_>,
        f: Option<Container<'_>>,
    ) -> Result<InvokeResult, InvokeResult> {
        let f = fields_of(f)?;
        let config: u8 = f.get(0).map_err(invalid)?;
        let country: &str = f.get(1).map_err(invalid)?;
        let breadcrumb: u64 = f.get(2).map_err(invalid)?;
        if country.len() != 2 {
            // CountryCode is exactly 2 characters (§11.10.7.4.2).
            return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
        }
        let capability = ctx.state.regulatory.location_capability;
        let Some(config) = RegulatoryLocation::from_u8(config)
            .filter(|c| capability == RegulatoryLocation::IndoorOutdoor || *c == capability)
        else {
            // An unknown location, or one the device cannot be installed in.
            return Ok(response(
                cmd::SET_REGULATORY_CONFIG_RESPONSE,
                Some(CommissioningError::ValueOutsideRange),
                "location not supported",
            ));
        };
        debug!(?config, country, "SetRegulatoryConfig");
        let st = &mut *ctx.state;
        if st.regulatory.config != config {
            st.regulatory.config = config;
            st.mark_changed(
                0,
                cluster_id::GENERAL_COMMISSIONING,
                Some(attr::REGULATORY_CONFIG),
            );
        }
        if st.info.location != country {
            country.clone_into(&mut st.info.location);
            st.mark_changed(
                0,
                cluster_id::BASIC_INFORMATION,
                Some(BASIC_INFORMATION_LOCATION),
            );
        }
        st.set_breadcrumb(breadcrumb);
        Ok(response(cmd::SET_REGULATORY_CONFIG_RESPONSE, None, ""))
    }

    /// CommissioningComplete (§11.10.7.6): only over CASE, from the fail-safe's fabric. Until
    /// CASE exists every attempt (over PASE) gets InvalidAuthentication, as the CHIP SDK answers.
    fn commissioning_complete(ctx: &mut InvokeContext<'_>) -> InvokeResult {
        let case = ctx.subject.auth_mode == AuthMode::Case;
        let r = ctx.state.commissioning_complete(ctx.subject.fabric, case);
        debug!(result = ?r, "CommissioningComplete");
        match r {
            Ok(_) => response(cmd::COMMISSIONING_COMPLETE_RESPONSE, None, ""),
            Err(e) => response(cmd::COMMISSIONING_COMPLETE_RESPONSE, Some(e), ""),
        }
    }
}

impl Cluster for GeneralCommissioning {
    fn id(&self) -> u32 {
        id::GENERAL_COMMISSIONING
    }

    /// Revision 1 (Matter 1.3).
    fn revision(&self) -> u16 {
        1
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    fn accepted_commands(&self) -> &[u32] {
        &ACCEPTED
    }

    fn generated_commands(&self) -> &[u32] {
        &GENERATED
    }

    fn is_writable(&self, attribute: u32) -> bool {
        attribute == attr::BREADCRUMB
    }

    /// Breadcrumb is "RW VA" (§11.10.6.1).
    fn write_privilege(&self, _attribute: u32) -> Privilege {
        Privilege::Administer
    }

    /// All three commands need Administer (§11.10.7).
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
        let st = ctx.state;
        match attribute {
            attr::BREADCRUMB => w.u64(tag, st.fail_safe.breadcrumb())?,
            attr::BASIC_COMMISSIONING_INFO => {
                let i = st.fail_safe.info();
                w.start_struct(tag)?;
                w.u16(Tag::Context(0), i.fail_safe_expiry_length_seconds)?;
                w.u16(Tag::Context(1), i.max_cumulative_failsafe_seconds)?;
                w.end_container()?;
            }
            attr::REGULATORY_CONFIG => w.u8(tag, st.regulatory.config as u8)?,
            attr::LOCATION_CAPABILITY => w.u8(tag, st.regulatory.location_capability as u8)?,
            attr::SUPPORTS_CONCURRENT_CONNECTION => {
                w.bool(tag, self.supports_concurrent_connection)?
            }
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }

    fn write(
        &mut self,
        ctx: &mut WriteContext<'_>,
        attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        match (attribute, *value) {
            (attr::BREADCRUMB, Value::UInt(v)) => {
                ctx.state.set_breadcrumb(v);
                Ok(())
            }
            (attr::BREADCRUMB, _) => Err(Status::INVALID_DATA_TYPE),
            _ => Err(Status::UNSUPPORTED_WRITE),
        }
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let r = match command {
            cmd::ARM_FAIL_SAFE => Self::arm_fail_safe(ctx, fields),
            cmd::SET_REGULATORY_CONFIG => Self::set_regulatory_config(ctx, fields),
            cmd::COMMISSIONING_COMPLETE => Ok(Self::commissioning_complete(ctx)),
            _ => Ok(InvokeResult::Status(Status::UNSUPPORTED_COMMAND)),
        };
        r.unwrap_or_else(|e| e)
    }
}
