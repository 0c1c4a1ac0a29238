//! Golden bytes for BTP frames, written from the layouts in Matter 1.4 §4.19.3–4.19.4 and checked
//! against the CHIP SDK (`src/ble/BleLayer.cpp` encoders, `src/ble/tests/TestBtpEngine.cpp`
//! vectors), driven through the real engines.

use hex_literal::hex;
use matter_ble::btp::wire::{
    HandshakeRequest, HandshakeResponse, HeaderFlags, SegmentHeader, SupportedVersions,
};
use matter_ble::btp::{BtpConfig, BtpEngine, BtpEvent, FrameKind};
use matter_ble::time::{Duration, Instant};

/// The request the CHIP SDK's Linux central writes: only V4 (low nibble of the first version
/// byte), ATT MTU 0 ("unknown"), window 6 (`BLE_MAX_RECEIVE_WINDOW_SIZE`).
static CHIP_REQUEST: [u8; 9] = hex!("65 6c 04 00 00 00 00 00 06");
/// Our response to it when the GATT layer reports ATT MTU 247: V4, fragment 244, window 6.
static RESPONSE_244: [u8; 6] = hex!("65 6c 04 f4 00 06");

#[test]
fn handshake_request_parse_and_emit() {
    let req = HandshakeRequest::parse(&CHIP_REQUEST).unwrap();
    assert_eq!(req.versions.iter().collect::<Vec<_>>(), [4]);
    assert_eq!(req.att_mtu, 0);
    assert_eq!(req.window, 6);
    let mut out = Vec::new();
    HandshakeRequest {
        versions: SupportedVersions::from_list(&[4]),
        att_mtu: 0,
        window: 6,
    }
    .emit(&mut out);
    assert_eq!(out, CHIP_REQUEST);
    // A request listing 4, 3, 2: slot 0 in the low nibble of byte 2, slot 1 in its high nibble.
    let mut out = Vec::new();
    HandshakeRequest {
        versions: SupportedVersions::from_list(&[4, 3, 2]),
        att_mtu: 0x00f7,
        window: 5,
    }
    .emit(&mut out);
    assert_eq!(out, hex!("65 6c 34 02 00 00 f7 00 05"));
}

#[test]
fn handshake_response_parse_and_emit() {
    let resp = HandshakeResponse::parse(&RESPONSE_244).unwrap();
    assert_eq!(
        resp,
        HandshakeResponse {
            version: 4,
            fragment_size: 244,
            window: 6
        }
    );
    let mut out = Vec::new();
    resp.emit(&mut out);
    assert_eq!(out, RESPONSE_244);
    // The reserved high nibble of the version byte is ignored.
    assert_eq!(
        HandshakeResponse::parse(&hex!("65 6c f4 14 00 03"))
            .unwrap()
            .version,
        4
    );
}

#[test]
fn segment_header_parse_and_emit() {
    // A|B|E, ack 0x10, seq 0x11, length 3, payload.
    static FRAME: [u8; 8] = hex!("0d 10 11 03 00 aa bb cc");
    let (h, payload) = SegmentHeader::parse(&FRAME).unwrap();
    assert_eq!(h.flags, HeaderFlags(0x0d));
    assert_eq!(h.ack, Some(0x10));
    assert_eq!(h.seq, 0x11);
    assert_eq!(h.msg_len, Some(3));
    assert_eq!(payload, hex!("aa bb cc"));
    assert_eq!(h.buffer_len(), 5);
    let mut out = Vec::new();
    SegmentHeader::new(HeaderFlags::ENDING, Some(0x10), 0x11, Some(3)).emit(&mut out);
    out.extend_from_slice(payload);
    assert_eq!(out, FRAME);
    // Standalone ack: flags 08, ack, seq.
    let (h, payload) = SegmentHeader::parse(&hex!("08 05 06")).unwrap();
    assert_eq!((h.ack, h.seq, payload.len()), (Some(5), 6, 0));
}

fn drain(engine: &mut BtpEngine) -> Vec<BtpEvent> {
    std::iter::from_fn(|| engine.poll_event()).collect()
}

#[test]
fn peripheral_answers_chip_central_only_after_subscription() {
    let t0 = Instant::ZERO;
    let mut p = BtpEngine::peripheral(BtpConfig::default(), Some(247));
    let mut buf = Vec::new();
    // The CHIP central writes the request before subscribing: nothing may go out yet.
    p.handle_segment(t0, &CHIP_REQUEST);
    assert_eq!(p.poll_transmit(t0, &mut buf), None);
    assert!(drain(&mut p).is_empty());
    p.handle_subscribed(t0);
    let t = p.poll_transmit(t0, &mut buf).unwrap();
    assert_eq!(t.kind, FrameKind::HandshakeResponse);
    assert_eq!(buf, RESPONSE_244);
    assert_eq!(
        drain(&mut p),
        [BtpEvent::Established {
            version: 4,
            fragment_size: 244,
            window: 6
        }]
    );
    // One indication in flight: nothing more until it is confirmed.
    p.send_sdu(t0, b"hi".to_vec()).unwrap();
    assert_eq!(p.poll_transmit(t0, &mut buf), None);
    p.handle_indication_done(t0);
    // First data segment is seq 1: the response was seq 0. No ack yet (nothing received).
    assert!(p.poll_transmit(t0, &mut buf).is_some());
    assert_eq!(buf, hex!("05 01 02 00 68 69"));
    p.handle_indication_done(t0);
    // The central's first write: A|B|E, acks our 1, seq 0, 3 bytes.
    p.handle_segment(t0, &hex!("0d 01 00 03 00 01 02 03"));
    assert_eq!(drain(&mut p), [BtpEvent::SduReceived(vec![1, 2, 3])]);
    // The ack for the central's seq 0 waits for the 2.5 s send-ack timer.
    assert_eq!(p.poll_transmit(t0, &mut buf), None);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(2500)));
    let t1 = t0 + Duration::from_millis(2500);
    p.handle_timeout(t1);
    let t = p.poll_transmit(t1, &mut buf).unwrap();
    assert_eq!(t.kind, FrameKind::StandaloneAck);
    assert_eq!(buf, hex!("08 00 02"));
}

#[test]
fn central_writes_chip_request_and_accepts_chip_sdk_segments() {
    let t0 = Instant::ZERO;
    let mut c = BtpEngine::central(BtpConfig::default(), None);
    let mut buf = Vec::new();
    let t = c.poll_transmit(t0, &mut buf).unwrap();
    assert_eq!(t.kind, FrameKind::HandshakeRequest);
    assert_eq!(buf, CHIP_REQUEST);
    c.handle_indication_done(t0);
    c.handle_subscribed(t0);
    // Response with fragment 20: as with an unknown MTU.
    c.handle_segment(t0, &hex!("65 6c 04 14 00 06"));
    assert_eq!(
        drain(&mut c),
        [BtpEvent::Established {
            version: 4,
            fragment_size: 20,
            window: 6
        }]
    );
    // Vectors from the CHIP SDK's TestBtpEngine.cpp (an engine initialised as central: the next
    // expected sequence number is 1). `04` alone (E without C) is accepted, as there.
    c.handle_segment(t0, &hex!("05 01 01 00 ff"));
    c.handle_segment(t0, &hex!("01 02 02 00 fe"));
    c.handle_segment(t0, &hex!("04 03 ff"));
    c.handle_segment(t0, &hex!("01 04 03 00 fd"));
    c.handle_segment(t0, &hex!("02 05 fe"));
    // Our window (6) is down to one free slot after six unacked segments: ack at once.
    let t = c.poll_transmit(t0, &mut buf).unwrap();
    assert_eq!(t.kind, FrameKind::StandaloneAck);
    assert_eq!(buf, hex!("08 05 00"));
    c.handle_indication_done(t0);
    c.handle_segment(t0, &hex!("04 06 ff"));
    assert_eq!(
        drain(&mut c),
        [
            BtpEvent::SduReceived(vec![0xff]),
            BtpEvent::SduReceived(vec![0xfe, 0xff]),
            BtpEvent::SduReceived(vec![0xfd, 0xfe, 0xff]),
        ]
    );
}

#[test]
fn central_segments_a_30_byte_sdu_like_the_chip_sdk() {
    // TestBtpEngine.cpp `HandleCharacteristicSendTwoPacket`: 30 bytes at fragment 20 are a
    // 20-byte segment (4-byte header, 16 payload) and a 16-byte one (2-byte header, 14 payload),
    // when no ack rides along.
    let t0 = Instant::ZERO;
    let mut c = BtpEngine::central(BtpConfig::default(), None);
    let mut buf = Vec::new();
    let _ = c.poll_transmit(t0, &mut buf).unwrap();
    c.handle_indication_done(t0);
    c.handle_segment(t0, &hex!("65 6c 04 14 00 06"));
    // Let the send-ack timer ack the response first, so the data carries no ack.
    let t1 = t0 + Duration::from_millis(2500);
    c.handle_timeout(t1);
    let _ = c.poll_transmit(t1, &mut buf).unwrap();
    assert_eq!(buf, hex!("08 00 00"));
    c.handle_indication_done(t1);
    let sdu: Vec<u8> = (0..30).collect();
    c.send_sdu(t1, sdu.clone()).unwrap();
    let _ = c.poll_transmit(t1, &mut buf).unwrap();
    assert_eq!(buf.len(), 20);
    assert_eq!(buf[..4], hex!("01 01 1e 00"));
    assert_eq!(buf[4..], sdu[..16]);
    c.handle_indication_done(t1);
    let _ = c.poll_transmit(t1, &mut buf).unwrap();
    assert_eq!(buf.len(), 16);
    assert_eq!(buf[..2], hex!("06 02"));
    assert_eq!(buf[2..], sdu[16..]);
}

#[test]
fn last_window_slot_only_for_a_segment_that_carries_an_ack() {
    // The CHIP SDK's BTP_WINDOW_NO_ACK_SEND_THRESHOLD: with one free slot in the peer's window we
    // send only if an ack rides along, so two senders can never fill each other's windows with
    // data neither can acknowledge.
    let t0 = Instant::ZERO;
    let config = BtpConfig {
        max_window: 2,
        ..BtpConfig::default()
    };
    let mut c = BtpEngine::central(config, None);
    let mut buf = Vec::new();
    let _ = c.poll_transmit(t0, &mut buf).unwrap();
    c.handle_indication_done(t0);
    c.handle_segment(t0, &hex!("65 6c 04 14 00 02"));
    let t1 = t0 + Duration::from_millis(2500);
    c.handle_timeout(t1);
    let _ = c.poll_transmit(t1, &mut buf).unwrap();
    assert_eq!(buf, hex!("08 00 00"));
    c.handle_indication_done(t1);
    // Our standalone ack holds one of the peer's two slots and we owe no ack: data must wait.
    c.send_sdu(t1, vec![0xaa]).unwrap();
    assert_eq!(c.poll_transmit(t1, &mut buf), None);
    // The peripheral sends data (seq 1): now an ack can ride on ours, in the last slot.
    c.handle_segment(t1, &hex!("05 01 01 00 ff"));
    let t = c.poll_transmit(t1, &mut buf).unwrap();
    assert_eq!(t.kind, FrameKind::Data);
    assert_eq!(buf, hex!("0d 01 01 01 00 aa"));
    c.handle_indication_done(t1);
    // Window full (two unacknowledged segments): nothing at all may go out.
    c.send_sdu(t1, vec![0xbb]).unwrap();
    c.handle_segment(t1, &hex!("05 02 01 00 ee"));
    assert_eq!(c.poll_transmit(t1, &mut buf), None);
}
