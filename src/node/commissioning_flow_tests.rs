//! The commissioning steps up to AddNOC, end to end: our commissioner over loss-free UDP
//! against a node with development attestation credentials, as a real commissioner runs them
//! (Matter 1.3 §5.5 steps: ArmFailSafe, device attestation, CSR, root, AddNOC), each response
//! checked the way a commissioner checks it — then either the fail-safe's expiry undoes it all,
//! or the commissioner reaches the node over CASE and CommissioningComplete commits it, and CASE
//! sessions resume (Sigma2Resume), also after the node restarts from its persisted records.

use p256::ecdsa::SigningKey;

use super::*;
use crate::attestation::{self, dev};
use crate::cert::matter::MatterCert;
use crate::commissioner::CommissionerEvent;
use crate::im::clusters::operational_credentials::vectors::{
    CHIP_ICA01_PRIV, CHIP_ICA01_TLV, CHIP_NODE01_01_TLV, CHIP_NODE01_02_TLV, CHIP_ROOT01_PRIV,
    CHIP_ROOT01_TLV,
};
use crate::im::clusters::{id, opcreds_codec::cmd};
use crate::im::test_requests::InvokeOutcome;
use crate::im::{AttributePath, Status};
use crate::rng::Rng;
use crate::rng::TestRng;
use crate::tlv::{Tag, TlvValue, TlvWriter};

use super::test_sim::Sim;

/// The node's configuration in these tests (the same after a restart).
fn dev_config() -> NodeConfig {
    let creds = dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut TestRng::new(7))
        .expect("credentials");
    NodeConfig {
        attestation: Some(creds),
        network_interface: "enp1s0".into(),
        ..NodeConfig::default()
    }
}

/// The CaseAdminSubject AddNOC names: the administrator's node id.
const ADMIN_NODE: u64 = 0x1B669;
/// The IPK epoch key AddNOC gives.
const IPK: [u8; 16] = [0x11; 16];
/// The node id in the NOC the test issues to the device (CHIP's Node01_01).
const DEVICE_NODE: u64 = 0xDEDE_DEDE_0001_0001;

/// The administrator's operational credentials on the same fabric: a NOC for [`ADMIN_NODE`]
/// issued directly by the CHIP test Root01 (from the Node01_02 template).
fn admin_credentials() -> crate::case::CaseCredentials {
    admin_credentials_with(ADMIN_NODE, &[])
}

/// As [`admin_credentials`], for node `node` with CASE Authenticated Tags `cats` in its NOC.
fn admin_credentials_with(node: u64, cats: &[u32]) -> crate::case::CaseCredentials {
    let mut rng = TestRng::new(77);
    let key = loop {
        let mut b = [0u8; 32];
        rng.fill(&mut b);
        if let Ok(k) = p256::SecretKey::from_slice(&b) {
            break k;
        }
    };
    let mut noc = MatterCert::from_tlv(CHIP_NODE01_02_TLV).expect("template");
    noc.public_key = crate::case::keys::public_key_of(&key);
    for a in &mut noc.subject.0 {
        if let crate::cert::matter::DnAttribute::NodeId(n) = a {
            *n = node;
        }
    }
    noc.subject.0.extend(
        cats.iter()
            .map(|c| crate::cert::matter::DnAttribute::NocCat(*c)),
    );
    noc.sign(&SigningKey::from_slice(CHIP_ROOT01_PRIV).expect("key"))
        .expect("sign");
    crate::case::CaseCredentials {
        fabric: FabricIndex(1),
        noc: noc.to_tlv().expect("tlv"),
        icac: None,
        rcac: CHIP_ROOT01_TLV.to_vec(),
        operational_key: key,
        ipk_epoch_key: Zeroizing::new(IPK),
    }
}

impl Sim {
    pub(super) fn with_development_credentials() -> Self {
        Self::start(Node::new(dev_config(), TestRng::new(1), TestRng::new(2)))
    }

    /// CASE from the commissioner to the device; returns whether it was resumed.
    pub(super) fn case(&mut self, resume: bool) -> bool {
        self.case_as(admin_credentials(), resume)
    }

    /// CASE with `creds`; returns whether it was resumed.
    fn case_as(&mut self, creds: crate::case::CaseCredentials, resume: bool) -> bool {
        let now = self.now;
        self.c
            .start_case(now, creds, DEVICE_NODE, resume)
            .expect("CASE starts");
        match self.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::CaseEstablished { .. } | CommissionerEvent::CaseFailed(_)
            )
        }) {
            Some(CommissionerEvent::CaseEstablished { resumed, .. }) => resumed,
            other => panic!("CASE failed: {other:?}"),
        }
    }

    /// One attribute of endpoint 0, its value.
    fn read_value(&mut self, cluster: u32, attribute: u32) -> TlvValue {
        let mut reports = self.read(AttributePath::concrete(0, cluster, attribute));
        reports.remove(0).value.expect("attribute value")
    }

    /// The PASE session's attestation challenge, from the node's side (our commissioner does
    /// not expose its own copy; both sides derive the same one, §4.13.2.6).
    fn challenge(&self) -> [u8; 16] {
        let s = self.node.pase_session.expect("PASE session");
        *self
            .node
            .exchanges
            .sessions()
            .secure(s)
            .expect("session")
            .attestation_challenge_key()
    }
}

fn octets(o: &InvokeOutcome, tag: u8) -> Vec<u8> {
    let InvokeOutcome::Response(_, TlvValue::Struct(m)) = o else {
        panic!("not a response: {o:?}")
    };
    m.iter()
        .find_map(|(t, v)| match (t, v) {
            (Tag::Context(n), TlvValue::Octets(b)) if *n == tag => Some(b.clone()),
            _ => None,
        })
        .expect("octet field")
}

#[test]
fn commissioning_up_to_add_noc_and_its_rollback() {
    let mut sim = Sim::with_development_credentials();
    through_add_noc(&mut sim);

    // No CommissioningComplete: the fail-safe runs out and takes the fabric back.
    sim.run_until(Duration::from_secs(61), |e| {
        matches!(e, CommissionerEvent::SessionClosed)
    });
    assert!(sim.node.state().fabrics.is_empty());
    assert!(sim.node.state().acl.entries().is_empty());
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::FabricRemoved {
            fabric: FabricIndex(1)
        }
    )));
}

/// The commissioning steps through AddNOC over the PASE session (Matter 1.3 §5.5).
pub(super) fn through_add_noc(sim: &mut Sim) {
    through_add_noc_for(sim, ADMIN_NODE);
}

/// As [`through_add_noc`] with `admin_subject` as AddNOC's CaseAdminSubject.
fn through_add_noc_for(sim: &mut Sim, admin_subject: u64) {
    let opc = id::OPERATIONAL_CREDENTIALS;

    // Network Commissioning says Ethernet: nothing to configure.
    assert_eq!(
        sim.read_value(id::NETWORK_COMMISSIONING, 0xFFFC),
        TlvValue::UInt(4)
    );

    let arm = |w: &mut TlvWriter<'_>| {
        w.u16(Tag::Context(0), 60)?;
        w.u64(Tag::Context(1), 1)
    };
    assert_eq!(
        sim.invoke(id::GENERAL_COMMISSIONING, 0, Some(&arm))
            .uint_field(0),
        Some(0)
    );

    // Device attestation: the DAC, then the signed attestation elements.
    let dac = sim.invoke(
        opc,
        cmd::CERTIFICATE_CHAIN_REQUEST,
        Some(&|w| w.u8(Tag::Context(0), 1)),
    );
    let creds_dac = octets(&dac, 0);
    attestation::verify_dac(&creds_dac, dev::DEV_PAI_CERT).expect("DAC chains to the dev PAI");
    let nonce = [0x42u8; 32];
    let att = sim.invoke(
        opc,
        cmd::ATTESTATION_REQUEST,
        Some(&|w| w.octets(Tag::Context(0), &nonce)),
    );
    // The DAC's public key, as a commissioner takes it from the DAC certificate.
    let dac_key = crate::cert::x509::X509Cert::parse(&creds_dac)
        .expect("DAC parses")
        .public_key;
    let dac_pk = attestation::PublicKey::from_sec1(&dac_key).expect("key");
    let challenge = sim.challenge();
    let e =
        attestation::verify_attestation(&octets(&att, 0), &challenge, &octets(&att, 1), &dac_pk)
            .expect("AttestationResponse verifies with the DAC key");
    assert_eq!(e.attestation_nonce, nonce);

    // The CSR, signed with the DAC key over NOCSR elements || challenge.
    let csr = sim.invoke(
        opc,
        cmd::CSR_REQUEST,
        Some(&|w| w.octets(Tag::Context(0), &[7; 32])),
    );
    let ne = attestation::verify_nocsr(&octets(&csr, 0), &challenge, &octets(&csr, 1), &dac_pk)
        .expect("CSRResponse verifies");
    let pk = crate::cert::csr::verify_csr(&ne.csr)
        .expect("CSR")
        .public_key;

    // Root, then a NOC issued for the CSR's key by the CHIP SDK's test ICA01.
    let root = sim.invoke(
        opc,
        cmd::ADD_TRUSTED_ROOT_CERTIFICATE,
        Some(&|w| w.octets(Tag::Context(0), CHIP_ROOT01_TLV)),
    );
    assert_eq!(root, InvokeOutcome::Status(Status::SUCCESS, None));
    let mut noc = MatterCert::from_tlv(CHIP_NODE01_01_TLV).expect("template");
    noc.public_key = pk;
    noc.sign(&SigningKey::from_slice(CHIP_ICA01_PRIV).expect("key"))
        .expect("sign");
    let noc = noc.to_tlv().expect("tlv");
    let add = sim.invoke(
        opc,
        cmd::ADD_NOC,
        Some(&|w| {
            w.octets(Tag::Context(0), &noc)?;
            w.octets(Tag::Context(1), CHIP_ICA01_TLV)?;
            w.octets(Tag::Context(2), &IPK)?;
            w.u64(Tag::Context(3), admin_subject)?;
            w.u16(Tag::Context(4), 0xFFF1)
        }),
    );
    assert_eq!(add.uint_field(0), Some(0), "NOCResponse OK: {add:?}");
    assert_eq!(add.uint_field(1), Some(1), "fabric index 1");

    // The same PASE session now has fabric 1 as its accessing fabric.
    assert_eq!(
        sim.read_value(opc, 5),
        TlvValue::UInt(1),
        "CurrentFabricIndex"
    );
    assert_eq!(
        sim.read_value(opc, 3),
        TlvValue::UInt(1),
        "CommissionedFabrics"
    );
    let TlvValue::Array(fabrics) = sim.read_value(opc, 1) else {
        panic!("Fabrics")
    };
    assert_eq!(fabrics.len(), 1);
}

/// CommissioningComplete (General Commissioning 0x04); its response's ErrorCode.
pub(super) fn commissioning_complete(sim: &mut Sim) -> Option<u64> {
    sim.invoke(id::GENERAL_COMMISSIONING, 4, None).uint_field(0)
}

/// The newest persisted record of each kind, as a store would hold them.
fn persisted(events: &[NodeEvent]) -> Vec<(crate::fabric::RecordKind, Vec<u8>)> {
    let mut out: Vec<(crate::fabric::RecordKind, Vec<u8>)> = Vec::new();
    for e in events {
        if let NodeEvent::Persist(r) = e {
            out.retain(|(k, _)| *k != r.kind);
            out.push((r.kind, r.bytes.to_vec()));
        }
    }
    out
}

#[test]
fn commissioning_completes_over_case_and_case_resumes_across_a_restart() {
    let mut sim = Sim::with_development_credentials();
    through_add_noc(&mut sim);

    // Over PASE, CommissioningComplete is refused: InvalidAuthentication (§11.10.7.6).
    assert_eq!(commissioning_complete(&mut sim), Some(2));
    assert!(sim.node.state().fail_safe.is_armed());

    // CASE to the new operational identity: a full handshake (nothing to resume yet).
    assert!(!sim.case(true), "first CASE is a full handshake");
    let established: Vec<_> = sim
        .node_events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::CaseEstablished {
                fabric,
                peer_node_id,
                resumed,
                ..
            } => Some((*fabric, *peer_node_id, *resumed)),
            _ => None,
        })
        .collect();
    assert_eq!(established, [(FabricIndex(1), ADMIN_NODE, false)]);

    // CommissioningComplete over CASE commits: fail-safe off, window closed, PASE gone.
    assert_eq!(commissioning_complete(&mut sim), Some(0));
    sim.wait(Duration::from_secs(1));
    assert!(!sim.node.state().fail_safe.is_armed());
    assert!(!sim.node.is_commissioning_window_open());
    assert!(sim
        .node_events
        .iter()
        .any(|e| matches!(e, NodeEvent::CommissioningWindowClosed { .. })));
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::CommissioningComplete {
            fabric: FabricIndex(1)
        }
    )));
    assert_eq!(sim.node.pase_session, None, "the PASE session ended");
    assert_eq!(
        sim.node.secure_session_count(),
        1,
        "only the CASE session is left"
    );
    // The CASE session is an administrator of fabric 1: it reads CurrentFabricIndex 1.
    assert_eq!(
        sim.read_value(id::OPERATIONAL_CREDENTIALS, 5),
        TlvValue::UInt(1)
    );

    // A second CASE resumes the first one (Sigma1 with resumption id -> Sigma2Resume).
    assert!(sim.case(true), "second CASE is resumed");
    assert_eq!(
        sim.node.state().case_resumption.len(),
        1,
        "one record per peer"
    );
    assert_eq!(
        sim.read_value(id::OPERATIONAL_CREDENTIALS, 5),
        TlvValue::UInt(1)
    );

    // Restart: a new node from the persisted records, as the runtime does.
    let records = persisted(&sim.node_events);
    assert!(records
        .iter()
        .any(|(k, _)| *k == crate::fabric::RecordKind::CaseResumption));
    let state = NodeState::default()
        .load(records.iter().map(|(k, b)| (*k, b.as_slice())))
        .expect("records load");
    sim.node = Node::with_state(
        dev_config(),
        TestRng::new(11),
        TestRng::new(12),
        Some(state),
    );
    sim.node_events.clear();
    assert!(sim.case(true), "resumption survives the restart");
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::CaseEstablished {
            resumed: true,
            peer_node_id: ADMIN_NODE,
            ..
        }
    )));
    assert_eq!(
        sim.read_value(id::OPERATIONAL_CREDENTIALS, 5),
        TlvValue::UInt(1)
    );
    // Without resumption, a full handshake still works against the restarted node.
    assert!(!sim.case(false));

    // RemoveFabric over CASE drops the fabric's resumption records with it.
    let rm = sim.invoke(
        id::OPERATIONAL_CREDENTIALS,
        cmd::REMOVE_FABRIC,
        Some(&|w| w.u8(Tag::Context(0), 1)),
    );
    assert_eq!(rm.uint_field(0), Some(0), "{rm:?}");
    sim.wait(Duration::from_secs(1));
    assert!(sim.node.state().fabrics.is_empty());
    assert!(sim.node.state().case_resumption.is_empty());
    assert_eq!(
        sim.node.secure_session_count(),
        0,
        "its CASE sessions closed"
    );
}

#[test]
fn case_with_a_foreign_ipk_is_no_shared_trust_roots_and_leaks_nothing() {
    let mut sim = Sim::with_development_credentials();
    through_add_noc(&mut sim);
    let mut wrong = admin_credentials();
    wrong.ipk_epoch_key = Zeroizing::new([0x22; 16]);
    // More attempts than the session and exchange tables hold: each one must be cleaned up.
    for _ in 0..40 {
        let now = sim.now;
        sim.c
            .start_case(now, wrong.clone(), DEVICE_NODE, false)
            .expect("starts");
        let ev = sim.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::CaseEstablished { .. } | CommissionerEvent::CaseFailed(_)
            )
        });
        let Some(CommissionerEvent::CaseFailed(crate::case::CaseError::PeerStatus(s))) = ev else {
            panic!("expected the device's refusal: {ev:?}");
        };
        assert_eq!(
            s.secure_channel_status(),
            Some(crate::message::SecureChannelStatus::NO_SHARED_TRUST_ROOTS)
        );
        sim.wait(Duration::from_secs(1));
    }
    assert_eq!(sim.node.case.handshakes(), 0);
    // The right credentials still get in.
    assert!(!sim.case(false));
    assert_eq!(commissioning_complete(&mut sim), Some(0));
}

/// The peer's CATs come from its NOC into the CASE session's subject: an administrator named
/// only by a CAT in the ACL (CaseAdminSubject 0xFFFFFFFD_0001_0001, Matter 1.3 §6.6.2.1.2) can
/// complete commissioning; the same node without the CAT cannot.
#[test]
fn case_subject_carries_the_peers_cats() {
    const CAT: u32 = 0x0001_0001;
    let mut sim = Sim::with_development_credentials();
    through_add_noc_for(&mut sim, 0xFFFF_FFFD_0000_0000 | u64::from(CAT));
    // Without the CAT: not in the ACL, the invoke is refused.
    assert!(!sim.case_as(admin_credentials_with(0x2222, &[]), false));
    let refused = sim.invoke(id::GENERAL_COMMISSIONING, 4, None);
    assert!(
        matches!(
            refused,
            InvokeOutcome::Status(Status::UNSUPPORTED_ACCESS, _)
        ),
        "{refused:?}"
    );
    // With it (a version at least the entry's): admitted.
    assert!(!sim.case_as(admin_credentials_with(0x2222, &[CAT]), false));
    assert_eq!(commissioning_complete(&mut sim), Some(0));
}
