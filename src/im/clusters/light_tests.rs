//! The light endpoint inside the data model: endpoint 1 as an On/Off Light (Matter 1.3 Device
//! Library §4.1), its Identify, Groups and On/Off clusters (Application Cluster Specification
//! §1.2, §1.3, §1.5) with their reads, writes and constraint errors, each command, the
//! OnWithTimedOff and IdentifyTime countdowns under simulated time, the fabric scoping of
//! Groups, and the light's records (StartUpOnOff on reload).

use super::groups::cmd as gcmd;
use super::identify::cmd as icmd;
use super::on_off::cmd as ocmd;
use super::{add_light_endpoint, id, DeviceInfo};
use crate::fabric::light::attr;
use crate::fabric::{
    AclEntry, AuthMode, Effect, FabricIndex, NodeState, Privilege, RecordKind, StartUpOnOff,
    Subject, LIGHT_ENDPOINT,
};
use crate::im::clusters::test_support::{self as ts, c, field, fields, response, st};
use crate::im::model::{DataModel, InvokeContext, InvokeResult, ReadScope, WriteContext};
use crate::im::path::ConcreteAttributePath;
use crate::im::Status;
use crate::rng::TestRng;
use crate::time::Instant;
use crate::tlv::{Tag, TlvError, TlvReader, TlvValue, TlvWriter};

const ADMIN: u64 = 0x11;
const OPERATOR: u64 = 0x22;
const VIEWER: u64 = 0x33;

fn model() -> DataModel {
    let mut m = DataModel::root_node(DeviceInfo::default(), 100);
    add_light_endpoint(&mut m, 300);
    m
}

/// Fabrics 1 and 2, each with ADMIN (Administer), OPERATOR (Operate) and VIEWER (View).
fn state() -> NodeState {
    let (mut s, _) = ts::state_with_fabric(0xFFF1);
    s.fabrics.add(ts::fabric(2, 0xFFF2)).expect("room");
    for f in [FabricIndex(1), FabricIndex(2)] {
        for (who, privilege) in [
            (ADMIN, Privilege::Administer),
            (OPERATOR, Privilege::Operate),
            (VIEWER, Privilege::View),
        ] {
            s.acl
                .add_entry(AclEntry {
                    fabric_index: f,
                    privilege,
                    auth_mode: AuthMode::Case,
                    subjects: vec![who],
                    targets: vec![],
                })
                .expect("entry");
        }
    }
    s
}

fn case(node: u64) -> Subject {
    Subject::case(FabricIndex(1), node, Default::default())
}

fn case2(node: u64) -> Subject {
    Subject::case(FabricIndex(2), node, Default::default())
}

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

#[allow(clippy::too_many_arguments)]
fn invoke_at(
    m: &mut DataModel,
    s: &mut NodeState,
    subject: Subject,
    now: Instant,
    endpoint: u16,
    cluster: u32,
    command: u32,
    f: Option<&[u8]>,
) -> InvokeResult {
    let mut rng = TestRng::new(9);
    let challenge = [1u8; 16];
    let mut ctx = InvokeContext {
        endpoint,
        now,
        timed: false,
        subject,
        state: s,
        rng: &mut rng,
        attestation_challenge: &challenge,
    };
    m.invoke(&mut ctx, cluster, command, f.and_then(c))
}

/// An invoke on the light endpoint at `now` by the fabric-1 administrator.
fn light(
    m: &mut DataModel,
    s: &mut NodeState,
    now: Instant,
    cluster: u32,
    command: u32,
    f: Option<&[u8]>,
) -> InvokeResult {
    invoke_at(m, s, case(ADMIN), now, LIGHT_ENDPOINT, cluster, command, f)
}

fn read_at(m: &DataModel, s: &NodeState, endpoint: u16, cluster: u32, a: u32) -> TlvValue {
    let scope = ReadScope {
        state: s,
        subject: case(VIEWER),
        fabric_filtered: false,
        now: Instant::ZERO,
    };
    let mut b = Vec::new();
    let mut w = TlvWriter::new(&mut b);
    let p = ConcreteAttributePath {
        endpoint,
        cluster,
        attribute: a,
    };
    m.read_attribute(&scope, p, &mut w, Tag::Anonymous)
        .expect("read");
    TlvValue::decode(&b).expect("tlv").1
}

fn read(m: &DataModel, s: &NodeState, cluster: u32, a: u32) -> TlvValue {
    read_at(m, s, LIGHT_ENDPOINT, cluster, a)
}

fn write(
    m: &mut DataModel,
    s: &mut NodeState,
    subject: Subject,
    now: Instant,
    cluster: u32,
    a: u32,
    value: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>,
) -> Status {
    let mut b = Vec::new();
    value(&mut TlvWriter::new(&mut b)).expect("value");
    let e = TlvReader::new(&b).read_element().expect("element");
    let mut ctx = WriteContext {
        endpoint: LIGHT_ENDPOINT,
        state: s,
        subject,
        now,
        timed: false,
    };
    let p = ConcreteAttributePath {
        endpoint: LIGHT_ENDPOINT,
        cluster,
        attribute: a,
    };
    m.write_attribute(&mut ctx, p, None, &e.value)
}

fn uints(v: TlvValue) -> Vec<u64> {
    let TlvValue::Array(a) = v else {
        panic!("not a list: {v:?}")
    };
    a.into_iter()
        .map(|(_, v)| match v {
            TlvValue::UInt(u) => u,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The OnOffChanged effects queued, in order (other effects dropped).
fn switched(s: &mut NodeState) -> Vec<bool> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_effect() {
        if let Effect::OnOffChanged { endpoint, on } = e {
            assert_eq!(endpoint, LIGHT_ENDPOINT);
            out.push(on);
        }
    }
    out
}

/// Runs the state's timers up to `to` (every deadline on the way, as the node does).
fn run_until(s: &mut NodeState, to: Instant) {
    while let Some(t) = s.poll_timeout().filter(|t| *t <= to) {
        s.handle_timeout(t);
    }
}

fn timed_off(control: u8, on_time: u16, off_wait: u16) -> Vec<u8> {
    fields(|w| {
        w.u8(Tag::Context(0), control)?;
        w.u16(Tag::Context(1), on_time)?;
        w.u16(Tag::Context(2), off_wait)
    })
}

const OK: InvokeResult = InvokeResult::Status(Status::SUCCESS);

// ---- the endpoint ----

#[test]
fn endpoint_1_is_an_on_off_light_listed_by_the_root() {
    let m = model();
    let s = state();
    let TlvValue::Array(dts) = read(&m, &s, id::DESCRIPTOR, 0) else {
        panic!("DeviceTypeList")
    };
    assert_eq!(dts.len(), 1);
    let TlvValue::Struct(dt) = &dts[0].1 else {
        panic!("DeviceTypeStruct")
    };
    // On/Off Light, revision 3 (Matter 1.3 Device Library §4.1).
    assert_eq!(field(dt, 0), Some(&TlvValue::UInt(0x0100)));
    assert_eq!(field(dt, 1), Some(&TlvValue::UInt(3)));
    // Identify, Groups, On/Off, Descriptor (Scenes Management is provisional in 1.3).
    assert_eq!(
        uints(read(&m, &s, id::DESCRIPTOR, 1)),
        vec![0x0003, 0x0004, 0x0006, 0x001D]
    );
    assert_eq!(uints(read_at(&m, &s, 0, id::DESCRIPTOR, 3)), vec![1]);
    assert_eq!(uints(read(&m, &s, id::DESCRIPTOR, 3)), Vec::<u64>::new());
    // Revisions and features of Matter 1.3.
    for (cluster, revision, features) in
        [(id::IDENTIFY, 4, 0), (id::GROUPS, 4, 1), (id::ON_OFF, 6, 1)]
    {
        assert_eq!(
            read(&m, &s, cluster, 0xFFFD),
            TlvValue::UInt(revision),
            "{cluster:#x}"
        );
        assert_eq!(
            read(&m, &s, cluster, 0xFFFC),
            TlvValue::UInt(features),
            "{cluster:#x}"
        );
    }
    assert_eq!(
        uints(read(&m, &s, id::ON_OFF, 0xFFF9)),
        vec![0, 1, 2, 0x40, 0x41, 0x42]
    );
    assert_eq!(
        uints(read(&m, &s, id::ON_OFF, 0xFFFB)),
        vec![0, 0x4000, 0x4001, 0x4002, 0x4003, 0xFFF8, 0xFFF9, 0xFFFB, 0xFFFC, 0xFFFD]
    );
    assert_eq!(uints(read(&m, &s, id::IDENTIFY, 0xFFF9)), vec![0, 0x40]);
    assert_eq!(
        uints(read(&m, &s, id::GROUPS, 0xFFF9)),
        vec![0, 1, 2, 3, 4, 5]
    );
    assert_eq!(uints(read(&m, &s, id::GROUPS, 0xFFF8)), vec![0, 1, 2, 3]);
}

// ---- On/Off ----

#[test]
fn on_off_attributes_read_their_defaults() {
    let m = model();
    let s = state();
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::ON_OFF),
        TlvValue::Bool(false)
    );
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::GLOBAL_SCENE_CONTROL),
        TlvValue::Bool(true)
    );
    assert_eq!(read(&m, &s, id::ON_OFF, attr::ON_TIME), TlvValue::UInt(0));
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::OFF_WAIT_TIME),
        TlvValue::UInt(0)
    );
    assert_eq!(
        read(&m, &s, id::ON_OFF, attr::START_UP_ON_OFF),
        TlvValue::Null
    );
}

#[test]
fn on_off_writes_check_type_range_and_privilege() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    let su = attr::START_UP_ON_OFF;
    let a = case(ADMIN);
    // StartUpOnOffEnum: 0..=2 or null; 3..=0xFF are out of the enum.
    for bad in [3u8, 0x7F, 0xFE, 0xFF] {
        assert_eq!(
            write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
                .u8(Tag::Anonymous, bad)),
            Status::CONSTRAINT_ERROR,
            "{bad}"
        );
    }
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .u16(Tag::Anonymous, 0x100)),
        Status::CONSTRAINT_ERROR
    );
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .bool(Tag::Anonymous, true)),
        Status::INVALID_DATA_TYPE
    );
    assert_eq!(
        s.light.start_up_on_off, None,
        "refused writes change nothing"
    );
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .u8(Tag::Anonymous, 2)),
        Status::SUCCESS
    );
    assert_eq!(read(&m, &s, id::ON_OFF, su), TlvValue::UInt(2));
    // StartUpOnOff needs Manage: an operator may not write it, but may write OnTime.
    assert_eq!(
        write(&mut m, &mut s, case(OPERATOR), t0, id::ON_OFF, su, |w| w
            .null(Tag::Anonymous)),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(
        write(&mut m, &mut s, a, t0, id::ON_OFF, su, |w| w
            .null(Tag::Anonymous)),
        Status::SUCCESS
    );
    assert_eq!(s.light.start_up_on_off, None);
    assert_eq!(
        write(
            &mut m,
            &mut s,
            case(OPERATOR),
            t0,
            id::ON_OFF,
            attr::ON_TIME,
            |w| w.u16(Tag::Anonymous, 300)
        ),
        Status::SUCCESS
    );
    assert_eq!(read(&m, &s, id::ON_OFF, attr::ON_TIME), TlvValue::UInt(300));
    assert_eq!(
        write(
            &mut m,
            &mut s,
            case(VIEWER),
            t0,
            id::ON_OFF,
            attr::ON_TIME,
            |w| w.u16(Tag::Anonymous, 1)
        ),
        Status::UNSUPPORTED_ACCESS
    );
    assert_eq!(
        write(
            &mut m,
            &mut s,
            a,
            t0,
            id::ON_OFF,
            attr::OFF_WAIT_TIME,
            |w| w.u32(Tag::Anonymous, 0x1_0000)
        ),
        Status::CONSTRAINT_ERROR
    );
    assert_eq!(
        write(
            &mut m,
            &mut s,
            a,
            t0,
            id::ON_OFF,
            attr::OFF_WAIT_TIME,
            |w| w.utf8(Tag::Anonymous, "5")
        ),
        Status::INVALID_DATA_TYPE
    );
    // OnOff and GlobalSceneControl are read-only.
    for ro in [attr::ON_OFF, attr::GLOBAL_SCENE_CONTROL] {
        assert_eq!(
            write(&mut m, &mut s, a, t0, id::ON_OFF, ro, |w| w
                .bool(Tag::Anonymous, true)),
            Status::UNSUPPORTED_WRITE
        );
    }
    // Writing OnTime while no countdown runs starts none (§1.5.6.4).
    assert_eq!(s.poll_timeout(), None);
    assert!(!s.light.on_off);
}

#[test]
fn off_on_toggle_switch_and_report() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    assert_eq!(light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None), OK);
    assert!(s.light.on_off);
    // A second On changes nothing and queues nothing.
    assert_eq!(light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None), OK);
    assert_eq!(
        light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None),
        OK
    );
    assert_eq!(
        light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None),
        OK
    );
    assert_eq!(light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF, None), OK);
    assert_eq!(switched(&mut s), vec![true, false, true, false]);
    let changed: Vec<_> = m
        .take_changed()
        .into_iter()
        .filter(|p| p.cluster == id::ON_OFF)
        .collect();
    assert!(
        changed
            .iter()
            .any(|p| p.endpoint == 1 && p.attribute == Some(attr::ON_OFF)),
        "{changed:?}"
    );
    // Off is Operate: a viewer may not switch the light.
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            case(VIEWER),
            t0,
            1,
            id::ON_OFF,
            ocmd::ON,
            None
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    assert!(!s.light.on_off);
    let operator = invoke_at(
        &mut m,
        &mut s,
        case(OPERATOR),
        t0,
        1,
        id::ON_OFF,
        ocmd::TOGGLE,
        None,
    );
    assert_eq!(operator, OK);
    assert!(s.light.on_off);
}

#[test]
fn on_and_toggle_clear_off_wait_time_only_when_on_time_is_0() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    s.set_off_wait_time(40);
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None);
    assert_eq!(
        s.light.off_wait_time, 0,
        "§1.5.7.2: OnTime 0 clears OffWaitTime"
    );
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF, None);
    s.set_off_wait_time(40);
    s.set_on_time(10);
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None);
    assert_eq!(
        s.light.off_wait_time, 40,
        "OnTime above 0 keeps OffWaitTime"
    );
    // Toggle off (and Off) set OnTime to 0 (§1.5.7.3).
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::TOGGLE, None);
    assert_eq!((s.light.on_off, s.light.on_time), (false, 0));
}

#[test]
fn off_with_effect_and_recall_global_scene_follow_global_scene_control() {
    let mut m = model();
    let mut s = state();
    let t0 = Instant::ZERO;
    let effect = |id: u8, variant: u8| {
        fields(move |w| {
            w.u8(Tag::Context(0), id)?;
            w.u8(Tag::Context(1), variant)
        })
    };
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::ON, None);
    // Recall while GlobalSceneControl is true is ignored (§1.5.7.5).
    assert_eq!(
        light(
            &mut m,
            &mut s,
            t0,
            id::ON_OFF,
            ocmd::OFF_WITH_EFFECT,
            Some(&effect(2, 0))
        ),
        st(Status::CONSTRAINT_ERROR)
    );
    assert_eq!(
        light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF_WITH_EFFECT, None),
        st(Status::INVALID_COMMAND)
    );
    assert!(s.light.on_off, "refused commands change nothing");
    // DyingLight with an unknown variant: the default variant (§1.5.7.4.2).
    assert_eq!(
        light(
            &mut m,
            &mut s,
            t0,
            id::ON_OFF,
            ocmd::OFF_WITH_EFFECT,
            Some(&effect(1, 9))
        ),
        OK
    );
    assert!(!s.light.on_off);
    assert!(!s.light.global_scene_control);
    light(
        &mut m,
        &mut s,
        t0,
        id::ON_OFF,
        ocmd::ON_WITH_RECALL_GLOBAL_SCENE,
        None,
    );
    assert!(s.light.on_off && s.light.global_scene_control);
    light(&mut m, &mut s, t0, id::ON_OFF, ocmd::OFF, None);
    // GlobalSceneControl is true again: a recall is ignored and the light stays off.
    light(
        &mut m,
        &mut s,
        t0,
        id::ON_OFF,
        ocmd::ON_WITH_RECALL_GLOBAL_SCENE,
        None,
    );
    assert!(!s.light.on_off);
    assert_eq!(switched(&mut s), vec![true, false, true, false]);
}

#[test]
fn on_with_timed_off_turns_off_after_on_time_tenths() {
    let mut m = model();
    let mut s = state();
    let f = timed_off(0, 50, 30);
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::ON_OFF,
            ocmd::ON_WITH_TIMED_OFF,
            Some(&f)
        ),
        OK
    );
    assert!(s.light.on_off && s.light.is_timed());
    assert_eq!((s.light.on_time, s.light.off_wait_time), (50, 30));
    assert_eq!(s.poll_timeout(), Some(ms(100)));
    run_until(&mut s, ms(2_000));
    assert_eq!(s.light.on_time, 30, "one step each 1/10 s");
    run_until(&mut s, ms(4_900));
    assert!(s.light.on_off);
    assert_eq!(s.light.on_time, 1);
    run_until(&mut s, ms(5_000));
    // §1.5.7.6.4: at OnTime 0 the light goes off with OffWaitTime 0, and the countdown ends.
    assert!(!s.light.on_off);
    assert_eq!((s.light.on_time, s.light.off_wait_time), (0, 0));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(switched(&mut s), vec![true, false]);
}

#[test]
fn off_during_timed_on_starts_the_guard_that_refuses_timed_on() {
    let mut m = model();
    let mut s = state();
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 50, 30)),
    );
    run_until(&mut s, ms(1_000));
    light(&mut m, &mut s, ms(1_000), id::ON_OFF, ocmd::OFF, None);
    assert_eq!((s.light.on_off, s.light.on_time), (false, 0));
    // Delayed Off: OffWaitTime counts down.
    run_until(&mut s, ms(2_000));
    assert_eq!(s.light.off_wait_time, 20);
    // A timed on during the guard does not switch on; it may shorten the guard (§1.5.7.6.4).
    let again = timed_off(0, 50, 50);
    light(
        &mut m,
        &mut s,
        ms(2_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&again),
    );
    assert!(!s.light.on_off);
    assert_eq!(s.light.off_wait_time, 20);
    let shorter = timed_off(0, 50, 5);
    light(
        &mut m,
        &mut s,
        ms(2_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&shorter),
    );
    assert_eq!(s.light.off_wait_time, 5);
    run_until(&mut s, ms(2_500));
    assert_eq!(s.light.off_wait_time, 0);
    assert_eq!(s.poll_timeout(), None, "the guard is over");
    light(
        &mut m,
        &mut s,
        ms(3_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&again),
    );
    assert!(s.light.on_off);
    assert_eq!(switched(&mut s), vec![true, false, true]);
}

#[test]
fn timed_on_extends_accepts_only_when_on_and_follows_writes() {
    let mut m = model();
    let mut s = state();
    // AcceptOnlyWhenOn while off: discarded.
    let only_on = timed_off(1, 20, 0);
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::ON_OFF,
            ocmd::ON_WITH_TIMED_OFF,
            Some(&only_on)
        ),
        OK
    );
    assert!(!s.light.on_off && !s.light.is_timed());
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 20, 0)),
    );
    run_until(&mut s, ms(1_000));
    assert_eq!(s.light.on_time, 10);
    // While on: OnTime becomes the larger of the two.
    light(
        &mut m,
        &mut s,
        ms(1_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(1, 5, 0)),
    );
    assert_eq!(s.light.on_time, 10);
    light(
        &mut m,
        &mut s,
        ms(1_000),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(1, 30, 0)),
    );
    assert_eq!(s.light.on_time, 30);
    // A write of OnTime while timed takes effect (§1.5.6.4).
    let a = case(ADMIN);
    assert_eq!(
        write(
            &mut m,
            &mut s,
            a,
            ms(1_000),
            id::ON_OFF,
            attr::ON_TIME,
            |w| w.u16(Tag::Anonymous, 3)
        ),
        Status::SUCCESS
    );
    run_until(&mut s, ms(1_250));
    assert!(s.light.on_off);
    run_until(&mut s, ms(1_300));
    assert!(!s.light.on_off);
    // Constraints: OnOffControl 0 to 1, times max 0xFFFE; missing fields.
    for bad in [
        timed_off(2, 1, 1),
        timed_off(0, 0xFFFF, 1),
        timed_off(0, 1, 0xFFFF),
    ] {
        assert_eq!(
            light(
                &mut m,
                &mut s,
                ms(2_000),
                id::ON_OFF,
                ocmd::ON_WITH_TIMED_OFF,
                Some(&bad)
            ),
            st(Status::CONSTRAINT_ERROR)
        );
    }
    let short = fields(|w| w.u8(Tag::Context(0), 0));
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(2_000),
            id::ON_OFF,
            ocmd::ON_WITH_TIMED_OFF,
            Some(&short)
        ),
        st(Status::INVALID_COMMAND)
    );
    assert!(!s.light.on_off);
}

#[test]
fn a_late_timer_runs_every_missed_step() {
    let mut m = model();
    let mut s = state();
    light(
        &mut m,
        &mut s,
        ms(0),
        id::ON_OFF,
        ocmd::ON_WITH_TIMED_OFF,
        Some(&timed_off(0, 10, 20)),
    );
    light(&mut m, &mut s, ms(500), id::ON_OFF, ocmd::OFF, None);
    // One call far past both deadlines (a suspended host): the guard has run out too.
    assert!(s.handle_timeout(ms(60_000)));
    assert_eq!(s.light.off_wait_time, 0);
    assert_eq!(s.poll_timeout(), None);
    // An early call is a no-op.
    assert!(!s.handle_timeout(ms(60_001)));
}

// ---- Identify ----

#[test]
fn identify_time_counts_down_in_seconds() {
    let mut m = model();
    let mut s = state();
    let a = case(ADMIN);
    assert_eq!(
        read(&m, &s, id::IDENTIFY, 1),
        TlvValue::UInt(0),
        "IdentifyType None"
    );
    assert_eq!(
        write(
            &mut m,
            &mut s,
            case(OPERATOR),
            ms(0),
            id::IDENTIFY,
            0,
            |w| w.u16(Tag::Anonymous, 3)
        ),
        Status::SUCCESS
    );
    assert!(s.light.is_identifying());
    run_until(&mut s, ms(2_999));
    assert_eq!(read(&m, &s, id::IDENTIFY, 0), TlvValue::UInt(1));
    run_until(&mut s, ms(3_000));
    assert_eq!(read(&m, &s, id::IDENTIFY, 0), TlvValue::UInt(0));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(
        write(&mut m, &mut s, a, ms(0), id::IDENTIFY, 0, |w| w
            .u32(Tag::Anonymous, 70_000)),
        Status::CONSTRAINT_ERROR
    );
    // The Identify command restarts it; 0 stops it.
    let secs = |v: u16| fields(move |w| w.u16(Tag::Context(0), v));
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(10_000),
            id::IDENTIFY,
            icmd::IDENTIFY,
            Some(&secs(60))
        ),
        OK
    );
    run_until(&mut s, ms(20_000));
    assert_eq!(s.light.identify_time, 50);
    light(
        &mut m,
        &mut s,
        ms(20_000),
        id::IDENTIFY,
        icmd::IDENTIFY,
        Some(&secs(0)),
    );
    assert!(!s.light.is_identifying());
    assert_eq!(s.poll_timeout(), None);
    // The commands need Manage.
    assert_eq!(
        invoke_at(
            &mut m,
            &mut s,
            case(OPERATOR),
            ms(0),
            1,
            id::IDENTIFY,
            icmd::IDENTIFY,
            Some(&secs(5))
        ),
        st(Status::UNSUPPORTED_ACCESS)
    );
    assert_eq!(
        light(&mut m, &mut s, ms(0), id::IDENTIFY, icmd::IDENTIFY, None),
        st(Status::INVALID_COMMAND)
    );
}

#[test]
fn trigger_effect_accepts_the_enum_and_refuses_the_rest() {
    let mut m = model();
    let mut s = state();
    let effect = |id: u8, variant: u8| {
        fields(move |w| {
            w.u8(Tag::Context(0), id)?;
            w.u8(Tag::Context(1), variant)
        })
    };
    for e in [0x00, 0x01, 0x02, 0x0B, 0xFE, 0xFF] {
        assert_eq!(
            light(
                &mut m,
                &mut s,
                ms(0),
                id::IDENTIFY,
                icmd::TRIGGER_EFFECT,
                Some(&effect(e, 0))
            ),
            OK,
            "{e:#x}"
        );
    }
    // An unknown variant is the default one (§1.2.6.2.2).
    assert_eq!(
        light(
            &mut m,
            &mut s,
            ms(0),
            id::IDENTIFY,
            icmd::TRIGGER_EFFECT,
            Some(&effect(0, 7))
        ),
        OK
    );
    for e in [0x03, 0x0A, 0x0C, 0xFD] {
        assert_eq!(
            light(
                &mut m,
                &mut s,
                ms(0),
                id::IDENTIFY,
                icmd::TRIGGER_EFFECT,
                Some(&effect(e, 0))
            ),
            st(Status::CONSTRAINT_ERROR),
            "{e:#x}"
        );
    }
}

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
fn with_group_keys(s: &mut NodeState) {
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
    s.light_on();
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
    s2.set_on_time(9);
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
