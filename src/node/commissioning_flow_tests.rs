//! The commissioning steps up to AddNOC, end to end: our commissioner over loss-free UDP
//! against a node with development attestation credentials, as a real commissioner runs them
//! (Matter 1.3 §5.5 steps: ArmFailSafe, device attestation, CSR, root, AddNOC), each response
//! checked the way a commissioner checks it — then the fail-safe's expiry undoes it all.

use p256::ecdsa::SigningKey;

use super::*;
use crate::attestation::{self, dev};
use crate::cert::matter::MatterCert;
use crate::commissioner::CommissionerEvent;
use crate::im::clusters::operational_credentials::vectors::{
    CHIP_ICA01_PRIV, CHIP_ICA01_TLV, CHIP_NODE01_01_TLV, CHIP_ROOT01_TLV,
};
use crate::im::clusters::{id, opcreds_codec::cmd};
use crate::im::test_requests::InvokeOutcome;
use crate::im::{AttributePath, Status};
use crate::rng::TestRng;
use crate::tlv::{Tag, TlvValue, TlvWriter};

use super::test_sim::Sim;

impl Sim {
    fn with_development_credentials() -> Self {
        let creds = dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut TestRng::new(7))
            .expect("credentials");
        let config = NodeConfig {
            attestation: Some(creds),
            network_interface: "enp1s0".into(),
            ..NodeConfig::default()
        };
        Self::start(Node::new(config, TestRng::new(1), TestRng::new(2)))
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
            w.octets(Tag::Context(2), &[0x11; 16])?;
            w.u64(Tag::Context(3), 0x1B669)?;
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
