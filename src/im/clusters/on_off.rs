//! On/Off cluster, 0x0006 (Matter 1.3 Application Cluster Specification §1.5), revision 6, with
//! the Lighting feature the On/Off Light device type requires (Device Library §4.1.4). The
//! cluster decodes and checks requests; the behaviour (the Lighting rules for OnTime,
//! OffWaitTime and GlobalSceneControl, the OnWithTimedOff countdown, StartUpOnOff) is
//! [`crate::fabric::light`]'s, on [`crate::fabric::NodeState::light`].

use tracing::debug;

use super::id;
use crate::fabric::light::attr;
use crate::fabric::{Privilege, StartUpOnOff, TimedOff};
use crate::im::model::{
    AttrError, Cluster, InvokeContext, InvokeResult, ReadContext, WriteContext,
};
use crate::im::Status;
use crate::tlv::{Container, Tag, TlvWriter, Value};

/// Command ids (§1.5.7).
pub mod cmd {
    /// Off.
    pub const OFF: u32 = 0x00;
    /// On.
    pub const ON: u32 = 0x01;
    /// Toggle.
    pub const TOGGLE: u32 = 0x02;
    /// OffWithEffect.
    pub const OFF_WITH_EFFECT: u32 = 0x40;
    /// OnWithRecallGlobalScene.
    pub const ON_WITH_RECALL_GLOBAL_SCENE: u32 = 0x41;
    /// OnWithTimedOff.
    pub const ON_WITH_TIMED_OFF: u32 = 0x42;
}

/// FeatureMap bit 0, Lighting (§1.5.4.1).
pub const FEATURE_LIGHTING: u32 = 0x1;

const ATTRIBUTES: [u32; 5] = [
    attr::ON_OFF,
    attr::GLOBAL_SCENE_CONTROL,
    attr::ON_TIME,
    attr::OFF_WAIT_TIME,
    attr::START_UP_ON_OFF,
];
const ACCEPTED: [u32; 6] = [
    cmd::OFF,
    cmd::ON,
    cmd::TOGGLE,
    cmd::OFF_WITH_EFFECT,
    cmd::ON_WITH_RECALL_GLOBAL_SCENE,
    cmd::ON_WITH_TIMED_OFF,
];

/// The On/Off cluster of the light (its state is [`crate::fabric::LightState`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct OnOff;

impl OnOff {
    /// The cluster.
    pub fn new() -> Self {
        Self
    }
}

impl Cluster for OnOff {
    fn id(&self) -> u32 {
        id::ON_OFF
    }

    fn revision(&self) -> u16 {
        6
    }

    fn feature_map(&self) -> u32 {
        FEATURE_LIGHTING
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    fn accepted_commands(&self) -> &[u32] {
        &ACCEPTED
    }

    /// OnTime and OffWaitTime are "RW VO", StartUpOnOff "RW VM" (§1.5.6).
    fn is_writable(&self, attribute: u32) -> bool {
        matches!(
            attribute,
            attr::ON_TIME | attr::OFF_WAIT_TIME | attr::START_UP_ON_OFF
        )
    }

    fn write_privilege(&self, attribute: u32) -> Privilege {
        if attribute == attr::START_UP_ON_OFF {
            Privilege::Manage
        } else {
            Privilege::Operate
        }
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let l = &ctx.state.light;
        match attribute {
            attr::ON_OFF => w.bool(tag, l.on_off)?,
            attr::GLOBAL_SCENE_CONTROL => w.bool(tag, l.global_scene_control)?,
            attr::ON_TIME => w.u16(tag, l.on_time)?,
            attr::OFF_WAIT_TIME => w.u16(tag, l.off_wait_time)?,
            attr::START_UP_ON_OFF => match l.start_up_on_off {
                Some(v) => w.u8(tag, v as u8)?,
                None => w.null(tag)?,
            },
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
        match attribute {
            attr::ON_TIME => ctx.state.write_on_time(ctx.now, u16_value(value)?),
            attr::OFF_WAIT_TIME => ctx.state.write_off_wait_time(ctx.now, u16_value(value)?),
            attr::START_UP_ON_OFF => {
                let v = match *value {
                    Value::Null => None,
                    // 3..=0xFE are reserved, 0xFF is the null encoding of a non-TLV enum8
                    // (§1.5.5.2, §7.19.2): out of the enum's range either way.
                    Value::UInt(v) => Some(
                        u8::try_from(v)
                            .ok()
                            .and_then(StartUpOnOff::from_u8)
                            .ok_or(Status::CONSTRAINT_ERROR)?,
                    ),
                    _ => return Err(Status::INVALID_DATA_TYPE),
                };
                ctx.state.set_start_up_on_off(v);
            }
            _ => return Err(Status::UNSUPPORTED_WRITE),
        }
        Ok(())
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let now = ctx.now;
        let st = &mut *ctx.state;
        debug!(command, "on/off command");
        match command {
            cmd::OFF => st.light_off(now),
            cmd::ON => st.light_on(now),
            cmd::TOGGLE => st.light_toggle(now),
            cmd::OFF_WITH_EFFECT => match off_effect(fields) {
                Ok(()) => st.light_off_with_effect(now),
                Err(s) => return InvokeResult::Status(s),
            },
            cmd::ON_WITH_RECALL_GLOBAL_SCENE => st.light_on_with_recall_global_scene(now),
            cmd::ON_WITH_TIMED_OFF => match timed_off(fields) {
                Ok(t) => st.light_on_with_timed_off(now, t),
                Err(s) => return InvokeResult::Status(s),
            },
            _ => return InvokeResult::Status(Status::UNSUPPORTED_COMMAND),
        }
        InvokeResult::Status(Status::SUCCESS)
    }
}

/// A uint16 attribute value.
fn u16_value(value: &Value<'_>) -> Result<u16, Status> {
    match *value {
        Value::UInt(v) => u16::try_from(v).map_err(|_| Status::CONSTRAINT_ERROR),
        _ => Err(Status::INVALID_DATA_TYPE),
    }
}

/// OffWithEffect's fields (§1.5.7.4): EffectIdentifier must be DelayedAllOff (0) or DyingLight
/// (1); an unknown EffectVariant means the default variant (§1.5.7.4.2), so it is not checked.
fn off_effect(fields: Option<Container<'_>>) -> Result<(), Status> {
    let f = fields.ok_or(Status::INVALID_COMMAND)?;
    let effect = f.u8(0).map_err(|_| Status::INVALID_COMMAND)?;
    let _variant = f.u8(1).map_err(|_| Status::INVALID_COMMAND)?;
    if effect > 1 {
        return Err(Status::CONSTRAINT_ERROR);
    }
    Ok(())
}

/// OnWithTimedOff's fields (§1.5.7.6): OnOffControl 0 to 1, OnTime and OffWaitTime max 0xFFFE.
fn timed_off(fields: Option<Container<'_>>) -> Result<TimedOff, Status> {
    let f = fields.ok_or(Status::INVALID_COMMAND)?;
    let control = f.u8(0).map_err(|_| Status::INVALID_COMMAND)?;
    let on_time = f.u16(1).map_err(|_| Status::INVALID_COMMAND)?;
    let off_wait_time = f.u16(2).map_err(|_| Status::INVALID_COMMAND)?;
    if control > 1 || on_time == 0xFFFF || off_wait_time == 0xFFFF {
        return Err(Status::CONSTRAINT_ERROR);
    }
    Ok(TimedOff {
        accept_only_when_on: control & 1 != 0,
        on_time,
        off_wait_time,
    })
}
