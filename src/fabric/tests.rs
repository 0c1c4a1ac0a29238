//! NodeState tests: fail-safe snapshot/rollback/commit rules and the persisted records.

use super::table::tests::test_fabric;
use super::*;

const T0: Instant = Instant::from_millis(10_000);

fn admin_entry(fabric: FabricIndex, node: u64) -> AclEntry {
    AclEntry {
        fabric_index: fabric,
        privilege: Privilege::Administer,
        auth_mode: AuthMode::Case,
        subjects: vec![node],
        targets: vec![],
    }
}

fn effects(s: &mut NodeState) -> Vec<String> {
    std::iter::from_fn(|| s.poll_effect())
        .map(|e| format!("{e:?}"))
        .collect()
}

/// Arms over PASE and does what AddNOC would: a fabric, its admin entry, a pending key.
fn commission_under_fail_safe(s: &mut NodeState) -> FabricIndex {
    s.arm_fail_safe(T0, None, false, 60, 7).expect("arm");
    let idx = s.fabrics.add(test_fabric(1, "")).expect("add");
    s.acl.add_entry(admin_entry(idx, 0x1B669)).expect("acl");
    if let Some(c) = s.fail_safe.context_mut() {
        c.fabric = Some(idx);
        c.added_fabric = Some(idx);
    }
    s.network.interface_enabled = false;
    idx
}

#[test]
fn expiry_rolls_back_everything_and_says_so() {
    let mut s = NodeState::default();
    let idx = commission_under_fail_safe(&mut s);
    assert_eq!(s.fail_safe.breadcrumb(), 7);
    assert_eq!(s.poll_timeout(), Some(T0 + Duration::from_secs(60)));
    assert!(!s.handle_timeout(T0 + Duration::from_millis(59_999)));
    assert_eq!(s.fabrics.len(), 1);
    assert!(s.handle_timeout(T0 + Duration::from_secs(60)));
    assert!(s.fabrics.is_empty());
    assert!(s.acl.entries().is_empty());
    assert!(s.network.interface_enabled);
    assert_eq!(s.fail_safe.breadcrumb(), 0);
    assert!(!s.fail_safe.is_armed());
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(
        effects(&mut s),
        [
            format!("{:?}", Effect::FabricRemoved(idx)),
            format!("{:?}", Effect::FailSafeEnded(FailSafeEnd::Expired)),
        ]
    );
    let changed = s.take_changed();
    assert!(changed.contains(&ChangedPath {
        endpoint: 0,
        cluster: cluster_id::OPERATIONAL_CREDENTIALS,
        attribute: None
    }));
    assert!(changed.contains(&ChangedPath {
        endpoint: 0,
        cluster: cluster_id::GENERAL_COMMISSIONING,
        attribute: Some(0)
    }));
}

#[test]
fn disarm_rolls_back_and_updated_noc_is_reverted() {
    let mut s = NodeState::default();
    let idx = s.fabrics.add(test_fabric(1, "a")).expect("add");
    s.acl.add_entry(admin_entry(idx, 5)).expect("acl");
    // Operational fabric 1 arms over CASE and updates its NOC and ACL.
    s.arm_fail_safe(T0, Some(idx), true, 30, 1).expect("arm");
    if let Some(f) = s.fabrics.get_mut(idx) {
        f.noc = vec![0xAA];
    }
    s.acl
        .replace_fabric_entries(idx, vec![admin_entry(idx, 6)])
        .expect("acl");
    // Another fabric cannot disarm it.
    assert_eq!(
        s.arm_fail_safe(T0, Some(FabricIndex(2)), true, 0, 0),
        Err(CommissioningError::BusyWithOtherAdmin)
    );
    assert_eq!(
        s.arm_fail_safe(T0, None, false, 60, 0),
        Err(CommissioningError::BusyWithOtherAdmin),
        "PASE without fabric is another admin too"
    );
    s.arm_fail_safe(T0, Some(idx), true, 0, 3).expect("disarm");
    assert_eq!(
        s.fabrics.get(idx).map(|f| f.noc.clone()),
        Some(vec![4, 5, 6])
    );
    assert_eq!(s.acl.entries(), &[admin_entry(idx, 5)][..]);
    assert_eq!(
        s.fail_safe.breadcrumb(),
        3,
        "the disarming command's breadcrumb"
    );
    assert_eq!(
        effects(&mut s),
        [
            format!("{:?}", Effect::CloseFabricSessions(idx)),
            format!("{:?}", Effect::FailSafeEnded(FailSafeEnd::Disarmed)),
        ]
    );
}

#[test]
fn a_fabric_removed_under_the_fail_safe_stays_removed() {
    let mut s = NodeState::default();
    let keep = s.fabrics.add(test_fabric(1, "a")).expect("add");
    s.acl.add_entry(admin_entry(keep, 5)).expect("acl");
    let gone = s.fabrics.add(test_fabric(2, "b")).expect("add");
    s.acl.add_entry(admin_entry(gone, 6)).expect("acl");
    s.arm_fail_safe(T0, Some(keep), true, 30, 1).expect("arm");
    assert!(s.remove_fabric(gone));
    s.handle_timeout(T0 + Duration::from_secs(31));
    assert!(
        s.fabrics.get(gone).is_none(),
        "removed fabric restored by the rollback"
    );
    assert!(s.fabrics.get(keep).is_some());
    assert_eq!(s.acl.entries(), &[admin_entry(keep, 5)][..]);
}

#[test]
fn pending_state_is_dropped_by_rollback() {
    let mut s = NodeState::default();
    s.arm_fail_safe(T0, None, false, 60, 0).expect("arm");
    s.fabrics.pending.root = Some(vec![1, 2]);
    s.fabrics.pending.operational_key = Some((test_fabric(1, "").operational_key, false));
    s.handle_timeout(T0 + Duration::from_secs(61));
    assert!(s.fabrics.pending.root.is_none());
    assert!(s.fabrics.pending.operational_key.is_none());
}

#[test]
fn commissioning_complete_rules() {
    let mut s = NodeState::default();
    assert_eq!(
        s.commissioning_complete(Some(FabricIndex(1)), true),
        Err(CommissioningError::NoFailSafe)
    );
    let idx = commission_under_fail_safe(&mut s);
    assert_eq!(
        s.commissioning_complete(Some(idx), false),
        Err(CommissioningError::InvalidAuthentication),
        "over PASE"
    );
    assert_eq!(
        s.commissioning_complete(Some(FabricIndex(9)), true),
        Err(CommissioningError::InvalidAuthentication),
        "other fabric"
    );
    effects(&mut s);
    assert_eq!(s.commissioning_complete(Some(idx), true), Ok(idx));
    assert!(!s.fail_safe.is_armed());
    assert_eq!(s.fail_safe.breadcrumb(), 0);
    assert_eq!(
        effects(&mut s),
        [
            format!("{:?}", Effect::CommissioningComplete { fabric: idx }),
            format!("{:?}", Effect::CloseCommissioningWindow),
        ]
    );
    // Committed: the timer no longer undoes anything.
    assert!(!s.handle_timeout(T0 + Duration::from_secs(3_600)));
    assert_eq!(s.fabrics.len(), 1);
}

#[test]
fn case_cannot_arm_while_a_window_is_open() {
    // An administrator's window, and the initial one (WindowStatus WindowNotOpen, but open).
    for status in [
        WindowStatus::EnhancedWindowOpen,
        WindowStatus::WindowNotOpen,
    ] {
        let mut s = NodeState::default();
        s.window.status = status;
        s.window.open = true;
        assert_eq!(
            s.arm_fail_safe(T0, Some(FabricIndex(1)), true, 60, 0),
            Err(CommissioningError::BusyWithOtherAdmin),
            "{status:?}"
        );
        assert!(s.arm_fail_safe(T0, None, false, 60, 0).is_ok(), "PASE may");
    }
    let mut s = NodeState::default();
    assert!(
        s.arm_fail_safe(T0, Some(FabricIndex(1)), true, 60, 0)
            .is_ok(),
        "CASE may with no window open"
    );
}

#[test]
fn remove_fabric_clears_scoped_state() {
    let mut s = NodeState::default();
    let a = s.fabrics.add(test_fabric(1, "")).expect("add");
    let b = s.fabrics.add(test_fabric(2, "")).expect("add");
    s.acl.add_entry(admin_entry(a, 1)).expect("acl");
    s.acl.add_entry(admin_entry(b, 1)).expect("acl");
    s.window.admin_fabric = Some(a);
    s.window.admin_vendor_id = Some(0xFFF1);
    assert!(s.remove_fabric(a));
    assert!(!s.remove_fabric(a));
    assert_eq!(s.acl.entries(), &[admin_entry(b, 1)][..]);
    assert_eq!(s.window.admin_fabric, None);
    assert_eq!(s.window.admin_vendor_id, None);
}

#[test]
fn records_round_trip_and_fail_safe_holds_back_guarded_ones() {
    let mut s = NodeState::default();
    let first: Vec<RecordKind> = s.take_records().iter().map(|r| r.kind).collect();
    assert_eq!(first, RecordKind::ALL, "everything once at start");
    assert!(s.take_records().is_empty(), "nothing changed");
    let idx = commission_under_fail_safe(&mut s);
    s.info.node_label = "kitchen".into();
    let kinds: Vec<RecordKind> = s.take_records().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [RecordKind::BasicInformation],
        "fabrics wait for commit"
    );
    s.commissioning_complete(Some(idx), true).expect("commit");
    s.fabrics.set_label(idx, "home").expect("label");
    s.regulatory.config = RegulatoryLocation::Outdoor;
    let recs = s.take_records();
    let kinds: Vec<RecordKind> = recs.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Fabrics,
            RecordKind::Acl,
            RecordKind::GeneralCommissioning,
            // InterfaceEnabled false, written under the fail-safe, is committed now.
            RecordKind::NetworkCommissioning
        ]
    );
    let mut all: Vec<Record> = RecordKind::ALL
        .iter()
        .map(|k| s.encode_record(*k))
        .collect();
    let loaded = NodeState::default()
        .load(all.iter().map(|r| (r.kind, &r.bytes[..])))
        .expect("load");
    assert_eq!(
        loaded.fabrics.iter().collect::<Vec<_>>(),
        s.fabrics.iter().collect::<Vec<_>>()
    );
    assert_eq!(loaded.acl, s.acl);
    assert_eq!(loaded.info, s.info);
    assert_eq!(loaded.regulatory, s.regulatory);
    assert_eq!(loaded.network, s.network);
    assert!(!loaded.network.interface_enabled);
    let mut loaded = loaded;
    assert!(
        loaded.take_records().is_empty(),
        "loaded records count as persisted"
    );
    all.clear();
}

#[test]
fn corrupt_records_are_typed_errors() {
    let s = NodeState::default();
    let good = s.encode_record(RecordKind::BasicInformation);
    let mut truncated = good.bytes.to_vec();
    truncated.pop();
    let load = |kind, b: &[u8]| NodeState::default().load([(kind, b)]).map(drop);
    assert!(matches!(
        load(RecordKind::BasicInformation, &truncated),
        Err(LoadError::Corrupt { .. })
    ));
    assert!(matches!(
        load(RecordKind::Fabrics, &[]),
        Err(LoadError::Corrupt { .. })
    ));
    // {0: 2}: a future version.
    assert_eq!(
        load(RecordKind::Acl, &[0x15, 0x24, 0x00, 0x02, 0x18]),
        Err(LoadError::UnsupportedVersion {
            kind: RecordKind::Acl,
            version: 2
        })
    );
    // Location of 3 bytes: {0: 1, 1: "", 2: "XXX"}.
    assert!(matches!(
        load(
            RecordKind::BasicInformation,
            &[0x15, 0x24, 0x00, 0x01, 0x2C, 0x01, 0x00, 0x2C, 0x02, 0x03, b'X', b'X', b'X', 0x18]
        ),
        Err(LoadError::Invalid { .. })
    ));
    // A fabric whose operational key is zero (not a scalar).
    let mut st = NodeState::default();
    st.fabrics.add(test_fabric(1, "")).expect("add");
    let rec = st.encode_record(RecordKind::Fabrics);
    let key = test_fabric(1, "").operational_key.to_bytes();
    let mut bytes = rec.bytes.to_vec();
    let at = bytes
        .windows(32)
        .position(|w| w == &key[..])
        .expect("key in record");
    bytes[at..at + 32].fill(0);
    assert!(matches!(
        load(RecordKind::Fabrics, &bytes),
        Err(LoadError::Invalid { .. })
    ));
    assert_eq!(RecordKind::from_name("acl"), Some(RecordKind::Acl));
    assert_eq!(RecordKind::from_name("nope"), None);
}

proptest::proptest! {
    /// Arbitrary bytes as any record are an error or a state, never a panic.
    #[test]
    fn prop_loading_garbage_never_panics(
        kind in 0usize..4,
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        let kind = RecordKind::ALL[kind];
        let _ = NodeState::default().load([(kind, &bytes[..])]);
    }

    /// A record that decodes (here: a valid one with a byte flipped) either loads or gives a
    /// typed error.
    #[test]
    fn prop_flipped_fabric_record(at in 0usize..400, bit in 0u8..8) {
        let mut s = NodeState::default();
        s.fabrics.add(test_fabric(1, "x")).expect("add");
        let mut bytes = s.encode_record(RecordKind::Fabrics).bytes.to_vec();
        let i = at % bytes.len();
        bytes[i] ^= 1 << bit;
        let _ = NodeState::default().load([(RecordKind::Fabrics, &bytes[..])]);
    }
}
