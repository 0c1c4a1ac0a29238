//! Administrator Commissioning: every command's happy path and each status it can answer.

use super::*;
use crate::fabric::{FabricIndex, FailSafeEnd};
use crate::im::clusters::test_support::{arm, c, fields, st, state_with_fabric};
use crate::pase::PaseVerifier;
use crate::tlv::{TlvValue, TlvWriter};

/// Passcode 20202021 with salt "SPAKE2P Key Salt" and 1000 iterations: the CHIP SDK's test
/// commissioning values (chip-tool's default onboarding payload).
fn verifier() -> Vec<u8> {
    let v = PaseVerifier::from_passcode(20202021, b"SPAKE2P Key Salt", 1000).expect("verifier");
    v.spake2p().to_bytes().to_vec()
}

fn ocw(timeout: u16) -> Vec<u8> {
    let v = verifier();
    fields(|w| {
        w.u16(Tag::Context(0), timeout)?;
        w.octets(Tag::Context(1), &v)?;
        w.u16(Tag::Context(2), 3840)?;
        w.u32(Tag::Context(3), 1000)?;
        w.octets(Tag::Context(4), b"SPAKE2P Key Salt")
    })
}

fn obcw(timeout: u16) -> Vec<u8> {
    fields(|w| w.u16(Tag::Context(0), timeout))
}

fn read(s: &NodeState, a: u32) -> TlvValue {
    let mut b = Vec::new();
    let mut w = TlvWriter::new(&mut b);
    AdministratorCommissioning::read_attribute(s, a, &mut w, Tag::Anonymous).expect("read");
    TlvValue::decode(&b).expect("tlv").1
}

fn drain(s: &mut NodeState) -> Vec<Effect> {
    std::iter::from_fn(|| s.poll_effect()).collect()
}

#[test]
fn open_commissioning_window_records_the_admin_and_queues_the_window() {
    let (mut s, subject) = state_with_fabric(0xFFF1);
    assert_eq!(read(&s, attr::WINDOW_STATUS), TlvValue::UInt(0));
    assert_eq!(read(&s, attr::ADMIN_FABRIC_INDEX), TlvValue::Null);
    assert_eq!(read(&s, attr::ADMIN_VENDOR_ID), TlvValue::Null);
    let req = ocw(300);
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_COMMISSIONING_WINDOW,
        c(&req),
    );
    assert_eq!(r, st(Status::SUCCESS));
    assert_eq!(read(&s, attr::WINDOW_STATUS), TlvValue::UInt(1));
    assert_eq!(read(&s, attr::ADMIN_FABRIC_INDEX), TlvValue::UInt(1));
    assert_eq!(read(&s, attr::ADMIN_VENDOR_ID), TlvValue::UInt(0xFFF1));
    let effects = drain(&mut s);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::OpenCommissioningWindow {
                window: WindowRequest::Enhanced { discriminator: 3840, verifier },
                timeout,
            }] if *timeout == Duration::from_secs(300) && verifier.iterations() == 1000
        ),
        "{effects:?}"
    );
    assert!(s
        .take_changed()
        .iter()
        .any(|p| p.cluster == cluster_id::ADMINISTRATOR_COMMISSIONING));
    // A second OCW while this window is open: Busy.
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_COMMISSIONING_WINDOW,
        c(&req),
    );
    assert_eq!(r, BUSY);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn busy_when_any_window_is_open_or_the_fail_safe_is_armed() {
    let (mut s, subject) = state_with_fabric(0xFFF1);
    for cmd in [
        cmd::OPEN_COMMISSIONING_WINDOW,
        cmd::OPEN_BASIC_COMMISSIONING_WINDOW,
    ] {
        let req = if cmd == cmd::OPEN_COMMISSIONING_WINDOW {
            ocw(180)
        } else {
            obcw(180)
        };
        // The initial window (not shown in WindowStatus) makes it busy too: the node marks
        // it in `window.open`, which is what the cluster's real call path looks at.
        s.window.open = true;
        assert_eq!(s.window.status, WindowStatus::WindowNotOpen);
        let r = AdministratorCommissioning.handle(&mut s, &subject, Instant::ZERO, cmd, c(&req));
        assert_eq!(r, BUSY, "command {cmd} with the initial window open");
        s.window.open = false;
    }
    arm(&mut s, &subject);
    let req = ocw(900);
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_COMMISSIONING_WINDOW,
        c(&req),
    );
    assert_eq!(r, BUSY, "fail-safe armed");
    assert_eq!(read(&s, attr::WINDOW_STATUS), TlvValue::UInt(0));
}

#[test]
fn parameter_errors_are_invalid_command_or_pake_parameter_error() {
    let (mut s, subject) = state_with_fabric(0xFFF1);
    let short = ocw(179);
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_COMMISSIONING_WINDOW,
        c(&short),
    );
    assert_eq!(r, st(Status::INVALID_COMMAND));
    let bad_salt = fields(|w| {
        w.u16(Tag::Context(0), 300)?;
        w.octets(Tag::Context(1), &verifier())?;
        w.u16(Tag::Context(2), 1)?;
        w.u32(Tag::Context(3), 1000)?;
        w.octets(Tag::Context(4), &[1; 8])
    });
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_COMMISSIONING_WINDOW,
        c(&bad_salt),
    );
    assert_eq!(
        r,
        InvokeResult::ClusterStatus(Status::FAILURE, status::PAKE_PARAMETER_ERROR)
    );
    let long = obcw(901);
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_BASIC_COMMISSIONING_WINDOW,
        c(&long),
    );
    assert_eq!(r, st(Status::INVALID_COMMAND));
    assert!(drain(&mut s).is_empty(), "no effect from a refused command");
}

#[test]
fn basic_window_and_revoke() {
    let (mut s, subject) = state_with_fabric(0x1234);
    let req = obcw(600);
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_BASIC_COMMISSIONING_WINDOW,
        c(&req),
    );
    assert_eq!(r, st(Status::SUCCESS));
    assert_eq!(read(&s, attr::WINDOW_STATUS), TlvValue::UInt(2));
    assert_eq!(read(&s, attr::ADMIN_VENDOR_ID), TlvValue::UInt(0x1234));
    assert!(matches!(
        drain(&mut s).as_slice(),
        [Effect::OpenCommissioningWindow {
            window: WindowRequest::Basic,
            ..
        }]
    ));
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::REVOKE_COMMISSIONING,
        None,
    );
    assert_eq!(r, st(Status::SUCCESS));
    assert_eq!(read(&s, attr::WINDOW_STATUS), TlvValue::UInt(0));
    assert_eq!(read(&s, attr::ADMIN_FABRIC_INDEX), TlvValue::Null);
    assert!(matches!(
        drain(&mut s).as_slice(),
        [Effect::CloseCommissioningWindow]
    ));
    // Nothing open any more: WindowNotOpen.
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::REVOKE_COMMISSIONING,
        None,
    );
    assert_eq!(r, WINDOW_NOT_OPEN);
}

#[test]
fn revoke_expires_an_armed_fail_safe_with_its_rollback() {
    let (mut s, subject) = state_with_fabric(0xFFF1);
    arm(&mut s, &subject);
    // Something done under the fail-safe that the rollback must undo.
    s.fabrics.pending.root = Some(vec![1, 2, 3]);
    s.window.open = true; // e.g. the window a PASE commissioner came through
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::from_millis(1_000),
        cmd::REVOKE_COMMISSIONING,
        None,
    );
    assert_eq!(r, st(Status::SUCCESS));
    assert!(!s.fail_safe.is_armed(), "fail-safe expired");
    assert_eq!(s.fabrics.pending.root, None, "rolled back");
    let effects = drain(&mut s);
    assert!(matches!(
        effects.first(),
        Some(Effect::CloseCommissioningWindow)
    ));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::FailSafeEnded(FailSafeEnd::Disarmed))),
        "{effects:?}"
    );
    assert_eq!(s.fabrics.len(), 1, "the committed fabric stays");
    assert!(s.fabrics.get(FabricIndex(1)).is_some());
}

#[test]
fn ocw_over_pase_has_no_admin_fabric() {
    let mut s = NodeState::default();
    let subject = Subject::pase(None);
    let req = ocw(300);
    let r = AdministratorCommissioning.handle(
        &mut s,
        &subject,
        Instant::ZERO,
        cmd::OPEN_COMMISSIONING_WINDOW,
        c(&req),
    );
    assert_eq!(r, st(Status::SUCCESS));
    assert_eq!(read(&s, attr::ADMIN_FABRIC_INDEX), TlvValue::Null);
    assert_eq!(read(&s, attr::ADMIN_VENDOR_ID), TlvValue::Null);
}
