//! The whole device stack in process: our `Node` (device) against our `Commissioner`, both on
//! the real exchange, session, PASE and IM engines, under simulated time. The link between them
//! is either UDP (MRP on, optional seeded loss) or a pair of BTP engines (MRP off), so the same
//! scenarios cover both transports without a radio or a socket.

use std::collections::VecDeque;

use matter_ble::btp::{BtpConfig, BtpEngine, BtpEvent};
use matter_ble::commissioner::{AttributeReport, Commissioner, CommissionerEvent, InvokeOutcome};
use matter_ble::im::{clusters::DeviceInfo, AttributePath};
use matter_ble::node::{BleLinkId, Node, NodeConfig, NodeEvent, PeerAddr};
use matter_ble::pase::{PaseVerifier, WindowCloseReason};
use matter_ble::rng::{Rng, TestRng};
use matter_ble::time::{Duration, Instant};
use matter_ble::tlv::{Tag, TlvValue};

const PASSCODE: u32 = 20202021;
// CHIP SDK test salt (examples use "SPAKE2P Key Salt") and the minimum iteration count.
const SALT: &[u8] = b"SPAKE2P Key Salt";
const ITERATIONS: u32 = 1000;
const WINDOW: Duration = Duration::from_secs(900);

fn device_info() -> DeviceInfo {
    DeviceInfo {
        vendor_name: "matter-ble tests".into(),
        vendor_id: 0xFFF1,
        product_name: "Sim light".into(),
        product_id: 0x8000,
        ..DeviceInfo::default()
    }
}

fn udp_peer(port: u16) -> PeerAddr {
    PeerAddr::Udp(([127, 0, 0, 1], port).into())
}

enum Link {
    /// Datagrams; `loss` is the drop probability in percent, decided by `rng`.
    Udp { loss: u32, rng: TestRng },
    /// A BTP pair: the device is the peripheral.
    Btp {
        central: Box<BtpEngine>,
        peripheral: Box<BtpEngine>,
        subscribed: bool,
    },
}

struct Sim {
    now: Instant,
    node: Node<TestRng>,
    commissioner: Option<Commissioner<TestRng>>,
    link: Link,
    node_events: Vec<NodeEvent>,
    commissioner_events: VecDeque<CommissionerEvent>,
    /// Device address as the commissioner sees it, and vice versa.
    device_addr: PeerAddr,
    commissioner_addr: PeerAddr,
    datagrams: usize,
}

impl Sim {
    fn new(link: Link, seed: u64) -> Self {
        Self::with_im_limit(link, seed, NodeConfig::default().im_max_payload)
    }

    fn with_im_limit(link: Link, seed: u64, im_max_payload: usize) -> Self {
        Self::with_config(
            link,
            seed,
            NodeConfig {
                device_info: device_info(),
                im_max_payload,
                ..NodeConfig::default()
            },
        )
    }

    fn with_config(link: Link, seed: u64, config: NodeConfig) -> Self {
        let mut node = Node::new(config, TestRng::new(seed), TestRng::new(seed ^ 0xA5A5));
        let verifier = PaseVerifier::from_passcode(PASSCODE, SALT, ITERATIONS).expect("verifier");
        node.open_commissioning_window(Instant::ZERO, verifier, WINDOW);
        let (device_addr, commissioner_addr) = match link {
            Link::Udp { .. } => (udp_peer(5540), udp_peer(40000)),
            Link::Btp { .. } => (PeerAddr::Ble(BleLinkId(0)), PeerAddr::Ble(BleLinkId(1))),
        };
        Self {
            now: Instant::ZERO,
            node,
            commissioner: None,
            link,
            node_events: Vec::new(),
            commissioner_events: VecDeque::new(),
            device_addr,
            commissioner_addr,
            datagrams: 0,
        }
    }

    fn udp(seed: u64, loss: u32) -> Self {
        Self::new(
            Link::Udp {
                loss,
                rng: TestRng::new(seed.wrapping_mul(31)),
            },
            seed,
        )
    }

    fn btp(seed: u64) -> Self {
        let config = BtpConfig::default();
        Self::new(
            Link::Btp {
                central: Box::new(BtpEngine::central(config.clone(), Some(247))),
                peripheral: Box::new(BtpEngine::peripheral(config, Some(247))),
                subscribed: false,
            },
            seed,
        )
    }

    fn start_pase(&mut self, passcode: u32, seed: u64) {
        let c = Commissioner::start(
            self.now,
            self.device_addr,
            passcode,
            TestRng::new(seed),
            TestRng::new(seed ^ 0x5A5A),
        )
        .expect("commissioner");
        self.commissioner = Some(c);
    }

    fn commissioner(&mut self) -> &mut Commissioner<TestRng> {
        self.commissioner.as_mut().expect("commissioner started")
    }

    /// Moves everything that is ready; returns whether anything moved.
    fn step_once(&mut self) -> bool {
        let mut moved = false;
        let now = self.now;
        let mut buf = Vec::new();
        // Device -> commissioner.
        while let Some(t) = self.node.poll_transmit(now, &mut buf) {
            moved = true;
            assert_eq!(t.dest, self.commissioner_addr_for_node());
            let bytes = std::mem::take(&mut buf);
            self.deliver_to_commissioner(bytes);
        }
        while let Some(ev) = self.node.poll_event() {
            moved = true;
            self.node_events.push(ev);
        }
        // Commissioner -> device.
        if let Some(c) = self.commissioner.as_mut() {
            let mut out = Vec::new();
            while c.poll_transmit(now, &mut buf).is_some() {
                out.push(std::mem::take(&mut buf));
            }
            while let Some(ev) = c.poll_event() {
                moved = true;
                self.commissioner_events.push_back(ev);
            }
            for bytes in out {
                moved = true;
                self.deliver_to_device(bytes);
            }
        }
        moved |= self.pump_btp();
        moved
    }

    fn commissioner_addr_for_node(&self) -> PeerAddr {
        self.commissioner_addr
    }

    fn dropped(&mut self) -> bool {
        match &mut self.link {
            Link::Udp { loss, rng } => *loss > 0 && rng.next_u32() % 100 < *loss,
            Link::Btp { .. } => false,
        }
    }

    fn deliver_to_device(&mut self, bytes: Vec<u8>) {
        self.datagrams += 1;
        if self.dropped() {
            return;
        }
        let now = self.now;
        match &mut self.link {
            Link::Udp { .. } => self
                .node
                .handle_datagram(now, self.commissioner_addr, &bytes),
            Link::Btp { central, .. } => {
                central.send_sdu(now, bytes).expect("BTP send");
            }
        }
    }

    fn deliver_to_commissioner(&mut self, bytes: Vec<u8>) {
        self.datagrams += 1;
        if self.dropped() {
            return;
        }
        let now = self.now;
        match &mut self.link {
            Link::Udp { .. } => {
                if let Some(c) = self.commissioner.as_mut() {
                    c.handle_datagram(now, &bytes);
                }
            }
            Link::Btp { peripheral, .. } => {
                peripheral.send_sdu(now, bytes).expect("BTP send");
            }
        }
    }

    /// Moves BTP segments: central writes to C1 (write response = done), peripheral indicates
    /// on C2 (confirmation = done). The central subscribes after its handshake write.
    fn pump_btp(&mut self) -> bool {
        let mut moved = false;
        let mut buf = Vec::new();
        loop {
            let now = self.now;
            let Link::Btp {
                central,
                peripheral,
                subscribed,
            } = &mut self.link
            else {
                return false;
            };
            let mut any = false;
            buf.clear();
            if central.poll_transmit(now, &mut buf).is_some() {
                any = true;
                peripheral.handle_segment(now, &buf);
                central.handle_indication_done(now);
                if !*subscribed {
                    *subscribed = true;
                    central.handle_subscribed(now);
                    peripheral.handle_subscribed(now);
                }
            }
            buf.clear();
            if peripheral.poll_transmit(now, &mut buf).is_some() {
                any = true;
                central.handle_segment(now, &buf);
                peripheral.handle_indication_done(now);
            }
            let mut sdus_to_node = Vec::new();
            while let Some(ev) = peripheral.poll_event() {
                any = true;
                match ev {
                    BtpEvent::SduReceived(sdu) => sdus_to_node.push(sdu),
                    BtpEvent::Closed { reason } => panic!("peripheral BTP closed: {reason}"),
                    _ => {}
                }
            }
            let mut sdus_to_commissioner = Vec::new();
            while let Some(ev) = central.poll_event() {
                any = true;
                match ev {
                    BtpEvent::SduReceived(sdu) => sdus_to_commissioner.push(sdu),
                    BtpEvent::Closed { reason } => panic!("central BTP closed: {reason}"),
                    _ => {}
                }
            }
            for sdu in sdus_to_node {
                self.node.handle_datagram(now, self.commissioner_addr, &sdu);
            }
            if let Some(c) = self.commissioner.as_mut() {
                for sdu in sdus_to_commissioner {
                    c.handle_datagram(now, &sdu);
                }
            }
            if !any {
                return moved;
            }
            moved = true;
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut d = vec![self.node.poll_timeout()];
        if let Some(c) = &self.commissioner {
            d.push(c.poll_timeout());
        }
        if let Link::Btp {
            central,
            peripheral,
            ..
        } = &self.link
        {
            d.push(central.poll_timeout());
            d.push(peripheral.poll_timeout());
        }
        d.into_iter().flatten().min()
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        self.node.handle_timeout(now);
        if let Some(c) = self.commissioner.as_mut() {
            c.handle_timeout(now);
        }
        if let Link::Btp {
            central,
            peripheral,
            ..
        } = &mut self.link
        {
            central.handle_timeout(now);
            peripheral.handle_timeout(now);
        }
    }

    /// Runs until `done` holds for a commissioner event, or virtual time passes `limit`.
    fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&CommissionerEvent) -> bool,
    ) -> Option<CommissionerEvent> {
        let end = self.now + limit;
        for _ in 0..200_000 {
            while self.step_once() {}
            while let Some(ev) = self.commissioner_events.pop_front() {
                if done(&ev) {
                    return Some(ev);
                }
            }
            let d = self.next_deadline()?;
            if d > end {
                return None;
            }
            self.now = self.now.max(d);
            self.fire_timers();
        }
        panic!("simulation did not settle");
    }

    fn establish(&mut self, seed: u64) -> Duration {
        let t0 = self.now;
        self.start_pase(PASSCODE, seed);
        let ev = self.run_until(Duration::from_secs(60), |e| {
            matches!(
                e,
                CommissionerEvent::PaseEstablished { .. } | CommissionerEvent::PaseFailed(_)
            )
        });
        assert!(
            matches!(ev, Some(CommissionerEvent::PaseEstablished { .. })),
            "PASE did not complete: {ev:?}"
        );
        assert!(self
            .node_events
            .iter()
            .any(|e| matches!(e, NodeEvent::PaseEstablished { .. })));
        self.now - t0
    }

    fn read(&mut self, paths: &[AttributePath]) -> (Vec<AttributeReport>, usize) {
        let now = self.now;
        self.commissioner().read(now, paths).expect("read");
        match self.run_until(Duration::from_secs(60), |e| {
            matches!(
                e,
                CommissionerEvent::ReadDone { .. } | CommissionerEvent::ReadFailed(_)
            )
        }) {
            Some(CommissionerEvent::ReadDone { reports, chunks }) => (reports, chunks),
            other => panic!("read failed: {other:?}"),
        }
    }
}

impl Sim {
    fn invoke(
        &mut self,
        endpoint: u16,
        cluster: u32,
        command: u32,
        fields: &TlvValue,
        timed_ms: Option<u16>,
    ) -> Result<InvokeOutcome, String> {
        let now = self.now;
        self.commissioner()
            .invoke(
                now,
                endpoint,
                cluster,
                command,
                &fields.to_bytes(Tag::Anonymous),
                timed_ms,
            )
            .expect("invoke");
        match self.run_until(Duration::from_secs(60), |e| {
            matches!(
                e,
                CommissionerEvent::InvokeDone(_) | CommissionerEvent::InvokeFailed(_)
            )
        }) {
            Some(CommissionerEvent::InvokeDone(o)) => Ok(o),
            Some(CommissionerEvent::InvokeFailed(e)) => Err(e),
            other => panic!("invoke did not finish: {other:?}"),
        }
    }
}

fn vendor_and_product() -> [AttributePath; 2] {
    [
        AttributePath::concrete(0, 0x0028, 0x0001),
        AttributePath::concrete(0, 0x0028, 0x0004),
    ]
}

fn assert_vendor_and_product(reports: &[AttributeReport]) {
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(
        reports[0].value,
        Ok(TlvValue::Utf8("matter-ble tests".into()))
    );
    assert_eq!(reports[1].value, Ok(TlvValue::UInt(0x8000)));
}

#[test]
fn udp_pase_then_encrypted_read() {
    let mut sim = Sim::udp(1, 0);
    let took = sim.establish(7);
    // No loss, no retransmission: PASE is pure message exchange (4 round trips, no timers).
    assert_eq!(took, Duration::ZERO);
    let (reports, chunks) = sim.read(&vendor_and_product());
    assert_eq!(chunks, 1);
    assert_vendor_and_product(&reports);
}

#[test]
fn btp_pase_then_encrypted_read() {
    let mut sim = Sim::btp(2);
    sim.establish(8);
    let (reports, _) = sim.read(&vendor_and_product());
    assert_vendor_and_product(&reports);
}

#[test]
fn wildcard_read_of_endpoint_zero_is_chunked_and_complete() {
    let small = |link, seed| Sim::with_im_limit(link, seed, 300);
    let udp = Link::Udp {
        loss: 0,
        rng: TestRng::new(3),
    };
    let btp = Link::Btp {
        central: Box::new(BtpEngine::central(BtpConfig::default(), Some(247))),
        peripheral: Box::new(BtpEngine::peripheral(BtpConfig::default(), Some(247))),
        subscribed: false,
    };
    for mut sim in [small(udp, 3), small(btp, 4)] {
        sim.establish(9);
        let wildcard = AttributePath {
            endpoint: Some(0),
            ..AttributePath::default()
        };
        let (reports, chunks) = sim.read(&[wildcard]);
        // Both clusters of endpoint 0, every attribute exactly once.
        let mut paths: Vec<(u32, u32)> = reports.iter().map(|r| (r.cluster, r.attribute)).collect();
        let n = paths.len();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), n, "an attribute was reported twice");
        assert!(
            paths.contains(&(0x001D, 0x0000)),
            "Descriptor DeviceTypeList"
        );
        assert!(paths.contains(&(0x0028, 0x0001)), "VendorName");
        assert!(paths.contains(&(0x0028, 0xFFFD)), "ClusterRevision");
        assert!(reports.iter().all(|r| r.value.is_ok()));
        // 300-byte reports cannot hold endpoint 0: several chunks, each acknowledged by a
        // StatusResponse before the next.
        assert!(
            chunks > 1,
            "expected a chunked report, got {chunks} chunk(s)"
        );
    }
}

#[test]
fn unsupported_paths_get_statuses() {
    let mut sim = Sim::udp(5, 0);
    sim.establish(10);
    let (reports, _) = sim.read(&[
        AttributePath::concrete(9, 0x0028, 0x0001),
        AttributePath::concrete(0, 0x0006, 0x0000),
        AttributePath::concrete(0, 0x0028, 0x7777),
    ]);
    let statuses: Vec<u8> = reports
        .iter()
        .map(|r| r.value.as_ref().map_or_else(|s| s.0, |_| 0))
        .collect();
    // UnsupportedEndpoint, UnsupportedCluster, UnsupportedAttribute (Matter 1.3 §8.10).
    assert_eq!(statuses, [0x7F, 0xC3, 0x86]);
}

#[test]
fn invokes_plain_and_timed_get_their_statuses() {
    for mut sim in [Sim::udp(6, 0), Sim::btp(6)] {
        sim.establish(11);
        let empty = TlvValue::Struct(Vec::new());
        // No such cluster on endpoint 0 / no such endpoint (Matter 1.3 §8.8.3.2 order).
        let o = sim.invoke(0, 0x0006, 0x01, &empty, None).expect("response");
        assert_eq!(
            o,
            InvokeOutcome::Status {
                status: matter_ble::im::Status::UNSUPPORTED_CLUSTER,
                cluster_status: None
            }
        );
        let o = sim
            .invoke(7, 0x0028, 0x00, &empty, Some(500))
            .expect("timed response");
        assert_eq!(
            o,
            InvokeOutcome::Status {
                status: matter_ble::im::Status::UNSUPPORTED_ENDPOINT,
                cluster_status: None
            }
        );
        // The session still serves reads afterwards.
        let (reports, _) = sim.read(&vendor_and_product());
        assert_vendor_and_product(&reports);
    }
}

#[test]
fn wrong_passcode_fails_on_both_sides_and_right_one_then_works() {
    let mut sim = Sim::udp(6, 0);
    sim.start_pase(PASSCODE + 1, 11);
    let ev = sim.run_until(Duration::from_secs(60), |e| {
        matches!(
            e,
            CommissionerEvent::PaseEstablished { .. } | CommissionerEvent::PaseFailed(_)
        )
    });
    assert!(
        matches!(ev, Some(CommissionerEvent::PaseFailed(_))),
        "{ev:?}"
    );
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::PaseFailed {
            failed_attempts: 1,
            ..
        }
    )));
    sim.establish(12);
}

#[test]
fn twenty_failures_close_the_window() {
    let mut sim = Sim::udp(7, 0);
    for i in 0..20 {
        sim.start_pase(PASSCODE + 1, 100 + i);
        let ev = sim.run_until(Duration::from_secs(60), |e| {
            matches!(e, CommissionerEvent::PaseFailed(_))
        });
        assert!(ev.is_some(), "attempt {i} did not fail cleanly");
    }
    assert!(sim.node_events.iter().any(|e| matches!(
        e,
        NodeEvent::CommissioningWindowClosed {
            reason: WindowCloseReason::TooManyFailures
        }
    )));
    assert!(!sim.node.is_commissioning_window_open());
    // The right passcode is no longer answered: the commissioner gives up on its own.
    sim.start_pase(PASSCODE, 999);
    let ev = sim.run_until(Duration::from_secs(120), |e| {
        matches!(
            e,
            CommissionerEvent::PaseEstablished { .. } | CommissionerEvent::PaseFailed(_)
        )
    });
    assert!(
        matches!(ev, Some(CommissionerEvent::PaseFailed(_))),
        "{ev:?}"
    );
}

#[test]
fn udp_with_loss_still_establishes_and_reads_through_mrp() {
    for seed in 20..26 {
        let mut sim = Sim::udp(seed, 20);
        let took = sim.establish(seed + 1);
        assert!(took < Duration::from_secs(60));
        let (reports, _) = sim.read(&vendor_and_product());
        assert_vendor_and_product(&reports);
    }
}

#[test]
fn commissioner_close_ends_the_device_session() {
    let mut sim = Sim::udp(30, 0);
    sim.establish(31);
    assert_eq!(sim.node.secure_session_count(), 1);
    let now = sim.now;
    sim.commissioner().close(now);
    let _ = sim.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(sim.node.secure_session_count(), 0);
    assert!(sim
        .node_events
        .iter()
        .any(|e| matches!(e, NodeEvent::SessionClosed { .. })));
    // The window is still open, so PASE is accepted again.
    sim.establish(32);
}

#[test]
fn device_shutdown_sends_close_session() {
    let mut sim = Sim::udp(40, 0);
    sim.establish(41);
    let now = sim.now;
    sim.node.shutdown(now);
    let ev = sim.run_until(Duration::from_secs(10), |e| {
        matches!(e, CommissionerEvent::SessionClosed)
    });
    assert!(ev.is_some(), "commissioner did not see CloseSession");
    assert!(!sim.node.is_commissioning_window_open());
}

fn node_label() -> AttributePath {
    AttributePath::concrete(0, 0x0028, 0x0005)
}

impl Sim {
    /// Subscribes to NodeLabel with (`floor`, `ceiling`); returns (id, MaxInterval, priming).
    fn subscribe(&mut self, floor: u16, ceiling: u16) -> (u32, u16, Vec<AttributeReport>) {
        let now = self.now;
        self.commissioner()
            .subscribe(now, &[node_label()], floor, ceiling, false)
            .expect("subscribe");
        match self.run_until(Duration::from_secs(60), |e| {
            matches!(
                e,
                CommissionerEvent::SubscriptionEstablished { .. }
                    | CommissionerEvent::SubscribeFailed(_)
            )
        }) {
            Some(CommissionerEvent::SubscriptionEstablished {
                id,
                max_interval,
                reports,
            }) => (id, max_interval, reports),
            other => panic!("subscribe failed: {other:?}"),
        }
    }

    fn write_label(&mut self, label: &str) {
        let now = self.now;
        self.commissioner()
            .write(now, node_label(), &TlvValue::Utf8(label.into()))
            .expect("write");
        match self.run_until(Duration::from_secs(60), |e| {
            matches!(
                e,
                CommissionerEvent::WriteDone(_) | CommissionerEvent::WriteFailed(_)
            )
        }) {
            Some(CommissionerEvent::WriteDone(st)) => {
                assert_eq!(st, vec![matter_ble::im::Status::SUCCESS])
            }
            other => panic!("write failed: {other:?}"),
        }
    }

    /// The next subscription report within `limit`, with its arrival time.
    fn next_report(&mut self, limit: Duration) -> Option<(Instant, Vec<AttributeReport>)> {
        match self.run_until(limit, |e| {
            matches!(e, CommissionerEvent::SubscriptionReport { .. })
        }) {
            Some(CommissionerEvent::SubscriptionReport { reports, .. }) => {
                Some((self.now, reports))
            }
            _ => None,
        }
    }
}

/// Subscription end to end over simulated UDP without loss: the priming report, a change
/// report after a write no sooner than MinIntervalFloor, empty keep-alives exactly every
/// MaxInterval, and nothing more once the session is closed.
#[test]
fn udp_subscription_priming_change_keep_alive_and_close() {
    let mut sim = Sim::udp(50, 0);
    sim.establish(51);
    let (_, max_interval, priming) = sim.subscribe(3, 10);
    assert_eq!(max_interval, 10);
    assert_eq!(priming.len(), 1);
    assert_eq!(priming[0].value, Ok(TlvValue::Utf8(String::new())));
    assert_eq!(sim.node.subscription_count(), 1);
    let established = sim.now;
    sim.write_label("Kitchen");
    let (at, reports) = sim
        .next_report(Duration::from_secs(30))
        .expect("change report");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].value, Ok(TlvValue::Utf8("Kitchen".into())));
    assert_eq!(
        at,
        established + Duration::from_secs(3),
        "held back to MinIntervalFloor"
    );
    // Keep-alives: empty, every MaxInterval after the last report.
    let mut last = at;
    for _ in 0..3 {
        let (t, reports) = sim
            .next_report(Duration::from_secs(30))
            .expect("keep-alive");
        assert!(reports.is_empty(), "{reports:?}");
        assert_eq!(t - last, Duration::from_secs(10));
        last = t;
    }
    // Close the session: the subscription ends with it, no report follows.
    let now = sim.now;
    sim.commissioner().close(now);
    assert!(sim.next_report(Duration::from_secs(60)).is_none());
    assert_eq!(sim.node.subscription_count(), 0);
    assert_eq!(sim.node.secure_session_count(), 0);
}

/// The same over a lossy link (MRP retransmits reports, StatusResponses and the write) and
/// over BTP: the subscription survives and delivers the change; when the PASE session ends (its
/// fail-safe expires unarmed), the subscription ends with it.
#[test]
fn subscription_survives_loss_and_runs_over_btp() {
    for (mut sim, seed) in [
        (Sim::udp(60, 20), 61),
        (Sim::udp(62, 20), 63),
        (Sim::btp(64), 65),
    ] {
        sim.establish(seed);
        let (_, _, priming) = sim.subscribe(1, 10);
        assert_eq!(priming.len(), 1);
        sim.write_label("Hall");
        let mut changed = false;
        let mut reports_seen = 0;
        // The PASE session's implicit fail-safe (60 s after PASE, as in the CHIP SDK) ends it,
        // and the subscription with it: stay inside.
        let end = sim.now + Duration::from_secs(45);
        while sim.now < end {
            let Some((_, reports)) = sim.next_report(Duration::from_secs(40)) else {
                panic!(
                    "subscription went silent (seed {seed}) at {:?}: device subscriptions {}, sessions {}, events {:?}",
                    sim.now,
                    sim.node.subscription_count(),
                    sim.node.secure_session_count(),
                    sim.node_events
                );
            };
            reports_seen += 1;
            if reports
                .iter()
                .any(|r| r.value == Ok(TlvValue::Utf8("Hall".into())))
            {
                changed = true;
            }
        }
        assert!(changed, "change report never arrived (seed {seed})");
        assert_eq!(sim.node.subscription_count(), 1);
        // Keep-alives until the fail-safe ends the session, then silence.
        let mut n = 0;
        while sim.next_report(Duration::from_secs(30)).is_some() {
            n += 1;
            assert!(n < 10, "reports after the session should have ended");
        }
        assert_eq!(sim.node.secure_session_count(), 0);
        assert_eq!(sim.node.subscription_count(), 0);
        assert!(reports_seen >= 4, "{reports_seen} reports in 45 s");
    }
}

/// A full IM exchange table answers a new request with StatusResponse BUSY; subscriptions are
/// counted apart and still served.
#[test]
fn full_im_table_answers_busy() {
    let mut sim = Sim::with_config(
        Link::Udp {
            loss: 0,
            rng: TestRng::new(70),
        },
        70,
        NodeConfig {
            device_info: device_info(),
            max_im_exchanges: 0,
            ..NodeConfig::default()
        },
    );
    sim.establish(71);
    let now = sim.now;
    sim.commissioner()
        .read(now, &vendor_and_product())
        .expect("read");
    match sim.run_until(Duration::from_secs(10), |e| {
        matches!(
            e,
            CommissionerEvent::ReadDone { .. } | CommissionerEvent::ReadFailed(_)
        )
    }) {
        Some(CommissionerEvent::ReadFailed(why)) => assert!(why.contains("BUSY"), "{why}"),
        other => panic!("expected BUSY, got {other:?}"),
    }
    let (_, _, priming) = sim.subscribe(0, 10);
    assert_eq!(priming.len(), 1);
}

/// The network steps the CHIP SDK's AutoCommissioner runs after AddNOC when PASE is over BLE
/// (`kWiFiNetworkSetup`, `kFailsafeBeforeWiFiEnable`, `kWiFiNetworkEnable`), over a BTP link,
/// against a node with the host-managed Wi-Fi Network Commissioning server: each answer is the
/// one that commissioner needs to go on (NetworkingStatus Success), and the attributes follow.
#[test]
fn ble_commissioner_provisions_wifi_on_a_host_managed_node() {
    use matter_ble::im::clusters::{HostLink, NetworkFeature, WifiSettings};
    const NC: u32 = 0x0031;
    const GC: u32 = 0x0030;
    let link = HostLink::new(true);
    let config = NodeConfig {
        device_info: device_info(),
        network_interface: "wlp2s0".into(),
        network_feature: NetworkFeature::WiFi(WifiSettings::host_managed(link.clone())),
        ..NodeConfig::default()
    };
    let btp = BtpConfig::default();
    let mut sim = Sim::with_config(
        Link::Btp {
            central: Box::new(BtpEngine::central(btp.clone(), Some(247))),
            peripheral: Box::new(BtpEngine::peripheral(btp, Some(247))),
            subscribed: false,
        },
        80,
        config,
    );
    sim.establish(81);
    let attr = |a: u32| AttributePath::concrete(0, NC, a);
    // ReadCommissioningInfo: the endpoint whose FeatureMap has WI, and ConnectMaxTimeSeconds.
    let (reports, _) = sim.read(&[attr(0xFFFC), attr(0x0003)]);
    assert_eq!(reports[0].value, Ok(TlvValue::UInt(1)));
    assert_eq!(reports[1].value, Ok(TlvValue::UInt(20)));

    let uint = |t: u8, v: u64| (Tag::Context(t), TlvValue::UInt(v));
    let octets = |t: u8, v: &[u8]| (Tag::Context(t), TlvValue::Octets(v.to_vec()));
    let arm = TlvValue::Struct(vec![uint(0, 60), uint(1, 1)]);
    let status_of = |o: &InvokeOutcome, want_command: u32| -> (u64, Vec<(Tag, TlvValue)>) {
        let InvokeOutcome::Response { command, fields } = o else {
            panic!("not a response: {o:?}")
        };
        assert_eq!(*command, want_command);
        let TlvValue::Struct(m) = fields else {
            panic!("{fields:?}")
        };
        let s = m
            .iter()
            .find_map(|(t, v)| match (t, v) {
                (Tag::Context(0), TlvValue::UInt(s)) => Some(*s),
                _ => None,
            })
            .expect("status field");
        (s, m.clone())
    };
    // The node armed the fail-safe when PASE was established (as CHIP devices do), and the
    // commissioner arms it again (kArmFailsafe).
    let add = TlvValue::Struct(vec![
        octets(0, b"HomeNet"),
        octets(1, b"correct horse"),
        uint(2, 2),
    ]);
    let o = sim.invoke(0, GC, 0x00, &arm, None).expect("arm");
    assert_eq!(status_of(&o, 0x01).0, 0, "ArmFailSafe ok");
    // kWiFiNetworkSetup: AddOrUpdateWiFiNetwork -> NetworkConfigResponse Success, index 0.
    let o = sim.invoke(0, NC, 0x02, &add, None).expect("response");
    let (s, m) = status_of(&o, 0x05);
    assert_eq!(s, 0);
    assert!(m.contains(&uint(2, 0)), "NetworkIndex 0: {m:?}");
    // kFailsafeBeforeWiFiEnable, then kWiFiNetworkEnable: ConnectNetworkResponse Success.
    let o = sim.invoke(0, GC, 0x00, &arm, None).expect("re-arm");
    assert_eq!(status_of(&o, 0x01).0, 0);
    let connect = TlvValue::Struct(vec![octets(0, b"HomeNet"), uint(1, 3)]);
    let o = sim.invoke(0, NC, 0x06, &connect, None).expect("response");
    let (s, m) = status_of(&o, 0x07);
    assert_eq!(s, 0);
    assert!(
        m.contains(&(Tag::Context(2), TlvValue::Null)),
        "ErrorValue null"
    );
    // The network reads connected; Breadcrumb and LastNetworkingStatus say what happened.
    let (reports, _) = sim.read(&[
        attr(0x0001),
        attr(0x0005),
        AttributePath::concrete(0, GC, 0x0000),
    ]);
    assert_eq!(
        reports[0].value,
        Ok(TlvValue::Array(vec![(
            Tag::Anonymous,
            TlvValue::Struct(vec![
                octets(0, b"HomeNet"),
                (Tag::Context(1), TlvValue::Bool(true))
            ])
        )]))
    );
    assert_eq!(reports[1].value, Ok(TlvValue::UInt(0)));
    assert_eq!(reports[2].value, Ok(TlvValue::UInt(3)));
    // With the host's link down the same command fails: OtherConnectionFailure (9).
    link.set_up(false);
    let o = sim.invoke(0, NC, 0x06, &connect, None).expect("response");
    assert_eq!(status_of(&o, 0x07).0, 9);
}
