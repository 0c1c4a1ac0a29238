//! The commissioning clusters inside the data model: registration on endpoint 0, the global
//! lists, and the IM's access, timed and fabric-scope checks applied with the privileges
//! these clusters declare (Matter 1.3 §8.8.3.2, §11.18.6, §11.19.8, §11.2.7, §11.9.6).

use super::{add_commissioning_clusters, id};
use crate::attestation::dev;
use crate::fabric::{AclEntry, AuthMode, FabricIndex, NodeState, Privilege, Subject};
use crate::im::clusters::test_support::{self as ts, c, fields, st};
use crate::im::clusters::DeviceInfo;
use crate::im::model::{DataModel, InvokeContext, InvokeResult, ReadScope};
use crate::im::path::ConcreteAttributePath;
use crate::im::Status;
use crate::rng::TestRng;
use crate::time::Instant;
use crate::tlv::{Tag, TlvValue, TlvWriter};

fn model() -> DataModel {
    // Issuing a DAC costs a signature; the tests share one set of credentials.
    static CREDS: std::sync::OnceLock<crate::attestation::DeviceCredentials> =
        std::sync::OnceLock::new();
    let creds = CREDS
        .get_or_init(|| {
            dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut TestRng::new(3))
                .expect("creds")
        })
        .clone();
    let mut m = DataModel::root_node(DeviceInfo::default(), 100);
    add_commissioning_clusters(
        m.endpoint_mut(0).expect("ep 0"),
        Some(creds),
        "eth0",
        &super::NetworkFeature::Ethernet,
        200,
    );
    m
}

fn invoke(
    m: &mut DataModel,
    s: &mut NodeState,
    subject: Subject,
    timed: bool,
    cluster: u32,
    command: u32,
    f: &[u8],
) -> InvokeResult {
    let mut rng = TestRng::new(9);
    let challenge = [1u8; 16];
    let mut ctx = InvokeContext {
        endpoint: 0,
        now: Instant::ZERO,
        timed,
        subject,
        state: s,
        rng: &mut rng,
        attestation_challenge: &challenge,
    };
    m.invoke(&mut ctx, cluster, command, c(f))
}

fn read(m: &DataModel, s: &NodeState, subject: Subject, cluster: u32, a: u32) -> TlvValue {
    let scope = ReadScope {
        state: s,
        subject,
        fabric_filtered: false,
        now: Instant::ZERO,
    };
    let mut b = Vec::new();
    let mut w = TlvWriter::new(&mut b);
    let p = ConcreteAttributePath {
        endpoint: 0,
        cluster,
        attribute: a,
    };
    m.read_attribute(&scope, p, &mut w, Tag::Anonymous)
        .expect("read");
    TlvValue::decode(&b).expect("tlv").1
}

fn ids(v: TlvValue) -> Vec<u64> {
    let TlvValue::Array(a) = v else {
        panic!("not a list")
    };
    a.into_iter()
        .map(|(_, v)| match v {
            TlvValue::UInt(u) => u,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// A state with fabric 1 whose ACL gives `ADMIN` Administer and `VIEWER` View.
const ADMIN: u64 = 0x11;
const VIEWER: u64 = 0x22;
fn state() -> NodeState {
    let (mut s, _) = ts::state_with_fabric(0xFFF1);
    for (who, privilege) in [(ADMIN, Privilege::Administer), (VIEWER, Privilege::View)] {
        s.acl
            .add_entry(AclEntry {
                fabric_index: FabricIndex(1),
                privilege,
                auth_mode: AuthMode::Case,
                subjects: vec![who],
                targets: vec![],
            })
            .expect("entry");
    }
    s
}

fn case(node: u64) -> Subject {
    Subject::case(FabricIndex(1), node, Default::default())
}

#[test]
fn endpoint_0_lists_the_commissioning_clusters() {
    let m = model();
    let s = NodeState::default();
    let servers = ids(read(&m, &s, Subject::pase(None), id::DESCRIPTOR, 1));
    for cl in [
        id::NETWORK_COMMISSIONING,
        id::ADMINISTRATOR_COMMISSIONING,
        id::OPERATIONAL_CREDENTIALS,
        id::GROUP_KEY_MANAGEMENT,
    ] {
        assert!(servers.contains(&u64::from(cl)), "ServerList has {cl:#x}");
    }
    let pase = Subject::pase(None);
    let opc = id::OPERATIONAL_CREDENTIALS;
    assert_eq!(
        ids(read(&m, &s, pase, opc, 0xFFF9)),
        [0, 2, 4, 6, 7, 9, 10, 11]
    );
    assert_eq!(ids(read(&m, &s, pase, opc, 0xFFF8)), [1, 3, 5, 8]);
    assert_eq!(
        ids(read(&m, &s, pase, opc, 0xFFFB)),
        [0, 1, 2, 3, 4, 5, 0xFFF8, 0xFFF9, 0xFFFB, 0xFFFC, 0xFFFD]
    );
    let adm = id::ADMINISTRATOR_COMMISSIONING;
    assert_eq!(
        read(&m, &s, pase, adm, 0xFFFC),
        TlvValue::UInt(1),
        "BC feature"
    );
    assert_eq!(ids(read(&m, &s, pase, adm, 0xFFF9)), [0, 1, 2]);
    let gkm = id::GROUP_KEY_MANAGEMENT;
    assert_eq!(ids(read(&m, &s, pase, gkm, 0xFFF9)), [0, 1, 3, 4]);
    assert_eq!(ids(read(&m, &s, pase, gkm, 0xFFF8)), [2, 5]);
}

#[test]
fn administrator_commissioning_needs_administer_then_a_timed_invoke() {
    let mut m = model();
    let mut s = state();
    let adm = id::ADMINISTRATOR_COMMISSIONING;
    let revoke = 2;
    let none = fields(|_| Ok(()));
    assert_eq!(
        invoke(&mut m, &mut s, case(VIEWER), true, adm, revoke, &none),
        st(Status::UNSUPPORTED_ACCESS)
    );
    assert_eq!(
        invoke(&mut m, &mut s, case(ADMIN), false, adm, revoke, &none),
        st(Status::NEEDS_TIMED_INTERACTION)
    );
    // Timed, by an administrator, with no window open: the cluster's WindowNotOpen.
    assert_eq!(
        invoke(&mut m, &mut s, case(ADMIN), true, adm, revoke, &none),
        InvokeResult::ClusterStatus(Status::FAILURE, 0x04)
    );
    let obcw = fields(|w| w.u16(Tag::Context(0), 300));
    assert_eq!(
        invoke(&mut m, &mut s, case(ADMIN), true, adm, 1, &obcw),
        st(Status::SUCCESS)
    );
    assert_eq!(read(&m, &s, case(VIEWER), adm, 0), TlvValue::UInt(2));
    assert_eq!(read(&m, &s, case(VIEWER), adm, 1), TlvValue::UInt(1));
}

#[test]
fn operational_credentials_privileges_and_fabric_scope() {
    let mut m = model();
    let mut s = state();
    let opc = id::OPERATIONAL_CREDENTIALS;
    // NOCs needs Administer to read; Fabrics only View.
    let p = |attribute| ConcreteAttributePath {
        endpoint: 0,
        cluster: opc,
        attribute,
    };
    assert!(!m.read_allowed(&s, &case(VIEWER), p(0)));
    assert!(m.read_allowed(&s, &case(ADMIN), p(0)));
    assert!(m.read_allowed(&s, &case(VIEWER), p(1)));
    assert_eq!(read(&m, &s, case(VIEWER), opc, 5), TlvValue::UInt(1));
    // Commands need Administer.
    let label = fields(|w| w.utf8(Tag::Context(0), "Home"));
    assert_eq!(
        invoke(&mut m, &mut s, case(VIEWER), false, opc, 9, &label),
        st(Status::UNSUPPORTED_ACCESS)
    );
    // UpdateFabricLabel is fabric-scoped: PASE before AddNOC has no fabric.
    assert_eq!(
        invoke(&mut m, &mut s, Subject::pase(None), false, opc, 9, &label),
        st(Status::UNSUPPORTED_ACCESS)
    );
    let r = invoke(&mut m, &mut s, case(ADMIN), false, opc, 9, &label);
    assert!(
        matches!(r, InvokeResult::Response { command: 8, .. }),
        "{r:?}"
    );
    assert_eq!(s.fabrics.get(FabricIndex(1)).expect("f").label, "Home");
    // CSRRequest without a fail-safe, through the model.
    let csr = fields(|w| w.octets(Tag::Context(0), &[0; 32]));
    assert_eq!(
        invoke(&mut m, &mut s, case(ADMIN), false, opc, 4, &csr),
        st(Status::FAILSAFE_REQUIRED)
    );
}

#[test]
fn group_key_management_is_fabric_scoped_and_network_commissioning_is_admin_read() {
    let mut m = model();
    let mut s = state();
    let gkm = id::GROUP_KEY_MANAGEMENT;
    let id0 = fields(|w| w.u16(Tag::Context(0), 0));
    assert_eq!(
        invoke(&mut m, &mut s, Subject::pase(None), false, gkm, 1, &id0),
        st(Status::UNSUPPORTED_ACCESS)
    );
    let r = invoke(&mut m, &mut s, case(ADMIN), false, gkm, 1, &id0);
    assert!(
        matches!(r, InvokeResult::Response { command: 2, .. }),
        "{r:?}"
    );
    let nc = |attribute| ConcreteAttributePath {
        endpoint: 0,
        cluster: id::NETWORK_COMMISSIONING,
        attribute,
    };
    assert!(!m.read_allowed(&s, &case(VIEWER), nc(1)), "Networks is R A");
    assert!(
        m.read_allowed(&s, &case(VIEWER), nc(4)),
        "InterfaceEnabled is R V"
    );
    assert!(
        m.read_allowed(&s, &Subject::pase(None), nc(1)),
        "PASE administers"
    );
}

mod prop {
    use proptest::prelude::*;

    use super::*;
    use crate::tlv::TlvReader;

    /// Arbitrary command fields: a structure of random context-tagged members (integers,
    /// octet strings, booleans, nulls), the shapes every request here is made of.
    fn member() -> impl Strategy<Value = (u8, u8, Vec<u8>, u64)> {
        (
            0u8..8,
            0u8..5,
            proptest::collection::vec(any::<u8>(), 0..100),
            any::<u64>(),
        )
    }

    fn encode(members: &[(u8, u8, Vec<u8>, u64)]) -> Vec<u8> {
        fields(|w| {
            for (tag, kind, bytes, n) in members {
                let t = Tag::Context(*tag);
                match kind {
                    0 => w.u64(t, *n)?,
                    1 => w.octets(t, bytes)?,
                    2 => w.bool(t, n % 2 == 0)?,
                    3 => w.null(t)?,
                    _ => w.u8(t, *n as u8)?,
                }
            }
            Ok(())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the fields, every command of the four clusters answers (a status or a
        /// response) without panicking, over PASE and over CASE, armed or not.
        #[test]
        fn prop_commands_answer_any_fields(
            members in proptest::collection::vec(member(), 0..6),
            cluster in 0usize..4,
            command in 0u32..12,
            armed in any::<bool>(),
            pase in any::<bool>(),
        ) {
            let mut m = model();
            let mut s = state();
            let subject = if pase { Subject::pase(None) } else { case(ADMIN) };
            if armed {
                s.arm_fail_safe(Instant::ZERO, subject.fabric, !pase, 60, 0)
                    .expect("arm");
            }
            let cl = [
                id::OPERATIONAL_CREDENTIALS,
                id::ADMINISTRATOR_COMMISSIONING,
                id::GROUP_KEY_MANAGEMENT,
                id::NETWORK_COMMISSIONING,
            ][cluster];
            let f = encode(&members);
            prop_assert!(TlvReader::new(&f).read_struct().is_ok());
            let r = invoke(&mut m, &mut s, subject, true, cl, command, &f);
            if let InvokeResult::Response { fields, .. } = r {
                prop_assert!(TlvReader::new(&fields).read_struct().is_ok());
            }
        }
    }
}
