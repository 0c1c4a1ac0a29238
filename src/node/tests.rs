//! Node-level tests of the node state under simulated time: our commissioner over loss-free UDP
//! against the node, the fail-safe's expiry and disarm rollbacks with the events and session
//! closes they cause, CommissioningComplete over PASE, persistence and the window mirror.

use super::*;
use crate::fabric::{AclEntry, AuthMode, Privilege, RecordKind, WindowRequest};
use crate::im::clusters::id;
use crate::im::test_requests as req;
use crate::im::{AttributePath, ConcreteAttributePath, Opcode};
use crate::rng::TestRng;
use crate::tlv::{Tag, TlvError, TlvWriter};

use super::test_sim::Sim;

impl Sim {
    /// A node with its window open and a commissioner that has completed PASE.
    fn commissioning(state: Option<NodeState>) -> Self {
        Self::start(Node::with_state(
            NodeConfig::default(),
            TestRng::new(1),
            TestRng::new(2),
            state,
        ))
    }

    fn arm(&mut self, expiry: u16, breadcrumb: u64) -> u64 {
        let f = move |w: &mut TlvWriter<'_>| {
            w.u16(Tag::Context(0), expiry)?;
            w.u64(Tag::Context(1), breadcrumb)
        };
        self.invoke(id::GENERAL_COMMISSIONING, 0, Some(&f))
            .uint_field(0)
            .expect("ArmFailSafeResponse")
    }

    fn write(
        &mut self,
        p: ConcreteAttributePath,
        value: &dyn Fn(&mut TlvWriter<'_>, Tag) -> Result<(), TlvError>,
    ) -> crate::im::Status {
        let w = req::write(p, false, false, None, value);
        req::write_status(&self.request(Opcode::WRITE_REQUEST, &w))
    }

    /// What AddNOC does to the state (the Operational Credentials cluster's job): a fabric,
    /// recorded in the fail-safe context, with the PASE session bound to it.
    fn add_fabric_as_add_noc_would(&mut self) -> FabricIndex {
        let st = self.node.state_mut();
        let idx = st
            .fabrics
            .add(crate::fabric::table_tests::test_fabric(1, ""))
            .expect("add");
        if let Some(c) = st.fail_safe.context_mut() {
            c.fabric = Some(idx);
            c.added_fabric = Some(idx);
        }
        st.push_effect(Effect::BindSessionToFabric(idx));
        // Any interaction runs the queued effect.
        let _ = self.read(AttributePath::concrete(0, id::BASIC_INFORMATION, 2));
        idx
    }

    fn write_admin_acl(&mut self) -> crate::im::Status {
        self.write(
            ConcreteAttributePath {
                endpoint: 0,
                cluster: id::ACCESS_CONTROL,
                attribute: 0,
            },
            &|w, t| {
                w.start_array(t)?;
                AclEntry {
                    fabric_index: FabricIndex(1),
                    privilege: Privilege::Administer,
                    auth_mode: AuthMode::Case,
                    subjects: vec![0x1B669],
                    targets: vec![],
                }
                .encode(w, Tag::Anonymous, false)?;
                w.end_container()
            },
        )
    }

    fn persisted(&self) -> Vec<RecordKind> {
        self.node_events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::Persist(r) => Some(r.kind),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn pase_establishment_arms_the_fail_safe_for_60_seconds() {
    let mut sim = Sim::commissioning(None);
    assert!(sim.node.state().fail_safe.is_armed());
    // Nobody commissions: the fail-safe expires and takes the PASE session with it.
    sim.wait(Duration::from_secs(61));
    assert!(!sim.node.state().fail_safe.is_armed());
    assert_eq!(sim.node.secure_session_count(), 0);
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::FailSafeExpired {
            reason: FailSafeEnd::Expired
        }
    )));
}

#[test]
fn fail_safe_expiry_rolls_back_fabric_and_acl() {
    let mut sim = Sim::commissioning(None);
    assert_eq!(sim.arm(120, 3), 0);
    let armed_at = sim.now;
    let idx = sim.add_fabric_as_add_noc_would();
    assert_eq!(sim.write_admin_acl(), crate::im::Status::SUCCESS);
    assert_eq!(sim.node.state().acl.entries().len(), 1);
    assert_eq!(sim.node.state().fail_safe.breadcrumb(), 3);
    assert!(
        !sim.persisted().contains(&RecordKind::Fabrics)
            && !sim.persisted().contains(&RecordKind::Acl),
        "nothing uncommitted is persisted: {:?}",
        sim.persisted()
    );
    // Just before the deadline nothing has happened.
    let before = armed_at + Duration::from_millis(119_000) - sim.now;
    sim.wait(before);
    assert_eq!(sim.node.state().fabrics.len(), 1);
    sim.wait(Duration::from_secs(2));
    let st = sim.node.state();
    assert!(!st.fail_safe.is_armed());
    assert!(st.fabrics.is_empty());
    assert!(st.acl.entries().is_empty());
    assert_eq!(st.fail_safe.breadcrumb(), 0);
    assert_eq!(sim.node.secure_session_count(), 0, "PASE session closed");
    let kinds: Vec<String> = sim
        .node_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                NodeEvent::FailSafeExpired { .. }
                    | NodeEvent::FabricRemoved { .. }
                    | NodeEvent::SessionClosed { .. }
            )
        })
        .map(|e| format!("{e:?}"))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(
        kinds[0].contains(&format!("FabricRemoved {{ fabric: {idx:?} }}")),
        "{kinds:?}"
    );
    assert!(
        kinds[1].contains("FailSafeExpired { reason: Expired }"),
        "{kinds:?}"
    );
    assert!(kinds[2].contains("SessionClosed"), "{kinds:?}");
    assert!(!sim.persisted().contains(&RecordKind::Fabrics));
}

#[test]
fn disarm_answers_then_rolls_back_and_closes_the_session() {
    let mut sim = Sim::commissioning(None);
    assert_eq!(sim.arm(300, 1), 0);
    sim.add_fabric_as_add_noc_would();
    assert_eq!(sim.write_admin_acl(), crate::im::Status::SUCCESS);
    // ArmFailSafe(0): answered with success on the session it then closes.
    assert_eq!(sim.arm(0, 0), 0);
    sim.wait(Duration::from_secs(5));
    assert!(sim.node.state().fabrics.is_empty());
    assert!(sim.node.state().acl.entries().is_empty());
    assert_eq!(sim.node.secure_session_count(), 0);
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::FailSafeExpired {
            reason: FailSafeEnd::Disarmed
        }
    )));
}

#[test]
fn commissioning_complete_over_pase_is_refused() {
    let mut sim = Sim::commissioning(None);
    assert_eq!(sim.arm(120, 1), 0);
    sim.add_fabric_as_add_noc_would();
    let r = sim.invoke(id::GENERAL_COMMISSIONING, 4, None);
    assert_eq!(
        r.uint_field(0),
        Some(crate::fabric::CommissioningError::InvalidAuthentication as u64)
    );
    assert!(sim.node.state().fail_safe.is_armed());
    assert_eq!(sim.node.state().fabrics.len(), 1);
    assert!(!sim
        .node_events
        .iter()
        .any(|e| matches!(e, NodeEvent::CommissioningComplete { .. })));
}

#[test]
fn node_label_write_is_persisted_and_loaded_back() {
    let mut sim = Sim::commissioning(None);
    assert!(sim.persisted().is_empty(), "factory state is not written");
    let label = ConcreteAttributePath {
        endpoint: 0,
        cluster: id::BASIC_INFORMATION,
        attribute: 5,
    };
    assert_eq!(
        sim.write(label, &|w, t| w.utf8(t, "porch")),
        crate::im::Status::SUCCESS
    );
    let rec = sim
        .node_events
        .iter()
        .find_map(|e| match e {
            NodeEvent::Persist(r) if r.kind == RecordKind::BasicInformation => {
                Some(r.bytes.to_vec())
            }
            _ => None,
        })
        .expect("BasicInformation persisted");
    let state = NodeState::default()
        .load([(RecordKind::BasicInformation, &rec[..])])
        .expect("load");
    let mut sim = Sim::commissioning(Some(state));
    let r = sim.read(label.into());
    assert_eq!(r[0].value, Ok(crate::tlv::TlvValue::Utf8("porch".into())));
}

#[test]
fn window_status_follows_the_window_and_the_basic_window_reuses_the_device_verifier() {
    let mut sim = Sim::commissioning(None);
    // The initial window is open but not an administrator's: WindowStatus says WindowNotOpen
    // (Matter 1.3 §11.19.7.1).
    assert_eq!(sim.node.state().window.status, WindowStatus::WindowNotOpen);
    assert!(sim.node.state().window.open);
    let now = sim.now;
    sim.node.close_commissioning_window(now);
    assert_eq!(sim.node.state().window.status, WindowStatus::WindowNotOpen);
    assert!(!sim.node.state().window.open);
    assert!(!sim.node.is_commissioning_window_open());
    sim.node
        .state_mut()
        .push_effect(Effect::OpenCommissioningWindow {
            window: WindowRequest::Basic,
            timeout: Duration::from_secs(180),
        });
    let _ = sim.read(AttributePath::concrete(0, id::BASIC_INFORMATION, 2));
    assert!(sim.node.is_commissioning_window_open());
    assert_eq!(
        sim.node.state().window.status,
        WindowStatus::BasicWindowOpen
    );
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::CommissioningWindowOpened {
            discriminator: None,
            ..
        }
    )));
    // The window times out: status back to not open.
    sim.wait(Duration::from_secs(181));
    assert_eq!(sim.node.state().window.status, WindowStatus::WindowNotOpen);
}
