//! CASE tests: public vectors, golden bytes, initiator <-> responder loopback (full, resumed,
//! resumption fallback), tampered messages with their exact StatusReports, malformed input and
//! property tests.

use hex_literal::hex;
use p256::ecdsa::SigningKey;
use p256::SecretKey;
use proptest::prelude::*;
use zeroize::Zeroizing;

use super::keys::{self, ResumeMic};
use super::messages::{Sigma1, Sigma2, Sigma2Resume, Sigma3, Tbe};
use super::*;
use crate::cert::matter::{DnAttribute, MatterCert};
use crate::fabric::{Fabric, FabricTable, ResumptionStore};
use crate::im::clusters::operational_credentials::vectors::{
    CHIP_ICA01_PRIV, CHIP_ICA01_TLV, CHIP_NODE01_01_TLV, CHIP_NODE01_02_TLV, CHIP_ROOT01_PRIV,
    CHIP_ROOT01_TLV,
};
use crate::message::SecureChannelOpcode as Op;
use crate::rng::{Rng, TestRng};
use crate::time::{Duration, Instant};

/// CHIP SDK src/protocols/secure_channel/tests/TestCASESession.cpp, `DestinationIdTest`: the
/// worked example of Matter 1.3 §4.14.2.2.1 (root key, fabric id, node id, IPK, random).
#[test]
fn destination_id_spec_vector() {
    let root = hex!(
        "044a9f42b1ca4840d37292bbc7f6a7e11e22200c976fc900dbc98a7a383a641cb8"
        "254a2e56d4e295a847943b4e3897c4a773e930277b4d9fbede8a052686bfacfa"
    );
    let ipk = hex!("9bc61cd9c62a2df6d64dfcaa9dc472d4");
    let random = hex!("7e171231568dfa17206b3accf8faec2f4d21b580113196f47c7c4deb810a73dc");
    let d = keys::destination_id(
        &ipk,
        &random,
        &root,
        0x2906_C908_D115_D362,
        0xCD55_44AA_7B13_EF14,
    );
    assert_eq!(
        d,
        hex!("dc35dd5fc9134cc5544538c9c3fc4297c1ec3370c839136a80e10796451d4c53")
    );
    // Node id is little-endian in the message: another node id gives another id.
    let other = keys::destination_id(
        &ipk,
        &random,
        &root,
        0x2906_C908_D115_D362,
        0xCD55_44AA_7B13_EF15,
    );
    assert_ne!(d, other);
    // The same example's compressed fabric id (§4.3.2.2).
    assert_eq!(
        crate::cert::compressed_fabric_id(&root, 0x2906_C908_D115_D362),
        hex!("87e1b004e235a130")
    );
}

/// CHIP SDK src/crypto/tests/TestGroupOperationalCredentials.cpp, `kGroupKeys0[0]`: epoch key
/// zero, compressed fabric id 87e1b004e235a130 -> operational key (the IPK derivation).
#[test]
fn operational_ipk_chip_vector() {
    let k = keys::operational_ipk(&[0; 16], &hex!("87e1b004e235a130"));
    assert_eq!(*k, hex!("c5f2690187115150c356ad93b385bb0f"));
}

#[test]
fn labels_and_nonces_are_the_specs() {
    assert_eq!(keys::RESUME1_NONCE, b"NCASE_SigmaS1");
    assert_eq!(keys::RESUME2_NONCE, b"NCASE_SigmaS2");
    assert_eq!(keys::TBE2_NONCE, b"NCASE_Sigma2N");
    assert_eq!(keys::TBE3_NONCE, b"NCASE_Sigma3N");
    assert_eq!(keys::SIGMA1_RESUME_INFO, b"Sigma1_Resume");
    assert_eq!(keys::SIGMA2_RESUME_INFO, b"Sigma2_Resume");
}

#[test]
fn sigma1_golden_bytes_round_trip() {
    let s1 = Sigma1 {
        initiator_random: [0x11; 32],
        initiator_session_id: 0x1234,
        destination_id: [0x22; 32],
        initiator_eph_pub: [0x04; 65],
        initiator_session_params: None,
        resumption: Some(([0x33; 16], [0x44; 16])),
    };
    let b = s1.encode();
    // struct, 1: octets(32), 2: u16, 3: octets(32), 4: octets(65), 6: octets(16), 7: octets(16)
    let mut expect = vec![0x15, 0x30, 0x01, 0x20];
    expect.extend([0x11; 32]);
    expect.extend([0x25, 0x02, 0x34, 0x12, 0x30, 0x03, 0x20]);
    expect.extend([0x22; 32]);
    expect.extend([0x30, 0x04, 0x41]);
    expect.extend([0x04; 65]);
    expect.extend([0x30, 0x06, 0x10]);
    expect.extend([0x33; 16]);
    expect.extend([0x30, 0x07, 0x10]);
    expect.extend([0x44; 16]);
    expect.push(0x18);
    assert_eq!(b, expect);
    assert_eq!(Sigma1::decode(&b).unwrap(), s1);
}

#[test]
fn other_messages_round_trip() {
    let s2 = Sigma2 {
        responder_random: [1; 32],
        responder_session_id: 7,
        responder_eph_pub: [4; 65],
        encrypted2: vec![9; 40],
        responder_session_params: Some(crate::session::params::SessionParameters {
            idle_interval_ms: Some(500),
            ..Default::default()
        }),
    };
    assert_eq!(Sigma2::decode(&s2.encode()).unwrap(), s2);
    let s3 = Sigma3 {
        encrypted3: vec![1, 2, 3],
    };
    assert_eq!(s3.encode(), hex!("1530010301020318"));
    assert_eq!(Sigma3::decode(&s3.encode()).unwrap(), s3);
    let r = Sigma2Resume {
        resumption_id: [5; 16],
        sigma2_resume_mic: [6; 16],
        responder_session_id: 9,
        responder_session_params: None,
    };
    assert_eq!(Sigma2Resume::decode(&r.encode()).unwrap(), r);
    let t = Tbe {
        sender_noc: vec![1; 10],
        sender_icac: None,
        signature: [2; 64],
        resumption_id: Some([3; 16]),
    };
    assert_eq!(Tbe::decode(&t.encode(), true).unwrap(), t);
    assert!(
        Tbe::decode(&t.encode(), false).is_err(),
        "TBEData3 has no resumption id"
    );
}

#[test]
fn malformed_sigma1_table() {
    let good = Sigma1 {
        initiator_random: [0x11; 32],
        initiator_session_id: 1,
        destination_id: [0x22; 32],
        initiator_eph_pub: [0x04; 65],
        initiator_session_params: None,
        resumption: None,
    }
    .encode();
    let short_random = {
        let mut b = good.clone();
        b[3] = 31;
        b.remove(4);
        b
    };
    let cases: Vec<(&str, Vec<u8>, CaseMessageError)> = vec![
        (
            "empty",
            vec![],
            CaseMessageError::Tlv {
                msg: "Sigma1",
                source: crate::tlv::TlvError::Empty,
            },
        ),
        (
            "random 31 bytes",
            short_random,
            CaseMessageError::InvalidField {
                msg: "Sigma1",
                tag: 1,
            },
        ),
        (
            "no destination id",
            {
                let mut w = Vec::new();
                w.extend([0x15, 0x30, 0x01, 0x20]);
                w.extend([0; 32]);
                w.extend([0x24, 0x02, 0x01, 0x18]);
                w
            },
            CaseMessageError::MissingField {
                msg: "Sigma1",
                tag: 3,
            },
        ),
        (
            "resumption id without MIC",
            {
                let mut b = good.clone();
                b.pop();
                b.extend([0x30, 0x06, 0x10]);
                b.extend([0; 16]);
                b.push(0x18);
                b
            },
            CaseMessageError::MissingField {
                msg: "Sigma1",
                tag: 7,
            },
        ),
        (
            "session id repeated",
            {
                let mut b = good.clone();
                b.pop();
                b.extend([0x24, 0x02, 0x01, 0x18]);
                b
            },
            CaseMessageError::FieldOrder {
                msg: "Sigma1",
                tag: 2,
            },
        ),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(Sigma1::decode(&bytes), Err(want), "{name}");
    }
    assert!(matches!(
        Sigma1::decode(&[good.as_slice(), &[0]].concat()),
        Err(CaseMessageError::Tlv { .. })
    ));
}

// --- loopback ---------------------------------------------------------------------------------

const DEVICE_NODE: u64 = 0xDEDE_DEDE_0001_0001;
const CONTROLLER_NODE: u64 = 0xDEDE_DEDE_0001_0002;
const EPOCH: [u8; 16] = [0x5A; 16];

fn key(seed: u64) -> SecretKey {
    let mut rng = TestRng::new(seed);
    loop {
        let mut b = [0u8; 32];
        rng.fill(&mut b);
        if let Ok(k) = SecretKey::from_slice(&b) {
            return k;
        }
    }
}

/// A copy of `template` for `key`, signed by `issuer` (CHIP SDK test certificates as
/// templates).
pub(crate) fn reissue(
    template: &[u8],
    key: &SecretKey,
    issuer: &[u8],
    node: Option<u64>,
) -> Vec<u8> {
    let mut c = MatterCert::from_tlv(template).unwrap();
    c.public_key = keys::public_key_of(key);
    if let Some(n) = node {
        for a in &mut c.subject.0 {
            if let DnAttribute::NodeId(x) = a {
                *x = n;
            }
        }
    }
    c.sign(&SigningKey::from_slice(issuer).unwrap()).unwrap();
    c.to_tlv().unwrap()
}

fn device_fabrics(epoch: [u8; 16]) -> FabricTable {
    let k = key(100);
    let noc = reissue(CHIP_NODE01_01_TLV, &k, CHIP_ICA01_PRIV, None);
    let chain =
        crate::cert::validate_chain(&noc, Some(CHIP_ICA01_TLV), CHIP_ROOT01_TLV, None).unwrap();
    let mut t = FabricTable::default();
    t.add(Fabric {
        index: FabricIndex(1),
        rcac: CHIP_ROOT01_TLV.to_vec(),
        icac: Some(CHIP_ICA01_TLV.to_vec()),
        noc,
        fabric_id: chain.fabric_id,
        node_id: chain.node_id,
        root_public_key: chain.root_public_key,
        vendor_id: 0xFFF1,
        label: String::new(),
        ipk_epoch_key: Zeroizing::new(epoch),
        operational_key: k,
        compressed_fabric_id: chain.compressed_fabric_id(),
        cats: vec![],
    })
    .unwrap();
    t
}

pub(crate) fn controller_creds() -> CaseCredentials {
    let k = key(200);
    CaseCredentials {
        fabric: FabricIndex(1),
        noc: reissue(CHIP_NODE01_02_TLV, &k, CHIP_ROOT01_PRIV, None),
        icac: None,
        rcac: CHIP_ROOT01_TLV.to_vec(),
        operational_key: k,
        ipk_epoch_key: Zeroizing::new(EPOCH),
    }
}

/// A message between the two, to tamper with.
type Tamper<'a> = &'a mut dyn FnMut(Op, &mut Vec<u8>);

struct Outcome {
    responder: Vec<CaseEvent<u32>>,
    initiator: Vec<InitiatorEvent>,
    /// (from initiator?, opcode, payload)
    wire: Vec<(bool, Op, Vec<u8>)>,
}

fn run(
    responder: &mut CaseResponder<u32>,
    fabrics: &FabricTable,
    store: &ResumptionStore,
    config: InitiatorConfig,
    seed: u64,
    tamper: Tamper<'_>,
) -> Outcome {
    let mut rng = TestRng::new(seed);
    let mut rrng = TestRng::new(seed + 1000);
    let now = Instant::ZERO;
    let mut ini = CaseInitiator::start(now, config, &mut rng).unwrap();
    let mut out = Outcome {
        responder: vec![],
        initiator: vec![],
        wire: vec![],
    };
    let mut next_id = 40u16;
    for _ in 0..10 {
        let mut moved = false;
        while let Some((op, mut p)) = ini.poll_transmit() {
            moved = true;
            tamper(op, &mut p);
            out.wire.push((true, op, p.clone()));
            responder.handle_message(now, 1, op, &p, fabrics, store, &mut rrng, &mut || {
                next_id += 1;
                Some(next_id)
            });
        }
        while let Some(t) = responder.poll_transmit() {
            moved = true;
            let mut p = t.payload;
            tamper(t.opcode, &mut p);
            out.wire.push((false, t.opcode, p.clone()));
            ini.handle_message(now, t.opcode, &p);
        }
        while let Some(e) = responder.poll_event() {
            out.responder.push(e);
        }
        while let Some(e) = ini.poll_event() {
            out.initiator.push(e);
        }
        if !moved {
            break;
        }
    }
    out
}

fn established_pair(o: &Outcome) -> (&CaseSession, &CaseSession) {
    let r = o
        .responder
        .iter()
        .find_map(|e| match e {
            CaseEvent::Established { session, .. } => Some(&**session),
            _ => None,
        })
        .expect("responder established");
    let i = o
        .initiator
        .iter()
        .find_map(|e| match e {
            InitiatorEvent::Established(s) => Some(&**s),
            _ => None,
        })
        .expect("initiator established");
    (r, i)
}

fn responder_error(o: &Outcome) -> &CaseError {
    o.responder
        .iter()
        .find_map(|e| match e {
            CaseEvent::HandshakeFailed { error, .. } => Some(error),
            _ => None,
        })
        .expect("responder failed")
}

/// The last StatusReport the responder sent: (general code, protocol code).
fn last_status(o: &Outcome) -> (u16, u16) {
    let (_, _, p) = o
        .wire
        .iter()
        .rev()
        .find(|(from_i, op, _)| !from_i && *op == Op::STATUS_REPORT)
        .expect("a status report");
    let s = crate::message::StatusReport::decode(p).unwrap();
    (s.general_code.0, s.protocol_code)
}

fn full(seed: u64) -> (FabricTable, Outcome, CaseResponder<u32>) {
    let fabrics = device_fabrics(EPOCH);
    let mut r = CaseResponder::new(ResponderConfig::default());
    let cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7);
    let o = run(
        &mut r,
        &fabrics,
        &ResumptionStore::default(),
        cfg,
        seed,
        &mut |_, _| {},
    );
    (fabrics, o, r)
}

#[test]
fn full_handshake_loopback_agrees_on_keys_and_identity() {
    let (_, o, r) = full(1);
    let (rs, is) = established_pair(&o);
    assert_eq!(*rs.shared_secret, *is.shared_secret);
    assert_eq!(*rs.salt, *is.salt);
    assert_eq!(rs.salt.len(), 48);
    assert!(!rs.is_resumption && !is.is_resumption);
    assert_eq!(rs.resumption_id, is.resumption_id);
    assert_eq!(
        (rs.local_session_id, rs.peer_session_id),
        (is.peer_session_id, is.local_session_id)
    );
    assert_eq!(rs.peer_node_id, CONTROLLER_NODE);
    assert_eq!(is.peer_node_id, DEVICE_NODE);
    assert_eq!(rs.local_node_id, DEVICE_NODE);
    assert_eq!(rs.fabric, FabricIndex(1));
    let ops: Vec<Op> = o.wire.iter().map(|w| w.1).collect();
    assert_eq!(
        ops,
        [
            Op::CASE_SIGMA1,
            Op::CASE_SIGMA2,
            Op::CASE_SIGMA3,
            Op::STATUS_REPORT
        ]
    );
    assert_eq!(last_status(&o), (0, 0));
    assert_eq!(r.handshakes(), 0);
    // Both derive the same session keys from it.
    let a = crate::session::keys::SessionKeys::derive(&rs.shared_secret[..], &rs.salt, false);
    let b = crate::session::keys::SessionKeys::derive(&is.shared_secret[..], &is.salt, false);
    assert_eq!(*a.i2r, *b.i2r);
}

fn resume(
    record: crate::fabric::ResumptionRecord,
    store: &ResumptionStore,
    seed: u64,
    tamper: Tamper<'_>,
) -> Outcome {
    let fabrics = device_fabrics(EPOCH);
    let mut r = CaseResponder::new(ResponderConfig::default());
    let mut cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE, 8);
    cfg.resumption = Some(record);
    run(&mut r, &fabrics, store, cfg, seed, tamper)
}

#[test]
fn resumption_loopback_and_its_fallbacks() {
    let (_, o, _) = full(2);
    let (rs, is) = established_pair(&o);
    let mut store = ResumptionStore::default();
    store.insert(rs.resumption_record());
    let mut init_record = is.resumption_record();
    init_record.peer_node_id = DEVICE_NODE;

    // Resumed: Sigma1 -> Sigma2Resume -> StatusReport, keys agree, a new resumption id.
    let o2 = resume(init_record.clone(), &store, 3, &mut |_, _| {});
    let ops: Vec<Op> = o2.wire.iter().map(|w| w.1).collect();
    assert_eq!(
        ops,
        [Op::CASE_SIGMA1, Op::CASE_SIGMA2_RESUME, Op::STATUS_REPORT]
    );
    let (r2, i2) = established_pair(&o2);
    assert!(r2.is_resumption && i2.is_resumption);
    assert_eq!(*r2.salt, *i2.salt);
    assert_eq!(r2.salt.len(), 48);
    assert_eq!(
        &r2.salt[32..],
        &rs.resumption_id,
        "salt uses the Sigma1 resumption id"
    );
    assert_ne!(
        r2.resumption_id, rs.resumption_id,
        "a fresh id for next time"
    );
    assert_eq!(r2.resumption_id, i2.resumption_id);
    assert_eq!(r2.peer_node_id, CONTROLLER_NODE);

    // Unknown id: full handshake.
    let o3 = resume(
        init_record.clone(),
        &ResumptionStore::default(),
        4,
        &mut |_, _| {},
    );
    assert_eq!(o3.wire[1].1, Op::CASE_SIGMA2);
    let (r3, _) = established_pair(&o3);
    assert!(!r3.is_resumption);

    // Wrong MIC (the initiator's secret differs): full handshake too.
    let mut bad = init_record.clone();
    bad.shared_secret = Zeroizing::new([0xEE; 32]);
    let o4 = resume(bad, &store, 5, &mut |_, _| {});
    assert_eq!(o4.wire[1].1, Op::CASE_SIGMA2);
    assert!(!established_pair(&o4).0.is_resumption);

    // A tampered Sigma2Resume MIC: the initiator refuses with InvalidParameter.
    let o5 = resume(init_record, &store, 6, &mut |op, p| {
        if op == Op::CASE_SIGMA2_RESUME {
            let n = p.len();
            p[n - 6] ^= 1; // inside the MIC (tag 2), before the session id
        }
    });
    assert!(o5.initiator.iter().any(|e| matches!(
        e,
        InitiatorEvent::Failed(CaseError::Decrypt | CaseError::Malformed(_))
    )));
}

/// Flips one byte of `op`'s payload at `at` from the end.
fn flip(op: Op, at: usize) -> impl FnMut(Op, &mut Vec<u8>) {
    move |o, p| {
        if o == op {
            let n = p.len();
            p[n - at] ^= 0x01;
        }
    }
}

#[test]
fn tampered_sigma3_is_invalid_parameter() {
    let fabrics = device_fabrics(EPOCH);
    let mut r = CaseResponder::new(ResponderConfig::default());
    let cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7);
    // Byte 3 from the end is inside the TBEData3 MIC.
    let o = run(
        &mut r,
        &fabrics,
        &ResumptionStore::default(),
        cfg,
        7,
        &mut flip(Op::CASE_SIGMA3, 3),
    );
    assert_eq!(responder_error(&o), &CaseError::Decrypt);
    assert_eq!(last_status(&o), (1, 2), "FAILURE / INVALID_PARAMETER");
}

#[test]
fn wrong_ipk_is_no_shared_trust_roots() {
    let fabrics = device_fabrics([0x11; 16]);
    let mut r = CaseResponder::new(ResponderConfig::default());
    let cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7);
    let o = run(
        &mut r,
        &fabrics,
        &ResumptionStore::default(),
        cfg,
        8,
        &mut |_, _| {},
    );
    assert_eq!(responder_error(&o), &CaseError::NoSharedTrustRoots);
    assert_eq!(last_status(&o), (1, 1), "FAILURE / NO_SHARED_TRUST_ROOTS");
    assert!(o
        .initiator
        .iter()
        .any(|e| matches!(e, InitiatorEvent::Failed(CaseError::PeerStatus(_)))));
}

/// A hand-driven initiator: Sigma1 for the device, then a Sigma3 carrying `noc`/`icac` signed
/// with `signer` (so the responder's checks can be hit one by one). Returns the responder's
/// error and the StatusReport it sent.
fn forged_sigma3(noc: &[u8], icac: Option<&[u8]>, signer: &SecretKey) -> (CaseError, (u16, u16)) {
    use super::keys::EphemeralKey;
    use super::messages::Tbs;
    let fabrics = device_fabrics(EPOCH);
    let f = fabrics.iter().next().unwrap();
    let store = ResumptionStore::default();
    let mut rng = TestRng::new(21);
    let mut r: CaseResponder<u32> = CaseResponder::new(ResponderConfig::default());
    let eph = EphemeralKey::generate(&mut rng).unwrap();
    let random = [0x42; 32];
    let ipk = keys::operational_ipk(&EPOCH, &f.compressed_fabric_id);
    let s1 = Sigma1 {
        initiator_random: random,
        initiator_session_id: 3,
        destination_id: keys::destination_id(
            &ipk,
            &random,
            &f.root_public_key,
            f.fabric_id,
            f.node_id,
        ),
        initiator_eph_pub: *eph.public(),
        initiator_session_params: None,
        resumption: None,
    }
    .encode();
    r.handle_message(
        Instant::ZERO,
        1,
        Op::CASE_SIGMA1,
        &s1,
        &fabrics,
        &store,
        &mut rng,
        &mut || Some(9),
    );
    let t = r.poll_transmit().unwrap();
    assert_eq!(t.opcode, Op::CASE_SIGMA2);
    let s2 = Sigma2::decode(&t.payload).unwrap();
    let shared = eph.agree(&s2.responder_eph_pub).unwrap();
    let tbs = Tbs {
        sender_noc: noc,
        sender_icac: icac,
        sender_eph_pub: eph.public(),
        receiver_eph_pub: &s2.responder_eph_pub,
    };
    let tbe = Tbe {
        sender_noc: noc.to_vec(),
        sender_icac: icac.map(<[u8]>::to_vec),
        signature: keys::sign(signer, &tbs.encode()),
        resumption_id: None,
    };
    let s3k = keys::sigma3_key(&shared, &ipk, &s1, &t.payload);
    let s3 = Sigma3 {
        encrypted3: keys::tbe_encrypt(&s3k, keys::TBE3_NONCE, &tbe.encode()),
    }
    .encode();
    r.handle_message(
        Instant::ZERO,
        1,
        Op::CASE_SIGMA3,
        &s3,
        &fabrics,
        &store,
        &mut rng,
        &mut || None,
    );
    let t = r.poll_transmit().unwrap();
    let st = crate::message::StatusReport::decode(&t.payload).unwrap();
    let err = std::iter::from_fn(|| r.poll_event())
        .find_map(|e| match e {
            CaseEvent::HandshakeFailed { error, .. } => Some(error),
            CaseEvent::Established { .. } => None,
        })
        .unwrap_or(CaseError::TimedOut);
    (err, (st.general_code.0, st.protocol_code))
}

#[test]
fn forged_sigma3_checks_each_with_its_status() {
    let c = controller_creds();
    // The control: a correct Sigma3 through the forging path establishes (success report).
    let (e, st) = forged_sigma3(&c.noc, None, &c.operational_key);
    assert_eq!(
        (e, st),
        (CaseError::TimedOut, (0, 0)),
        "the control run establishes"
    );

    // Signed with another key than the NOC's: BadSignature.
    let (e, st) = forged_sigma3(&c.noc, None, &key(301));
    assert_eq!((e, st), (CaseError::BadSignature, (1, 2)));

    // A NOC issued by another root (signature of the chain fails).
    let other = key(302).to_bytes();
    let foreign = reissue(CHIP_NODE01_02_TLV, &c.operational_key, &other, None);
    let (e, st) = forged_sigma3(&foreign, None, &c.operational_key);
    assert!(matches!(e, CaseError::Certificate(_)), "{e:?}");
    assert_eq!(st, (1, 2));

    // A NOC of our root for another fabric id.
    let mut cert = MatterCert::from_tlv(CHIP_NODE01_02_TLV).unwrap();
    cert.public_key = keys::public_key_of(&c.operational_key);
    for a in &mut cert.subject.0 {
        if let DnAttribute::FabricId(f) = a {
            *f = 0x1234;
        }
    }
    cert.sign(&SigningKey::from_slice(CHIP_ROOT01_PRIV).unwrap())
        .unwrap();
    let (e, st) = forged_sigma3(&cert.to_tlv().unwrap(), None, &c.operational_key);
    assert_eq!((e, st), (CaseError::FabricMismatch, (1, 2)));

    // Not a certificate at all.
    let (e, st) = forged_sigma3(&[0x15, 0x18], None, &c.operational_key);
    assert!(matches!(e, CaseError::Certificate(_)), "{e:?}");
    assert_eq!(st, (1, 2));
}

#[test]
fn own_chain_is_checked_before_sigma1() {
    let mut creds = controller_creds();
    creds.noc = reissue(
        CHIP_NODE01_02_TLV,
        &creds.operational_key,
        &key(303).to_bytes(),
        None,
    );
    assert!(matches!(
        CaseInitiator::start(
            Instant::ZERO,
            InitiatorConfig::new(creds, DEVICE_NODE, 7),
            &mut TestRng::new(1)
        ),
        Err(CaseError::LocalCredentials(_))
    ));
    let mut creds = controller_creds();
    creds.operational_key = key(304);
    assert!(matches!(
        CaseInitiator::start(
            Instant::ZERO,
            InitiatorConfig::new(creds, DEVICE_NODE, 7),
            &mut TestRng::new(1)
        ),
        Err(CaseError::LocalCredentials(_))
    ));
}

#[test]
fn tampered_sigma2_fails_at_the_initiator() {
    let fabrics = device_fabrics(EPOCH);
    let mut r = CaseResponder::new(ResponderConfig::default());
    let cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7);
    let o = run(
        &mut r,
        &fabrics,
        &ResumptionStore::default(),
        cfg,
        9,
        &mut flip(Op::CASE_SIGMA2, 20),
    );
    assert!(
        o.initiator
            .iter()
            .any(|e| matches!(e, InitiatorEvent::Failed(CaseError::Decrypt))),
        "{:?}",
        o.initiator
    );
    // The initiator told the responder, which ends its handshake without a reply.
    assert!(matches!(responder_error(&o), CaseError::PeerStatus(_)));
}

#[test]
fn wrong_peer_node_is_refused_by_the_initiator() {
    let fabrics = device_fabrics(EPOCH);
    let mut r = CaseResponder::new(ResponderConfig::default());
    // Destination id computed for another node id: the responder finds no fabric.
    let cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE + 1, 7);
    let o = run(
        &mut r,
        &fabrics,
        &ResumptionStore::default(),
        cfg,
        10,
        &mut |_, _| {},
    );
    assert_eq!(responder_error(&o), &CaseError::NoSharedTrustRoots);
}

#[test]
fn busy_when_the_table_is_full_and_timeouts_free_it() {
    let fabrics = device_fabrics(EPOCH);
    let store = ResumptionStore::default();
    let mut r: CaseResponder<u32> = CaseResponder::new(ResponderConfig {
        max_handshakes: 2,
        ..ResponderConfig::default()
    });
    let mut rng = TestRng::new(11);
    let mut id = 0u16;
    for ex in 0..3u32 {
        let mut ini = CaseInitiator::start(
            Instant::ZERO,
            InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7),
            &mut rng,
        )
        .unwrap();
        let (op, p) = ini.poll_transmit().unwrap();
        r.handle_message(
            Instant::ZERO,
            ex,
            op,
            &p,
            &fabrics,
            &store,
            &mut rng,
            &mut || {
                id += 1;
                Some(id)
            },
        );
    }
    assert_eq!(r.handshakes(), 2);
    let sent: Vec<_> = std::iter::from_fn(|| r.poll_transmit()).collect();
    assert_eq!(sent[2].exchange, 2);
    let busy = crate::message::StatusReport::decode(&sent[2].payload).unwrap();
    assert_eq!(busy.general_code, crate::message::GeneralCode::BUSY);
    assert_eq!(busy.data, responder::BUSY_WAIT_MS.to_le_bytes());
    assert_eq!(
        r.poll_timeout(),
        Some(Instant::ZERO + responder::HANDSHAKE_TIMEOUT)
    );
    r.handle_timeout(Instant::ZERO + responder::HANDSHAKE_TIMEOUT + Duration::from_millis(1));
    assert_eq!(r.handshakes(), 0);
    let failed: Vec<_> = std::iter::from_fn(|| r.poll_event())
        .filter_map(|e| match e {
            CaseEvent::HandshakeFailed {
                error: CaseError::TimedOut,
                reserved_session_id,
                ..
            } => reserved_session_id,
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 2, "both reserved ids handed back");
    assert_eq!(r.poll_transmit(), None, "no reply to a timed-out peer");
}

#[test]
fn stray_and_out_of_order_messages() {
    let fabrics = device_fabrics(EPOCH);
    let store = ResumptionStore::default();
    let mut r: CaseResponder<u32> = CaseResponder::new(ResponderConfig::default());
    let mut rng = TestRng::new(12);
    // Sigma3 with no handshake: ignored.
    r.handle_message(
        Instant::ZERO,
        1,
        Op::CASE_SIGMA3,
        &[0x15, 0x18],
        &fabrics,
        &store,
        &mut rng,
        &mut || Some(1),
    );
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(r.stats().ignored_stray, 1);
    // A handshake, then Sigma1 again (different bytes) on its exchange: InvalidParameter.
    let mut ini = CaseInitiator::start(
        Instant::ZERO,
        InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7),
        &mut rng,
    )
    .unwrap();
    let (op, p) = ini.poll_transmit().unwrap();
    r.handle_message(
        Instant::ZERO,
        1,
        op,
        &p,
        &fabrics,
        &store,
        &mut rng,
        &mut || Some(2),
    );
    // The exact duplicate is ignored.
    r.handle_message(
        Instant::ZERO,
        1,
        op,
        &p,
        &fabrics,
        &store,
        &mut rng,
        &mut || Some(3),
    );
    assert_eq!(r.stats().duplicates, 1);
    let mut other = p.clone();
    other[5] ^= 1;
    r.handle_message(
        Instant::ZERO,
        1,
        op,
        &other,
        &fabrics,
        &store,
        &mut rng,
        &mut || Some(4),
    );
    let sent: Vec<_> = std::iter::from_fn(|| r.poll_transmit()).collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].opcode, Op::CASE_SIGMA2);
    let s = crate::message::StatusReport::decode(&sent[1].payload).unwrap();
    assert_eq!(s.protocol_code, 2);
    assert!(matches!(
        std::iter::from_fn(|| r.poll_event()).last(),
        Some(CaseEvent::HandshakeFailed {
            error: CaseError::Unexpected { .. },
            reserved_session_id: Some(2),
            ..
        })
    ));
}

#[test]
fn resume_mic_depends_on_every_input() {
    let s = [1u8; 32];
    let r = [2u8; 32];
    let id = [3u8; 16];
    let m = keys::resume_mic(ResumeMic::Sigma1, &s, &r, &id);
    assert!(keys::verify_resume_mic(ResumeMic::Sigma1, &s, &r, &id, &m));
    assert!(!keys::verify_resume_mic(ResumeMic::Sigma2, &s, &r, &id, &m));
    assert!(!keys::verify_resume_mic(
        ResumeMic::Sigma1,
        &[9; 32],
        &r,
        &id,
        &m
    ));
    assert!(!keys::verify_resume_mic(
        ResumeMic::Sigma1,
        &s,
        &[9; 32],
        &id,
        &m
    ));
    assert!(!keys::verify_resume_mic(
        ResumeMic::Sigma1,
        &s,
        &r,
        &[9; 16],
        &m
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random bytes as Sigma1 or Sigma3 never panic the responder.
    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), sigma3 in any::<bool>()) {
        let fabrics = device_fabrics(EPOCH);
        let store = ResumptionStore::default();
        let mut r: CaseResponder<u32> = CaseResponder::new(ResponderConfig::default());
        let mut rng = TestRng::new(1);
        let op = if sigma3 { Op::CASE_SIGMA3 } else { Op::CASE_SIGMA1 };
        r.handle_message(Instant::ZERO, 1, op, &bytes, &fabrics, &store, &mut rng, &mut || Some(5));
        while r.poll_transmit().is_some() {}
        while r.poll_event().is_some() {}
    }

    /// A valid Sigma1 then a mutated Sigma3 (one byte changed, or truncated) never panics and
    /// never establishes.
    #[test]
    fn mutated_sigma3_never_establishes(pos in any::<usize>(), val in any::<u8>(), cut in any::<bool>()) {
        let fabrics = device_fabrics(EPOCH);
        let mut r = CaseResponder::new(ResponderConfig::default());
        let cfg = InitiatorConfig::new(controller_creds(), DEVICE_NODE, 7);
        let o = run(&mut r, &fabrics, &ResumptionStore::default(), cfg, 13, &mut |op, p| {
            if op == Op::CASE_SIGMA3 && !p.is_empty() {
                let i = pos % p.len();
                if cut { p.truncate(i); } else if p[i] == val { p[i] ^= 0x80; } else { p[i] = val; }
            }
        });
        let established = o.responder.iter().any(|e| matches!(e, CaseEvent::Established { .. }));
        prop_assert!(!established);
    }
}

/// Two controllers' handshakes interleaved on two exchanges both complete, each with its own
/// keys (the responder keeps them apart).
#[test]
fn two_interleaved_handshakes_both_complete() {
    let fabrics = device_fabrics(EPOCH);
    let store = ResumptionStore::default();
    let mut r: CaseResponder<u32> = CaseResponder::new(ResponderConfig::default());
    let mut rng = TestRng::new(31);
    let mut a = CaseInitiator::start(
        Instant::ZERO,
        InitiatorConfig::new(controller_creds(), DEVICE_NODE, 1),
        &mut rng,
    )
    .unwrap();
    let mut b = CaseInitiator::start(
        Instant::ZERO,
        InitiatorConfig::new(controller_creds(), DEVICE_NODE, 2),
        &mut rng,
    )
    .unwrap();
    let mut id = 100u16;
    let mut alloc = || {
        id += 1;
        Some(id)
    };
    let deliver = |r: &mut CaseResponder<u32>,
                   ex: u32,
                   i: &mut CaseInitiator,
                   rng: &mut TestRng,
                   alloc: &mut dyn FnMut() -> Option<u16>| {
        let (op, p) = i.poll_transmit().unwrap();
        r.handle_message(Instant::ZERO, ex, op, &p, &fabrics, &store, rng, alloc);
    };
    deliver(&mut r, 1, &mut a, &mut rng, &mut alloc);
    deliver(&mut r, 2, &mut b, &mut rng, &mut alloc);
    assert_eq!(r.handshakes(), 2);
    let t1 = r.poll_transmit().unwrap();
    let t2 = r.poll_transmit().unwrap();
    assert_eq!((t1.exchange, t2.exchange), (1, 2));
    // Answer in reverse order.
    b.handle_message(Instant::ZERO, t2.opcode, &t2.payload);
    a.handle_message(Instant::ZERO, t1.opcode, &t1.payload);
    deliver(&mut r, 2, &mut b, &mut rng, &mut alloc);
    deliver(&mut r, 1, &mut a, &mut rng, &mut alloc);
    let done: Vec<_> = std::iter::from_fn(|| r.poll_event())
        .map(|e| match e {
            CaseEvent::Established { exchange, session } => (exchange, session),
            CaseEvent::HandshakeFailed { error, .. } => panic!("{error}"),
        })
        .collect();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].0, 2);
    assert_eq!(done[0].1.peer_session_id, 2);
    assert_eq!(done[1].1.peer_session_id, 1);
    assert_ne!(*done[0].1.shared_secret, *done[1].1.shared_secret);
    assert_eq!(r.handshakes(), 0);
}
