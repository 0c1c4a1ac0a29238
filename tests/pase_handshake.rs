//! PASE initiator <-> responder in process, with simulated time: right and wrong passcodes, both
//! `hasPBKDFParameters` branches, malformed and out-of-order messages at every step, duplicates,
//! the 20-failure limit, the handshake and window timeouts, concurrent initiators, session-id
//! exhaustion and vanished peers.
//!
//! The verifier is the CHIP SDK's test set #01 (passcode 20202021, salt "SPAKE2P Key Salt", 1000
//! iterations; connectedhomeip `src/protocols/secure_channel/tests/TestPASESession.cpp`).

use hex_literal::hex;
use proptest::prelude::*;

use matter_ble::message::{SecureChannelOpcode as Op, StatusReport};
use matter_ble::pase::messages::{
    Pake1, Pake3, PbkdfParamRequest, PbkdfParamResponse, PbkdfParameters,
};
use matter_ble::pase::{
    is_status_success, status_busy, status_invalid_parameter, Established, InitiatorConfig,
    InitiatorEvent, PaseError, PaseEvent, PaseInitiator, PaseResponder, PaseTransmit, PaseVerifier,
    ResponderConfig, Role, Spake2pError, WindowCloseReason,
};
use matter_ble::rng::TestRng;
use matter_ble::session::params::SessionParameters;
use matter_ble::time::{Duration, Instant};

const PASSCODE: u32 = 20_202_021;
const SALT: &[u8] = b"SPAKE2P Key Salt";
const ITERATIONS: u32 = 1000;
/// Serialized verifier (w0 || L) of test set #01, from TestPASESession.cpp.
const VERIFIER: [u8; 97] = hex!(
    "B96170AAE803346884724FE9A3B287C30330C2A660375D17BB205A8CF1AECB35"
    "0457F8AB79EE253AB6A8E46BB09E543AE422736DE501E3DB37D441FE344920D095"
    "48E4C18240630C4FF4913C53513839B7C07FCC0627A1B8573A149FCD1FA466CF"
);
const WINDOW: Duration = Duration::from_secs(15 * 60);

fn encode(s: &StatusReport) -> Vec<u8> {
    let mut v = Vec::new();
    s.encode(&mut v);
    v
}

fn verifier() -> PaseVerifier {
    PaseVerifier::from_serialized(&VERIFIER, SALT, ITERATIONS).expect("valid test verifier")
}

fn device_params() -> SessionParameters {
    SessionParameters {
        idle_interval_ms: Some(500),
        active_interval_ms: Some(300),
        active_threshold_ms: Some(4000),
        data_model_revision: Some(17),
        ..SessionParameters::default()
    }
}

fn commissioner_params() -> SessionParameters {
    SessionParameters {
        idle_interval_ms: Some(5000),
        active_interval_ms: Some(300),
        ..SessionParameters::default()
    }
}

/// A responder with an open window, a clock, a generator and a session-id counter.
struct Device {
    responder: PaseResponder<u32>,
    now: Instant,
    rng: TestRng,
    next_session_id: u16,
    sent: Vec<PaseTransmit<u32>>,
}

impl Device {
    fn new() -> Self {
        let mut responder = PaseResponder::new(ResponderConfig {
            session_params: Some(device_params()),
            ..ResponderConfig::default()
        });
        responder.open_window(Instant::ZERO, verifier(), Some(WINDOW));
        Self {
            responder,
            now: Instant::ZERO,
            rng: TestRng::new(1),
            next_session_id: 0x100,
            sent: Vec::new(),
        }
    }

    /// Delivers one message and returns what the responder sent back.
    fn deliver(&mut self, exchange: u32, op: Op, payload: &[u8]) -> Vec<PaseTransmit<u32>> {
        let next = &mut self.next_session_id;
        let mut alloc = || {
            *next += 1;
            Some(*next)
        };
        self.responder
            .handle_message(self.now, exchange, op, payload, &mut self.rng, &mut alloc);
        self.drain()
    }

    fn drain(&mut self) -> Vec<PaseTransmit<u32>> {
        let mut out = Vec::new();
        while let Some(t) = self.responder.poll_transmit() {
            self.sent.push(t.clone());
            out.push(t);
        }
        out
    }

    fn events(&mut self) -> Vec<PaseEvent<u32>> {
        std::iter::from_fn(|| self.responder.poll_event()).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.responder.handle_timeout(self.now);
    }
}

fn initiator(dev: &mut Device, passcode: u32, sid: u16) -> PaseInitiator {
    let mut cfg = InitiatorConfig::new(passcode, sid);
    cfg.session_params = Some(commissioner_params());
    PaseInitiator::start(dev.now, cfg, &mut TestRng::new(u64::from(sid)))
}

/// Runs messages back and forth until both sides are quiet.
fn pump(dev: &mut Device, exchange: u32, init: &mut PaseInitiator, rng: &mut TestRng) {
    loop {
        let mut progressed = false;
        while let Some((op, payload)) = init.poll_transmit() {
            progressed = true;
            for t in dev.deliver(exchange, op, &payload) {
                assert_eq!(t.exchange, exchange, "reply on the request's exchange");
                init.handle_message(dev.now, t.opcode, &t.payload, rng);
            }
        }
        if !progressed {
            return;
        }
    }
}

fn established(events: Vec<PaseEvent<u32>>) -> Box<Established> {
    let mut found = None;
    for e in events {
        match e {
            PaseEvent::Established { session, .. } => found = Some(session),
            PaseEvent::HandshakeStarted { .. } => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    found.expect("Established event")
}

fn init_outcome(init: &mut PaseInitiator) -> InitiatorEvent {
    let e = init.poll_event().expect("initiator finished");
    assert!(init.poll_event().is_none());
    e
}

fn failures(events: &[PaseEvent<u32>]) -> Vec<&PaseError> {
    events
        .iter()
        .filter_map(|e| match e {
            PaseEvent::HandshakeFailed { error, .. } => Some(error),
            _ => None,
        })
        .collect()
}

fn is_invalid_param(t: &PaseTransmit<u32>) -> bool {
    t.opcode == Op::STATUS_REPORT
        && StatusReport::decode(&t.payload) == Ok(status_invalid_parameter())
        && t.ends_exchange
}

#[test]
fn right_passcode_establishes_on_both_sides() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE, 0x0a0b);
    let mut rng = TestRng::new(99);
    pump(&mut dev, 7, &mut init, &mut rng);

    let dev_side = established(dev.events());
    let InitiatorEvent::Established(com_side) = init_outcome(&mut init) else {
        panic!("initiator failed");
    };
    assert_eq!(dev_side.shared_secret(), com_side.shared_secret());
    assert_eq!(dev_side.role(), Role::Responder);
    assert_eq!(com_side.role(), Role::Initiator);
    assert_eq!(dev_side.peer_session_id(), 0x0a0b);
    assert_eq!(com_side.local_session_id(), 0x0a0b);
    assert_eq!(com_side.peer_session_id(), dev_side.local_session_id());
    assert_ne!(dev_side.local_session_id(), 0);
    assert_eq!(*dev_side.peer_params(), commissioner_params());
    assert_eq!(*com_side.peer_params(), device_params());

    // The wire: response carried the PBKDF parameters; the last message was StatusReport success.
    let resp = PbkdfParamResponse::decode(&dev.sent[0].payload).expect("response");
    assert_eq!(
        resp.pbkdf_parameters,
        Some(PbkdfParameters {
            iterations: ITERATIONS,
            salt: SALT.to_vec()
        })
    );
    let last = dev.sent.last().expect("sent");
    assert_eq!(last.opcode, Op::STATUS_REPORT);
    assert!(is_status_success(
        &StatusReport::decode(&last.payload).expect("report")
    ));
    assert!(last.ends_exchange);
    assert_eq!(dev.sent.len(), 3);
    assert_eq!(dev.responder.failed_attempts(), 0);
    assert!(
        !dev.responder.is_listening(),
        "no new PASE while the session lives"
    );
}

#[test]
fn initiator_with_pbkdf_parameters_gets_a_response_without_them() {
    let mut dev = Device::new();
    let mut cfg = InitiatorConfig::new(PASSCODE, 0x22);
    cfg.known_pbkdf_parameters = Some(PbkdfParameters {
        iterations: ITERATIONS,
        salt: SALT.to_vec(),
    });
    let mut init = PaseInitiator::start(dev.now, cfg, &mut TestRng::new(5));
    let mut rng = TestRng::new(6);
    pump(&mut dev, 1, &mut init, &mut rng);
    let resp = PbkdfParamResponse::decode(&dev.sent[0].payload).expect("response");
    assert_eq!(resp.pbkdf_parameters, None);
    assert!(matches!(
        init_outcome(&mut init),
        InitiatorEvent::Established(_)
    ));
    established(dev.events());
}

#[test]
fn initiator_with_wrong_known_salt_fails_and_is_counted() {
    let mut dev = Device::new();
    let mut cfg = InitiatorConfig::new(PASSCODE, 0x22);
    cfg.known_pbkdf_parameters = Some(PbkdfParameters {
        iterations: ITERATIONS,
        salt: b"another salt 16b".to_vec(),
    });
    let mut init = PaseInitiator::start(dev.now, cfg, &mut TestRng::new(5));
    pump(&mut dev, 1, &mut init, &mut TestRng::new(6));
    assert!(matches!(
        init_outcome(&mut init),
        InitiatorEvent::Failed(PaseError::Spake2p(Spake2pError::ConfirmationFailed))
    ));
    let ev = dev.events();
    assert!(matches!(
        failures(&ev)[..],
        [PaseError::PeerStatus(s)] if s.protocol_code == 2
    ));
    assert_eq!(dev.responder.failed_attempts(), 1);
    assert!(dev.responder.is_listening());
}

#[test]
fn wrong_passcode_fails_both_sides_then_right_one_works() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE + 1, 0x33);
    pump(&mut dev, 3, &mut init, &mut TestRng::new(2));
    assert!(matches!(
        init_outcome(&mut init),
        InitiatorEvent::Failed(PaseError::Spake2p(Spake2pError::ConfirmationFailed))
    ));
    let ev = dev.events();
    assert_eq!(failures(&ev).len(), 1);
    assert_eq!(dev.responder.failed_attempts(), 1);

    let mut init = initiator(&mut dev, PASSCODE, 0x34);
    pump(&mut dev, 4, &mut init, &mut TestRng::new(3));
    established(dev.events());
}

/// Drives a fresh handshake on exchange 1 up to the point where the responder waits for `stage`
/// ("pake1" or "pake3"), returning the initiator's next message (Pake1 or Pake3) unsent.
fn handshake_until(dev: &mut Device, stage: &str) -> (Op, Vec<u8>) {
    let mut init = initiator(dev, PASSCODE, 0x44);
    let mut rng = TestRng::new(8);
    let (op, req) = init.poll_transmit().expect("request");
    let replies = dev.deliver(1, op, &req);
    init.handle_message(dev.now, replies[0].opcode, &replies[0].payload, &mut rng);
    let pake1 = init.poll_transmit().expect("pake1");
    if stage == "pake1" {
        return pake1;
    }
    let replies = dev.deliver(1, pake1.0, &pake1.1);
    assert_eq!(replies[0].opcode, Op::PASE_PAKE2);
    init.handle_message(dev.now, replies[0].opcode, &replies[0].payload, &mut rng);
    init.poll_transmit().expect("pake3")
}

#[test]
fn malformed_and_out_of_order_messages_fail_with_invalid_parameter() {
    let good_req = PbkdfParamRequest {
        initiator_random: [1; 32],
        initiator_session_id: 9,
        passcode_id: 0,
        has_pbkdf_parameters: false,
        initiator_session_params: None,
    };
    let mut bad_passcode_id = good_req.clone();
    bad_passcode_id.passcode_id = 1;
    let mut zero_sid = good_req.clone();
    zero_sid.initiator_session_id = 0;
    let mut off_curve = [0x04u8; 65];
    off_curve[1] = 0x01;

    // (stage, opcode, payload, expect a StatusReport reply)
    let cases: Vec<(&str, Op, Vec<u8>, bool)> = vec![
        ("listen", Op::PBKDF_PARAM_REQUEST, vec![], true),
        (
            "listen",
            Op::PBKDF_PARAM_REQUEST,
            hex!("15 18").to_vec(),
            true,
        ),
        (
            "listen",
            Op::PBKDF_PARAM_REQUEST,
            bad_passcode_id.encode(),
            true,
        ),
        ("listen", Op::PBKDF_PARAM_REQUEST, zero_sid.encode(), true),
        (
            "pake1",
            Op::PASE_PAKE1,
            hex!("15 30 01 01 04 18").to_vec(),
            true,
        ),
        (
            "pake1",
            Op::PASE_PAKE1,
            Pake1 { pa: off_curve }.encode(),
            true,
        ),
        (
            "pake1",
            Op::PASE_PAKE3,
            Pake3 { ca: [0; 32] }.encode(),
            true,
        ),
        ("pake1", Op::PBKDF_PARAM_REQUEST, good_req.encode(), true),
        ("pake1", Op::CASE_SIGMA1, vec![], true),
        ("pake1", Op::PBKDF_PARAM_RESPONSE, vec![], true),
        (
            "pake1",
            Op::STATUS_REPORT,
            encode(&status_invalid_parameter()),
            false,
        ),
        ("pake1", Op::STATUS_REPORT, vec![1, 2, 3], true),
        ("pake3", Op::PASE_PAKE3, hex!("15 18").to_vec(), true),
        (
            "pake3",
            Op::PASE_PAKE3,
            Pake3 { ca: [0; 32] }.encode(),
            true,
        ),
        (
            "pake3",
            Op::PASE_PAKE1,
            Pake1 { pa: [4; 65] }.encode(),
            true,
        ),
        ("pake3", Op::PASE_PAKE2, vec![], true),
        (
            "pake3",
            Op::STATUS_REPORT,
            encode(&status_invalid_parameter()),
            false,
        ),
    ];
    for (i, (stage, op, payload, reply)) in cases.iter().enumerate() {
        let mut dev = Device::new();
        if *stage != "listen" {
            handshake_until(&mut dev, stage);
            dev.events();
        }
        let before = dev.responder.failed_attempts();
        let out = dev.deliver(1, *op, payload);
        if *reply {
            assert!(
                out.len() == 1 && is_invalid_param(&out[0]),
                "case {i}: expected invalid-parameter reply, got {out:?}"
            );
        } else {
            assert!(out.is_empty(), "case {i}: no reply to a StatusReport");
        }
        assert_eq!(
            dev.responder.failed_attempts(),
            before + 1,
            "case {i}: counted"
        );
        assert_eq!(failures(&dev.events()).len(), 1, "case {i}");
        assert!(dev.responder.is_listening(), "case {i}: state dropped");
        // The responder is usable again right away.
        let mut init = initiator(&mut dev, PASSCODE, 0x55);
        pump(&mut dev, 2, &mut init, &mut TestRng::new(4));
        established(dev.events());
    }
}

#[test]
fn wrong_confirmation_in_pake3_is_rejected() {
    let mut dev = Device::new();
    let (op, mut pake3) = handshake_until(&mut dev, "pake3");
    let n = pake3.len();
    pake3[n - 2] ^= 1; // last byte of cA, before the end-of-container
    let out = dev.deliver(1, op, &pake3);
    assert!(is_invalid_param(&out[0]));
    let ev = dev.events();
    assert!(matches!(
        failures(&ev)[..],
        [PaseError::Spake2p(Spake2pError::ConfirmationFailed)]
    ));
}

#[test]
fn duplicates_are_ignored_and_the_handshake_continues() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE, 0x66);
    let mut rng = TestRng::new(8);
    let (op, req) = init.poll_transmit().expect("request");
    let replies = dev.deliver(1, op, &req);
    assert!(dev.deliver(1, op, &req).is_empty(), "duplicate request");
    init.handle_message(dev.now, replies[0].opcode, &replies[0].payload, &mut rng);
    let (op, pake1) = init.poll_transmit().expect("pake1");
    let replies = dev.deliver(1, op, &pake1);
    assert!(dev.deliver(1, op, &pake1).is_empty(), "duplicate Pake1");
    init.handle_message(dev.now, replies[0].opcode, &replies[0].payload, &mut rng);
    pump(&mut dev, 1, &mut init, &mut rng);
    established(dev.events());
    assert_eq!(dev.responder.stats().duplicates, 2);
}

#[test]
fn twenty_failures_close_the_window_until_reopened() {
    let mut dev = Device::new();
    for i in 1..=20u32 {
        let out = dev.deliver(i, Op::PBKDF_PARAM_REQUEST, &hex!("15 18"));
        assert!(is_invalid_param(&out[0]));
        assert_eq!(dev.responder.failed_attempts(), i);
    }
    let ev = dev.events();
    assert!(matches!(
        ev.last(),
        Some(PaseEvent::WindowClosed {
            reason: WindowCloseReason::TooManyFailures
        })
    ));
    assert!(!dev.responder.is_window_open());
    assert_eq!(dev.responder.poll_timeout(), None);

    // Closed: a valid request is not answered.
    let mut init = initiator(&mut dev, PASSCODE, 0x77);
    let (op, req) = init.poll_transmit().expect("request");
    assert!(dev.deliver(30, op, &req).is_empty());
    assert!(dev.events().is_empty());

    assert!(dev.responder.reopen_window(dev.now, Some(WINDOW)));
    assert_eq!(dev.responder.failed_attempts(), 0);
    let mut init = initiator(&mut dev, PASSCODE, 0x78);
    pump(&mut dev, 31, &mut init, &mut TestRng::new(1));
    established(dev.events());
}

#[test]
fn stalled_handshake_times_out_after_60_s_and_is_counted() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE, 0x88);
    let (op, req) = init.poll_transmit().expect("request");
    dev.deliver(1, op, &req);
    assert_eq!(dev.responder.reserved_session_id(), Some(0x101));
    assert_eq!(
        dev.responder.poll_timeout(),
        Some(Instant::ZERO + Duration::from_secs(60))
    );
    dev.advance(Duration::from_millis(59_999));
    assert!(dev.responder.is_handshaking());
    dev.advance(Duration::from_millis(1));
    assert!(dev.drain().is_empty(), "no reply on timeout");
    let ev = dev.events();
    assert!(matches!(failures(&ev)[..], [PaseError::TimedOut]));
    assert_eq!(dev.responder.failed_attempts(), 1);
    assert!(dev.responder.is_listening());
    assert_eq!(dev.responder.reserved_session_id(), None);
    assert_eq!(dev.responder.poll_timeout(), Some(Instant::ZERO + WINDOW));

    // A late Pake1 from the timed-out initiator is stray now.
    let late = Pake1 { pa: [4; 65] }.encode();
    assert!(dev.deliver(1, Op::PASE_PAKE1, &late).is_empty());
    assert_eq!(dev.responder.failed_attempts(), 1);

    // The initiator gives up too.
    init.handle_timeout(Instant::ZERO + Duration::from_secs(60));
    assert!(matches!(
        init_outcome(&mut init),
        InitiatorEvent::Failed(PaseError::TimedOut)
    ));
}

#[test]
fn window_times_out_and_then_ignores_requests() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE, 0x99);
    let (op, req) = init.poll_transmit().expect("request");
    dev.advance(WINDOW - Duration::from_millis(1));
    assert!(dev.responder.is_listening());
    dev.advance(Duration::from_millis(1));
    let ev = dev.events();
    assert!(matches!(
        ev[..],
        [PaseEvent::WindowClosed {
            reason: WindowCloseReason::Timeout
        }]
    ));
    assert!(dev.deliver(1, op, &req).is_empty());
    assert_eq!(dev.responder.stats().ignored_closed, 1);
}

#[test]
fn window_timeout_mid_handshake_aborts_it_without_counting() {
    let mut dev = Device::new();
    dev.advance(WINDOW - Duration::from_secs(10));
    handshake_until(&mut dev, "pake1");
    dev.events();
    assert_eq!(
        dev.responder.poll_timeout(),
        Some(Instant::ZERO + WINDOW),
        "window deadline comes before the 60 s stall deadline"
    );
    dev.advance(Duration::from_secs(10));
    let ev = dev.events();
    assert!(matches!(failures(&ev)[..], [PaseError::Aborted]));
    assert!(matches!(
        ev.last(),
        Some(PaseEvent::WindowClosed {
            reason: WindowCloseReason::Timeout
        })
    ));
    assert_eq!(dev.responder.failed_attempts(), 0);
    assert!(dev.drain().is_empty());
}

#[test]
fn second_initiator_is_ignored_while_busy_and_served_after_the_session_ends() {
    let mut dev = Device::new();
    let mut a = initiator(&mut dev, PASSCODE, 0xa1);
    let mut b = initiator(&mut dev, PASSCODE, 0xb1);
    let mut rng_a = TestRng::new(10);

    // A starts; B's request on another exchange is ignored; A's handshake is untouched.
    let (op, req_a) = a.poll_transmit().expect("request");
    let replies = dev.deliver(1, op, &req_a);
    let (op_b, req_b) = b.poll_transmit().expect("request");
    assert!(dev.deliver(2, op_b, &req_b).is_empty());
    // B can't disturb A with other messages either.
    assert!(dev
        .deliver(2, Op::PASE_PAKE1, &Pake1 { pa: [4; 65] }.encode())
        .is_empty());
    assert!(dev
        .deliver(2, Op::STATUS_REPORT, &encode(&status_invalid_parameter()))
        .is_empty());
    a.handle_message(dev.now, replies[0].opcode, &replies[0].payload, &mut rng_a);
    pump(&mut dev, 1, &mut a, &mut rng_a);
    established(dev.events());
    assert_eq!(dev.responder.stats().ignored_busy, 3);
    assert_eq!(dev.responder.failed_attempts(), 0);

    // While A's PASE session lives, B is still ignored.
    assert!(dev.deliver(2, op_b, &req_b).is_empty());
    // A's session ends without commissioning: B may pair now.
    dev.responder.handle_session_closed(dev.now);
    assert!(dev.responder.is_listening());
    let mut b = initiator(&mut dev, PASSCODE, 0xb2);
    pump(&mut dev, 2, &mut b, &mut TestRng::new(11));
    let s = established(dev.events());
    assert_eq!(s.peer_session_id(), 0xb2);
}

#[test]
fn no_free_session_id_answers_busy_without_counting() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE, 0xc1);
    let (op, req) = init.poll_transmit().expect("request");
    for alloc_result in [None, Some(0)] {
        let mut alloc = || alloc_result;
        dev.responder
            .handle_message(dev.now, 1, op, &req, &mut TestRng::new(1), &mut alloc);
        let out = dev.drain();
        assert_eq!(out.len(), 1);
        assert_eq!(StatusReport::decode(&out[0].payload), Ok(status_busy(500)));
    }
    assert_eq!(dev.responder.failed_attempts(), 0);
    assert!(dev.responder.is_listening());
    // The initiator reads Busy as such.
    init.handle_message(
        dev.now,
        Op::STATUS_REPORT,
        &encode(&status_busy(500)),
        &mut TestRng::new(1),
    );
    assert!(matches!(
        init_outcome(&mut init),
        InitiatorEvent::Failed(PaseError::Busy { min_wait_ms: 500 })
    ));
}

#[test]
fn closed_exchange_fails_the_handshake_and_counts() {
    let mut dev = Device::new();
    handshake_until(&mut dev, "pake3");
    dev.events();
    dev.responder.handle_exchange_closed(dev.now, &2); // not ours
    assert!(dev.responder.is_handshaking());
    dev.responder.handle_exchange_closed(dev.now, &1);
    let ev = dev.events();
    assert!(matches!(failures(&ev)[..], [PaseError::PeerGone]));
    assert_eq!(dev.responder.failed_attempts(), 1);
}

#[test]
fn close_window_aborts_and_ignores_until_reopened() {
    let mut dev = Device::new();
    handshake_until(&mut dev, "pake1");
    dev.events();
    dev.responder.close_window(dev.now);
    let ev = dev.events();
    assert!(matches!(failures(&ev)[..], [PaseError::Aborted]));
    assert!(!dev.responder.is_window_open());
    let mut init = initiator(&mut dev, PASSCODE, 0xd1);
    let (op, req) = init.poll_transmit().expect("request");
    assert!(dev.deliver(5, op, &req).is_empty());
    dev.responder.open_window(dev.now, verifier(), None);
    assert_eq!(dev.responder.poll_timeout(), None);
    assert!(!dev.deliver(5, op, &req).is_empty());
}

#[test]
fn tampered_pbkdf_response_breaks_the_context_and_fails() {
    let mut dev = Device::new();
    let mut init = initiator(&mut dev, PASSCODE, 0xe1);
    let mut rng = TestRng::new(3);
    let (op, req) = init.poll_transmit().expect("request");
    let replies = dev.deliver(1, op, &req);
    // Flip a bit of the responder random: still a valid message, but the contexts now differ.
    let mut resp = PbkdfParamResponse::decode(&replies[0].payload).expect("response");
    resp.responder_random[0] ^= 1;
    init.handle_message(dev.now, Op::PBKDF_PARAM_RESPONSE, &resp.encode(), &mut rng);
    pump(&mut dev, 1, &mut init, &mut rng);
    assert!(matches!(
        init_outcome(&mut init),
        InitiatorEvent::Failed(PaseError::Spake2p(Spake2pError::ConfirmationFailed))
    ));
    assert_eq!(dev.responder.failed_attempts(), 1);
}

#[test]
fn initiator_rejects_bad_responses() {
    let good = PbkdfParamResponse {
        initiator_random: [0; 32],
        responder_random: [2; 32],
        responder_session_id: 5,
        pbkdf_parameters: Some(PbkdfParameters {
            iterations: ITERATIONS,
            salt: SALT.to_vec(),
        }),
        responder_session_params: None,
    };
    let mut no_params = good.clone();
    no_params.pbkdf_parameters = None;
    let mut few_iterations = good.clone();
    few_iterations.pbkdf_parameters = Some(PbkdfParameters {
        iterations: 999,
        salt: SALT.to_vec(),
    });
    let mut short_salt = good.clone();
    short_salt.pbkdf_parameters = Some(PbkdfParameters {
        iterations: ITERATIONS,
        salt: vec![0; 15],
    });
    let mut zero_sid = good.clone();
    zero_sid.responder_session_id = 0;
    type Check = fn(&PaseError) -> bool;
    let cases: Vec<(PbkdfParamResponse, bool, Check)> = vec![
        (good.clone(), false, |e| {
            matches!(e, PaseError::RandomMismatch)
        }),
        (no_params, true, |e| {
            matches!(e, PaseError::MissingPbkdfParameters)
        }),
        (few_iterations, true, |e| {
            matches!(
                e,
                PaseError::Spake2p(Spake2pError::InvalidPbkdfParameters { .. })
            )
        }),
        (short_salt, true, |e| {
            matches!(
                e,
                PaseError::Spake2p(Spake2pError::InvalidPbkdfParameters { .. })
            )
        }),
        (zero_sid, true, |e| {
            matches!(e, PaseError::InvalidPeerSessionId)
        }),
    ];
    for (i, (resp, echo_random, check)) in cases.into_iter().enumerate() {
        let mut rng = TestRng::new(i as u64);
        let mut init =
            PaseInitiator::start(Instant::ZERO, InitiatorConfig::new(PASSCODE, 1), &mut rng);
        let (_, req) = init.poll_transmit().expect("request");
        let mut resp = resp;
        if echo_random {
            resp.initiator_random = PbkdfParamRequest::decode(&req)
                .expect("req")
                .initiator_random;
        }
        init.handle_message(
            Instant::ZERO,
            Op::PBKDF_PARAM_RESPONSE,
            &resp.encode(),
            &mut rng,
        );
        let (op, payload) = init.poll_transmit().expect("status report");
        assert_eq!(op, Op::STATUS_REPORT, "case {i}");
        assert_eq!(
            StatusReport::decode(&payload),
            Ok(status_invalid_parameter())
        );
        let InitiatorEvent::Failed(e) = init_outcome(&mut init) else {
            panic!("case {i} succeeded");
        };
        assert!(check(&e), "case {i}: {e:?}");
        assert!(init.is_done());
    }
}

#[derive(Debug, Clone)]
enum Action {
    Deliver {
        exchange: u32,
        which: u8,
        garble: Option<usize>,
    },
    Advance(u64),
    ExchangeClosed(u32),
    SessionClosed,
}

fn op_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (0u32..3, 0u8..6, proptest::option::of(0usize..120))
            .prop_map(|(exchange, which, garble)| Action::Deliver { exchange, which, garble }),
        1 => (0u64..70_000).prop_map(Action::Advance),
        1 => (0u32..3).prop_map(Action::ExchangeClosed),
        1 => Just(Action::SessionClosed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random sequences of valid, garbled and misdirected messages, timer jumps and closes never
    /// panic, never hold more than one handshake, reply only on the handshake's exchange or to a
    /// PBKDFParamRequest, and keep the counters consistent.
    #[test]
    fn responder_survives_random_operation_sequences(ops in proptest::collection::vec(op_strategy(), 1..24)) {
        let mut dev = Device::new();
        // A small library of messages: a real request, Pake1 (valid point), Pake3, a StatusReport.
        let mut init = initiator(&mut dev, PASSCODE, 0x10);
        let (_, req) = init.poll_transmit().expect("request");
        let library: Vec<(Op, Vec<u8>)> = vec![
            (Op::PBKDF_PARAM_REQUEST, req),
            (Op::PASE_PAKE1, Pake1 { pa: hex!("04 6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296 4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5") }.encode()),
            (Op::PASE_PAKE3, Pake3 { ca: [7; 32] }.encode()),
            (Op::STATUS_REPORT, encode(&status_invalid_parameter())),
            (Op::PASE_PAKE2, vec![0x15, 0x18]),
            (Op(0x7f), vec![]),
        ];
        for op in ops {
            match op {
                Action::Deliver { exchange, which, garble } => {
                    let (o, mut p) = library[usize::from(which) % library.len()].clone();
                    if let Some(g) = garble {
                        if !p.is_empty() {
                            let n = p.len();
                            p[g % n] ^= 0x5a;
                        }
                    }
                    let was_handshaking = dev.responder.is_handshaking();
                    for t in dev.deliver(exchange, o, &p) {
                        prop_assert!(t.exchange == exchange);
                        prop_assert!(was_handshaking || o == Op::PBKDF_PARAM_REQUEST);
                    }
                }
                Action::Advance(ms) => {
                    dev.advance(Duration::from_millis(ms));
                    prop_assert!(dev.drain().is_empty());
                }
                Action::ExchangeClosed(x) => {
                    dev.responder.handle_exchange_closed(dev.now, &x);
                    prop_assert!(dev.drain().is_empty());
                }
                Action::SessionClosed => dev.responder.handle_session_closed(dev.now),
            }
            let ev = dev.events();
            prop_assert!(ev.iter().all(|e| !matches!(e, PaseEvent::Established { .. })),
                "nothing here can authenticate");
            prop_assert!(dev.responder.failed_attempts() <= 20);
            if let Some(t) = dev.responder.poll_timeout() {
                prop_assert!(t > dev.now);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The initiator fed arbitrary bytes under every opcode never panics, never establishes, and
    /// ends the handshake after the first bad message.
    #[test]
    fn initiator_survives_garbage(op in 0u8..0x50, payload in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut rng = TestRng::new(1);
        let mut init = PaseInitiator::start(Instant::ZERO, InitiatorConfig::new(PASSCODE, 1), &mut rng);
        let _ = init.poll_transmit();
        init.handle_message(Instant::ZERO, Op(op), &payload, &mut rng);
        match init.poll_event() {
            Some(InitiatorEvent::Established(_)) => prop_assert!(false, "garbage established"),
            Some(_) => prop_assert!(init.is_done()),
            None => prop_assert!(!init.is_done()),
        }
    }
}

#[test]
fn live_pase_session_keeps_new_requests_out_across_a_window_reopen() {
    let mut dev = Device::new();
    let mut a = initiator(&mut dev, PASSCODE, 0xf1);
    pump(&mut dev, 1, &mut a, &mut TestRng::new(1));
    established(dev.events());
    assert!(dev.responder.is_session_active());
    dev.responder.close_window(dev.now);
    assert!(dev.responder.reopen_window(dev.now, Some(WINDOW)));
    assert!(!dev.responder.is_listening());
    let mut b = initiator(&mut dev, PASSCODE, 0xf2);
    let (op, req) = b.poll_transmit().expect("request");
    assert!(dev.deliver(2, op, &req).is_empty());
    dev.responder.handle_session_closed(dev.now);
    assert!(dev.responder.is_listening());
    assert_eq!(dev.deliver(2, op, &req).len(), 1);
}
