//! Group Key Management: the IPK set as KeySetRead shows it, the other commands' statuses, and
//! KeySetWrite's argument checks in the spec's order.

use super::*;
use crate::fabric::Subject;
use crate::im::clusters::test_support::{c, field, fields, response, st, state_with_fabric};
use crate::tlv::{TlvValue, TlvWriter};

fn id_fields(id: u16) -> Vec<u8> {
    fields(|w| w.u16(Tag::Context(0), id))
}

#[test]
fn key_set_read_of_the_ipk_is_redacted() {
    let (s, subject) = state_with_fabric(0xFFF1);
    let req = id_fields(0);
    let r = GroupKeyManagement.handle(&s, subject.fabric, cmd::KEY_SET_READ, c(&req));
    let (command, m) = response(&r);
    assert_eq!(command, cmd::KEY_SET_READ_RESPONSE);
    let Some(TlvValue::Struct(set)) = field(&m, 0) else {
        panic!("no GroupKeySet: {m:?}")
    };
    let expect = [
        (0, TlvValue::UInt(0)),
        (1, TlvValue::UInt(0)), // TrustFirst
        (2, TlvValue::Null),    // EpochKey0 redacted
        (3, TlvValue::UInt(0)), // EpochStartTime0 as AddNOC synthesizes it
        (4, TlvValue::Null),
        (5, TlvValue::Null),
        (6, TlvValue::Null),
        (7, TlvValue::Null),
    ];
    for (t, v) in expect {
        assert_eq!(field(set, t), Some(&v), "field {t}");
    }
    // The key itself appears nowhere in the response.
    let InvokeResult::Response { fields, .. } = r else {
        unreachable!()
    };
    assert!(!fields.windows(16).any(|w| w == [7; 16]));
}

#[test]
fn read_all_indices_remove_and_not_found() {
    let (s, subject) = state_with_fabric(0xFFF1);
    let r = GroupKeyManagement.handle(&s, subject.fabric, cmd::KEY_SET_READ_ALL_INDICES, None);
    let (command, m) = response(&r);
    assert_eq!(command, cmd::KEY_SET_READ_ALL_INDICES_RESPONSE);
    assert_eq!(
        field(&m, 0),
        Some(&TlvValue::Array(vec![(Tag::Anonymous, TlvValue::UInt(0))]))
    );
    let five = id_fields(5);
    let zero = id_fields(0);
    let h = |cmd, f: &[u8]| GroupKeyManagement.handle(&s, subject.fabric, cmd, c(f));
    assert_eq!(h(cmd::KEY_SET_READ, &five), st(Status::NOT_FOUND));
    assert_eq!(h(cmd::KEY_SET_REMOVE, &five), st(Status::NOT_FOUND));
    assert_eq!(h(cmd::KEY_SET_REMOVE, &zero), st(Status::INVALID_COMMAND));
    assert_eq!(
        GroupKeyManagement.handle(&s, subject.fabric, cmd::KEY_SET_READ, None),
        st(Status::INVALID_COMMAND)
    );
}

#[test]
fn commands_need_an_accessing_fabric() {
    let (s, _) = state_with_fabric(0xFFF1);
    let pase = Subject::pase(None);
    let req = id_fields(0);
    for command in [
        cmd::KEY_SET_READ,
        cmd::KEY_SET_READ_ALL_INDICES,
        cmd::KEY_SET_WRITE,
    ] {
        assert_eq!(
            GroupKeyManagement.handle(&s, pase.fabric, command, c(&req)),
            st(Status::UNSUPPORTED_ACCESS)
        );
    }
}

/// GroupKeySetStruct fields: id, policy, then (key, start) for epochs 0..3 (None = null).
fn key_set(id: u16, policy: u8, epochs: [(Option<&[u8]>, Option<u64>); 3]) -> Vec<u8> {
    fields(|w| {
        w.start_struct(Tag::Context(0))?;
        w.u16(Tag::Context(0), id)?;
        w.u8(Tag::Context(1), policy)?;
        for (i, (k, t)) in epochs.iter().enumerate() {
            let kt = Tag::Context(2 + 2 * i as u8);
            let tt = Tag::Context(3 + 2 * i as u8);
            match k {
                Some(k) => w.octets(kt, k)?,
                None => w.null(kt)?,
            }
            match t {
                Some(t) => w.u64(tt, *t)?,
                None => w.null(tt)?,
            }
        }
        w.end_container()
    })
}

#[test]
fn key_set_write_checks_in_order_then_has_no_room() {
    let (s, subject) = state_with_fabric(0xFFF1);
    let k: &[u8] = &[1; 16];
    let short: &[u8] = &[1; 15];
    let none = (None, None);
    let cases: [(Vec<u8>, Status); 11] = [
        (
            key_set(1, 0, [(Some(k), Some(10)), none, none]),
            Status::RESOURCE_EXHAUSTED,
        ),
        (
            key_set(
                1,
                0,
                [
                    (Some(k), Some(10)),
                    (Some(k), Some(20)),
                    (Some(k), Some(30)),
                ],
            ),
            Status::RESOURCE_EXHAUSTED,
        ),
        (
            key_set(0, 0, [(Some(k), Some(10)), none, none]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 1, [(Some(k), Some(10)), none, none]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 0, [(None, Some(10)), none, none]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 0, [(Some(short), Some(10)), none, none]),
            Status::CONSTRAINT_ERROR,
        ),
        (
            key_set(1, 0, [(Some(k), Some(0)), none, none]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 0, [(Some(k), Some(10)), (Some(k), Some(10)), none]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 0, [(Some(k), Some(10)), (Some(k), None), none]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 0, [(Some(k), Some(10)), none, (Some(k), Some(30))]),
            Status::INVALID_COMMAND,
        ),
        (
            key_set(1, 0, [(Some(k), Some(10)), (Some(short), Some(20)), none]),
            Status::CONSTRAINT_ERROR,
        ),
    ];
    for (i, (req, want)) in cases.iter().enumerate() {
        assert_eq!(
            GroupKeyManagement.handle(&s, subject.fabric, cmd::KEY_SET_WRITE, c(req)),
            st(*want),
            "case {i}"
        );
    }
}

#[test]
fn attributes() {
    let read = |a| {
        let mut b = Vec::new();
        let mut w = TlvWriter::new(&mut b);
        GroupKeyManagement::read_attribute(a, &mut w, Tag::Anonymous).expect("read");
        TlvValue::decode(&b).expect("tlv").1
    };
    assert_eq!(read(attr::GROUP_KEY_MAP), TlvValue::Array(vec![]));
    assert_eq!(read(attr::GROUP_TABLE), TlvValue::Array(vec![]));
    assert_eq!(read(attr::MAX_GROUPS_PER_FABRIC), TlvValue::UInt(0));
    assert_eq!(read(attr::MAX_GROUP_KEYS_PER_FABRIC), TlvValue::UInt(1));
    let entry = fields(|w| w.u16(Tag::Context(1), 1));
    fn list(b: &[u8]) -> Value<'_> {
        crate::tlv::TlvReader::new(b)
            .read_element()
            .expect("tlv")
            .value
    }
    let mut arr = Vec::new();
    let mut w = TlvWriter::new(&mut arr);
    w.start_array(Tag::Anonymous).unwrap();
    w.end_container().unwrap();
    assert_eq!(GroupKeyManagement::write_group_key_map(&list(&arr)), Ok(()));
    assert_eq!(
        GroupKeyManagement::write_group_key_map(&list(&entry)),
        Err(Status::RESOURCE_EXHAUSTED)
    );
    assert_eq!(
        GroupKeyManagement::write_group_key_map(&Value::UInt(1)),
        Err(Status::INVALID_DATA_TYPE)
    );
}
