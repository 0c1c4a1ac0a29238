//! Tests of secure sessions and the session manager, plus helpers the exchange tests share.

use hex_literal::hex;
use zeroize::Zeroizing;

use super::keys::{self, CcmKey, SessionKeys};
use super::*;
use crate::message::{
    GeneralCode, Message, Packet, PacketHeader, PayloadHeader, ProtocolId, SecureChannelOpcode,
    StatusReport,
};
use crate::rng::TestRng;
use crate::time::Instant;

/// A peer address for tests: UDP runs MRP, BLE does not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Addr {
    Udp(u16),
    Ble(u8),
}

impl PeerAddress for Addr {
    fn is_reliable_transport(&self) -> bool {
        matches!(self, Self::Ble(_))
    }
}

pub(crate) const fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

pub(crate) fn params(
    local: u16,
    peer: u16,
    secret: &[u8],
    is_initiator: bool,
) -> SecureSessionParams<'_, ()> {
    SecureSessionParams {
        local_session_id: local,
        peer_session_id: peer,
        peer_node_id: UNSPECIFIED_NODE_ID,
        shared_secret: secret,
        salt: &[],
        is_initiator,
        is_resumption: false,
        fabric: None,
        context: (),
        peer_parameters: params::SessionParameters::default(),
        mrp_enabled: true,
    }
}

/// An initiator/responder PASE pair from one secret: initiator id 1 talks to responder id 2.
fn pair() -> (SecureSession<()>, SecureSession<()>) {
    let mut rng = TestRng::new(5);
    let secret = [0x42u8; 16];
    let i = SecureSession::create(t(0), params(1, 2, &secret, true), &mut rng).unwrap();
    let r = SecureSession::create(t(0), params(2, 1, &secret, false), &mut rng).unwrap();
    (i, r)
}

fn im_header(exchange: u16) -> PayloadHeader {
    PayloadHeader {
        initiator: true,
        needs_ack: true,
        ..PayloadHeader::new(exchange, ProtocolId::INTERACTION_MODEL, 0x02)
    }
}

/// CHIP SDK src/transport/tests/TestSessionManagerDispatch.cpp, PASE vectors (test key
/// 5eded244..., session 0x0bb8, counter 12345, node id 0 in the nonce).
const CHIP_KEY: [u8; 16] = hex!("5eded244e5532b3cdc23409dbad052d2");
const CHIP_ENCRYPTED: [u8; 35] =
    hex!("00b80b0039300000 5a989ae42e8d0f7f885dfb 2faa8949cf730a5728e0354610a0c4a7");
const CHIP_PRIVACY: [u8; 35] =
    hex!("00b80b8039300000 aa26a0f901efce9f9a67c8 137917d15b81d15d3133083197 58ea3f");

fn chip_session() -> SecureSession<()> {
    let keys = SessionKeys {
        i2r: Zeroizing::new(CHIP_KEY),
        r2i: Zeroizing::new(CHIP_KEY),
        attestation_challenge: Zeroizing::new([0; 16]),
    };
    SecureSession::from_keys(
        t(0),
        params(0x0bb8, 0x0bb8, &[], false),
        &keys,
        &mut TestRng::new(1),
    )
}

#[test]
fn chip_frame_decodes_and_reencodes_byte_for_byte() {
    let mut s = chip_session();
    let p = Packet::decode(&CHIP_ENCRYPTED).unwrap();
    let rx = s.receive(t(1), &p).unwrap();
    assert!(!rx.duplicate);
    let m = &rx.message;
    assert_eq!(m.payload, hex!("1122334455"));
    assert_eq!(m.payload_header.exchange_id, 0x0eee);
    assert_eq!(m.payload_header.protocol_id, ProtocolId(0x7d20));
    assert_eq!(m.payload_header.opcode, 0x64);
    assert!(m.payload_header.initiator && m.payload_header.needs_ack);
    // Encrypting the same message reproduces CHIP's bytes: nonce, AAD and MIC placement agree.
    let mut out = Vec::new();
    s.encode(m, &mut out).unwrap();
    assert_eq!(out, CHIP_ENCRYPTED);
    // The same frame again is a replay.
    assert!(s.receive(t(2), &p).unwrap().duplicate);
}

#[test]
fn chip_wrong_mic_and_privacy_frames_are_rejected() {
    let s = chip_session();
    let mut bad = CHIP_ENCRYPTED;
    bad[34] = 0xaa;
    assert_eq!(
        s.decode(&Packet::decode(&bad).unwrap()),
        Err(SessionError::Mic)
    );
    assert_eq!(
        s.decode(&Packet::decode(&CHIP_PRIVACY).unwrap()),
        Err(SessionError::Unsupported)
    );
    // Shorter than a MIC.
    assert_eq!(
        s.decode(&Packet::decode(&CHIP_ENCRYPTED[..20]).unwrap()),
        Err(SessionError::Mic)
    );
}

#[test]
fn nonce_and_aad_golden() {
    // A responder PASE session: messages it sends use R2I, node id 0 in the nonce, and the
    // 8-byte header as AAD.
    let (_, mut r) = pair();
    r.set_next_counter_for_test(0x0102_0304);
    let mut out = Vec::new();
    let c = r
        .encode_next(t(0), &im_header(7), &hex!("abcdef"), &mut out)
        .unwrap();
    assert_eq!(c, 0x0102_0304);
    assert_eq!(
        &out[..8],
        hex!("00 0100 00 04030201"),
        "header to peer session 1"
    );
    let keys = SessionKeys::derive(&[0x42; 16], &[], false);
    let k = CcmKey::new(&keys.r2i);
    let nonce = keys::nonce(0x00, 0x0102_0304, 0);
    assert_eq!(nonce, hex!("00 04030201 0000000000000000"));
    let (aad, rest) = out.split_at(8);
    let (ct, mic) = rest.split_at(rest.len() - 16);
    let mut pt = ct.to_vec();
    k.decrypt(&nonce, aad, &mut pt, mic.try_into().unwrap())
        .unwrap();
    assert_eq!(pt, hex!("05 02 0700 0100 abcdef"));
}

#[test]
fn case_nonce_uses_sender_node_ids() {
    let mut rng = TestRng::new(9);
    let secret = [7u8; 32];
    let salt = [1u8; 16];
    let mk = |local, peer, peer_node, my_node, init| SecureSessionParams {
        peer_node_id: peer_node,
        salt: &salt,
        fabric: Some(Fabric {
            index: FabricIndex(1),
            node_id: my_node,
        }),
        ..params(local, peer, &secret, init)
    };
    let mut i = SecureSession::create(t(0), mk(10, 20, 0xBBBB, 0xAAAA, true), &mut rng).unwrap();
    let mut r = SecureSession::create(t(0), mk(20, 10, 0xAAAA, 0xBBBB, false), &mut rng).unwrap();
    assert!(!i.is_pase());
    let mut out = Vec::new();
    let c = i.encode_next(t(0), &im_header(1), b"hi", &mut out).unwrap();
    let rx = r.receive(t(1), &Packet::decode(&out).unwrap()).unwrap();
    assert_eq!(rx.message.payload, b"hi");
    // Independently: I2R key, nonce with the initiator's node id 0xAAAA.
    let keys = SessionKeys::derive(&secret, &salt, false);
    let (aad, rest) = out.split_at(8);
    let (ct, mic) = rest.split_at(rest.len() - 16);
    let mut pt = ct.to_vec();
    CcmKey::new(&keys.i2r)
        .decrypt(
            &keys::nonce(0, c, 0xAAAA),
            aad,
            &mut pt,
            mic.try_into().unwrap(),
        )
        .unwrap();
    // A peer that assumes a different node id cannot decrypt.
    let mut wrong =
        SecureSession::create(t(0), mk(20, 10, 0xCCCC, 0xBBBB, false), &mut rng).unwrap();
    assert_eq!(
        wrong.receive(t(1), &Packet::decode(&out).unwrap()),
        Err(SessionError::Mic)
    );
}

#[test]
fn initiator_and_responder_talk_both_ways() {
    let (mut i, mut r) = pair();
    for n in 0..3u8 {
        let mut out = Vec::new();
        i.encode_next(t(1), &im_header(1), &[n; 100], &mut out)
            .unwrap();
        let rx = r.receive(t(2), &Packet::decode(&out).unwrap()).unwrap();
        assert_eq!(rx.message.payload, vec![n; 100]);
        assert_eq!(rx.message.packet_header.session_id, 2);
        let mut back = Vec::new();
        r.encode_next(
            t(3),
            &PayloadHeader::new(1, ProtocolId::INTERACTION_MODEL, 5),
            &[],
            &mut back,
        )
        .unwrap();
        let rx = i.receive(t(4), &Packet::decode(&back).unwrap()).unwrap();
        assert!(rx.message.payload.is_empty() && !rx.duplicate);
    }
    // Keys differ per direction: the initiator cannot decrypt its own traffic.
    let mut own = Vec::new();
    i.encode_next(t(5), &im_header(1), b"x", &mut own).unwrap();
    assert_eq!(
        i.decode(&Packet::decode(&own).unwrap()),
        Err(SessionError::Mic)
    );
    assert_eq!(i.attestation_challenge_key(), r.attestation_challenge_key());
}

#[test]
fn tampering_is_detected_and_leaves_state_untouched() {
    let (mut i, mut r) = pair();
    let mut out = Vec::new();
    i.encode_next(t(0), &im_header(1), b"payload", &mut out)
        .unwrap();
    let last = out.len() - 1;
    // Header (AAD) bytes, including the counter and a reserved bit, ciphertext, MIC.
    for pos in [0usize, 3, 4, 7, 8, 12, last] {
        for bit in [0x01u8, 0x08, 0x80] {
            let mut bad = out.clone();
            bad[pos] ^= bit;
            let Ok(p) = Packet::decode(&bad) else {
                continue;
            };
            if p.header.session_id != 2 {
                continue;
            }
            assert!(
                r.receive(t(1), &p).is_err(),
                "pos {pos} bit {bit:#x} accepted"
            );
        }
    }
    assert_eq!(r.last_received(), None, "failed packets are not activity");
    // The genuine packet is still new.
    let rx = r.receive(t(2), &Packet::decode(&out).unwrap()).unwrap();
    assert!(!rx.duplicate);
    assert_eq!(r.last_received(), Some(t(2)));
}

#[test]
fn replay_and_reorder_inside_and_outside_the_window() {
    let (mut i, mut r) = pair();
    let frames: Vec<Vec<u8>> = (0..40)
        .map(|_| {
            let mut out = Vec::new();
            i.encode_next(t(0), &im_header(1), b"m", &mut out).unwrap();
            out
        })
        .collect();
    let mut recv = |n: usize| {
        r.receive(t(1), &Packet::decode(&frames[n]).unwrap())
            .unwrap()
            .duplicate
    };
    assert!(!recv(5));
    assert!(!recv(3), "reordered inside the window");
    assert!(recv(3), "replay");
    assert!(recv(5), "replay of max");
    assert!(!recv(39));
    assert!(!recv(7), "39 - 7 = 32: last slot of the window");
    assert!(recv(6), "33 behind: outside the window");
    assert!(recv(4), "never seen but too old");
}

#[test]
fn counter_exhaustion_reserves_the_last_value_for_close_session() {
    let (mut i, mut r) = pair();
    i.set_next_counter_for_test(u32::MAX - 2);
    let mut out = Vec::new();
    assert_eq!(
        i.encode_next(t(0), &im_header(1), b"", &mut out),
        Ok(u32::MAX - 2)
    );
    out.clear();
    assert_eq!(
        i.encode_next(t(0), &im_header(1), b"", &mut out),
        Ok(u32::MAX - 1)
    );
    out.clear();
    assert_eq!(
        i.encode_next(t(0), &im_header(1), b"", &mut out),
        Err(SessionError::CounterExhausted)
    );
    assert!(out.is_empty());
    assert_eq!(i.encode_close_session(t(0), 9, &mut out), Ok(u32::MAX));
    let rx = r.receive(t(0), &Packet::decode(&out).unwrap()).unwrap();
    assert!(rx.message.payload_header.is(
        ProtocolId::SECURE_CHANNEL,
        SecureChannelOpcode::STATUS_REPORT.value()
    ));
    assert!(
        !rx.message.payload_header.needs_ack,
        "CloseSession is sent without R"
    );
    assert!(StatusReport::decode(&rx.message.payload)
        .unwrap()
        .is_close_session());
    out.clear();
    assert_eq!(
        i.encode_close_session(t(0), 9, &mut out),
        Err(SessionError::CounterExhausted)
    );
}

#[test]
fn lifecycle_flags() {
    let (mut i, mut r) = pair();
    // Peer active (it sent within the 4 s threshold): close waits for exchanges.
    let mut out = Vec::new();
    r.encode_next(t(0), &im_header(1), b"", &mut out).unwrap();
    i.receive(t(100), &Packet::decode(&out).unwrap()).unwrap();
    assert!(i.is_peer_active(t(4099)) && !i.is_peer_active(t(4100)));
    i.close(t(200), None);
    assert_eq!(i.lifecycle(), Lifecycle::ClosingAfterExchange);
    assert!(i.closing_after_exchange_finished() && i.send_close_message_when_closing());
    i.exchanges_finished();
    assert_eq!(i.lifecycle(), Lifecycle::Closed);
    assert_eq!(
        i.encode_next(t(0), &im_header(1), b"", &mut out),
        Err(SessionError::Closed)
    );

    // Idle peer: close at once.
    let (mut a, _) = pair();
    a.close(t(0), None);
    assert_eq!(a.lifecycle(), Lifecycle::Closed);
    assert!(a.send_close_message_when_closing());

    // destroy without send_close clears the flag.
    let (mut b, _) = pair();
    b.destroy(false, false);
    assert_eq!(b.lifecycle(), Lifecycle::Closed);
    assert!(!b.send_close_message_when_closing());
    let (mut c, _) = pair();
    c.destroy(true, true);
    assert_eq!(c.lifecycle(), Lifecycle::ClosingAfterExchange);
}

#[test]
fn subscriptions_flush_on_end_and_discard_on_destroy() {
    let (mut s, _) = pair();
    s.add_subscription(SubscriptionId(1));
    s.add_subscription(SubscriptionId(2));
    s.remove_subscription(SubscriptionId(1));
    s.remove_subscription(SubscriptionId(99));
    assert_eq!(s.number_of_active_subscriptions(), 1);
    let events: Vec<_> = core::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        events,
        [1, 2, 1].map(|count| SessionEvent::SubscriptionsChanged { count })
    );
    s.end(true, false);
    assert_eq!(
        s.poll_event(),
        Some(SessionEvent::SubscriptionsCleared {
            ids: vec![SubscriptionId(2)],
            flush: true
        })
    );
    assert_eq!(
        s.poll_event(),
        Some(SessionEvent::SubscriptionsChanged { count: 0 })
    );
    assert_eq!(s.poll_event(), None);

    let (mut d, _) = pair();
    d.add_subscription(SubscriptionId(7));
    let _ = d.poll_event();
    d.destroy(false, false);
    assert_eq!(
        d.poll_event(),
        Some(SessionEvent::SubscriptionsCleared {
            ids: vec![SubscriptionId(7)],
            flush: false
        })
    );
}

#[test]
fn fabric_association_and_debug_hides_keys() {
    let (mut s, _) = pair();
    assert_eq!(s.associated_fabric(), Err(SessionError::NoAssociatedFabric));
    assert_eq!(s.node_id(), 0);
    let f = Fabric {
        index: FabricIndex(1),
        node_id: 0x1234,
    };
    s.add_associated_fabric(f).unwrap();
    assert_eq!(
        s.add_associated_fabric(f),
        Err(SessionError::FabricAlreadySet)
    );
    assert_eq!(s.node_id(), 0x1234);
    assert!(s.is_pase(), "still PASE: the peer node id is unspecified");
    assert_eq!(s.name(), "secure/1");
    assert!(!format!("{s:?}").contains("key"));
    assert!(s.context() == &());
}

// ---- session manager ----

type Mgr = SessionManager<Addr, ()>;

fn mgr(max_secure: usize) -> Mgr {
    SessionManager::new(
        SessionManagerConfig {
            max_secure_sessions: max_secure,
            max_unsecured_sessions: 2,
        },
        &mut TestRng::new(3),
    )
}

fn handover(local: u16, peer: u16) -> PaseHandover {
    PaseHandover {
        local_session_id: local,
        peer_session_id: peer,
        ke: Zeroizing::new([0x42; 16]),
        is_initiator: false,
        peer_parameters: params::SessionParameters::default(),
    }
}

#[test]
fn session_ids_are_unique_nonzero_and_reused_only_after_release() {
    let mut m = mgr(4);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let id = m.allocate_session_id().unwrap();
        assert_ne!(id, 0);
        assert!(seen.insert(id), "id {id} handed out twice");
    }
    // Fill all ids: then allocation fails, and a released one comes back.
    let mut all = seen.clone();
    while let Ok(id) = m.allocate_session_id() {
        all.insert(id);
    }
    assert_eq!(all.len(), 65535);
    let some = *all.iter().next().unwrap();
    m.release_session_id(some);
    assert_eq!(m.allocate_session_id(), Ok(some));
    assert_eq!(m.allocate_session_id(), Err(SessionError::NoFreeSessionIds));
}

#[test]
fn released_ids_are_not_reused_immediately() {
    let mut m = mgr(4);
    let a = m.allocate_session_id().unwrap();
    m.release_session_id(a);
    let b = m.allocate_session_id().unwrap();
    assert_ne!(a, b);
}

#[test]
fn incoming_secure_packets_find_their_session() {
    let mut m = mgr(4);
    let mut rng = TestRng::new(4);
    let id = m.allocate_session_id().unwrap();
    let r = m
        .add_pase_session(t(0), Addr::Udp(1), handover(id, 77), (), &mut rng)
        .unwrap();
    assert!(m.secure(r).unwrap().mrp_enabled());
    assert_eq!(m.find_by_local_id(id), Some(r));
    // The commissioner's side of the same PASE session.
    let mut peer =
        SecureSession::create(t(0), params(77, id, &[0x42; 16], true), &mut rng).unwrap();
    let mut out = Vec::new();
    peer.encode_next(t(0), &im_header(3), b"read", &mut out)
        .unwrap();
    let inc = m.handle_datagram(t(1), &Addr::Udp(2), &out).unwrap();
    assert_eq!(inc.session, r);
    assert_eq!(inc.message.payload, b"read");
    assert!(!inc.duplicate);
    assert_eq!(
        m.peer(r),
        Some(&Addr::Udp(2)),
        "address follows the authenticated peer"
    );
    assert!(
        m.handle_datagram(t(1), &Addr::Udp(2), &out)
            .unwrap()
            .duplicate
    );

    // Reply goes to the peer's session id, and the peer can read it.
    let mut reply = Vec::new();
    let o = m
        .encode(
            t(2),
            r,
            &PayloadHeader::new(3, ProtocolId::INTERACTION_MODEL, 5),
            b"ok",
            &mut reply,
        )
        .unwrap();
    assert_eq!(o.dest, Addr::Udp(2));
    assert_eq!(
        peer.receive(t(3), &Packet::decode(&reply).unwrap())
            .unwrap()
            .message
            .payload,
        b"ok"
    );

    // Unknown session id, and a tampered packet.
    let mut other = out.clone();
    other[1] ^= 0xff;
    assert!(matches!(
        m.handle_datagram(t(1), &Addr::Udp(2), &other),
        Err(SessionError::UnknownSession(_))
    ));
    let mut bad = out.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        m.handle_datagram(t(1), &Addr::Udp(9), &bad),
        Err(SessionError::Mic)
    );
    assert_eq!(
        m.peer(r),
        Some(&Addr::Udp(2)),
        "forged packets do not move the peer"
    );
    // Over BLE, MRP is off.
    let id2 = m.allocate_session_id().unwrap();
    let b = m
        .add_pase_session(t(0), Addr::Ble(1), handover(id2, 78), (), &mut rng)
        .unwrap();
    assert!(!m.secure(b).unwrap().mrp_enabled());
    assert_eq!(
        m.add_pase_session(t(0), Addr::Ble(1), handover(id2, 79), (), &mut rng),
        Err(SessionError::SessionIdInUse(id2))
    );
}

#[test]
fn full_table_evicts_least_recently_active_non_commissioning_session() {
    let mut m = mgr(2);
    let mut rng = TestRng::new(4);
    let case = |local: u16, secret: &'static [u8]| SecureSessionParams {
        peer_node_id: 0x99,
        ..params(local, 1, secret, false)
    };
    let pase = m
        .add_pase_session(t(0), Addr::Udp(1), handover(10, 1), (), &mut rng)
        .unwrap();
    let a = m
        .add_secure_session(t(5), Addr::Udp(2), case(11, b"aaaa"), &mut rng)
        .unwrap();
    // The PASE session is older, but protected: the CASE session goes.
    let b = m
        .add_secure_session(t(10), Addr::Udp(3), case(12, b"bbbb"), &mut rng)
        .unwrap();
    assert!(m.secure(a).is_none() && m.secure(pase).is_some() && m.secure(b).is_some());
    assert_eq!(
        m.poll_event(),
        Some(SessionManagerEvent::Closed {
            session: a,
            local_session_id: 11,
            reason: CloseReason::Evicted
        })
    );
    assert_eq!(m.find_by_local_id(11), None);
    m.set_commissioning(b, true);
    assert_eq!(
        m.add_secure_session(t(20), Addr::Udp(4), case(13, b"cccc"), &mut rng),
        Err(SessionError::TableFull)
    );
    m.set_commissioning(b, false);
    let c = m
        .add_secure_session(t(20), Addr::Udp(4), case(13, b"cccc"), &mut rng)
        .unwrap();
    assert!(m.secure(b).is_none() && m.secure(c).is_some());
}

#[test]
fn lru_uses_last_activity() {
    let mut m = mgr(2);
    let mut rng = TestRng::new(4);
    let case = |local: u16| SecureSessionParams {
        peer_node_id: 0x99,
        ..params(local, 1, b"k", false)
    };
    let a = m
        .add_secure_session(t(0), Addr::Udp(1), case(1), &mut rng)
        .unwrap();
    let b = m
        .add_secure_session(t(10), Addr::Udp(2), case(2), &mut rng)
        .unwrap();
    let mut out = Vec::new();
    m.encode(t(20), a, &im_header(1), b"", &mut out).unwrap(); // a is now the most recent
    let _c = m
        .add_secure_session(t(30), Addr::Udp(3), case(3), &mut rng)
        .unwrap();
    assert!(m.secure(a).is_some() && m.secure(b).is_none());
}

fn unsecured_frame(counter: u32, src: Option<u64>, dst: Option<u64>) -> Vec<u8> {
    let m = Message {
        packet_header: PacketHeader {
            source_node_id: src,
            destination: dst.map_or(
                crate::message::Destination::None,
                crate::message::Destination::Node,
            ),
            ..PacketHeader::unsecured(counter)
        },
        payload_header: PayloadHeader {
            initiator: true,
            ..PayloadHeader::new(1, ProtocolId::SECURE_CHANNEL, 0x20)
        },
        payload: vec![1, 2, 3],
    };
    let mut out = Vec::new();
    m.encode_plain(&mut out);
    out
}

#[test]
fn unsecured_sessions_follow_the_ephemeral_node_id() {
    let mut m = mgr(2);
    let a = Addr::Udp(5);
    let inc = m
        .handle_datagram(t(0), &a, &unsecured_frame(1000, Some(0xE1), None))
        .unwrap();
    assert!(!inc.duplicate);
    assert_eq!(inc.message.payload, [1, 2, 3]);
    let s = inc.session;
    assert!(!m.session(s).unwrap().is_secure());
    assert!(
        m.handle_datagram(t(1), &a, &unsecured_frame(1000, Some(0xE1), None))
            .unwrap()
            .duplicate
    );
    // Behind the window: the peer restarted; accepted.
    assert!(
        !m.handle_datagram(t(2), &a, &unsecured_frame(5, Some(0xE1), None))
            .unwrap()
            .duplicate
    );
    // Same node id from another address is another session.
    let other = m
        .handle_datagram(t(3), &Addr::Udp(6), &unsecured_frame(1, Some(0xE1), None))
        .unwrap();
    assert_ne!(other.session, s);

    // Our reply names the initiator as destination and uses the global counter.
    let mut out = Vec::new();
    let o1 = m
        .encode(
            t(4),
            s,
            &PayloadHeader::new(1, ProtocolId::SECURE_CHANNEL, 0x21),
            b"",
            &mut out,
        )
        .unwrap();
    let p = Packet::decode(&out).unwrap();
    assert_eq!(
        p.header.destination,
        crate::message::Destination::Node(0xE1)
    );
    assert_eq!(p.header.source_node_id, None);
    out.clear();
    let o2 = m
        .encode(
            t(4),
            other.session,
            &PayloadHeader::new(1, ProtocolId::SECURE_CHANNEL, 0x21),
            b"",
            &mut out,
        )
        .unwrap();
    assert_eq!(o2.counter, o1.counter.wrapping_add(1), "one global counter");
    assert_eq!(o2.dest, Addr::Udp(6));

    // Bad addressing: both ids, neither, or a reply to an initiator session we lack.
    for f in [
        unsecured_frame(1, Some(1), Some(2)),
        unsecured_frame(1, None, None),
        unsecured_frame(1, None, Some(0x77)),
    ] {
        assert_eq!(
            m.handle_datagram(t(5), &a, &f),
            Err(SessionError::BadUnsecuredAddressing)
        );
    }
    // Table of 2 unsecured sessions: a third evicts the least recently active.
    let third = m
        .handle_datagram(t(6), &a, &unsecured_frame(9, Some(0xE3), None))
        .unwrap();
    assert!(m.session(third.session).is_some());
    assert_eq!(m.len(), 2);
}

#[test]
fn unsecured_initiator_round_trip() {
    let mut dev = mgr(2);
    let mut ctl = mgr(2);
    let mut rng = TestRng::new(8);
    let s = ctl.add_unsecured_initiator(t(0), Addr::Udp(1), &mut rng);
    let mut out = Vec::new();
    ctl.encode(
        t(0),
        s,
        &PayloadHeader::new(4, ProtocolId::SECURE_CHANNEL, 0x20),
        b"req",
        &mut out,
    )
    .unwrap();
    let inc = dev.handle_datagram(t(1), &Addr::Udp(2), &out).unwrap();
    let mut reply = Vec::new();
    dev.encode(
        t(1),
        inc.session,
        &PayloadHeader::new(4, ProtocolId::SECURE_CHANNEL, 0x21),
        b"rsp",
        &mut reply,
    )
    .unwrap();
    let back = ctl.handle_datagram(t(2), &Addr::Udp(1), &reply).unwrap();
    assert_eq!(back.session, s);
    assert_eq!(back.message.payload, b"rsp");
}

#[test]
fn exhausted_counter_closes_the_session_with_close_session() {
    let mut m = mgr(2);
    let mut rng = TestRng::new(4);
    let r = m
        .add_pase_session(t(0), Addr::Udp(1), handover(5, 6), (), &mut rng)
        .unwrap();
    let mut peer = SecureSession::create(t(0), params(6, 5, &[0x42; 16], true), &mut rng).unwrap();
    m.secure_mut(r)
        .unwrap()
        .set_next_counter_for_test(u32::MAX - 1);
    let mut out = Vec::new();
    m.encode(t(0), r, &im_header(1), b"last", &mut out).unwrap();
    assert_eq!(m.reap(), vec![r]);
    out.clear();
    assert_eq!(m.finish_close(t(0), r, 0x55, &mut out), Some(Addr::Udp(1)));
    let rx = peer.receive(t(0), &Packet::decode(&out).unwrap()).unwrap();
    assert_eq!(rx.message.packet_header.message_counter, u32::MAX);
    let report = StatusReport::decode(&rx.message.payload).unwrap();
    assert!(report.is_close_session());
    assert_eq!(report.general_code, GeneralCode::SUCCESS);
    assert!(m.secure(r).is_none());
    assert_eq!(
        m.poll_event(),
        Some(SessionManagerEvent::Closed {
            session: r,
            local_session_id: 5,
            reason: CloseReason::CounterExhausted
        })
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Random bytes never panic and never authenticate; a valid packet with any single
        /// byte changed is rejected (the header is the AAD, the rest is ciphertext and MIC), and
        /// the original still goes through afterwards.
        #[test]
        fn forged_and_mutated_packets_are_rejected(
            junk in proptest::collection::vec(any::<u8>(), 0..80),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            pos in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let (mut i, mut r) = pair();
            if let Ok(p) = Packet::decode(&junk) {
                prop_assert!(r.receive(t(0), &p).is_err());
            }
            let mut out = Vec::new();
            i.encode_next(t(0), &im_header(1), &payload, &mut out).unwrap();
            let mut bad = out.clone();
            let k = pos.index(bad.len());
            bad[k] ^= flip;
            if let Ok(p) = Packet::decode(&bad) {
                prop_assert!(r.receive(t(1), &p).is_err(), "byte {} changed, accepted", k);
            }
            let rx = r.receive(t(2), &Packet::decode(&out).unwrap()).unwrap();
            prop_assert!(!rx.duplicate);
            prop_assert_eq!(rx.message.payload, payload);
        }
    }
}
