//! Identify cluster, 0x0003 (Matter 1.3 Application Cluster Specification §1.2), revision 4,
//! with TriggerEffect, which the On/Off Light device type makes mandatory (Device Library
//! §4.1.4). IdentifyTime counts down once a second in [`crate::fabric::light`]; while it is
//! above 0 the endpoint is identifying (Groups' AddGroupIfIdentifying looks at that).
//!
//! The host has no light of its own to blink: IdentifyType is None (0), as the CHIP SDK's
//! lighting app reports, and TriggerEffect's effects are accepted and logged.

use tracing::debug;

use super::id;
use crate::fabric::light::attr as light_attr;
use crate::fabric::Privilege;
use crate::im::model::{
    AttrError, Cluster, InvokeContext, InvokeResult, ReadContext, WriteContext,
};
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvWriter, Value};

/// Attribute ids (§1.2.5).
pub mod attr {
    /// IdentifyTime.
    pub const IDENTIFY_TIME: u32 = super::light_attr::IDENTIFY_TIME;
    /// IdentifyType.
    pub const IDENTIFY_TYPE: u32 = 0x0001;
}

/// Command ids (§1.2.6).
pub mod cmd {
    /// Identify.
    pub const IDENTIFY: u32 = 0x00;
    /// TriggerEffect.
    pub const TRIGGER_EFFECT: u32 = 0x40;
}

/// IdentifyTypeEnum None (§1.2.4.1): no presentation.
pub const IDENTIFY_TYPE_NONE: u8 = 0;

/// EffectIdentifierEnum values (§1.2.4.2): Blink, Breathe, Okay, ChannelChange, FinishEffect,
/// StopEffect.
const EFFECTS: [u8; 6] = [0x00, 0x01, 0x02, 0x0B, 0xFE, 0xFF];

const ATTRIBUTES: [u32; 2] = [attr::IDENTIFY_TIME, attr::IDENTIFY_TYPE];
const ACCEPTED: [u32; 2] = [cmd::IDENTIFY, cmd::TRIGGER_EFFECT];

/// The Identify cluster of the light endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identify;

impl Identify {
    /// The cluster.
    pub fn new() -> Self {
        Self
    }
}

impl Cluster for Identify {
    fn id(&self) -> u32 {
        id::IDENTIFY
    }

    fn revision(&self) -> u16 {
        4
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    fn accepted_commands(&self) -> &[u32] {
        &ACCEPTED
    }

    /// IdentifyTime is "RW VO".
    fn is_writable(&self, attribute: u32) -> bool {
        attribute == attr::IDENTIFY_TIME
    }

    /// Both commands are "M" (Manage).
    fn invoke_privilege(&self, _command: u32) -> Privilege {
        Privilege::Manage
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        match attribute {
            attr::IDENTIFY_TIME => w.u16(tag, ctx.state.light.identify_time)?,
            attr::IDENTIFY_TYPE => w.u8(tag, IDENTIFY_TYPE_NONE)?,
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
        if attribute != attr::IDENTIFY_TIME {
            return Err(Status::UNSUPPORTED_WRITE);
        }
        let secs = match *value {
            Value::UInt(v) => u16::try_from(v).map_err(|_| Status::CONSTRAINT_ERROR)?,
            _ => return Err(Status::INVALID_DATA_TYPE),
        };
        ctx.state.set_identify_time(ctx.now, secs);
        Ok(())
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let Some(f) = fields else {
            return InvokeResult::Status(Status::INVALID_COMMAND);
        };
        match command {
            cmd::IDENTIFY => {
                let Ok(secs) = f.u16(0) else {
                    return InvokeResult::Status(Status::INVALID_COMMAND);
                };
                debug!(endpoint = ctx.endpoint, secs, "identify requested");
                ctx.state.set_identify_time(ctx.now, secs);
            }
            cmd::TRIGGER_EFFECT => {
                let (Ok(effect), Ok(variant)) = (f.u8(0), f.u8(1)) else {
                    return InvokeResult::Status(Status::INVALID_COMMAND);
                };
                if !EFFECTS.contains(&effect) {
                    return InvokeResult::Status(Status::CONSTRAINT_ERROR);
                }
                // An unsupported variant means the default one (§1.2.6.2.2); nothing to show
                // either way.
                debug!(effect, variant, "identify effect (no output to show it on)");
            }
            _ => return InvokeResult::Status(Status::UNSUPPORTED_COMMAND),
        }
        InvokeResult::Status(Status::SUCCESS)
    }
}
