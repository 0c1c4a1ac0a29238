//! Administrator Commissioning cluster, 0x003C (Matter 1.3 core §11.19): an administrator opens
//! a commissioning window for another administrator (OpenCommissioningWindow with its own
//! verifier, or OpenBasicCommissioningWindow with the device's passcode) or closes it
//! (RevokeCommissioning). The cluster checks the request and queues the window change as an
//! [`Effect`] for the node; WindowStatus, AdminFabricIndex and AdminVendorId are
//! [`NodeState::window`], which the node resets when a window closes by itself.

use tracing::debug;

pub use super::admin_commissioning_codec::{attr, cmd, status};
use super::admin_commissioning_codec::{decode_basic_timeout, OpenWindowRequest};
use super::id;
use crate::fabric::Privilege;
use crate::fabric::{
    cluster_id, CommissioningWindowInfo, Effect, NodeState, Subject, WindowRequest, WindowStatus,
};
use crate::im::model::{AttrError, Cluster, InvokeContext, InvokeResult, ReadContext};
use crate::im::Status;
use crate::time::{Duration, Instant};
use crate::tlv::{Container, Tag, TlvWriter};

/// FeatureMap bit of the Basic Commissioning Method ("BC", §11.19.4).
pub const FEATURE_BASIC: u32 = 1 << 0;

const BUSY: InvokeResult = InvokeResult::ClusterStatus(Status::FAILURE, status::BUSY);
const WINDOW_NOT_OPEN: InvokeResult =
    InvokeResult::ClusterStatus(Status::FAILURE, status::WINDOW_NOT_OPEN);

/// The Administrator Commissioning cluster (stateless: see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct AdministratorCommissioning;

impl AdministratorCommissioning {
    /// The cluster, advertising the Basic Commissioning Method too.
    pub fn new() -> Self {
        Self
    }

    /// Runs one command for `subject` (the IM has already checked Administer and the timed
    /// interaction every command here needs). Whether any commissioning window is open, the
    /// initial one included, comes from `state.window.open` (WindowStatus does not show the
    /// initial one, §11.19.7.1, but RevokeCommissioning closes it and OpenCommissioningWindow is
    /// Busy).
    pub fn handle(
        &self,
        state: &mut NodeState,
        subject: &Subject,
        now: Instant,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let open = state.window.open;
        match command {
            cmd::OPEN_COMMISSIONING_WINDOW => match OpenWindowRequest::decode(fields) {
                Err(e) => e,
                Ok(r) => open_window(
                    state,
                    subject,
                    open,
                    WindowRequest::Enhanced {
                        verifier: Box::new(r.verifier),
                        discriminator: r.discriminator,
                    },
                    r.timeout,
                ),
            },
            cmd::OPEN_BASIC_COMMISSIONING_WINDOW => match decode_basic_timeout(fields) {
                Err(e) => e,
                Ok(t) => open_window(state, subject, open, WindowRequest::Basic, t),
            },
            cmd::REVOKE_COMMISSIONING => revoke(state, now, open),
            _ => InvokeResult::Status(Status::UNSUPPORTED_COMMAND),
        }
    }

    /// Reads one attribute from the state.
    pub fn read_attribute(
        state: &NodeState,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let win = &state.window;
        match attribute {
            attr::WINDOW_STATUS => w.u8(tag, win.status as u8)?,
            attr::ADMIN_FABRIC_INDEX => match win.admin_fabric {
                Some(f) => w.u8(tag, f.0)?,
                None => w.null(tag)?,
            },
            attr::ADMIN_VENDOR_ID => match win.admin_vendor_id {
                Some(v) => w.u16(tag, v)?,
                None => w.null(tag)?,
            },
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }
}

const ATTRIBUTES: [u32; 3] = [
    attr::WINDOW_STATUS,
    attr::ADMIN_FABRIC_INDEX,
    attr::ADMIN_VENDOR_ID,
];
const ACCEPTED: [u32; 3] = [
    cmd::OPEN_COMMISSIONING_WINDOW,
    cmd::OPEN_BASIC_COMMISSIONING_WINDOW,
    cmd::REVOKE_COMMISSIONING,
];

impl Cluster for AdministratorCommissioning {
    fn id(&self) -> u32 {
        id::ADMINISTRATOR_COMMISSIONING
    }

    /// Revision 1 (Matter 1.3).
    fn revision(&self) -> u16 {
        1
    }

    fn feature_map(&self) -> u32 {
        FEATURE_BASIC
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    fn accepted_commands(&self) -> &[u32] {
        &ACCEPTED
    }

    /// All three commands are "A T": Administer, in a timed invoke (§11.19.8).
    fn invoke_privilege(&self, _command: u32) -> Privilege {
        Privilege::Administer
    }

    fn needs_timed_invoke(&self, _command: u32) -> bool {
        true
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        Self::read_attribute(ctx.state, attribute, w, tag)
    }

    /// The node mirrors every open window, the initial one included, in
    /// [`NodeState::window`], so WindowStatus tells whether one is open.
    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let subject = ctx.subject;
        self.handle(ctx.state, &subject, ctx.now, command, fields)
    }
}

/// OpenCommissioningWindow / OpenBasicCommissioningWindow (§11.19.8.1-2): Busy while a window
/// is open or the fail-safe is armed; otherwise the window opens and the cluster records who
/// opened it.
fn open_window(
    state: &mut NodeState,
    subject: &Subject,
    open: bool,
    window: WindowRequest,
    timeout: Duration,
) -> InvokeResult {
    if open || state.fail_safe.is_armed() {
        debug!(
            open,
            armed = state.fail_safe.is_armed(),
            "admin commissioning: Busy"
        );
        return BUSY;
    }
    let status = match window {
        WindowRequest::Enhanced { .. } => WindowStatus::EnhancedWindowOpen,
        WindowRequest::Basic => WindowStatus::BasicWindowOpen,
    };
    // AdminVendorId is the opener's fabric's VendorID at opening time (§11.19.7.3).
    let vendor = subject
        .fabric
        .and_then(|i| state.fabrics.get(i))
        .map(|f| f.vendor_id);
    state.window = CommissioningWindowInfo {
        status,
        open: true,
        admin_fabric: subject.fabric,
        admin_vendor_id: vendor,
    };
    debug!(?status, ?timeout, "admin commissioning: window opening");
    state.push_effect(Effect::OpenCommissioningWindow { window, timeout });
    state.mark_changed(0, cluster_id::ADMINISTRATOR_COMMISSIONING, None);
    InvokeResult::Status(Status::SUCCESS)
}

/// RevokeCommissioning (§11.19.8.3): WindowNotOpen without a window; otherwise the window
/// closes and an armed fail-safe expires at once (with its rollback).
fn revoke(state: &mut NodeState, now: Instant, open: bool) -> InvokeResult {
    if !open {
        return WINDOW_NOT_OPEN;
    }
    state.push_effect(Effect::CloseCommissioningWindow);
    state.window = CommissioningWindowInfo::default();
    state.mark_changed(0, cluster_id::ADMINISTRATOR_COMMISSIONING, None);
    if state.fail_safe.is_armed() {
        // Disarming in the name of the fail-safe's own owner runs the expiry cleanup
        // (§11.10.7.2.2) now; the owner check cannot fail for the owner itself.
        let owner = state.fail_safe.context().and_then(|c| c.fabric);
        let r = state.arm_fail_safe(now, owner, false, 0, 0);
        debug!(
            ?r,
            "admin commissioning: fail-safe expired by RevokeCommissioning"
        );
    }
    debug!("admin commissioning: window revoked");
    InvokeResult::Status(Status::SUCCESS)
}

#[cfg(test)]
mod tests;
