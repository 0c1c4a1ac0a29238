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
use crate::time::{Duration, Instant};
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

mod groups;
mod identify;
mod on_off;
mod records;
