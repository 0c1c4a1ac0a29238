//! Exchange manager and MRP tests: a device and a controller stack wired back to back, with
//! simulated time.

use zeroize::Zeroizing;

use super::*;
use crate::message::{InteractionModelOpcode, Packet, ProtocolId, SecureChannelOpcode};
use crate::rng::{Rng, TestRng};
use crate::session::tests::{params, t, Addr};
use crate::session::{
    params::SessionParameters, CloseReason, PaseHandover, Session, SessionManagerEvent, SessionRef,
};
use crate::time::Instant;

/// A generator that always yields the same byte: jitter 0 with 0x00.
#[derive(Debug, Clone)]
struct FixedRng(u8);

impl Rng for FixedRng {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(self.0);
    }
}

type Stack<R> = ExchangeManager<Addr, (), R>;

const DEV: Addr = Addr::Udp(5540);
const CTL: Addr = Addr::Udp(40000);
const KE: [u8; 16] = [0x42; 16];

/// A device (PASE responder) and controller (initiator) sharing one PASE session over `link`.
fn pair<R: Rng + Clone>(
    rng: R,
    dev_addr: Addr,
    ctl_addr: Addr,
) -> (Stack<R>, SessionRef, Stack<R>, SessionRef) {
    let mut dev = ExchangeManager::new(ExchangeConfig::default(), rng.clone());
    let mut ctl = ExchangeManager::new(ExchangeConfig::default(), rng);
    let dev_id = dev.sessions_mut().allocate_session_id().unwrap();
    let ctl_id = ctl.sessions_mut().allocate_session_id().unwrap();
    let ds = dev
        .add_pase_session(
            t(0),
            ctl_addr.clone(),
            PaseHandover {
                local_session_id: dev_id,
                peer_session_id: ctl_id,
                ke: Zeroizing::new(KE),
                is_initiator: false,
                peer_parameters: SessionParameters::default(),
            },
            (),
        )
        .unwrap();
    let mut p = params(ctl_id, dev_id, &KE, true);
    p.mrp_enabled = !matches!(dev_addr, Addr::Ble(_));
    let cs = ctl.add_secure_session(t(0), dev_addr, p).unwrap();
    (dev, ds, ctl, cs)
}

/// Moves every pending datagram of `from` into `to`; returns how many.
fn deliver<R: Rng>(
    now: Instant,
    from: &mut Stack<R>,
    from_addr: &Addr,
    to: &mut Stack<R>,
) -> usize {
    let mut n = 0;
    let mut buf = Vec::new();
    while let Some(tx) = from.poll_transmit(now, &mut buf) {
        assert_eq!(tx.len, buf.len());
        let _ = to.handle_datagram(now, from_addr.clone(), &buf);
        buf.clear();
        n += 1;
    }
    n
}

fn drain<R: Rng>(s: &mut Stack<R>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while s.poll_transmit(t(0), &mut buf).is_some() {
        out.push(core::mem::take(&mut buf));
    }
    out
}

fn events<R: Rng>(s: &mut Stack<R>) -> Vec<ExchangeEvent> {
    core::iter::from_fn(|| s.poll_event()).collect()
}

fn incoming(evs: &[ExchangeEvent]) -> Vec<(ExchangeRef, Vec<u8>)> {
    evs.iter()
        .filter_map(|e| match e {
            ExchangeEvent::Incoming {
                exchange, message, ..
            } => Some((*exchange, message.payload.clone())),
            _ => None,
        })
        .collect()
}

const READ: u8 = InteractionModelOpcode::READ_REQUEST.0;
const REPORT: u8 = InteractionModelOpcode::REPORT_DATA.0;

#[test]
fn request_response_piggybacks_acks_and_standalone_ack_after_200ms() {
    let (mut dev, ds, mut ctl, cs) = pair(TestRng::new(1), DEV, CTL);
    let _ = (events(&mut dev), events(&mut ctl));
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    let c1 = ctl.send(t(0), x, READ, b"read").unwrap();
    assert_eq!(deliver(t(10), &mut ctl, &CTL, &mut dev), 1);
    let evs = events(&mut dev);
    let got = incoming(&evs);
    assert_eq!(got.len(), 1);
    let dx = got[0].0;
    assert_eq!(dx.role, Role::Responder);
    assert_eq!(dx.session, ds);
    assert_eq!(dx.id, x.id);
    assert_eq!(got[0].1, b"read");
    assert_eq!(dev.poll_timeout(), Some(t(210)), "standalone ack timer");

    // The reply carries the ack.
    let d1 = dev.send(t(50), dx, REPORT, b"report").unwrap();
    let wire = drain(&mut dev);
    assert_eq!(wire.len(), 1);
    let p = Packet::decode(&wire[0]).unwrap();
    let m = ctl.sessions().secure(cs).unwrap().decode(&p).unwrap();
    assert_eq!(m.payload_header.acked_counter, Some(c1));
    assert!(m.payload_header.needs_ack && !m.payload_header.initiator);
    ctl.handle_datagram(t(60), DEV, &wire[0]).unwrap();
    let evs = events(&mut ctl);
    assert!(evs.contains(&ExchangeEvent::Acked {
        exchange: x,
        counter: c1
    }));
    assert_eq!(incoming(&evs), [(x, b"report".to_vec())]);
    // Controller owes an ack for d1: nothing before 200 ms, a standalone ack at 200 ms.
    assert_eq!(ctl.poll_timeout(), Some(t(260)));
    ctl.handle_timeout(t(259));
    assert!(drain(&mut ctl).is_empty());
    ctl.handle_timeout(t(260));
    let acks = drain(&mut ctl);
    assert_eq!(acks.len(), 1);
    let p = Packet::decode(&acks[0]).unwrap();
    let m = dev.sessions().secure(ds).unwrap().decode(&p).unwrap();
    assert!(m.payload_header.is_standalone_ack());
    assert_eq!(m.payload_header.acked_counter, Some(d1));
    assert!(!m.payload_header.needs_ack && m.payload_header.initiator);
    dev.handle_datagram(t(270), CTL, &acks[0]).unwrap();
    let evs = events(&mut dev);
    assert_eq!(
        evs,
        [ExchangeEvent::Acked {
            exchange: dx,
            counter: d1
        }],
        "acks are not delivered"
    );
    assert_eq!(dev.poll_timeout(), None);
    assert_eq!(ctl.poll_timeout(), None);
}

/// Sends one reliable message into the void and records when it goes out.
fn retransmission_instants<R: Rng + Clone>(rng: R, make_peer_active: bool) -> (Vec<u64>, u64) {
    let (mut dev, _ds, mut ctl, cs) = pair(rng, DEV, CTL);
    let start = if make_peer_active {
        // The device talks first, so the controller sees it as active (300 ms base).
        let x = dev
            .new_exchange(_ds, ProtocolId::INTERACTION_MODEL)
            .unwrap();
        dev.send_with(t(0), x, REPORT, b"", SendOptions { reliable: false })
            .unwrap();
        deliver(t(0), &mut dev, &DEV, &mut ctl);
        0
    } else {
        0
    };
    let _ = events(&mut ctl);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(start), x, READ, b"lost").unwrap();
    let first = drain(&mut ctl);
    assert_eq!(first.len(), 1);
    let mut sent = vec![start];
    loop {
        let Some(when) = ctl.poll_timeout() else {
            panic!("no timer while a message is unacknowledged");
        };
        ctl.handle_timeout(when);
        let out = drain(&mut ctl);
        for d in &out {
            assert_eq!(
                d, &first[0],
                "retransmissions repeat the bytes and the counter"
            );
            sent.push(when.as_millis());
        }
        let evs = events(&mut ctl);
        if let Some(ExchangeEvent::SendFailed { exchange, .. }) = evs.first() {
            assert_eq!(*exchange, x);
            assert_eq!(ctl.poll_timeout(), None);
            return (sent, when.as_millis());
        }
    }
}

#[test]
fn retransmission_schedule_idle_peer_exact_instants() {
    // Idle base 500 ms, no jitter: 550, 550, 880, 1408, 2252.8 (Matter 1.3 §4.12.2.1).
    let (sent, failed) = retransmission_instants(FixedRng(0), false);
    assert_eq!(sent, [0, 550, 1100, 1980, 3388]);
    assert_eq!(failed, 3388 + 2252);
}

#[test]
fn retransmission_schedule_active_peer_exact_instants() {
    // Active base 300 ms, no jitter: 330, 330, 528, 844, 1351.
    let (sent, failed) = retransmission_instants(FixedRng(0), true);
    assert_eq!(sent, [0, 330, 660, 1188, 2032]);
    assert_eq!(failed, 2032 + 1351);
}

#[test]
fn retransmission_schedule_with_max_jitter_and_test_rng() {
    let (sent, failed) = retransmission_instants(FixedRng(0xFF), true);
    assert_eq!(sent, [0, 412, 824, 1483, 2538]);
    assert_eq!(failed, 2538 + 1689);
    // With a real pseudo-random sequence every gap lies between no and full jitter.
    let (sent, failed) = retransmission_instants(TestRng::new(77), true);
    let bounds = [
        (330, 412),
        (330, 412),
        (528, 660),
        (844, 1056),
        (1351, 1690),
    ];
    let mut all = sent.clone();
    all.push(failed);
    for (w, (lo, hi)) in all.windows(2).zip(bounds) {
        let gap = w[1] - w[0];
        assert!((lo..=hi).contains(&gap), "gap {gap} outside {lo}..={hi}");
    }
}

#[test]
fn duplicates_are_acked_immediately_and_not_delivered() {
    let (mut dev, _ds, mut ctl, cs) = pair(TestRng::new(2), DEV, CTL);
    let _ = events(&mut dev);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    let c = ctl.send(t(0), x, READ, b"once").unwrap();
    let wire = drain(&mut ctl);
    dev.handle_datagram(t(1), CTL, &wire[0]).unwrap();
    assert_eq!(incoming(&events(&mut dev)).len(), 1);
    assert!(
        drain(&mut dev).is_empty(),
        "first copy: ack waits for a piggy-back"
    );
    dev.handle_datagram(t(2), CTL, &wire[0]).unwrap();
    assert!(
        incoming(&events(&mut dev)).is_empty(),
        "duplicate not delivered"
    );
    let acks = drain(&mut dev);
    assert_eq!(acks.len(), 1, "duplicate acked at once");
    ctl.handle_datagram(t(3), DEV, &acks[0]).unwrap();
    assert!(events(&mut ctl).contains(&ExchangeEvent::Acked {
        exchange: x,
        counter: c
    }));
    assert_eq!(ctl.poll_timeout(), None, "retransmission stopped");
}

#[test]
fn retransmitted_message_reaching_the_peer_stops_the_timer() {
    let (mut dev, _ds, mut ctl, cs) = pair(FixedRng(0), DEV, CTL);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"r").unwrap();
    let _lost = drain(&mut ctl);
    ctl.handle_timeout(t(550));
    assert_eq!(deliver(t(560), &mut ctl, &CTL, &mut dev), 1);
    assert_eq!(
        incoming(&events(&mut dev)).len(),
        1,
        "first copy that arrives is delivered"
    );
    dev.handle_timeout(t(760));
    assert_eq!(
        deliver(t(770), &mut dev, &DEV, &mut ctl),
        1,
        "standalone ack"
    );
    assert_eq!(ctl.poll_timeout(), None);
}

#[test]
fn mrp_is_off_over_btp() {
    let ble_dev = Addr::Ble(1);
    let ble_ctl = Addr::Ble(2);
    let (mut dev, ds, mut ctl, cs) = pair(TestRng::new(3), ble_dev.clone(), ble_ctl.clone());
    assert!(!dev.sessions().secure(ds).unwrap().mrp_enabled());
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"r").unwrap();
    assert_eq!(ctl.poll_timeout(), None, "no retransmission over BTP");
    // A second send on the same exchange is fine: nothing waits for an ack.
    ctl.send(t(0), x, READ, b"r2").unwrap();
    let wire = drain(&mut ctl);
    let m = dev
        .sessions()
        .secure(ds)
        .unwrap()
        .decode(&Packet::decode(&wire[0]).unwrap())
        .unwrap();
    assert!(!m.payload_header.needs_ack, "no R flag over BTP");
    for w in &wire {
        dev.handle_datagram(t(1), ble_ctl.clone(), w).unwrap();
    }
    assert_eq!(incoming(&events(&mut dev)).len(), 2);
    assert_eq!(dev.poll_timeout(), None, "nothing to acknowledge");
}

#[test]
fn one_reliable_message_at_a_time_and_unknown_exchanges() {
    let (_dev, _ds, mut ctl, cs) = pair(TestRng::new(4), DEV, CTL);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"1").unwrap();
    assert_eq!(
        ctl.send(t(0), x, READ, b"2"),
        Err(ExchangeError::AwaitingAck)
    );
    // Unreliable sends are still allowed.
    ctl.send_with(t(0), x, READ, b"3", SendOptions { reliable: false })
        .unwrap();
    let bogus = ExchangeRef {
        id: x.id.wrapping_add(100),
        ..x
    };
    assert_eq!(
        ctl.send(t(0), bogus, READ, b""),
        Err(ExchangeError::UnknownExchange)
    );
}

#[test]
fn stray_responses_are_acked_not_delivered() {
    // A response (no I flag) for an exchange the device no longer has: acked, not delivered.
    let (mut dev, _ds, mut ctl, _cs) = pair(TestRng::new(4), DEV, CTL);
    let _ = events(&mut dev);
    let stray = dev
        .new_exchange(_ds, ProtocolId::INTERACTION_MODEL)
        .unwrap();
    dev.send(t(0), stray, REPORT, b"").unwrap();
    deliver(t(1), &mut dev, &DEV, &mut ctl);
    let cx = incoming(&events(&mut ctl))[0].0;
    assert_eq!(cx.role, Role::Responder);
    ctl.send(t(2), cx, REPORT, b"first").unwrap(); // piggy-backs the ack for the device
    deliver(t(3), &mut ctl, &CTL, &mut dev);
    dev.close_exchange(t(3), stray); // flushes its ack for "first"
    assert!(!dev.has_exchange(stray));
    deliver(t(4), &mut dev, &DEV, &mut ctl);
    let _ = (events(&mut dev), events(&mut ctl));
    assert_eq!(ctl.poll_timeout(), None);
    ctl.send(t(5), cx, REPORT, b"late").unwrap();
    deliver(t(6), &mut ctl, &CTL, &mut dev);
    assert!(incoming(&events(&mut dev)).is_empty(), "not delivered");
    assert_eq!(
        deliver(t(7), &mut dev, &DEV, &mut ctl),
        1,
        "but acknowledged"
    );
    assert_eq!(ctl.poll_timeout(), None, "so the peer stops retransmitting");
}

#[test]
fn closing_an_exchange_flushes_its_pending_ack() {
    let (mut dev, _ds, mut ctl, cs) = pair(TestRng::new(5), DEV, CTL);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"r").unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let dx = incoming(&events(&mut dev))[0].0;
    dev.close_exchange(t(2), dx);
    assert!(!dev.has_exchange(dx), "nothing left to do: gone");
    assert_eq!(deliver(t(3), &mut dev, &DEV, &mut ctl), 1);
    assert_eq!(ctl.poll_timeout(), None);
    assert_eq!(
        dev.send(t(4), dx, REPORT, b""),
        Err(ExchangeError::UnknownExchange)
    );
}

#[test]
fn close_session_sends_close_session_and_peer_drops_it() {
    let (mut dev, ds, mut ctl, cs) = pair(TestRng::new(6), DEV, CTL);
    let dev_id = dev.sessions().secure(ds).unwrap().id();
    let _ = (events(&mut dev), events(&mut ctl));
    ctl.close_session(t(0), cs, Some(false));
    assert!(ctl.sessions().secure(cs).is_none());
    assert!(events(&mut ctl).iter().any(|e| matches!(
        e,
        ExchangeEvent::Session(SessionManagerEvent::Closed {
            reason: CloseReason::Local,
            ..
        })
    )));
    let wire = drain(&mut ctl);
    assert_eq!(wire.len(), 1);
    dev.handle_datagram(t(1), CTL, &wire[0]).unwrap();
    assert!(dev.sessions().secure(ds).is_none());
    let evs = events(&mut dev);
    assert!(incoming(&evs).is_empty());
    assert_eq!(
        evs,
        [ExchangeEvent::Session(SessionManagerEvent::Closed {
            session: ds,
            local_session_id: dev_id,
            reason: CloseReason::PeerClosed
        })]
    );
    assert!(
        drain(&mut dev).is_empty(),
        "no CloseSession back, no ack (sent without R)"
    );
}

#[test]
fn close_after_exchange_finished_waits_for_the_exchange() {
    let (mut dev, ds, mut ctl, cs) = pair(TestRng::new(7), DEV, CTL);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"r").unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let dx = incoming(&events(&mut dev))[0].0;
    // Peer active: default closes after the exchange.
    dev.close_session(t(2), ds, None);
    assert!(dev
        .sessions()
        .secure(ds)
        .unwrap()
        .closing_after_exchange_finished());
    assert!(drain(&mut dev).is_empty());
    dev.send(t(3), dx, REPORT, b"last").unwrap();
    assert_eq!(drain(&mut dev).len(), 1);
    assert!(
        dev.sessions().secure(ds).is_some(),
        "exchange still waits for its ack"
    );
    // No ack arrives; MRP gives up, then the exchange is closed by the app.
    for ms in [1_000u64, 2_000, 4_000, 8_000, 16_000] {
        dev.handle_timeout(t(ms));
    }
    dev.close_exchange(t(20_000), dx);
    assert!(dev.sessions().secure(ds).is_none());
    let wire = drain(&mut dev);
    let last = wire.last().unwrap();
    let m = ctl
        .sessions()
        .secure(cs)
        .unwrap()
        .decode(&Packet::decode(last).unwrap())
        .unwrap();
    assert!(m.payload_header.is(
        ProtocolId::SECURE_CHANNEL,
        SecureChannelOpcode::STATUS_REPORT.0
    ));
}

#[test]
fn link_closed_drops_sessions_and_exchanges() {
    let (mut dev, ds, mut ctl, cs) = pair(TestRng::new(8), DEV, CTL);
    let dev_id = dev.sessions().secure(ds).unwrap().id();
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"r").unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let _ = events(&mut dev);
    dev.handle_link_closed(t(2), &CTL);
    assert!(dev.sessions().secure(ds).is_none());
    assert_eq!(dev.poll_timeout(), None);
    assert_eq!(
        events(&mut dev),
        [ExchangeEvent::Session(SessionManagerEvent::Closed {
            session: ds,
            local_session_id: dev_id,
            reason: CloseReason::LinkClosed
        })]
    );
    assert!(drain(&mut dev).is_empty());
}

#[test]
fn pase_over_the_unsecured_session() {
    let mut dev: Stack<TestRng> = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(9));
    let mut ctl: Stack<TestRng> = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(10));
    let us = ctl.add_unsecured_initiator(t(0), DEV);
    let x = ctl.new_exchange(us, ProtocolId::SECURE_CHANNEL).unwrap();
    ctl.send(t(0), x, SecureChannelOpcode::PBKDF_PARAM_REQUEST.0, b"tlv")
        .unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let evs = events(&mut dev);
    let (dx, payload) = incoming(&evs)[0].clone();
    assert_eq!(payload, b"tlv");
    let ExchangeEvent::Incoming { message, .. } = &evs[0] else {
        panic!("expected incoming");
    };
    assert_eq!(
        message.payload_header.secure_channel_opcode(),
        Some(SecureChannelOpcode::PBKDF_PARAM_REQUEST)
    );
    assert!(!dev.sessions().session(dx.session).unwrap().is_secure());
    dev.send(
        t(2),
        dx,
        SecureChannelOpcode::PBKDF_PARAM_RESPONSE.0,
        b"rsp",
    )
    .unwrap();
    deliver(t(3), &mut dev, &DEV, &mut ctl);
    let evs = events(&mut ctl);
    assert!(evs.iter().any(|e| matches!(e, ExchangeEvent::Acked { .. })));
    assert_eq!(incoming(&evs), [(x, b"rsp".to_vec())]);
}

#[test]
fn unsolicited_messages_need_a_protocol_handler() {
    // Interaction Model on the unsecured session: acknowledged, never delivered.
    let mut dev: Stack<TestRng> = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(11));
    let mut ctl: Stack<TestRng> = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(12));
    let us = ctl.add_unsecured_initiator(t(0), DEV);
    let x = ctl.new_exchange(us, ProtocolId::INTERACTION_MODEL).unwrap();
    ctl.send(t(0), x, READ, b"sneaky").unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    assert!(incoming(&events(&mut dev)).is_empty());
    assert_eq!(
        deliver(t(2), &mut dev, &DEV, &mut ctl),
        1,
        "acked so it is not retried"
    );
    assert_eq!(ctl.poll_timeout(), None);

    // A protocol without a handler on a secure session: same.
    let (mut dev, _ds, mut ctl, cs) = pair(TestRng::new(13), DEV, CTL);
    let _ = events(&mut dev);
    let x = ctl.new_exchange(cs, ProtocolId::BDX).unwrap();
    ctl.send(t(0), x, 0x01, b"").unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    assert!(incoming(&events(&mut dev)).is_empty());
    assert_eq!(deliver(t(2), &mut dev, &DEV, &mut ctl), 1);
    assert_eq!(ctl.poll_timeout(), None);
}

#[test]
fn exchange_table_is_bounded() {
    let config = ExchangeConfig {
        max_exchanges_per_session: 2,
        ..ExchangeConfig::default()
    };
    let mut dev: Stack<TestRng> = ExchangeManager::new(config, TestRng::new(14));
    let mut ctl: Stack<TestRng> = ExchangeManager::new(ExchangeConfig::default(), TestRng::new(15));
    let dev_id = dev.sessions_mut().allocate_session_id().unwrap();
    let ctl_id = ctl.sessions_mut().allocate_session_id().unwrap();
    let ds = dev
        .add_secure_session(t(0), CTL, params(dev_id, ctl_id, &KE, false))
        .unwrap();
    let cs = ctl
        .add_secure_session(t(0), DEV, params(ctl_id, dev_id, &KE, true))
        .unwrap();
    for n in 0..3u8 {
        let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
        ctl.send(t(0), x, READ, &[n]).unwrap();
    }
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let got = incoming(&events(&mut dev));
    assert_eq!(got.len(), 2, "third exchange refused");
    assert_eq!(
        deliver(t(1), &mut dev, &DEV, &mut ctl),
        1,
        "refused one acked at once"
    );
    dev.handle_timeout(t(1_000));
    assert_eq!(
        deliver(t(1_000), &mut dev, &DEV, &mut ctl),
        2,
        "the accepted ones after 200 ms"
    );
    assert_eq!(ctl.poll_timeout(), None);
    assert_eq!(
        dev.new_exchange(ds, ProtocolId::INTERACTION_MODEL),
        Err(ExchangeError::TooManyExchanges)
    );
    // Closing one makes room again.
    dev.close_exchange(t(1_000), got[0].0);
    assert!(dev.new_exchange(ds, ProtocolId::INTERACTION_MODEL).is_ok());
}

#[test]
fn owed_acks_go_out_before_close_session() {
    let (mut dev, ds, mut ctl, cs) = pair(TestRng::new(16), DEV, CTL);
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    let c = ctl.send(t(0), x, READ, b"r").unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let _ = events(&mut dev);
    dev.close_session(t(2), ds, Some(false));
    let wire = drain(&mut dev);
    assert_eq!(wire.len(), 2, "standalone ack, then CloseSession");
    let s = ctl.sessions().secure(cs).unwrap();
    let first = s.decode(&Packet::decode(&wire[0]).unwrap()).unwrap();
    assert!(first.payload_header.is_standalone_ack());
    assert_eq!(first.payload_header.acked_counter, Some(c));
    let second = s.decode(&Packet::decode(&wire[1]).unwrap()).unwrap();
    assert!(second.payload_header.is(
        ProtocolId::SECURE_CHANNEL,
        SecureChannelOpcode::STATUS_REPORT.0
    ));
    for w in &wire {
        ctl.handle_datagram(t(3), DEV, w).unwrap();
    }
    let evs = events(&mut ctl);
    assert!(evs.contains(&ExchangeEvent::Acked {
        exchange: x,
        counter: c
    }));
    assert!(
        ctl.sessions().secure(cs).is_none(),
        "controller dropped the session too"
    );
}

#[test]
fn unsecured_session_is_dropped_after_its_last_exchange() {
    let mut dev: Stack<FixedRng> = ExchangeManager::new(ExchangeConfig::default(), FixedRng(0));
    let mut ctl: Stack<FixedRng> = ExchangeManager::new(ExchangeConfig::default(), FixedRng(1));
    let us = ctl.add_unsecured_initiator(t(0), DEV);
    let x = ctl.new_exchange(us, ProtocolId::SECURE_CHANNEL).unwrap();
    ctl.send(t(0), x, SecureChannelOpcode::PASE_PAKE3.0, b"cA")
        .unwrap();
    deliver(t(1), &mut ctl, &CTL, &mut dev);
    let evs = events(&mut dev);
    let dx = incoming(&evs)[0].0;
    // Final StatusReport, reliable; the unsecured session must outlive it until acked.
    dev.send(t(2), dx, SecureChannelOpcode::STATUS_REPORT.0, b"ok")
        .unwrap();
    dev.close_exchange(t(2), dx);
    dev.close_unsecured_session(t(2), dx.session);
    let lost = drain(&mut dev);
    assert_eq!(lost.len(), 1);
    assert!(
        dev.sessions().session(dx.session).is_some(),
        "waits for the ack"
    );
    dev.handle_timeout(dev.poll_timeout().unwrap()); // retransmission
    deliver(t(600), &mut dev, &DEV, &mut ctl);
    ctl.handle_timeout(t(800)); // standalone ack
    deliver(t(800), &mut ctl, &CTL, &mut dev);
    assert!(
        dev.sessions().session(dx.session).is_none(),
        "dropped once acked"
    );
    assert!(dev.sessions().is_empty());
}

mod faults {
    use proptest::prelude::*;

    use super::*;

    /// Datagrams between two stacks through a link that drops and duplicates, in simulated
    /// time. Every message is delivered at most once, and exactly once unless MRP reported the
    /// send as failed.
    fn run(seed: u64, drop_pct: u64, dup_pct: u64, messages: u8) {
        let (mut dev, _ds, mut ctl, cs) = pair(TestRng::new(seed), DEV, CTL);
        let mut link = TestRng::new(seed ^ 0x5eed);
        let mut now = 0u64;
        let mut delivered = std::collections::HashMap::<u8, u32>::new();
        let mut failed = std::collections::HashSet::<u8>::new();
        let mut by_exchange = std::collections::HashMap::new();
        for n in 0..messages {
            let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
            ctl.send(t(now), x, READ, &[n]).unwrap();
            by_exchange.insert(x, n);
        }
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            // Carry traffic both ways through the faulty link.
            let mut moved = false;
            for dir in 0..2 {
                let (from, to, from_addr) = if dir == 0 {
                    (&mut ctl, &mut dev, &CTL)
                } else {
                    (&mut dev, &mut ctl, &DEV)
                };
                while from.poll_transmit(t(now), &mut buf).is_some() {
                    moved = true;
                    let roll = crate::rng::Rng::next_u64(&mut link) % 100;
                    if roll >= drop_pct {
                        let _ = to.handle_datagram(t(now), from_addr.clone(), &buf);
                        if crate::rng::Rng::next_u64(&mut link) % 100 < dup_pct {
                            let _ = to.handle_datagram(t(now), from_addr.clone(), &buf);
                        }
                    }
                    buf.clear();
                }
            }
            while let Some(e) = dev.poll_event() {
                if let ExchangeEvent::Incoming {
                    exchange, message, ..
                } = e
                {
                    let n = message.payload[0];
                    *delivered.entry(n).or_default() += 1;
                    dev.close_exchange(t(now), exchange);
                }
            }
            while let Some(e) = ctl.poll_event() {
                match e {
                    ExchangeEvent::SendFailed { exchange, .. } => {
                        failed.insert(by_exchange[&exchange]);
                        ctl.close_exchange(t(now), exchange);
                    }
                    ExchangeEvent::Acked { exchange, .. } => ctl.close_exchange(t(now), exchange),
                    _ => {}
                }
            }
            if moved {
                continue;
            }
            let next = [dev.poll_timeout(), ctl.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { break };
            now = now.max(next.as_millis());
            dev.handle_timeout(t(now));
            ctl.handle_timeout(t(now));
        }
        for n in 0..messages {
            let got = delivered.get(&n).copied().unwrap_or(0);
            assert!(got <= 1, "message {n} delivered {got} times");
            if !failed.contains(&n) {
                assert_eq!(got, 1, "message {n} lost without SendFailed");
            }
        }
        assert_eq!(dev.poll_timeout(), None);
        assert_eq!(ctl.poll_timeout(), None);
    }

    #[test]
    fn perfect_link_delivers_everything() {
        run(1, 0, 0, 5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn lossy_duplicating_link(seed: u64, drop_pct in 0u64..50, dup_pct in 0u64..50, messages in 1u8..6) {
            run(seed, drop_pct, dup_pct, messages);
        }
    }
}

#[test]
fn retry_limit_is_configurable() {
    let config = ExchangeConfig {
        mrp_max_transmissions: 2,
        ..ExchangeConfig::default()
    };
    let mut ctl: Stack<FixedRng> = ExchangeManager::new(config, FixedRng(0));
    let id = ctl.sessions_mut().allocate_session_id().unwrap();
    let cs = ctl
        .add_secure_session(t(0), DEV, params(id, 9, &KE, true))
        .unwrap();
    let x = ctl.new_exchange(cs, ProtocolId::INTERACTION_MODEL).unwrap();
    let c = ctl.send(t(0), x, READ, b"").unwrap();
    let _ = (drain(&mut ctl), events(&mut ctl));
    ctl.handle_timeout(t(550));
    assert_eq!(drain(&mut ctl).len(), 1, "one retransmission");
    ctl.handle_timeout(t(1100));
    assert!(drain(&mut ctl).is_empty());
    assert_eq!(
        events(&mut ctl),
        [ExchangeEvent::SendFailed {
            exchange: x,
            counter: c
        }]
    );
}
