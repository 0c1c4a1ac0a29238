//! Groups (Application Cluster Specification §1.3): the key check, each command, fabric
//! scoping, capacity, RemoveFabric.

use super::*;

// ---- Groups ----

fn add(group: u16, name: &str) -> Vec<u8> {
    let name = name.to_owned();
    fields(move |w| {
        w.u16(Tag::Context(0), group)?;
        w.utf8(Tag::Context(1), &name)
    })
}

fn group_id(group: u16) -> Vec<u8> {
    fields(move |w| w.u16(Tag::Context(0), group))
}

/// The response's (command, status, group id).
fn group_response(r: &InvokeResult) -> (u32, u64, u64) {
    let (command, m) = response(r);
    let uint = |t| match field(&m, t) {
        Some(TlvValue::UInt(v)) => *v,
        other => panic!("field {t}: {other:?}"),
    };
    (command, uint(0), uint(1))
}

fn membership(
    m: &mut DataModel,
    s: &mut NodeState,
    subject: Subject,
    asked: &[u16],
) -> (u64, Vec<u64>) {
    let asked = asked.to_vec();
    let f = fields(move |w| {
        w.start_array(Tag::Context(0))?;
        for g in &asked {
            w.u16(Tag::Anonymous, *g)?;
        }
        w.end_container()
    });
    let r = invoke_at(
        m,
        s,
        subject,
        ms(0),
        1,
        id::GROUPS,
        gcmd::GET_GROUP_MEMBERSHIP,
        Some(&f),
    );
    let (command, fields) = response(&r);
    assert_eq!(command, gcmd::GET_GROUP_MEMBERSHIP_RESPONSE);
    let Some(TlvValue::UInt(capacity)) = field(&fields, 0) else {
        panic!("capacity")
    };
    (*capacity, uints(field(&fields, 1).expect("list").clone()))
}

/// Keys for groups 1..=20 on both fabrics, as Group Key Management's GroupKeyMap would hold.
pub(super) fn with_group_keys(s: &mut NodeState) {
    for f in [FabricIndex(1), FabricIndex(2)] {
        for g in 1..=20 {
            s.groups.key_map.insert((f, g), 0x0101);
        }
    }
}

#[test]
fn groups_commands_need_a_fabric_and_a_group_key() {
    let mut m = model();
    let mut s = state();
    // Over PASE before AddNOC there is no accessing fabric (§7.13.6 via the IM).
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            Subject::pase(None),
            ms(0),
            1,
            id::GROUPS,
            gcmd::ADD_GROUP,
            Some(&add(1, ""))
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    // No key mapped to the group: UNSUPPORTED_ACCESS in the response (§1.3.7.1.3).
    let r = light(
        &mut m,
        &mut s,
        ms(0),
        id::GROUPS,
        gcmd::ADD_GROUP,
        Some(&add(7, "porch")),
    );
    assert_eq!(
        group_response(&r),
        (
            gcmd::ADD_GROUP_RESPONSE,
            u64::from(Status::UNSUPPORTED_ACCESS.0),
            7
        )
    );
    assert!(s.groups.is_empty());
    // AddGroup is Manage, ViewGroup Operate.
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            case(OPERATOR),
            ms(0),
            1,
            id::GROUPS,
            gcmd::ADD_GROUP,
            Some(&add(7, ""))
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    let view = invoke_at(
        &mut m,
        &mut s,
        case(OPERATOR),
        ms(0),
        1,
        id::GROUPS,
        gcmd::VIEW_GROUP,
        Some(&group_id(7)),
    );
    assert_eq!(
        group_response(&view),
        (gcmd::VIEW_GROUP_RESPONSE, u64::from(Status::NOT_FOUND.0), 7)
    );
    assert_eq!(
        read(&m, &s, id::GROUPS, 0),
        TlvValue::UInt(0x80),
        "NameSupport"
    );
}

#[test]
fn add_view_membership_remove_per_fabric() {
    let mut m = model();
    let mut s = state();
    with_group_keys(&mut s);
    let g = |s: Status| u64::from(s.0);
    let r = light(
        &mut m,
        &mut s,
        ms(0),
        id::GROUPS,
        gcmd::ADD_GROUP,
        Some(&add(7, "porch")),
    );
    assert_eq!(
        group_response(&r),
        (gcmd::ADD_GROUP_RESPONSE, g(Status::SUCCESS), 7)
    );
    light(
        &mut m,
        &mut s,
        ms(0),
        id::GROUPS,
        gcmd::ADD_GROUP,
        Some(&add(3, "")),
    );
    // Constraint errors in the response: group 0, a name over 16 bytes.
    for (bad, group) in [(add(0, "x"), 0), (add(9, "seventeen bytes!!"), 9)] {
        let r = light(
            &mut m,
            &mut s,
            ms(0),
            id::GROUPS,
            gcmd::ADD_GROUP,
            Some(&bad),
        );
        assert_eq!(
            group_response(&r),
            (gcmd::ADD_GROUP_RESPONSE, g(Status::CONSTRAINT_ERROR), group)
        );
    }
    let r = light(
        &mut m,
        &mut s,
        ms(0),
        id::GROUPS,
        gcmd::VIEW_GROUP,
        Some(&group_id(7)),
    );
    let (command, f) = response(&r);
    assert_eq!(command, gcmd::VIEW_GROUP_RESPONSE);
    assert_eq!(field(&f, 0), Some(&TlvValue::UInt(0)));
    assert_eq!(field(&f, 2), Some(&TlvValue::Utf8("porch".into())));
    let r = light(
        &mut m,
        &mut s,
        ms(0),
        id::GROUPS,
        gcmd::VIEW_GROUP,
        Some(&group_id(0)),
    );
    assert_eq!(group_response(&r).1, g(Status::CONSTRAINT_ERROR));
    // Membership: all, filtered; capacity is what the fabric may still add.
    assert_eq!(
        membership(&mut m, &mut s, case(ADMIN), &[]),
        (6, vec![3, 7])
    );
    assert_eq!(
        membership(&mut m, &mut s, case(ADMIN), &[7, 8]),
        (6, vec![7])
    );
    // Fabric 2 sees none of fabric 1's groups and cannot remove them.
    assert_eq!(membership(&mut m, &mut s, case2(ADMIN), &[]), (8, vec![]));
    let r = invoke_at(
        &mut m,
        &mut s,
        case2(ADMIN),
        ms(0),
        1,
        id::GROUPS,
        gcmd::REMOVE_GROUP,
        Some(&group_id(7)),
    );
    assert_eq!(group_response(&r).1, g(Status::NOT_FOUND));
    invoke_at(
        &mut m,
        &mut s,
        case2(ADMIN),
        ms(0),
        1,
        id::GROUPS,
        gcmd::ADD_GROUP,
        Some(&add(7, "other")),
    );
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            case2(ADMIN),
            ms(0),
            1,
            id::GROUPS,
            gcmd::REMOVE_ALL_GROUPS,
            None
        ),
        OK
    );
    assert_eq!(
        membership(&mut m, &mut s, case(ADMIN), &[]),
        (6, vec![3, 7])
    );
    // Remove: SUCCESS, then NOT_FOUND.
    for expect in [Status::SUCCESS, Status::NOT_FOUND] {
        let r = light(
            &mut m,
            &mut s,
            ms(0),
            id::GROUPS,
            gcmd::REMOVE_GROUP,
            Some(&group_id(7)),
        );
        assert_eq!(
            group_response(&r),
            (gcmd::REMOVE_GROUP_RESPONSE, g(expect), 7)
        );
    }
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::GROUPS,
            gcmd::REMOVE_ALL_GROUPS,
            None
        ),
        OK
    );
    assert!(s.groups.is_empty());
}

#[test]
fn the_table_fills_and_remove_fabric_empties_it() {
    let mut m = model();
    let mut s = state();
    with_group_keys(&mut s);
    for group in 1..=8 {
        let r = light(
            &mut m,
            &mut s,
            ms(0),
            id::GROUPS,
            gcmd::ADD_GROUP,
            Some(&add(group, "")),
        );
        assert_eq!(group_response(&r).1, 0);
    }
    let r = light(
        &mut m,
        &mut s,
        ms(0),
        id::GROUPS,
        gcmd::ADD_GROUP,
        Some(&add(9, "")),
    );
    assert_eq!(
        group_response(&r).1,
        u64::from(Status::RESOURCE_EXHAUSTED.0)
    );
    assert_eq!(membership(&mut m, &mut s, case(ADMIN), &[]).0, 0);
    assert!(s.remove_fabric(FabricIndex(1)));
    assert!(s.groups.is_empty());
    assert!(!s.groups.has_key(FabricIndex(1), 1));
}

#[test]
fn add_group_if_identifying_adds_only_while_identifying() {
    let mut m = model();
    let mut s = state();
    with_group_keys(&mut s);
    let cmd = gcmd::ADD_GROUP_IF_IDENTIFYING;
    assert_eq!(
        light(&mut m, &mut s, ms(0), id::GROUPS, cmd, Some(&add(5, "a"))),
        OK
    );
    assert!(s.groups.is_empty(), "not identifying: ignored");
    s.set_identify_time(ms(0), 10);
    assert_eq!(
        light(&mut m, &mut s, ms(0), id::GROUPS, cmd, Some(&add(5, "a"))),
        OK
    );
    assert!(s.groups.membership(FabricIndex(1), 5, 1).is_some());
    // Errors come as the command's status.
    assert_eq!(
        light(&mut m, &mut s, ms(0), id::GROUPS, cmd, Some(&add(0, ""))),
        st(Status::CONSTRAINT_ERROR)
    );
    assert_eq!(
        light(&mut m, &mut s, ms(0), id::GROUPS, cmd, Some(&add(99, ""))),
        st(Status::UNSUPPORTED_ACCESS)
    );
}
