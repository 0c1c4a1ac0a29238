//! The commissioning steps up to AddNOC, end to end: our commissioner over loss-free UDP
//! against a node with development attestation credentials, as a real commissioner runs them
//! (Matter 1.3 §5.5 steps: ArmFailSafe, device attestation, CSR, root, AddNOC), each response
//! checked the way a commissioner checks it — then the fail-safe's expiry undoes it all.

use std::collections::VecDeque;

use p256::ecdsa::SigningKey;

use super::*;
use crate::attestation::{self, dev};
use crate::cert::matter::MatterCert;
use crate::commissioner::{Commissioner, CommissionerEvent};
use crate::im::clusters::operational_credentials::vectors::{
    CHIP_ICA01_PRIV, CHIP_ICA01_TLV, CHIP_NODE01_01_TLV, CHIP_ROOT01_TLV,
};
use crate::im::clusters::{id, opcreds_codec::cmd};
use crate::im::test_requests::{self as req, InvokeOutcome};
use crate::im::{AttributePath, Opcode, Status};
use crate::rng::TestRng;
use crate::tlv::{Tag, TlvValue, TlvWriter};

const PASSCODE: u32 = 20202021;

fn addr(port: u16) -> PeerAddr {
    PeerAddr::Udp(([127, 0, 0, 1], port).into())
}

struct Sim {
    now: Instant,
    node: Node<TestRng>,
    c: Commissioner<TestRng>,
    events: VecDeque<CommissionerEvent>,
    node_events: Vec<NodeEvent>,
}

impl Sim {
    fn new() -> Self {
        let creds = dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut TestRng::new(7))
            .expect("credentials");
        let config = NodeConfig {
            attestation: Some(creds),
            network_interface: "enp1s0".into(),
            ..NodeConfig::default()
        };
        let mut node = Node::new(config, TestRng::new(1), TestRng::new(2));
        let v = PaseVerifier::from_passcode(PASSCODE, b"SPAKE2P Key Salt", 1000).expect("v");
        node.open_commissioning_window(Instant::ZERO, v, Duration::from_secs(900));
        let c = Commissioner::start(
            Instant::ZERO,
            addr(5540),
            PASSCODE,
            TestRng::new(3),
            TestRng::new(4),
        )
        .expect("commissioner");
        let mut sim = Self {
            now: Instant::ZERO,
            node,
            c,
            events: VecDeque::new(),
            node_events: Vec::new(),
        };
        let ev = sim.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::PaseEstablished { .. } | CommissionerEvent::PaseFailed(_)
            )
        });
        assert!(
            matches!(ev, Some(CommissionerEvent::PaseEstablished { .. })),
            "{ev:?}"
        );
        sim
    }

    fn step(&mut self) -> bool {
        let mut moved = false;
        let mut buf = Vec::new();
        while self.node.poll_transmit(self.now, &mut buf).is_some() {
            moved = true;
            self.c.handle_datagram(self.now, &std::mem::take(&mut buf));
        }
        while let Some(e) = self.node.poll_event() {
            moved = true;
            self.node_events.push(e);
        }
        let mut out = Vec::new();
        while self.c.poll_transmit(self.now, &mut buf).is_some() {
            out.push(std::mem::take(&mut buf));
        }
        while let Some(e) = self.c.poll_event() {
            moved = true;
            self.events.push_back(e);
        }
        for d in out {
            moved = true;
            self.node.handle_datagram(self.now, addr(40000), &d);
        }
        moved
    }

    fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&CommissionerEvent) -> bool,
    ) -> Option<CommissionerEvent> {
        let end = self.now + limit;
        for _ in 0..100_000 {
            while self.step() {}
            while let Some(e) = self.events.pop_front() {
                if done(&e) {
                    return Some(e);
                }
            }
            let next = [self.node.poll_timeout(), self.c.poll_timeout()]
                .into_iter()
                .flatten()
                .min()?;
            if next > end {
                self.now = end;
                return None;
            }
            self.now = self.now.max(next);
            self.node.handle_timeout(self.now);
            self.c.handle_timeout(self.now);
        }
        panic!("simulation did not settle");
    }

    fn invoke(&mut self, cluster: u32, command: u32, f: req::Fields<'_>) -> InvokeOutcome {
        let p = req::invoke(0, cluster, command, false, Some(f));
        let now = self.now;
        self.c
            .request(now, Opcode::INVOKE_REQUEST, &p)
            .expect("request sent");
        match self.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::Response { .. } | CommissionerEvent::RequestFailed
            )
        }) {
            Some(CommissionerEvent::Response { payload, .. }) => req::invoke_outcome(&payload),
            other => panic!("no response: {other:?}"),
        }
    }

    fn read(&mut self, cluster: u32, attribute: u32) -> TlvValue {
        let now = self.now;
        self.c
            .read(now, &[AttributePath::concrete(0, cluster, attribute)])
            .expect("read");
        match self.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::ReadDone { .. } | CommissionerEvent::ReadFailed(_)
            )
        }) {
            Some(CommissionerEvent::ReadDone { mut reports, .. }) => {
                reports.remove(0).value.expect("attribute value")
            }
            other => panic!("read failed: {other:?}"),
        }
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
    let mut sim = Sim::new();
    let opc = id::OPERATIONAL_CREDENTIALS;

    // Network Commissioning says Ethernet: nothing to configure.
    assert_eq!(
        sim.read(id::NETWORK_COMMISSIONING, 0xFFFC),
        TlvValue::UInt(4)
    );

    let arm = |w: &mut TlvWriter<'_>| {
        w.u16(Tag::Context(0), 60)?;
        w.u64(Tag::Context(1), 1)
    };
    assert_eq!(
        sim.invoke(id::GENERAL_COMMISSIONING, 0, &arm).uint_field(0),
        Some(0)
    );

    // Device attestation: the DAC, then the signed attestation elements.
    let dac = sim.invoke(opc, cmd::CERTIFICATE_CHAIN_REQUEST, &|w| {
        w.u8(Tag::Context(0), 1)
    });
    let creds_dac = octets(&dac, 0);
    attestation::verify_dac(&creds_dac, dev::DEV_PAI_CERT).expect("DAC chains to the dev PAI");
    let nonce = [0x42u8; 32];
    let att = sim.invoke(opc, cmd::ATTESTATION_REQUEST, &|w| {
        w.octets(Tag::Context(0), &nonce)
    });
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
    let csr = sim.invoke(opc, cmd::CSR_REQUEST, &|w| {
        w.octets(Tag::Context(0), &[7; 32])
    });
    let ne = attestation::verify_nocsr(&octets(&csr, 0), &challenge, &octets(&csr, 1), &dac_pk)
        .expect("CSRResponse verifies");
    let pk = crate::cert::csr::verify_csr(&ne.csr)
        .expect("CSR")
        .public_key;

    // Root, then a NOC issued for the CSR's key by the CHIP SDK's test ICA01.
    let root = sim.invoke(opc, cmd::ADD_TRUSTED_ROOT_CERTIFICATE, &|w| {
        w.octets(Tag::Context(0), CHIP_ROOT01_TLV)
    });
    assert_eq!(root, InvokeOutcome::Status(Status::SUCCESS, None));
    let mut noc = MatterCert::from_tlv(CHIP_NODE01_01_TLV).expect("template");
    noc.public_key = pk;
    noc.sign(&SigningKey::from_slice(CHIP_ICA01_PRIV).expect("key"))
        .expect("sign");
    let noc = noc.to_tlv().expect("tlv");
    let add = sim.invoke(opc, cmd::ADD_NOC, &|w| {
        w.octets(Tag::Context(0), &noc)?;
        w.octets(Tag::Context(1), CHIP_ICA01_TLV)?;
        w.octets(Tag::Context(2), &[0x11; 16])?;
        w.u64(Tag::Context(3), 0x1B669)?;
        w.u16(Tag::Context(4), 0xFFF1)
    });
    assert_eq!(add.uint_field(0), Some(0), "NOCResponse OK: {add:?}");
    assert_eq!(add.uint_field(1), Some(1), "fabric index 1");

    // The same PASE session now has fabric 1 as its accessing fabric.
    assert_eq!(sim.read(opc, 5), TlvValue::UInt(1), "CurrentFabricIndex");
    assert_eq!(sim.read(opc, 3), TlvValue::UInt(1), "CommissionedFabrics");
    let TlvValue::Array(fabrics) = sim.read(opc, 1) else {
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
