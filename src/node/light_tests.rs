//! Node-level tests of the light endpoint under simulated time: our commissioner over loss-free
//! UDP toggles the light (OnOffChanged and the "on-off" record come out), a subscription to
//! OnOff gets the change report, OnWithTimedOff turns the light off through the node's timer,
//! StartUpOnOff is applied when a node starts from stored records, and `NodeConfig::light`
//! false leaves endpoint 1 out.

use super::test_sim::Sim;
use super::*;
use crate::commissioner::CommissionerEvent;
use crate::fabric::{RecordKind, StartUpOnOff, LIGHT_ENDPOINT};
use crate::im::clusters::id;
use crate::im::clusters::on_off::cmd;
use crate::im::test_requests::{self as req, InvokeOutcome};
use crate::im::{AttributePath, Opcode, Status};
use crate::rng::TestRng;
use crate::tlv::{Tag, TlvValue, TlvWriter};

fn node(state: Option<NodeState>) -> Node<TestRng> {
    Node::with_state(
        NodeConfig::default(),
        TestRng::new(1),
        TestRng::new(2),
        state,
    )
}

impl Sim {
    fn light(&mut self, command: u32, fields: Option<req::Fields<'_>>) -> InvokeOutcome {
        let p = req::invoke(LIGHT_ENDPOINT, id::ON_OFF, command, false, fields);
        req::invoke_outcome(&self.request(Opcode::INVOKE_REQUEST, &p))
    }

    fn switched(&self) -> Vec<bool> {
        self.node_events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::OnOffChanged { endpoint, on } => {
                    assert_eq!(*endpoint, LIGHT_ENDPOINT);
                    Some(*on)
                }
                _ => None,
            })
            .collect()
    }

    fn on_off_record(&self) -> Option<Vec<u8>> {
        self.node_events.iter().rev().find_map(|e| match e {
            NodeEvent::Persist(r) if r.kind == RecordKind::OnOff => Some(r.bytes.to_vec()),
            _ => None,
        })
    }

    fn read_on_off(&mut self) -> TlvValue {
        let r = self.read(AttributePath::concrete(LIGHT_ENDPOINT, id::ON_OFF, 0));
        r[0].value.clone().expect("OnOff")
    }
}

#[test]
fn toggle_switches_reports_and_persists() {
    let mut sim = Sim::start(node(None));
    assert!(
        sim.switched().is_empty(),
        "a factory-new light starts off, silently"
    );
    assert_eq!(
        sim.light(cmd::TOGGLE, None),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    assert_eq!(sim.switched(), vec![true]);
    assert_eq!(sim.read_on_off(), TlvValue::Bool(true));
    let rec = sim.on_off_record().expect("on-off persisted");
    assert_eq!(
        sim.light(cmd::OFF, None),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    assert_eq!(sim.switched(), vec![true, false]);
    // The record of the "on" state brings the light back on (StartUpOnOff null).
    let state = NodeState::default()
        .load([(RecordKind::OnOff, &rec[..])])
        .expect("load");
    let mut n = node(Some(state));
    assert!(n.state().light.on_off);
    // It was on before and is on now: nothing switched, the on-off record stays as it is.
    while let Some(e) = n.poll_event() {
        assert!(!matches!(e, NodeEvent::OnOffChanged { .. }), "{e:?}");
        assert!(
            !matches!(&e, NodeEvent::Persist(r) if r.kind == RecordKind::OnOff),
            "{e:?}"
        );
    }
}

#[test]
fn a_subscription_to_on_off_gets_the_change() {
    let mut sim = Sim::start(node(None));
    let now = sim.now;
    sim.c
        .subscribe(
            now,
            &[AttributePath::concrete(1, id::ON_OFF, 0)],
            0,
            60,
            false,
        )
        .expect("subscribe");
    let primed = sim.run_until(Duration::from_secs(10), |e| {
        matches!(
            e,
            CommissionerEvent::SubscriptionEstablished { .. }
                | CommissionerEvent::SubscribeFailed(_)
        )
    });
    let Some(CommissionerEvent::SubscriptionEstablished { reports, .. }) = primed else {
        panic!("{primed:?}")
    };
    assert_eq!(reports[0].value, Ok(TlvValue::Bool(false)));
    let p = req::invoke(1, id::ON_OFF, cmd::ON, false, None);
    let now = sim.now;
    sim.c
        .request(now, Opcode::INVOKE_REQUEST, &p)
        .expect("invoke");
    let (mut answered, mut reported) = (false, None);
    sim.run_until(Duration::from_secs(10), |e| {
        match e {
            CommissionerEvent::Response { .. } => answered = true,
            CommissionerEvent::SubscriptionReport { reports, .. } if !reports.is_empty() => {
                reported = Some(reports.clone());
            }
            _ => {}
        }
        answered && reported.is_some()
    });
    assert!(answered);
    let reports = reported.expect("change report");
    assert_eq!(
        (
            reports[0].endpoint,
            reports[0].cluster,
            reports[0].attribute
        ),
        (1, id::ON_OFF, 0)
    );
    assert_eq!(reports[0].value, Ok(TlvValue::Bool(true)));
}

#[test]
fn on_with_timed_off_ends_through_the_node_timer() {
    let mut sim = Sim::start(node(None));
    let f = |w: &mut TlvWriter<'_>| {
        w.u8(Tag::Context(0), 0)?;
        w.u16(Tag::Context(1), 30)?;
        w.u16(Tag::Context(2), 0)
    };
    assert_eq!(
        sim.light(cmd::ON_WITH_TIMED_OFF, Some(&f)),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    let on_at = sim.now;
    assert!(sim
        .node
        .poll_timeout()
        .is_some_and(|t| t <= on_at + Duration::from_millis(100)));
    sim.wait(Duration::from_millis(2_900));
    assert_eq!(sim.switched(), vec![true]);
    sim.wait(Duration::from_millis(200));
    assert_eq!(
        sim.switched(),
        vec![true, false],
        "off 3 s after the command"
    );
    assert!(!sim.node.state().light.is_timed());
    assert_eq!(sim.read_on_off(), TlvValue::Bool(false));
}

#[test]
fn start_up_on_off_is_applied_when_the_node_starts() {
    let mut s = NodeState::default();
    s.light.on_off = true;
    s.light.start_up_on_off = Some(StartUpOnOff::Toggle);
    let records = s.take_records();
    let loaded = || {
        NodeState::default()
            .load(records.iter().map(|r| (r.kind, &r.bytes[..])))
            .expect("load")
    };
    let mut n = node(Some(loaded()));
    assert!(!n.state().light.on_off, "Toggle from on");
    let mut events = Vec::new();
    while let Some(e) = n.poll_event() {
        events.push(e);
    }
    assert!(
        matches!(
            events.first(),
            Some(NodeEvent::OnOffChanged {
                endpoint: 1,
                on: false
            })
        ),
        "{events:?}"
    );
    // The new state is written, so the next start toggles from off.
    assert!(events
        .iter()
        .any(|e| matches!(e, NodeEvent::Persist(r) if r.kind == RecordKind::OnOff)));
    // Without the light endpoint the state is left alone.
    let cfg = NodeConfig {
        light: false,
        ..NodeConfig::default()
    };
    let n = Node::with_state(cfg, TestRng::new(1), TestRng::new(2), Some(loaded()));
    assert!(n.state().light.on_off);
    assert!(n.data_model().endpoint(1).is_none());
}

#[test]
fn after_commissioning_the_administrator_switches_the_light_over_case() {
    use super::commissioning_flow_tests::{commissioning_complete, through_add_noc};
    let mut sim = Sim::with_development_credentials();
    through_add_noc(&mut sim);
    assert!(!sim.case(false));
    assert_eq!(commissioning_complete(&mut sim), Some(0));
    sim.wait(Duration::from_secs(1));
    assert_eq!(sim.node.pase_session, None, "only CASE is left");
    // The invoke goes over the CASE session: its subject is the fabric's administrator.
    assert_eq!(
        sim.light(cmd::TOGGLE, None),
        InvokeOutcome::Status(Status::SUCCESS, None)
    );
    assert_eq!(sim.switched(), vec![true]);
    assert_eq!(sim.read_on_off(), TlvValue::Bool(true));
}
