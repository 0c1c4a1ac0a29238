//! The simulation the node-level tests share: our commissioner over loss-free UDP against a
//! node, under simulated time (every timer fires in order), with PASE already established.

use std::collections::VecDeque;

use super::*;
use crate::commissioner::{AttributeReport, Commissioner, CommissionerEvent};
use crate::im::test_requests::{self as req, InvokeOutcome};
use crate::im::{AttributePath, Opcode};
use crate::rng::TestRng;

pub(super) const PASSCODE: u32 = 20202021;
pub(super) const SALT: &[u8] = b"SPAKE2P Key Salt";
pub(super) const ITERATIONS: u32 = 1000;

pub(super) fn addr(port: u16) -> PeerAddr {
    PeerAddr::Udp(([127, 0, 0, 1], port).into())
}

pub(super) struct Sim {
    pub(super) now: Instant,
    pub(super) node: Node<TestRng>,
    pub(super) c: Commissioner<TestRng>,
    pub(super) node_events: Vec<NodeEvent>,
    pub(super) c_events: VecDeque<CommissionerEvent>,
}

impl Sim {
    /// `node` with its window open (passcode 20202021) and a commissioner that has completed
    /// PASE against it.
    pub(super) fn start(mut node: Node<TestRng>) -> Self {
        let verifier = PaseVerifier::from_passcode(PASSCODE, SALT, ITERATIONS).expect("verifier");
        node.open_commissioning_window(Instant::ZERO, verifier, Duration::from_secs(900));
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
            node_events: Vec::new(),
            c_events: VecDeque::new(),
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

    pub(super) fn step(&mut self) -> bool {
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
            self.c_events.push_back(e);
        }
        for d in out {
            moved = true;
            self.node.handle_datagram(self.now, addr(40000), &d);
        }
        moved
    }

    pub(super) fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&CommissionerEvent) -> bool,
    ) -> Option<CommissionerEvent> {
        let end = self.now + limit;
        for _ in 0..100_000 {
            while self.step() {}
            while let Some(e) = self.c_events.pop_front() {
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

    /// Lets `d` of simulated time pass, firing every timer on the way.
    pub(super) fn wait(&mut self, d: Duration) {
        let _ = self.run_until(d, |_| false);
    }

    pub(super) fn request(&mut self, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let now = self.now;
        self.c.request(now, opcode, payload).expect("request sent");
        match self.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::Response { .. } | CommissionerEvent::RequestFailed
            )
        }) {
            Some(CommissionerEvent::Response { payload, .. }) => payload,
            other => panic!("no response: {other:?}"),
        }
    }

    pub(super) fn invoke(
        &mut self,
        cluster: u32,
        command: u32,
        fields: Option<req::Fields<'_>>,
    ) -> InvokeOutcome {
        let p = req::invoke(0, cluster, command, false, fields);
        req::invoke_outcome(&self.request(Opcode::INVOKE_REQUEST, &p))
    }

    pub(super) fn read(&mut self, p: AttributePath) -> Vec<AttributeReport> {
        let now = self.now;
        self.c.read(now, &[p]).expect("read");
        match self.run_until(Duration::from_secs(30), |e| {
            matches!(
                e,
                CommissionerEvent::ReadDone { .. } | CommissionerEvent::ReadFailed(_)
            )
        }) {
            Some(CommissionerEvent::ReadDone { reports, .. }) => reports,
            other => panic!("read failed: {other:?}"),
        }
    }
}
