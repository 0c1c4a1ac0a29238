//! General Commissioning and Access Control through the Interaction Model: every command's
//! success and error codes, attribute reads and the ACL's fabric-scoped writes.

use super::access_tests::{case_subject, grant, invoke, root, write, F1, NODE};
use super::clusters::id;
use super::test_requests::InvokeOutcome;
use super::tests::{cp, drive_read, read, TestModel};
use super::*;
use crate::fabric::acl::node_id;
use crate::fabric::{
    AclEntry, AuthMode, CommissioningError, FabricIndex, Privilege, RegulatoryLocation, Subject,
};
use crate::tlv::{Tag, TlvError, TlvValue, TlvWriter};

const GC: u32 = id::GENERAL_COMMISSIONING;
const AC: u32 = id::ACCESS_CONTROL;

fn arm(m: &mut TestModel, expiry: u16, breadcrumb: u64) -> InvokeOutcome {
    let f = move |w: &mut TlvWriter<'_>| {
        w.u16(Tag::Context(0), expiry)?;
        w.u64(Tag::Context(1), breadcrumb)
    };
    invoke(m, (0, GC, 0), false, Some(&f))
}

fn error_code(o: &InvokeOutcome, response: u32) -> u64 {
    match o {
        InvokeOutcome::Response(c, _) if *c == response => o.uint_field(0).expect("ErrorCode"),
        other => panic!("expected response {response}: {other:?}"),
    }
}

#[test]
fn arm_fail_safe_arms_extends_and_sets_breadcrumb() {
    let mut m = root();
    assert_eq!(error_code(&arm(&mut m, 60, 11), 1), 0);
    assert!(m.state.fail_safe.is_armed());
    assert_eq!(
        read(&mut m, &[AttributePath::concrete(0, GC, 0)])[0].1,
        Ok(TlvValue::UInt(11))
    );
    assert_eq!(error_code(&arm(&mut m, 120, 12), 1), 0, "extension");
    assert_eq!(m.state.fail_safe.breadcrumb(), 12);
    // Another administrator (a CASE session of fabric 2) is told the fail-safe is busy.
    m.subject = Subject::case(FabricIndex(2), NODE, Default::default());
    m.state
        .acl
        .add_entry(AclEntry {
            fabric_index: FabricIndex(2),
            privilege: Privilege::Administer,
            auth_mode: AuthMode::Case,
            subjects: vec![],
            targets: vec![],
        })
        .expect("entry");
    assert_eq!(
        error_code(&arm(&mut m, 0, 99), 1),
        CommissioningError::BusyWithOtherAdmin as u64
    );
    assert!(m.state.fail_safe.is_armed());
    assert_eq!(
        m.state.fail_safe.breadcrumb(),
        12,
        "breadcrumb untouched on error"
    );
    // The owner disarms with 0: rolled back, Breadcrumb reset... then set by the command.
    m.subject = Subject::pase(None);
    assert_eq!(error_code(&arm(&mut m, 0, 0), 1), 0);
    assert!(!m.state.fail_safe.is_armed());
    assert_eq!(m.state.fail_safe.breadcrumb(), 0);
}

#[test]
fn commands_with_missing_or_mistyped_fields_are_invalid_command() {
    let mut m = root();
    let only_expiry = |w: &mut TlvWriter<'_>| w.u16(Tag::Context(0), 60);
    assert_eq!(
        invoke(&mut m, (0, GC, 0), false, Some(&only_expiry)),
        InvokeOutcome::Status(Status::INVALID_COMMAND, None)
    );
    assert_eq!(
        invoke(&mut m, (0, GC, 0), false, None),
        InvokeOutcome::Status(Status::INVALID_COMMAND, None)
    );
    let signed = |w: &mut TlvWriter<'_>| {
        w.i16(Tag::Context(0), 60)?;
        w.u64(Tag::Context(1), 0)
    };
    assert_eq!(
        invoke(&mut m, (0, GC, 0), false, Some(&signed)),
        InvokeOutcome::Status(Status::INVALID_COMMAND, None)
    );
    assert!(!m.state.fail_safe.is_armed());
}

fn set_regulatory(m: &mut TestModel, config: u8, country: &'static str) -> InvokeOutcome {
    let f = move |w: &mut TlvWriter<'_>| {
        w.u8(Tag::Context(0), config)?;
        w.utf8(Tag::Context(1), country)?;
        w.u64(Tag::Context(2), 5)
    };
    invoke(m, (0, GC, 2), false, Some(&f))
}

#[test]
fn set_regulatory_config_rules() {
    let mut m = root();
    m.state.regulatory.location_capability = RegulatoryLocation::Indoor;
    let outside = CommissioningError::ValueOutsideRange as u64;
    assert_eq!(
        error_code(&set_regulatory(&mut m, 1, "DE"), 3),
        outside,
        "outdoor"
    );
    assert_eq!(
        error_code(&set_regulatory(&mut m, 3, "DE"), 3),
        outside,
        "not an enum value"
    );
    assert_eq!(
        set_regulatory(&mut m, 0, "DEU"),
        InvokeOutcome::Status(Status::CONSTRAINT_ERROR, None)
    );
    assert_eq!(m.state.fail_safe.breadcrumb(), 0);
    let v0 = m.data_version(0, id::BASIC_INFORMATION).expect("version");
    assert_eq!(error_code(&set_regulatory(&mut m, 0, "DE"), 3), 0);
    assert_eq!(m.state.info.location, "DE");
    assert_eq!(m.state.fail_safe.breadcrumb(), 5);
    assert_eq!(
        m.data_version(0, id::BASIC_INFORMATION),
        Some(v0.wrapping_add(1)),
        "Location changed with the country code"
    );
    m.state.regulatory.location_capability = RegulatoryLocation::IndoorOutdoor;
    assert_eq!(error_code(&set_regulatory(&mut m, 1, "DE"), 3), 0);
    assert_eq!(
        read(
            &mut m,
            &[
                AttributePath::concrete(0, GC, 2),
                AttributePath::concrete(0, GC, 3)
            ]
        )
        .into_iter()
        .map(|(_, v)| v)
        .collect::<Vec<_>>(),
        vec![Ok(TlvValue::UInt(1)), Ok(TlvValue::UInt(2))]
    );
}

#[test]
fn commissioning_complete_needs_a_fail_safe_and_case() {
    let mut m = root();
    let cc = |m: &mut TestModel| error_code(&invoke(m, (0, GC, 4), false, None), 5);
    assert_eq!(cc(&mut m), CommissioningError::NoFailSafe as u64);
    assert_eq!(error_code(&arm(&mut m, 60, 1), 1), 0);
    // Over PASE, even after AddNOC bound the session to the fabric.
    if let Some(c) = m.state.fail_safe.context_mut() {
        c.fabric = Some(F1);
    }
    m.subject = Subject::pase(Some(F1));
    assert_eq!(cc(&mut m), CommissioningError::InvalidAuthentication as u64);
    assert!(m.state.fail_safe.is_armed(), "nothing committed");
    // Over CASE on the fail-safe's fabric (with Administer), it commits.
    m.subject = case_subject();
    grant(&mut m, Privilege::Administer);
    assert_eq!(cc(&mut m), 0);
    assert!(!m.state.fail_safe.is_armed());
}

#[test]
fn general_commissioning_attributes() {
    let mut m = root();
    let r: Vec<_> = read(
        &mut m,
        &[
            AttributePath::concrete(0, GC, 1),
            AttributePath::concrete(0, GC, 4),
        ],
    )
    .into_iter()
    .map(|(_, v)| v)
    .collect();
    assert_eq!(
        r,
        vec![
            Ok(TlvValue::Struct(vec![
                (Tag::Context(0), TlvValue::UInt(60)),
                (Tag::Context(1), TlvValue::UInt(900)),
            ])),
            Ok(TlvValue::Bool(true)),
        ]
    );
    // Breadcrumb is writable with Administer only.
    let crumb = |w: &mut TlvWriter<'_>, t| w.u64(t, 77);
    assert_eq!(
        write(&mut m, cp(0, GC, 0), false, false, &crumb),
        Status::SUCCESS
    );
    assert_eq!(m.state.fail_safe.breadcrumb(), 77);
    assert_eq!(
        write(&mut m, cp(0, GC, 0), false, false, &|w, t| w.utf8(t, "x")),
        Status::INVALID_DATA_TYPE
    );
    m.subject = case_subject();
    grant(&mut m, Privilege::Manage);
    assert_eq!(
        write(&mut m, cp(0, GC, 0), false, false, &crumb),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(
        write(&mut m, cp(0, GC, 1), false, false, &crumb),
        Status::UNSUPPORTED_WRITE
    );
}

/// An AccessControlEntryStruct as a client writes it (FabricIndex field omitted or bogus).
fn entry_tlv(
    w: &mut TlvWriter<'_>,
    tag: Tag,
    privilege: u8,
    auth: u8,
    subjects: &[u64],
    bogus_fabric: bool,
) -> Result<(), TlvError> {
    w.start_struct(tag)?;
    w.u8(Tag::Context(1), privilege)?;
    w.u8(Tag::Context(2), auth)?;
    w.start_array(Tag::Context(3))?;
    for s in subjects {
        w.u64(Tag::Anonymous, *s)?;
    }
    w.end_container()?;
    w.null(Tag::Context(4))?;
    if bogus_fabric {
        w.u8(Tag::Context(0xFE), 9)?;
    }
    w.end_container()
}

fn acl_list<'a>(
    entries: &'a [(u8, u8, &'a [u64])],
) -> impl Fn(&mut TlvWriter<'_>, Tag) -> Result<(), TlvError> + 'a {
    move |w, t| {
        w.start_array(t)?;
        for (p, a, s) in entries {
            entry_tlv(w, Tag::Anonymous, *p, *a, s, true)?;
        }
        w.end_container()
    }
}

fn acl_read(m: &mut TestModel, filtered: bool) -> TlvValue {
    let req = ReadRequest {
        attribute_requests: vec![AttributePath::concrete(0, AC, 0)],
        fabric_filtered: filtered,
        ..ReadRequest::default()
    };
    let chunks = drive_read(m, &req.encode(), 1024);
    chunks
        .into_iter()
        .flat_map(|c| c.reports)
        .next()
        .expect("one report")
        .1
        .expect("value")
}

#[test]
fn acl_write_replaces_only_the_accessing_fabrics_entries() {
    let mut m = root();
    let other = AclEntry {
        fabric_index: FabricIndex(2),
        privilege: Privilege::View,
        auth_mode: AuthMode::Case,
        subjects: vec![],
        targets: vec![],
    };
    m.state.acl.add_entry(other.clone()).expect("entry");
    m.subject = Subject::pase(Some(F1));
    let list = [
        (5u8, 2u8, &[NODE][..]),
        (1, 2, &[node_id::CAT_PREFIX | 0x0042_0001][..]),
    ];
    let v0 = m.data_version(0, AC).expect("version");
    assert_eq!(
        write(&mut m, cp(0, AC, 0), false, false, &acl_list(&list)),
        Status::SUCCESS
    );
    assert_eq!(m.data_version(0, AC), Some(v0.wrapping_add(1)));
    let mine: Vec<_> = m.state.acl.fabric_entries(F1).cloned().collect();
    assert_eq!(mine.len(), 2);
    assert!(
        mine.iter().all(|e| e.fabric_index == F1),
        "client's FabricIndex ignored"
    );
    assert_eq!(mine[0].privilege, Privilege::Administer);
    assert_eq!(
        m.state.acl.fabric_entries(FabricIndex(2)).next(),
        Some(&other)
    );
    // Filtered read: our two entries, in full.
    let TlvValue::Array(filtered) = acl_read(&mut m, true) else {
        panic!("not a list")
    };
    assert_eq!(filtered.len(), 2);
    // Unfiltered: fabric 2's entry too, reduced to its FabricIndex.
    let TlvValue::Array(all) = acl_read(&mut m, false) else {
        panic!("not a list")
    };
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[2].1,
        TlvValue::Struct(vec![(Tag::Context(0xFE), TlvValue::UInt(2))])
    );
    // Writing an empty list clears ours only.
    assert_eq!(
        write(&mut m, cp(0, AC, 0), false, false, &acl_list(&[])),
        Status::SUCCESS
    );
    assert_eq!(m.state.acl.entries(), &[other][..]);
}

#[test]
fn acl_write_validation_is_all_or_nothing() {
    let mut m = root();
    m.subject = Subject::pase(Some(F1));
    let p = cp(0, AC, 0);
    let ok = [(5u8, 2u8, &[NODE][..])];
    assert_eq!(
        write(&mut m, p, false, false, &acl_list(&ok)),
        Status::SUCCESS
    );
    for (list, want) in [
        // PASE auth mode is never stored.
        (vec![(5u8, 1u8, &[NODE][..])], Status::CONSTRAINT_ERROR),
        // Group + Administer.
        (vec![(5, 3, &[1][..])], Status::CONSTRAINT_ERROR),
        // Privilege 7 is not an enum value.
        (vec![(7, 2, &[NODE][..])], Status::CONSTRAINT_ERROR),
        // Node id 0.
        (vec![(1, 2, &[0][..])], Status::CONSTRAINT_ERROR),
        // Five subjects > SubjectsPerAccessControlEntry.
        (
            vec![(1, 2, &[1, 2, 3, 4, 5][..])],
            Status::RESOURCE_EXHAUSTED,
        ),
        // Five entries > AccessControlEntriesPerFabric.
        (vec![(1, 2, &[1][..]); 5], Status::RESOURCE_EXHAUSTED),
    ] {
        assert_eq!(
            write(&mut m, p, false, false, &acl_list(&list)),
            want,
            "{list:?}"
        );
        assert_eq!(m.state.acl.entries().len(), 1, "unchanged after {list:?}");
    }
    assert_eq!(
        write(&mut m, p, false, false, &|w, t| w.u8(t, 1)),
        Status::INVALID_DATA_TYPE
    );
    // Append (ListIndex null) adds one entry after ours.
    let one = |w: &mut TlvWriter<'_>, t| entry_tlv(w, t, 3, 2, &[NODE + 1], false);
    assert_eq!(write(&mut m, p, false, true, &one), Status::SUCCESS);
    assert_eq!(m.state.acl.entries().len(), 2);
    assert_eq!(m.state.acl.entries()[1].privilege, Privilege::Operate);
}

#[test]
fn acl_written_over_pase_then_grants_the_case_admin() {
    let mut m = root();
    m.subject = Subject::pase(Some(F1));
    let ok = [(5u8, 2u8, &[NODE][..])];
    assert_eq!(
        write(&mut m, cp(0, AC, 0), false, false, &acl_list(&ok)),
        Status::SUCCESS
    );
    m.subject = case_subject();
    assert!(matches!(acl_read(&mut m, true), TlvValue::Array(v) if v.len() == 1));
    m.subject = Subject::case(F1, NODE + 1, Default::default());
    assert_eq!(
        read(&mut m, &[AttributePath::concrete(0, AC, 0)])[0].1,
        Err(Status::UNSUPPORTED_ACCESS)
    );
}

#[test]
fn extension_attribute_checks_its_data() {
    let mut m = root();
    m.subject = Subject::pase(Some(F1));
    let p = cp(0, AC, 1);
    let ext = |data: Vec<u8>| {
        move |w: &mut TlvWriter<'_>, t: Tag| {
            w.start_array(t)?;
            w.start_struct(Tag::Anonymous)?;
            w.octets(Tag::Context(1), &data)?;
            w.end_container()?;
            w.end_container()
        }
    };
    // An anonymous TLV list holding one context-tagged byte.
    let list = vec![0x17, 0x24, 0x01, 0x2A, 0x18];
    assert_eq!(
        write(&mut m, p, false, false, &ext(list.clone())),
        Status::SUCCESS
    );
    assert_eq!(m.state.acl.extensions().len(), 1);
    assert_eq!(m.state.acl.extensions()[0].data, list);
    // A structure is not a list; 129 bytes are too many.
    assert_eq!(
        write(&mut m, p, false, false, &ext(vec![0x15, 0x18])),
        Status::CONSTRAINT_ERROR
    );
    let mut long = vec![0x17, 0x30, 0x01, 122];
    long.extend([0u8; 122]);
    long.push(0x18);
    assert_eq!(long.len(), 127);
    assert_eq!(
        write(&mut m, p, false, false, &ext(long.clone())),
        Status::SUCCESS
    );
    long.insert(4, 0);
    long.insert(4, 0);
    long[3] = 124;
    assert_eq!(
        write(&mut m, p, false, false, &ext(long)),
        Status::CONSTRAINT_ERROR
    );
    assert_eq!(m.state.acl.extensions()[0].data.len(), 127);
}

#[test]
fn access_control_limits_and_feature_map() {
    let mut m = root();
    let r: Vec<_> = read(
        &mut m,
        &[
            AttributePath::concrete(0, AC, 2),
            AttributePath::concrete(0, AC, 3),
            AttributePath::concrete(0, AC, 4),
            AttributePath::concrete(0, AC, 0xFFFC),
        ],
    )
    .into_iter()
    .map(|(_, v)| v)
    .collect();
    assert_eq!(
        r,
        vec![
            Ok(TlvValue::UInt(4)),
            Ok(TlvValue::UInt(3)),
            Ok(TlvValue::UInt(4)),
            Ok(TlvValue::UInt(1)),
        ]
    );
}
