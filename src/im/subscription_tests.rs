//! Subscription tests under simulated time: message golden bytes, priming (chunked), change
//! reports (MinIntervalFloor, coalescing), keep-alives at MaxInterval, the end of a subscription
//! (timeout, refusal, replacement, session close), limits, and event-path statuses.

use hex_literal::hex;

use super::subscription::{choose_max_interval, EndReason};
use super::tests::{cp, decode_report, model, Chunk, Drive, TestModel, SUCCESS_STATUS};
use super::*;
use crate::exchange::{ExchangeRef, Role};
use crate::session::SessionRef;
use crate::time::{Duration, Instant};
use crate::tlv::{TlvReader, TlvValue};

/// SubscribeRequest for Basic Information NodeLabel (0/0x28/5) with KeepSubscriptions false,
/// MinIntervalFloor 1 s, MaxIntervalCeiling 10 s, IsFabricFiltered true: what the CHIP Python
/// controller's `ReadAttribute(node, [(0, BasicInformation.Attributes.NodeLabel)],
/// reportInterval=(1, 10))` sends, built from Matter 1.3 §10.7.4 with the CHIP SDK's encoding
/// choices (minimal integer widths, fields in tag order, revision last; see
/// `CHIP_READ_VENDOR_NAME` in tests.rs for the same conventions on a ReadRequest).
const SUBSCRIBE_NODE_LABEL: [u8; 29] = hex!(
    "15 28 00 24 01 01 24 02 0a 36 03 17 24 02 00 24 03 28 24 04 05 18 18"
    "29 07 24 ff 0b 18"
);

fn subscribe_node_label_bytes() -> &'static [u8] {
    &SUBSCRIBE_NODE_LABEL
}

fn session(n: u64) -> SessionRef {
    SessionRef::for_tests(n)
}

fn peer_exchange(s: u64, id: u16) -> ExchangeRef {
    ExchangeRef {
        session: session(s),
        id,
        role: Role::Responder,
    }
}

fn t(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

fn request(floor: u16, ceiling: u16, paths: Vec<AttributePath>) -> Vec<u8> {
    SubscribeRequest {
        keep_subscriptions: true,
        min_interval_floor: floor,
        max_interval_ceiling: ceiling,
        attribute_requests: paths,
        fabric_filtered: true,
        ..SubscribeRequest::default()
    }
    .encode()
}

fn node_label() -> AttributePath {
    AttributePath::concrete(0, 0x28, 5)
}

/// A manager with an exchange opener that hands out initiator exchanges 1000, 1001, ...
struct Harness {
    m: SubscriptionManager,
    model: TestModel,
    next_exchange: u16,
    /// Exchanges opened for reports.
    opened: Vec<ExchangeRef>,
    refuse_open: bool,
}

impl Harness {
    fn new(config: SubscriptionConfig) -> Self {
        Self {
            m: SubscriptionManager::new(config),
            model: model(),
            next_exchange: 1000,
            opened: Vec::new(),
            refuse_open: false,
        }
    }

    fn tick(&mut self, now: Instant) {
        let (next, opened, refuse) = (&mut self.next_exchange, &mut self.opened, self.refuse_open);
        let mut open = |s: SessionRef| {
            if refuse {
                return None;
            }
            let x = ExchangeRef {
                session: s,
                id: *next,
                role: Role::Initiator,
            };
            *next += 1;
            opened.push(x);
            Some(x)
        };
        self.m
            .handle_timeout(now, &self.model.model, &self.model.state, &mut open);
    }

    fn drain(&mut self) -> Vec<SubscriptionTransmit> {
        std::iter::from_fn(|| self.m.poll_transmit()).collect()
    }

    fn events(&mut self) -> Vec<SubscriptionEvent> {
        std::iter::from_fn(|| self.m.poll_event()).collect()
    }

    fn subscribe(&mut self, now: Instant, s: u64, x: u16, payload: &[u8], id: u32) {
        self.m.handle_subscribe_request(
            now,
            &self.model.model,
            &self.model.state,
            Subscriber::pase(session(s)),
            peer_exchange(s, x),
            payload,
            id,
        );
    }

    fn ack(&mut self, now: Instant, x: ExchangeRef) {
        self.m.handle_message(
            now,
            &self.model.model,
            &self.model.state,
            x,
            Opcode::STATUS_RESPONSE,
            &SUCCESS_STATUS,
        );
    }

    /// Subscribes and completes priming; returns the SubscriptionId granted.
    fn establish(&mut self, now: Instant, s: u64, x: u16, payload: &[u8], id: u32) -> u32 {
        self.subscribe(now, s, x, payload, id);
        let ex = peer_exchange(s, x);
        for _ in 0..100 {
            let out = self.drain();
            assert_eq!(out.len(), 1, "{out:?}");
            let msg = out[0].message.clone().expect("a message");
            if msg.opcode == Opcode::SUBSCRIBE_RESPONSE {
                assert!(out[0].close_exchange);
                let rsp = SubscribeResponse::parse(&msg.payload).unwrap();
                return rsp.subscription_id;
            }
            assert_eq!(msg.opcode, Opcode::REPORT_DATA);
            assert!(!out[0].close_exchange);
            self.ack(now, ex);
        }
        panic!("priming did not finish");
    }
}

/// SubscriptionId (tag 0), EventReports (tag 2) statuses, and the usual chunk view.
fn decode_sub_report(payload: &[u8]) -> (Option<u32>, Vec<(EventPath, Status)>, Chunk) {
    let s = TlvReader::new(payload).read_struct().unwrap();
    let id = s.opt_u32(0).unwrap();
    let mut events = Vec::new();
    if let Some(a) = s.opt_array(2).unwrap() {
        for e in a.iter() {
            let e = e
                .unwrap()
                .value
                .decode::<crate::tlv::Container<'_>>()
                .unwrap();
            let st = e.structure(0).unwrap();
            events.push((
                EventPath::parse(&st.list(0).unwrap()).unwrap(),
                Status(st.structure(1).unwrap().u8(0).unwrap()),
            ));
        }
    }
    (id, events, decode_report(payload))
}

fn write_label(m: &mut TestModel, value: &crate::tlv::Value<'_>) -> Status {
    let mut ctx = WriteContext {
        endpoint: 0,
        state: &mut m.state,
        subject: m.subject,
        now: Instant::ZERO,
        timed: false,
    };
    m.model
        .write_attribute(&mut ctx, cp(0, 0x28, 5), None, value)
}

/// Writes NodeLabel as a WriteRequest would, and tells the manager (as the node does).
fn set_label(h: &mut Harness, label: &str) {
    let bytes = TlvValue::Utf8(label.into()).to_bytes(crate::tlv::Tag::Anonymous);
    let value = TlvReader::new(&bytes).read_element().unwrap().value;
    let st = write_label(&mut h.model, &value);
    assert_eq!(st, Status::SUCCESS);
    h.m.handle_attributes_changed(&[cp(0, 0x28, 5)]);
}

#[test]
fn subscribe_request_and_response_golden_bytes() {
    let req = SubscribeRequest::parse(subscribe_node_label_bytes()).unwrap();
    assert_eq!(
        req,
        SubscribeRequest {
            keep_subscriptions: false,
            min_interval_floor: 1,
            max_interval_ceiling: 10,
            attribute_requests: vec![node_label()],
            event_requests: vec![],
            fabric_filtered: true,
            data_version_filters: vec![],
        }
    );
    assert_eq!(req.encode(), subscribe_node_label_bytes());
    // SubscribeResponse {0: 0x12345678, 2: 10} (Matter 1.3 §10.7.5).
    let rsp = SubscribeResponse {
        subscription_id: 0x1234_5678,
        max_interval: 10,
    };
    assert_eq!(
        rsp.encode(),
        hex!("15 26 00 78 56 34 12 24 02 0a 24 ff 0b 18")
    );
    assert_eq!(SubscribeResponse::parse(&rsp.encode()).unwrap(), rsp);
    // Required fields missing or of the wrong type: INVALID_ACTION, no panic.
    for bad in [
        &hex!("15 24 01 01 24 02 0a 18")[..], // no KeepSubscriptions
        &hex!("15 28 00 24 02 0a 18")[..],    // no MinIntervalFloor
        &hex!("15 28 00 24 01 01 18")[..],    // no MaxIntervalCeiling
        &hex!("15 24 00 01 24 01 01 24 02 0a 18")[..], // KeepSubscriptions not a bool
        &hex!("15 28 00 24 01 01 24 02 0a 24 03 00 18")[..], // AttributeRequests not an array
        &hex!("15 28 00 24 01")[..],          // truncated
    ] {
        let e = SubscribeRequest::parse(bad).unwrap_err();
        assert_eq!(e.status(), Status::INVALID_ACTION, "{bad:02x?}");
    }
}

#[test]
fn max_interval_choice_respects_the_spec_bounds() {
    // (floor, ceiling, granted)
    for (floor, ceiling, want) in [
        (1, 10, 10),
        (0, 0, 2),
        (0, 1, 2),
        (5, 5, 5),
        (0, 3600, 3600),
        (0, 0xFFFF, 0xFFFF),
    ] {
        let got = choose_max_interval(floor, ceiling, 2);
        assert_eq!(got, want, "floor {floor} ceiling {ceiling}");
        assert!(got >= floor);
        assert!(got <= ceiling.max(subscription::MAX_INTERVAL_PUBLISHER_LIMIT_S));
    }
}

#[test]
fn priming_report_then_subscribe_response() {
    let mut h = Harness::new(SubscriptionConfig::default());
    h.subscribe(t(0), 1, 7, subscribe_node_label_bytes(), 0xABCD);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].exchange, peer_exchange(1, 7));
    let msg = out[0].message.clone().unwrap();
    assert_eq!(msg.opcode, Opcode::REPORT_DATA);
    let (id, events, chunk) = decode_sub_report(&msg.payload);
    assert_eq!(id, Some(0xABCD));
    assert!(events.is_empty());
    assert!(!chunk.more);
    assert!(
        !chunk.suppress,
        "subscription reports always want a StatusResponse"
    );
    assert_eq!(
        chunk.reports,
        vec![(cp(0, 0x28, 5), Ok(TlvValue::Utf8(String::new())))]
    );
    assert!(h.m.owns_exchange(peer_exchange(1, 7)));
    assert!(
        h.events().is_empty(),
        "not established before the StatusResponse"
    );
    h.ack(t(0), peer_exchange(1, 7));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].close_exchange);
    let msg = out[0].message.clone().unwrap();
    assert_eq!(msg.opcode, Opcode::SUBSCRIBE_RESPONSE);
    // Golden: {0: 0xABCD, 2: 10, 0xFF: 11}.
    assert_eq!(msg.payload, hex!("15 25 00 cd ab 24 02 0a 24 ff 0b 18"));
    assert_eq!(
        h.events(),
        vec![SubscriptionEvent::Established {
            id: 0xABCD,
            session: session(1),
            max_interval_s: 10
        }]
    );
    assert!(!h.m.owns_exchange(peer_exchange(1, 7)));
    assert_eq!(h.m.poll_timeout(), Some(t(10)), "keep-alive at MaxInterval");
}

#[test]
fn chunked_priming_waits_for_each_status_response() {
    let mut h = Harness::new(SubscriptionConfig {
        max_payload: 200,
        ..SubscriptionConfig::default()
    });
    let all = AttributePath {
        endpoint: Some(0),
        ..AttributePath::default()
    };
    h.subscribe(t(0), 1, 7, &request(0, 60, vec![all]), 5);
    let mut chunks = 0;
    let mut paths = Vec::new();
    loop {
        let out = h.drain();
        assert_eq!(out.len(), 1, "one message per StatusResponse");
        let msg = out[0].message.clone().unwrap();
        if msg.opcode == Opcode::SUBSCRIBE_RESPONSE {
            break;
        }
        assert!(msg.payload.len() <= 200);
        let (id, _, c) = decode_sub_report(&msg.payload);
        assert_eq!(id, Some(5), "every chunk carries the SubscriptionId");
        assert!(!c.suppress);
        paths.extend(c.raw.iter().filter(|r| !r.2).map(|r| r.0));
        chunks += 1;
        // Nothing moves without the StatusResponse, whatever the time.
        h.tick(t(1));
        assert!(h.drain().is_empty());
        h.ack(t(1), peer_exchange(1, 7));
    }
    assert!(chunks > 2, "{chunks} chunks");
    let mut dedup = paths.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), paths.len(), "each attribute once");
}

#[test]
fn change_reports_respect_min_interval_and_coalesce() {
    let mut h = Harness::new(SubscriptionConfig::default());
    // Floor 5 s, ceiling 60 s; established at t=0.
    let id = h.establish(t(0), 1, 7, &request(5, 60, vec![node_label()]), 9);
    h.events();
    set_label(&mut h, "one");
    h.tick(t(1));
    assert!(h.drain().is_empty(), "no report before MinIntervalFloor");
    assert_eq!(h.m.poll_timeout(), Some(t(5)));
    set_label(&mut h, "two");
    h.tick(t(4));
    assert!(h.drain().is_empty());
    h.tick(t(5));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].exchange, h.opened[0], "a new exchange, opened by us");
    assert_eq!(out[0].exchange.role, Role::Initiator);
    let (sid, _, c) = decode_sub_report(&out[0].message.clone().unwrap().payload);
    assert_eq!(sid, Some(id));
    assert_eq!(
        c.reports,
        vec![(cp(0, 0x28, 5), Ok(TlvValue::Utf8("two".into())))],
        "both changes coalesced into one report with the latest value"
    );
    // Until the StatusResponse, nothing else goes out even if more changes come.
    set_label(&mut h, "three");
    h.tick(t(20));
    assert!(h.drain().is_empty());
    h.ack(t(20), h.opened[0]);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].message.is_none() && out[0].close_exchange);
    // "three" is reported MinIntervalFloor after the last report (t=5), i.e. now.
    h.tick(t(20));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    let (_, _, c) = decode_sub_report(&out[0].message.clone().unwrap().payload);
    assert_eq!(
        c.reports,
        vec![(cp(0, 0x28, 5), Ok(TlvValue::Utf8("three".into())))]
    );
}

#[test]
fn changes_outside_the_subscribed_paths_report_nothing() {
    let mut h = Harness::new(SubscriptionConfig::default());
    // Subscribed to VendorName only; NodeLabel changes.
    h.establish(
        t(0),
        1,
        7,
        &request(0, 60, vec![AttributePath::concrete(0, 0x28, 1)]),
        9,
    );
    set_label(&mut h, "x");
    h.tick(t(1));
    assert!(h.drain().is_empty());
    assert_eq!(h.m.poll_timeout(), Some(t(60)));
}

#[test]
fn data_version_change_without_named_paths_is_reported() {
    let mut h = Harness::new(SubscriptionConfig::default());
    h.establish(t(0), 1, 7, &request(0, 60, vec![node_label()]), 9);
    // Changed behind the manager's back (as a cluster would): the DataVersion moves.
    let v = TlvValue::Utf8("quiet".into()).to_bytes(crate::tlv::Tag::Anonymous);
    let value = TlvReader::new(&v).read_element().unwrap().value;
    assert_eq!(write_label(&mut h.model, &value), Status::SUCCESS);
    // As a cluster changing state without naming paths: no explicit change reaches us.
    let _ = h.model.model.take_changed();
    h.tick(t(1));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    let (_, _, c) = decode_sub_report(&out[0].message.clone().unwrap().payload);
    assert_eq!(
        c.reports,
        vec![(cp(0, 0x28, 5), Ok(TlvValue::Utf8("quiet".into())))]
    );
}

#[test]
fn keep_alive_at_max_interval_and_timeout_ends_the_subscription() {
    let mut h = Harness::new(SubscriptionConfig::default());
    let id = h.establish(t(0), 1, 7, &request(1, 10, vec![node_label()]), 3);
    h.events();
    h.tick(t(9));
    assert!(h.drain().is_empty());
    h.tick(t(10));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    let payload = out[0].message.clone().unwrap().payload;
    let (sid, events, c) = decode_sub_report(&payload);
    assert_eq!(sid, Some(id));
    assert!(
        c.reports.is_empty() && events.is_empty(),
        "empty keep-alive"
    );
    assert!(!c.suppress && !c.more);
    // Golden keep-alive: {0: 3, 1: [], 0xFF: 11}.
    assert_eq!(payload, hex!("15 24 00 03 36 01 18 24 ff 0b 18"));
    h.ack(t(10), h.opened[0]);
    assert!(h.drain()[0].close_exchange);
    assert_eq!(h.m.poll_timeout(), Some(t(20)));
    // The next keep-alive is not answered: after the response timeout (30 s) it ends.
    h.tick(t(20));
    assert_eq!(h.drain().len(), 1);
    assert_eq!(h.m.poll_timeout(), Some(t(50)));
    h.tick(t(49));
    assert!(h.drain().is_empty());
    h.tick(t(50));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].exchange, h.opened[1]);
    assert!(out[0].message.is_none() && out[0].close_exchange);
    assert_eq!(
        h.events(),
        vec![SubscriptionEvent::Ended {
            id,
            session: session(1),
            reason: EndReason::Timeout
        }]
    );
    assert!(h.m.is_empty());
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn failure_status_or_wrong_message_or_send_failure_ends_it() {
    // A failure StatusResponse (INVALID_SUBSCRIPTION: the subscriber forgot it).
    let mut h = Harness::new(SubscriptionConfig::default());
    let id = h.establish(t(0), 1, 7, &request(0, 10, vec![node_label()]), 3);
    h.events();
    h.tick(t(10));
    h.drain();
    h.m.handle_message(
        t(10),
        &h.model.model,
        &h.model.state,
        h.opened[0],
        Opcode::STATUS_RESPONSE,
        &StatusResponse {
            status: Status::INVALID_SUBSCRIPTION,
        }
        .encode(),
    );
    let out = h.drain();
    assert!(out.len() == 1 && out[0].message.is_none() && out[0].close_exchange);
    assert_eq!(
        h.events(),
        vec![SubscriptionEvent::Ended {
            id,
            session: session(1),
            reason: EndReason::StatusResponse(Status::INVALID_SUBSCRIPTION)
        }]
    );
    // Something else than a StatusResponse: INVALID_ACTION and the end.
    let mut h = Harness::new(SubscriptionConfig::default());
    h.subscribe(t(0), 1, 7, &request(0, 10, vec![node_label()]), 3);
    h.drain();
    h.m.handle_message(
        t(0),
        &h.model.model,
        &h.model.state,
        peer_exchange(1, 7),
        Opcode::READ_REQUEST,
        &hex!("15 18"),
    );
    let out = h.drain();
    assert_eq!(out.len(), 1);
    let m = out[0].message.clone().unwrap();
    assert_eq!(
        StatusResponse::parse(&m.payload).unwrap().status,
        Status::INVALID_ACTION
    );
    assert!(h.m.is_empty());
    // MRP gave up on a report.
    let mut h = Harness::new(SubscriptionConfig::default());
    h.establish(t(0), 1, 7, &request(0, 10, vec![node_label()]), 3);
    h.tick(t(10));
    h.drain();
    h.m.handle_exchange_failed(h.opened[0]);
    assert!(h.m.is_empty());
    assert!(matches!(
        h.events().last(),
        Some(SubscriptionEvent::Ended {
            reason: EndReason::SendFailed,
            ..
        })
    ));
}

#[test]
fn session_close_ends_its_subscriptions_silently() {
    let mut h = Harness::new(SubscriptionConfig::default());
    h.establish(t(0), 1, 7, &request(0, 10, vec![node_label()]), 3);
    h.establish(t(0), 2, 8, &request(0, 10, vec![node_label()]), 4);
    h.events();
    h.m.handle_session_closed(session(1));
    assert!(h.drain().is_empty(), "nothing is sent on a closed session");
    assert_eq!(
        h.events(),
        vec![SubscriptionEvent::Ended {
            id: 3,
            session: session(1),
            reason: EndReason::SessionClosed
        }]
    );
    assert_eq!(h.m.len(), 1);
}

#[test]
fn limits_keep_subscriptions_and_paths() {
    let mut h = Harness::new(SubscriptionConfig {
        max_per_fabric: 3,
        max_per_session: 3,
        max_paths_per_subscription: 3,
        ..SubscriptionConfig::default()
    });
    // The spec's minimum of 3 per fabric is served.
    for i in 0..3u16 {
        h.establish(
            t(0),
            1,
            10 + i,
            &request(0, 10, vec![node_label()]),
            u32::from(i),
        );
    }
    h.events();
    h.subscribe(t(0), 1, 20, &request(0, 10, vec![node_label()]), 50);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].close_exchange);
    let m = out[0].message.clone().unwrap();
    assert_eq!(
        StatusResponse::parse(&m.payload).unwrap().status,
        Status::RESOURCE_EXHAUSTED
    );
    assert_eq!(h.m.len(), 3);
    // KeepSubscriptions false replaces all three.
    let replace = SubscribeRequest {
        keep_subscriptions: false,
        min_interval_floor: 0,
        max_interval_ceiling: 10,
        attribute_requests: vec![node_label()],
        ..SubscribeRequest::default()
    };
    let id = h.establish(t(1), 1, 21, &replace.encode(), 60);
    assert_eq!(id, 60);
    let ended = h
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                SubscriptionEvent::Ended {
                    reason: EndReason::Replaced,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ended, 3);
    assert_eq!(h.m.len(), 1);
    // A clashing id is moved on.
    let id2 = h.establish(t(1), 1, 22, &request(0, 10, vec![node_label()]), 60);
    assert_eq!(id2, 61);
    // Too many paths, no paths, floor above ceiling.
    for (payload, want) in [
        (
            request(0, 10, vec![node_label(); 4]),
            Status::PATHS_EXHAUSTED,
        ),
        (request(0, 10, vec![]), Status::INVALID_ACTION),
        (request(11, 10, vec![node_label()]), Status::INVALID_ACTION),
    ] {
        h.subscribe(t(1), 2, 30, &payload, 70);
        let out = h.drain();
        assert_eq!(out.len(), 1);
        let m = out[0].message.clone().unwrap();
        assert_eq!(StatusResponse::parse(&m.payload).unwrap().status, want);
    }
    assert_eq!(h.m.len(), 2);
}

#[test]
fn no_exchange_available_retries_a_second_later() {
    let mut h = Harness::new(SubscriptionConfig::default());
    h.establish(t(0), 1, 7, &request(0, 10, vec![node_label()]), 3);
    h.refuse_open = true;
    h.tick(t(10));
    assert!(h.drain().is_empty());
    assert_eq!(h.m.poll_timeout(), Some(t(11)));
    h.refuse_open = false;
    h.tick(t(11));
    assert_eq!(h.drain().len(), 1);
}

#[test]
fn event_paths_get_statuses_and_wildcards_are_silent() {
    let mut h = Harness::new(SubscriptionConfig::default());
    let req = SubscribeRequest {
        keep_subscriptions: true,
        max_interval_ceiling: 10,
        event_requests: vec![
            // Basic Information StartUp (event 0): the cluster exists, we have no events.
            EventPath {
                endpoint: Some(0),
                cluster: Some(0x28),
                event: Some(0),
                ..EventPath::default()
            },
            EventPath {
                endpoint: Some(9),
                cluster: Some(0x28),
                event: Some(0),
                ..EventPath::default()
            },
            EventPath {
                endpoint: Some(0),
                cluster: Some(0x6),
                event: Some(0),
                ..EventPath::default()
            },
            // Wildcards match no event: no status.
            EventPath::default(),
            EventPath {
                endpoint: Some(0),
                cluster: Some(0x28),
                ..EventPath::default()
            },
        ],
        ..SubscribeRequest::default()
    };
    h.subscribe(t(0), 1, 7, &req.encode(), 1);
    let out = h.drain();
    let payload = out[0].message.clone().unwrap().payload;
    let (_, events, c) = decode_sub_report(&payload);
    assert!(c.reports.is_empty());
    let statuses: Vec<Status> = events.iter().map(|e| e.1).collect();
    assert_eq!(
        statuses,
        vec![
            Status::UNSUPPORTED_EVENT,
            Status::UNSUPPORTED_ENDPOINT,
            Status::UNSUPPORTED_CLUSTER
        ]
    );
    assert_eq!(events[0].0.cluster, Some(0x28));
    // The same for a read; golden bytes of the EventReports of the first path:
    // {2: [{0: {0: [1: 0, 2: 0x28, 3: 0], 1: {0: 0xC7}}}]}.
    let read = ReadRequest {
        event_requests: req.event_requests[..1].to_vec(),
        ..ReadRequest::default()
    };
    let mut m = model();
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::READ_REQUEST, &read.encode());
    let r = ex.poll_message().unwrap();
    assert_eq!(
        r.payload,
        hex!(
            "15 36 01 18 36 02 15 35 00 37 00 24 01 00 24 02 28 24 03 00 18"
            "35 01 24 00 c7 18 18 18 18 29 04 24 ff 0b 18"
        )
    );
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever bytes arrive as a SubscribeRequest or as the answer to a priming chunk, the
        /// manager neither panics nor stays silent: a new request always gets exactly one
        /// message (a priming chunk or a refusal), and garbage instead of a StatusResponse ends
        /// the subscription.
        #[test]
        fn arbitrary_requests_and_answers(
            request in proptest::collection::vec(any::<u8>(), 0..96),
            answer in proptest::collection::vec(any::<u8>(), 0..32),
            op in any::<u8>(),
        ) {
            let mut h = Harness::new(SubscriptionConfig::default());
            h.subscribe(t(0), 1, 7, &request, 1);
            let out = h.drain();
            prop_assert_eq!(out.len(), 1);
            let started = h.m.len() == 1;
            prop_assert_eq!(out[0].close_exchange, !started);
            h.m.handle_message(
                t(0),
                &h.model.model,
                &h.model.state,
                peer_exchange(1, 7),
                Opcode(op),
                &answer,
            );
            let _ = h.drain();
            let is_success = Opcode(op) == Opcode::STATUS_RESPONSE
                && StatusResponse::parse(&answer).is_ok_and(|s| s.status == Status::SUCCESS);
            if started && !is_success {
                prop_assert!(h.m.is_empty());
            }
            h.tick(t(100));
            let _ = h.drain();
        }
    }
}
