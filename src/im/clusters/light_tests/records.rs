//! The light's records ("on-off", "groups"): round trip, StartUpOnOff after a reload, load
//! errors.

use super::groups::with_group_keys;
use super::*;

// ---- persistence and start-up ----

fn reloaded(s: &mut NodeState) -> NodeState {
    let records = s.take_records();
    NodeState::default()
        .load(records.iter().map(|r| (r.kind, &r.bytes[..])))
        .expect("load")
}

#[test]
fn light_and_groups_records_round_trip() {
    let mut s = state();
    drop(s.take_records());
    s.light_on(Instant::ZERO);
    s.set_start_up_on_off(Some(StartUpOnOff::Toggle));
    with_group_keys(&mut s);
    s.groups.add(FabricIndex(2), 7, 1, "porch").expect("add");
    // Only the changed records come out, and only once.
    let mut s2 = NodeState::default();
    s2.light = s.light.clone();
    s2.groups = s.groups.clone();
    let kinds: Vec<RecordKind> = s.take_records().iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec![RecordKind::OnOff, RecordKind::Groups]);
    assert!(s.take_records().is_empty());
    assert_eq!(RecordKind::from_name("on-off"), Some(RecordKind::OnOff));
    assert_eq!(RecordKind::from_name("groups"), Some(RecordKind::Groups));
    // Volatile attributes are not part of it.
    s2.write_on_time(Instant::ZERO, 9);
    let back = reloaded(&mut s2);
    assert!(back.light.on_off);
    assert_eq!(back.light.start_up_on_off, Some(StartUpOnOff::Toggle));
    assert_eq!(back.light.on_time, 0);
    assert_eq!(
        back.groups
            .membership(FabricIndex(2), 7, 1)
            .map(|e| e.name.as_str()),
        Some("porch")
    );
}

#[test]
fn start_up_on_off_decides_the_state_after_a_reload() {
    for (start_up, was_on, expect) in [
        (None, true, true),
        (None, false, false),
        (Some(StartUpOnOff::Off), true, false),
        (Some(StartUpOnOff::On), false, true),
        (Some(StartUpOnOff::Toggle), true, false),
        (Some(StartUpOnOff::Toggle), false, true),
    ] {
        let mut s = NodeState::default();
        s.light.on_off = was_on;
        s.light.start_up_on_off = start_up;
        let mut back = reloaded(&mut s);
        back.apply_start_up_on_off();
        assert_eq!(back.light.on_off, expect, "{start_up:?} from {was_on}");
        let effects = switched(&mut back);
        assert_eq!(
            effects,
            if was_on == expect {
                vec![]
            } else {
                vec![expect]
            }
        );
    }
}

#[test]
fn bad_light_records_are_load_errors() {
    use crate::fabric::LoadError;
    let record = |build: &dyn Fn(&mut TlvWriter<'_>) -> Result<(), TlvError>| {
        let mut b = Vec::new();
        let mut w = TlvWriter::new(&mut b);
        w.start_struct(Tag::Anonymous).expect("s");
        w.u8(Tag::Context(0), 1).expect("v");
        build(&mut w).expect("body");
        w.end_container().expect("e");
        b
    };
    let bad_enum = record(&|w| {
        w.bool(Tag::Context(1), true)?;
        w.u8(Tag::Context(2), 3)
    });
    assert!(matches!(
        NodeState::default().load([(RecordKind::OnOff, &bad_enum[..])]),
        Err(LoadError::Invalid { .. })
    ));
    let missing = record(&|w| w.bool(Tag::Context(1), true));
    assert!(matches!(
        NodeState::default().load([(RecordKind::OnOff, &missing[..])]),
        Err(LoadError::Corrupt { .. })
    ));
    let group0 = record(&|w| {
        w.start_array(Tag::Context(1))?;
        w.start_struct(Tag::Anonymous)?;
        w.u8(Tag::Context(0), 1)?;
        w.u16(Tag::Context(1), 0)?;
        w.utf8(Tag::Context(2), "")?;
        w.start_array(Tag::Context(3))?;
        w.u16(Tag::Anonymous, 1)?;
        w.end_container()?;
        w.end_container()?;
        w.end_container()
    });
    assert!(matches!(
        NodeState::default().load([(RecordKind::Groups, &group0[..])]),
        Err(LoadError::Invalid { .. })
    ));
    assert!(matches!(
        NodeState::default().load([(RecordKind::OnOff, &b"\x15\x18"[..])]),
        Err(LoadError::Corrupt { .. })
    ));
}
