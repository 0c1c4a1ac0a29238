//! Access control through the Interaction Model: concrete paths get UNSUPPORTED_ACCESS,
//! wildcards skip what the subject may not see, and the check orders of Matter 1.3 §8.4.3.2
//! (read), §8.7.3.2 (write) and §8.8.3.2 (invoke), timed interactions included.

use hex_literal::hex;

use super::clusters::{id, DeviceInfo};
use super::model::global;
use super::test_requests::{self as req, InvokeOutcome};
use super::tests::{cp, drive_read, read, Drive, TestModel};
use super::*;
use crate::fabric::{AclEntry, AuthMode, Cats, FabricIndex, Privilege, Subject};
use crate::time::Instant;
use crate::tlv::{Tag, TlvError, TlvValue, TlvWriter};

pub(super) const F1: FabricIndex = FabricIndex(1);
pub(super) const NODE: u64 = 0x0000_0000_0001_B669;

pub(super) fn root() -> TestModel {
    DataModel::root_node(DeviceInfo::default(), 100).into()
}

pub(super) fn case_subject() -> Subject {
    Subject::case(F1, NODE, Cats::default())
}

pub(super) fn grant(m: &mut TestModel, privilege: Privilege) {
    m.state
        .acl
        .add_entry(AclEntry {
            fabric_index: F1,
            privilege,
            auth_mode: AuthMode::Case,
            subjects: vec![NODE],
            targets: vec![],
        })
        .expect("entry");
}

/// TimedRequest { 0: 1000 ms }.
const TIMED: [u8; 9] = hex!("15 25 00 e8 03 24 ff 0b 18");

/// Runs one invoke (after a TimedRequest when `timed`).
pub(super) fn invoke(
    m: &mut TestModel,
    (ep, cl, cmd): (u16, u32, u32),
    timed: bool,
    fields: Option<req::Fields<'_>>,
) -> InvokeOutcome {
    let mut ex = ImExchange::new(1024);
    if timed {
        ex.handle(Instant::ZERO, m, Opcode::TIMED_REQUEST, &TIMED);
        assert_eq!(
            ex.poll_message().map(|m| m.opcode),
            Some(Opcode::STATUS_RESPONSE)
        );
    }
    ex.handle(
        Instant::ZERO,
        m,
        Opcode::INVOKE_REQUEST,
        &req::invoke(ep, cl, cmd, timed, fields),
    );
    let msg = ex.poll_message().expect("InvokeResponse");
    assert_eq!(msg.opcode, Opcode::INVOKE_RESPONSE);
    assert!(ex.is_done());
    req::invoke_outcome(&msg.payload)
}

/// Runs one write of one path (after a TimedRequest when `timed`).
pub(super) fn write(
    m: &mut TestModel,
    p: ConcreteAttributePath,
    timed: bool,
    append: bool,
    value: &dyn Fn(&mut TlvWriter<'_>, Tag) -> Result<(), TlvError>,
) -> Status {
    let mut ex = ImExchange::new(1024);
    if timed {
        ex.handle(Instant::ZERO, m, Opcode::TIMED_REQUEST, &TIMED);
        let _ = ex.poll_message();
    }
    ex.handle(
        Instant::ZERO,
        m,
        Opcode::WRITE_REQUEST,
        &req::write(p, timed, append, None, value),
    );
    let msg = ex.poll_message().expect("WriteResponse");
    assert_eq!(msg.opcode, Opcode::WRITE_RESPONSE);
    req::write_status(&msg.payload)
}

fn label(v: &'static str) -> impl Fn(&mut TlvWriter<'_>, Tag) -> Result<(), TlvError> {
    move |w, t| w.utf8(t, v)
}

const NODE_LABEL: ConcreteAttributePath = ConcreteAttributePath {
    endpoint: 0,
    cluster: id::BASIC_INFORMATION,
    attribute: 5,
};

#[test]
fn case_without_entries_concrete_reads_are_refused_and_wildcards_silent() {
    let mut m = root();
    m.subject = case_subject();
    let r = read(
        &mut m,
        &[
            AttributePath::concrete(0, id::BASIC_INFORMATION, 1),
            // Existence is checked before access: a missing cluster says so.
            AttributePath::concrete(0, 0x99, 1),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0xFFFD),
        ],
    );
    assert_eq!(
        r,
        vec![
            (
                cp(0, id::BASIC_INFORMATION, 1),
                Err(Status::UNSUPPORTED_ACCESS)
            ),
            (cp(0, 0x99, 1), Err(Status::UNSUPPORTED_CLUSTER)),
            (
                cp(0, id::BASIC_INFORMATION, 0xFFFD),
                Err(Status::UNSUPPORTED_ACCESS)
            ),
        ]
    );
    assert!(read(&mut m, &[AttributePath::default()]).is_empty());
}

#[test]
fn pase_reads_everything_including_the_acl() {
    let mut m = root();
    let all = read(&mut m, &[AttributePath::default()]);
    assert!(all.iter().all(|(_, v)| v.is_ok()), "{all:?}");
    assert!(all.iter().any(|(p, _)| *p == cp(0, id::ACCESS_CONTROL, 0)));
}

#[test]
fn view_grants_reads_but_the_acl_needs_administer() {
    let mut m = root();
    m.subject = case_subject();
    grant(&mut m, Privilege::View);
    assert_eq!(
        read(
            &mut m,
            &[AttributePath::concrete(0, id::BASIC_INFORMATION, 2)]
        )[0]
        .1,
        Ok(TlvValue::UInt(0xFFF1))
    );
    assert_eq!(
        read(&mut m, &[AttributePath::concrete(0, id::ACCESS_CONTROL, 0)])[0].1,
        Err(Status::UNSUPPORTED_ACCESS)
    );
    // A wildcard over Access Control skips ACL and Extension, shows the rest.
    let attrs: Vec<u32> = read(
        &mut m,
        &[AttributePath {
            endpoint: Some(0),
            cluster: Some(id::ACCESS_CONTROL),
            ..AttributePath::default()
        }],
    )
    .into_iter()
    .map(|(p, _)| p.attribute)
    .collect();
    let mut want = vec![2, 3, 4];
    want.extend(global::ALL);
    assert_eq!(attrs, want);
}

#[test]
fn write_checks_writable_before_access_and_access_before_data() {
    let mut m = root();
    m.subject = case_subject();
    grant(&mut m, Privilege::View);
    // VendorName is read-only: UNSUPPORTED_WRITE even without write access (§8.7.3.2).
    let vendor_name = cp(0, id::BASIC_INFORMATION, 1);
    assert_eq!(
        write(&mut m, vendor_name, false, false, &label("x")),
        Status::UNSUPPORTED_WRITE
    );
    // Global attributes are never writable.
    assert_eq!(
        write(
            &mut m,
            cp(0, id::BASIC_INFORMATION, 0xFFFD),
            false,
            false,
            &|w, t| w.u8(t, 1)
        ),
        Status::UNSUPPORTED_WRITE
    );
    // NodeLabel needs Manage: refused, and a bad value is not even looked at.
    assert_eq!(
        write(&mut m, NODE_LABEL, false, false, &|w, t| w.u8(t, 1)),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(m.state.info.node_label, "");
}

#[test]
fn manage_writes_node_label_but_not_location() {
    let mut m = root();
    m.subject = case_subject();
    grant(&mut m, Privilege::Manage);
    let v0 = m.data_version(0, id::BASIC_INFORMATION).expect("version");
    assert_eq!(
        write(&mut m, NODE_LABEL, false, false, &label("hall")),
        Status::SUCCESS
    );
    assert_eq!(m.state.info.node_label, "hall");
    assert_eq!(
        m.data_version(0, id::BASIC_INFORMATION),
        Some(v0.wrapping_add(1))
    );
    assert_eq!(
        write(
            &mut m,
            cp(0, id::BASIC_INFORMATION, 6),
            false,
            false,
            &label("DE")
        ),
        Status::UNSUPPORTED_ACCESS,
        "Location is RW VA"
    );
    // Operate does not imply Manage.
    let mut m = root();
    m.subject = case_subject();
    grant(&mut m, Privilege::Operate);
    assert_eq!(
        write(&mut m, NODE_LABEL, false, false, &label("hall")),
        Status::UNSUPPORTED_ACCESS
    );
}

#[test]
fn invoke_checks_path_then_access() {
    let mut m = root();
    m.subject = case_subject();
    grant(&mut m, Privilege::Manage);
    let arm = (0, id::GENERAL_COMMISSIONING, 0);
    let fields = |w: &mut TlvWriter<'_>| {
        w.u16(Tag::Context(0), 60)?;
        w.u64(Tag::Context(1), 1)
    };
    assert_eq!(
        invoke(&mut m, arm, false, Some(&fields)),
        InvokeOutcome::Status(Status::UNSUPPORTED_ACCESS, None),
        "ArmFailSafe needs Administer"
    );
    assert_eq!(
        invoke(&mut m, (0, id::GENERAL_COMMISSIONING, 0x77), false, None),
        InvokeOutcome::Status(Status::UNSUPPORTED_COMMAND, None),
        "a missing command is reported before access"
    );
    assert!(!m.state.fail_safe.is_armed());
}

/// A cluster on endpoint 1 whose attribute 0 and command 0 need a timed interaction, and whose
/// command 1 is fabric-scoped.
struct TimedThing(u8);

impl Cluster for TimedThing {
    fn id(&self) -> u32 {
        0xFFF1_FC01
    }
    fn revision(&self) -> u16 {
        1
    }
    fn attributes(&self) -> &[u32] {
        &[0]
    }
    fn accepted_commands(&self) -> &[u32] {
        &[0, 1]
    }
    fn is_writable(&self, _: u32) -> bool {
        true
    }
    fn needs_timed_write(&self, _: u32) -> bool {
        true
    }
    fn needs_timed_invoke(&self, c: u32) -> bool {
        c == 0
    }
    fn is_fabric_scoped_command(&self, c: u32) -> bool {
        c == 1
    }
    fn read(
        &self,
        _: &ReadContext<'_>,
        _: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        Ok(w.u8(tag, self.0)?)
    }
    fn write(
        &mut self,
        _: &mut WriteContext<'_>,
        _: u32,
        v: &crate::tlv::Value<'_>,
    ) -> Result<(), Status> {
        self.0 = v.decode::<u8>().map_err(|_| Status::INVALID_DATA_TYPE)?;
        Ok(())
    }
    fn invoke(
        &mut self,
        _: &mut InvokeContext<'_>,
        _: u32,
        _: Option<crate::tlv::Container<'_>>,
    ) -> InvokeResult {
        InvokeResult::Status(Status::SUCCESS)
    }
}

fn with_timed_thing() -> TestModel {
    let mut m = root();
    m.add_endpoint(
        1,
        vec![DeviceType {
            id: 0x0100,
            revision: 1,
        }],
    )
    .add_cluster(Box::new(TimedThing(0)), 1);
    m
}

#[test]
fn timed_writes_and_invokes_are_required_where_declared() {
    let mut m = with_timed_thing();
    let p = cp(1, 0xFFF1_FC01, 0);
    let seven = |w: &mut TlvWriter<'_>, t| w.u8(t, 7);
    assert_eq!(
        write(&mut m, p, false, false, &seven),
        Status::NEEDS_TIMED_INTERACTION
    );
    assert_eq!(write(&mut m, p, true, false, &seven), Status::SUCCESS);
    assert_eq!(read(&mut m, &[p.into()])[0].1, Ok(TlvValue::UInt(7)));
    let c0 = (1, 0xFFF1_FC01, 0);
    assert_eq!(
        invoke(&mut m, c0, false, None),
        InvokeOutcome::Status(Status::NEEDS_TIMED_INTERACTION, None)
    );
    assert_eq!(
        invoke(&mut m, c0, true, None),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    // Access comes before timing: a CASE subject without entries learns nothing more.
    m.subject = case_subject();
    assert_eq!(
        write(&mut m, p, false, false, &seven),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(
        invoke(&mut m, c0, false, None),
        InvokeOutcome::Status(Status::UNSUPPORTED_ACCESS, None)
    );
}

#[test]
fn device_type_targets_grant_by_endpoint_device_type() {
    let mut m = with_timed_thing();
    m.subject = case_subject();
    m.state
        .acl
        .add_entry(AclEntry {
            fabric_index: F1,
            privilege: Privilege::Operate,
            auth_mode: AuthMode::Case,
            subjects: vec![],
            targets: vec![crate::fabric::Target {
                device_type: Some(0x0100),
                ..Default::default()
            }],
        })
        .expect("entry");
    assert_eq!(
        invoke(&mut m, (1, 0xFFF1_FC01, 0), true, None),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    // Endpoint 0 is a root node, not device type 0x0100.
    assert_eq!(
        read(
            &mut m,
            &[AttributePath::concrete(0, id::BASIC_INFORMATION, 2)]
        )[0]
        .1,
        Err(Status::UNSUPPORTED_ACCESS)
    );
}

#[test]
fn fabric_scoped_operations_need_an_accessing_fabric() {
    let mut m = with_timed_thing();
    // PASE before AddNOC: implicitly Administer, but no fabric.
    assert_eq!(
        invoke(&mut m, (1, 0xFFF1_FC01, 1), false, None),
        InvokeOutcome::Status(Status::UNSUPPORTED_ACCESS, None)
    );
    let acl = cp(0, id::ACCESS_CONTROL, 0);
    let empty = |w: &mut TlvWriter<'_>, t| {
        w.start_array(t)?;
        w.end_container()
    };
    assert_eq!(
        write(&mut m, acl, false, false, &empty),
        Status::UNSUPPORTED_ACCESS
    );
    // After AddNOC bound the session to fabric 1, both work.
    m.subject = Subject::pase(Some(F1));
    assert_eq!(
        invoke(&mut m, (1, 0xFFF1_FC01, 1), false, None),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    assert_eq!(write(&mut m, acl, false, false, &empty), Status::SUCCESS);
}

#[test]
fn state_changes_from_commands_bump_data_versions() {
    let mut m = root();
    let v0 = m
        .data_version(0, id::GENERAL_COMMISSIONING)
        .expect("version");
    let fields = |w: &mut TlvWriter<'_>| {
        w.u16(Tag::Context(0), 60)?;
        w.u64(Tag::Context(1), 9)
    };
    let r = invoke(
        &mut m,
        (0, id::GENERAL_COMMISSIONING, 0),
        false,
        Some(&fields),
    );
    assert_eq!(r.uint_field(0), Some(0));
    assert_eq!(
        m.data_version(0, id::GENERAL_COMMISSIONING),
        Some(v0.wrapping_add(1))
    );
    let changed = m.take_changed();
    assert!(changed
        .iter()
        .any(|c| c.cluster == id::GENERAL_COMMISSIONING && c.attribute == Some(0)));
    // The chunked read path sees the same subject and state as the first chunk.
    let req = ReadRequest {
        attribute_requests: vec![AttributePath::default()],
        ..ReadRequest::default()
    };
    m.subject = case_subject();
    grant(&mut m, Privilege::View);
    let chunks = drive_read(&mut m, &req.encode(), 128);
    assert!(chunks.len() > 1);
    assert!(chunks
        .iter()
        .flat_map(|c| c.reports.iter())
        .all(|(p, v)| v.is_ok() && !(p.cluster == id::ACCESS_CONTROL && p.attribute <= 1)));
}
