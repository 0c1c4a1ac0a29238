//! The driver against our node over loss-free simulated UDP: a Wi-Fi (host-managed) device with
//! development attestation credentials is commissioned end to end (network setup included),
//! then the light is toggled over the CASE session; and the checks that must refuse (an
//! untrusted PAA) do.

use std::collections::VecDeque;

use super::*;
use crate::cert::validate_chain;
use crate::commissioner::AttributeReport;
use crate::im::clusters::network_commissioning::{HostLink, NetworkFeature, WifiSettings};
use crate::node::{Node, NodeConfig, NodeEvent, PeerAddr};
use crate::pase::PaseVerifier;
use crate::rng::TestRng;
use crate::time::Duration;

const PASSCODE: u32 = 20202021;

fn addr(port: u16) -> PeerAddr {
    PeerAddr::Udp(([127, 0, 0, 1], port).into())
}

struct Wire {
    now: Instant,
    node: Node<TestRng>,
    c: Commissioner<TestRng>,
    /// A second commissioner toward the device's "operational address" (another source port
    /// here), as the BLE commissioner uses for CASE over UDP.
    op: Option<Commissioner<TestRng>>,
    node_events: Vec<NodeEvent>,
    events: VecDeque<CommissionerEvent>,
    op_events: VecDeque<CommissionerEvent>,
}

const PASE_PORT: u16 = 40000;
const OP_PORT: u16 = 40001;

impl Wire {
    fn new() -> Self {
        let creds = dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut TestRng::new(7))
            .expect("credentials");
        let config = NodeConfig {
            attestation: Some(creds),
            network_interface: "wlan0".into(),
            network_feature: NetworkFeature::WiFi(WifiSettings::host_managed(HostLink::new(true))),
            light: true,
            ..NodeConfig::default()
        };
        let mut node = Node::new(config, TestRng::new(1), TestRng::new(2));
        let verifier =
            PaseVerifier::from_passcode(PASSCODE, b"SPAKE2P Key Salt", 1000).expect("verifier");
        node.open_commissioning_window(Instant::ZERO, verifier, Duration::from_secs(900));
        let c = Commissioner::start(
            Instant::ZERO,
            addr(5540),
            PASSCODE,
            TestRng::new(3),
            TestRng::new(4),
        )
        .expect("commissioner");
        Self {
            now: Instant::ZERO,
            node,
            c,
            op: None,
            node_events: Vec::new(),
            events: VecDeque::new(),
            op_events: VecDeque::new(),
        }
    }

    /// Moves everything queued; whether anything moved.
    fn step(&mut self) -> bool {
        let mut moved = false;
        let mut buf = Vec::new();
        while let Some(t) = self.node.poll_transmit(self.now, &mut buf) {
            moved = true;
            let d = std::mem::take(&mut buf);
            match (&mut self.op, t.dest == addr(OP_PORT)) {
                (Some(op), true) => op.handle_datagram(self.now, &d),
                _ => self.c.handle_datagram(self.now, &d),
            }
        }
        if let Some(op) = &mut self.op {
            while op.poll_transmit(self.now, &mut buf).is_some() {
                moved = true;
                let d = std::mem::take(&mut buf);
                self.node.handle_datagram(self.now, addr(OP_PORT), &d);
            }
            while let Some(e) = op.poll_event() {
                moved = true;
                self.op_events.push_back(e);
            }
        }
        while let Some(e) = self.node.poll_event() {
            moved = true;
            self.node_events.push(e);
        }
        while self.c.poll_transmit(self.now, &mut buf).is_some() {
            moved = true;
            let d = std::mem::take(&mut buf);
            self.node.handle_datagram(self.now, addr(PASE_PORT), &d);
        }
        while let Some(e) = self.c.poll_event() {
            moved = true;
            self.events.push_back(e);
        }
        moved
    }

    /// The next commissioner event, running timers in order (simulated time).
    fn next_event(&mut self) -> CommissionerEvent {
        self.next_any().1
    }

    /// The next event of either commissioner: (from the operational one, event).
    fn next_any(&mut self) -> (bool, CommissionerEvent) {
        for _ in 0..10_000 {
            while self.step() {}
            if let Some(e) = self.op_events.pop_front() {
                return (true, e);
            }
            if let Some(e) = self.events.pop_front() {
                return (false, e);
            }
            let next = [
                self.node.poll_timeout(),
                self.c.poll_timeout(),
                self.op.as_ref().and_then(Commissioner::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("something pending");
            self.now = self.now.max(next);
            self.node.handle_timeout(self.now);
            self.c.handle_timeout(self.now);
            if let Some(op) = &mut self.op {
                op.handle_timeout(self.now);
            }
        }
        panic!("no event")
    }

    /// As the BLE commissioner does it: the PASE part on `c`, CASE and CommissioningComplete
    /// on a second, operational commissioner from another address; the PASE side's later
    /// events (its session's end) are not the flow's.
    fn commission_split(&mut self, flow: &mut CommissioningFlow) -> Result<(), FlowError> {
        let ev = self.next_event();
        assert!(
            matches!(ev, CommissionerEvent::PaseEstablished { .. }),
            "{ev:?}"
        );
        flow.start(self.now, &mut self.c)?;
        loop {
            match self.next_any() {
                (false, ev) if self.op.is_none() => {
                    if flow.handle_event(self.now, &mut self.c, &ev)? == FlowProgress::NeedCase {
                        let mut op = Commissioner::operational(
                            addr(5540),
                            TestRng::new(31),
                            TestRng::new(32),
                        );
                        flow.start_case(self.now, &mut op)?;
                        self.op = Some(op);
                    }
                }
                (false, _) => {}
                (true, ev) => {
                    let Some(op) = self.op.as_mut() else {
                        unreachable!("op events come from op")
                    };
                    if flow.handle_event(self.now, op, &ev)? == FlowProgress::Done {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// PASE, then the flow to its end (or its error).
    fn commission(&mut self, flow: &mut CommissioningFlow) -> Result<(), FlowError> {
        let ev = self.next_event();
        assert!(
            matches!(ev, CommissionerEvent::PaseEstablished { .. }),
            "{ev:?}"
        );
        flow.start(self.now, &mut self.c)?;
        loop {
            let ev = self.next_event();
            match flow.handle_event(self.now, &mut self.c, &ev)? {
                FlowProgress::NeedCase => flow.start_case(self.now, &mut self.c)?,
                FlowProgress::Done => return Ok(()),
                FlowProgress::Pending | FlowProgress::Ignored => {}
            }
        }
    }

    fn on_off(&mut self) -> TlvValue {
        self.c
            .read(self.now, &[AttributePath::concrete(1, id::ON_OFF, 0)])
            .expect("read");
        match self.next_event() {
            CommissionerEvent::ReadDone { mut reports, .. } => {
                let r: AttributeReport = reports.remove(0);
                r.value.expect("OnOff")
            }
            other => panic!("{other:?}"),
        }
    }
}

fn wifi() -> WifiCredentials {
    WifiCredentials {
        ssid: b"matter-test".to_vec(),
        credentials: Zeroizing::new(b"secret-passphrase".to_vec()),
    }
}

#[test]
fn fabric_certificates_form_a_valid_chain() {
    let fabric = CommissionerFabric::generate(&mut TestRng::new(9), 0, 0xFFF1).expect("fabric");
    let chain = validate_chain(fabric.admin_noc(), None, fabric.rcac(), None).expect("chain");
    assert_eq!(chain.fabric_id, fabric.fabric_id());
    assert_eq!(chain.node_id, fabric.admin_node_id());
    // A NOC for another key, and the device's node id.
    let key = random_secret(&mut TestRng::new(5));
    let pk = crate::case::keys::public_key_of(&key);
    let noc = fabric
        .issue_noc(0x1234, &pk, &mut TestRng::new(6))
        .expect("noc");
    let chain = validate_chain(&noc, None, fabric.rcac(), None).expect("chain");
    assert_eq!(chain.noc_public_key, pk);
    assert_eq!(chain.node_id, 0x1234);
    // Another fabric's root does not validate it.
    let other = CommissionerFabric::generate(&mut TestRng::new(10), 0, 0xFFF1).expect("fabric");
    assert!(validate_chain(&noc, None, other.rcac(), None).is_err());
}

#[test]
fn commissions_a_wifi_device_end_to_end_then_toggles_the_light_over_case() {
    let mut w = Wire::new();
    let mut rng = TestRng::new(21);
    let fabric = CommissionerFabric::generate(&mut rng, 0x0102, 0xFFF1).expect("fabric");
    let node_id = fabric.new_node_id(&mut rng);
    let mut config = FlowConfig::new(node_id);
    config.wifi = Some(wifi());
    let mut flow = CommissioningFlow::new(fabric, config, &mut rng);
    w.commission(&mut flow).expect("commissioned");
    assert!(flow.device_has_wifi());
    assert_eq!(flow.step(), Step::Done);
    let steps: Vec<Step> = flow.timings().iter().map(|t| t.step).collect();
    assert_eq!(
        steps,
        [
            Step::ReadNetworkFeature,
            Step::ArmFailSafe,
            Step::DacCertificate,
            Step::PaiCertificate,
            Step::AttestationRequest,
            Step::CsrRequest,
            Step::AddRoot,
            Step::AddNoc,
            Step::AddWifiNetwork,
            Step::ConnectNetwork,
            Step::Case,
            Step::CommissioningComplete,
        ]
    );
    for p in [
        Phase::Attestation,
        Phase::AddNoc,
        Phase::Network,
        Phase::Case,
        Phase::Complete,
    ] {
        assert!(flow.phase_ms(p).is_some(), "{p:?}");
    }
    assert!(w
        .node_events
        .iter()
        .any(|e| matches!(e, NodeEvent::CommissioningComplete { .. })));
    assert!(!w.node.is_commissioning_window_open());
    assert!(!w.node.state().fail_safe.is_armed());
    assert_eq!(w.node.state().fabrics.len(), 1);

    // The light over the CASE session: Toggle, read back.
    assert_eq!(w.on_off(), TlvValue::Bool(false));
    let toggle = fields(|_| Ok(())).expect("fields");
    w.c.invoke(w.now, 1, id::ON_OFF, 0x02, &toggle, None)
        .expect("toggle");
    match w.next_event() {
        CommissionerEvent::InvokeDone(InvokeOutcome::Status { status, .. }) => {
            assert_eq!(status, Status::SUCCESS)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.on_off(), TlvValue::Bool(true));
}

#[test]
fn an_ethernet_device_skips_network_setup() {
    let mut w = Wire::new();
    w.node = {
        let creds = dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut TestRng::new(7))
            .expect("credentials");
        let mut node = Node::new(
            NodeConfig {
                attestation: Some(creds),
                ..NodeConfig::default()
            },
            TestRng::new(1),
            TestRng::new(2),
        );
        let v = PaseVerifier::from_passcode(PASSCODE, b"SPAKE2P Key Salt", 1000).expect("v");
        node.open_commissioning_window(Instant::ZERO, v, Duration::from_secs(900));
        node
    };
    let mut rng = TestRng::new(22);
    let fabric = CommissionerFabric::generate(&mut rng, 0, 0xFFF1).expect("fabric");
    let mut config = FlowConfig::new(fabric.new_node_id(&mut rng));
    config.wifi = Some(wifi());
    let mut flow = CommissioningFlow::new(fabric, config, &mut rng);
    w.commission(&mut flow).expect("commissioned");
    assert!(!flow.device_has_wifi());
    assert!(flow.phase_ms(Phase::Network).is_none());
}

#[test]
fn a_pai_from_an_untrusted_paa_stops_at_attestation() {
    let mut w = Wire::new();
    let mut rng = TestRng::new(23);
    let fabric = CommissionerFabric::generate(&mut rng, 0, 0xFFF1).expect("fabric");
    let mut config = FlowConfig::new(fabric.new_node_id(&mut rng));
    // The CD signing certificate is a valid certificate but not the PAI's issuer.
    config.trusted_paas = vec![dev::TEST_CD_SIGNING_CERT.to_vec()];
    let mut flow = CommissioningFlow::new(fabric, config, &mut rng);
    match w.commission(&mut flow) {
        Err(FlowError::Attestation(e)) => assert!(e.contains("PAA"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(flow.step(), Step::AttestationRequest);
    assert!(w.node.state().fabrics.is_empty());
}

#[test]
fn case_and_commissioning_complete_on_a_second_operational_commissioner() {
    let mut w = Wire::new();
    let mut rng = TestRng::new(24);
    let fabric = CommissionerFabric::generate(&mut rng, 0, 0xFFF1).expect("fabric");
    let mut config = FlowConfig::new(fabric.new_node_id(&mut rng));
    config.wifi = Some(wifi());
    let mut flow = CommissioningFlow::new(fabric, config, &mut rng);
    // Before PASE there is no challenge: starting is refused.
    let mut early = Commissioner::operational(addr(5540), TestRng::new(1), TestRng::new(2));
    assert_eq!(
        flow.start(w.now, &mut early),
        Err(FlowError::OutOfOrder(Step::ReadNetworkFeature))
    );
    w.commission_split(&mut flow).expect("commissioned");
    assert_eq!(flow.step(), Step::Done);
    assert!(!w.node.state().fail_safe.is_armed());
    // CommissioningComplete ended the PASE session: only the CASE one is left.
    assert_eq!(w.node.secure_session_count(), 1);
}
