//! Central engine <-> peripheral engine over the simulated link: handshake in both subscription
//! orders, SDUs of random sizes over every window 1..=6 and fragment size 20..=244, sequence
//! wrap-around, several links at once, and a property test that any SDU sequence arrives intact
//! and in order.

mod btp_sim;

use btp_sim::{pattern, Pair, SubscribeOrder};
use matter_ble::btp::{BtpConfig, BtpEvent, FrameKind};
use matter_ble::rng::{Rng, TestRng};
use matter_ble::time::Duration;
use proptest::prelude::*;

fn config(window: u8, max_sdu: usize) -> BtpConfig {
    BtpConfig {
        max_window: window,
        max_sdu_size: max_sdu,
        ..BtpConfig::default()
    }
}

/// Sends `central` SDUs up and `peripheral` SDUs down and checks both arrive intact, in order,
/// with no close and no segment over the fragment size.
fn exchange(pair: &mut Pair, central: Vec<Vec<u8>>, peripheral: Vec<Vec<u8>>, limit: Duration) {
    pair.establish();
    let (up, down) = (central.len(), peripheral.len());
    for s in &central {
        pair.central_send(s.clone());
    }
    for s in &peripheral {
        pair.peripheral_send(s.clone());
    }
    let ok = pair.drive_until(limit, |p| {
        p.received_by_peripheral().len() >= up && p.received_by_central().len() >= down
    });
    assert!(
        ok,
        "transfer stalled at t={:?}: peripheral got {}/{up}, central got {}/{down}; events {:?} / {:?}",
        pair.now,
        pair.received_by_peripheral().len(),
        pair.received_by_central().len(),
        pair.central_closed(),
        pair.peripheral_closed(),
    );
    assert_eq!(pair.received_by_peripheral(), central);
    assert_eq!(pair.received_by_central(), peripheral);
    assert_eq!(pair.central_closed(), None);
    assert_eq!(pair.peripheral_closed(), None);
    let fragment = usize::from(pair.central.fragment_size().unwrap());
    for (_, v) in pair.writes.iter().chain(&pair.indications) {
        assert!(v.len() <= fragment, "segment of {} > {fragment}", v.len());
    }
}

#[test]
fn chip_order_handshake_then_one_sdu_each_way() {
    let mut pair = Pair::new(BtpConfig::default(), None, Some(247));
    pair.establish();
    assert_eq!(pair.central.fragment_size(), Some(244));
    assert_eq!(pair.central.window(), Some(6));
    assert!(matches!(
        pair.central_events.first(),
        Some(BtpEvent::Established {
            version: 4,
            fragment_size: 244,
            window: 6
        })
    ));
    // The central's first segment is seq 0 and acks the handshake response (seq 0).
    pair.central_send(b"hello".to_vec());
    assert!(
        pair.drive_until(Duration::from_secs(1), |p| p.received_by_peripheral().len()
            == 1)
    );
    // The answer goes out before the send-ack timer: the ack rides on it.
    pair.peripheral_send(b"world".to_vec());
    assert!(
        pair.drive_until(Duration::from_secs(1), |p| p.received_by_central().len()
            == 1)
    );
    let first_data = pair
        .writes
        .iter()
        .find(|(k, _)| *k == FrameKind::Data)
        .unwrap();
    assert_eq!(first_data.1, b"\x0d\x00\x00\x05\x00hello");
    let peripheral_data = pair
        .indications
        .iter()
        .find(|(k, _)| *k == FrameKind::Data)
        .unwrap();
    // The peripheral's first data segment is seq 1 (the response was 0) and acks the central's 0.
    assert_eq!(peripheral_data.1, b"\x0d\x00\x01\x05\x00world");
}

#[test]
fn subscribe_before_request_also_works() {
    let mut pair = Pair::new(BtpConfig::default(), Some(100), None);
    pair.subscribe_order = SubscribeOrder::BeforeRequest;
    exchange(
        &mut pair,
        vec![pattern(1, 300)],
        vec![pattern(2, 400)],
        Duration::from_secs(10),
    );
    assert_eq!(pair.peripheral.fragment_size(), Some(97));
}

#[test]
fn every_window_and_fragment_size_with_random_sizes() {
    let mut rng = TestRng::new(0x5eed);
    let max_sdu = 1583;
    for window in 1..=6u8 {
        for fragment in [20u16, 21, 23, 50, 97, 128, 185, 200, 243, 244] {
            let mut sizes = || 1 + (rng.next_u32() as usize) % max_sdu;
            let up: Vec<_> = (0..4).map(|n| pattern(n, sizes())).collect();
            let down: Vec<_> = (0..4).map(|n| pattern(n + 100, sizes())).collect();
            let mut pair = Pair::with_fragment(config(window, max_sdu), fragment);
            exchange(&mut pair, up, down, Duration::from_secs(600));
            assert_eq!(pair.central.window(), Some(window));
            assert_eq!(pair.central.fragment_size(), Some(fragment));
        }
    }
}

#[test]
fn boundary_sizes_one_byte_and_maximum() {
    for window in [1u8, 2, 6] {
        let mut pair = Pair::with_fragment(config(window, 1583), 20);
        exchange(
            &mut pair,
            vec![vec![0x42], pattern(1, 1583), vec![7]],
            vec![pattern(2, 1583), vec![0x24]],
            Duration::from_secs(600),
        );
    }
}

#[test]
fn sequence_numbers_wrap_more_than_once() {
    // 65535 bytes at fragment 20 is about 3640 segments: the 8-bit numbers wrap 14 times.
    let mut pair = Pair::with_fragment(config(6, 65535), 20);
    let big = pattern(9, 65535);
    exchange(
        &mut pair,
        vec![big.clone(), vec![1, 2, 3]],
        vec![big],
        Duration::from_secs(3600),
    );
    assert!(pair.writes.len() > 3 * 256);
    assert!(pair.indications.len() > 3 * 256);
}

#[test]
fn goodput_of_a_large_sdu_at_full_fragment_size() {
    let mut pair = Pair::with_fragment(config(6, 65535), 244);
    pair.establish();
    let before = pair.gatt_bytes();
    let big = pattern(3, 65535);
    pair.central_send(big.clone());
    assert!(pair.drive_until(Duration::from_secs(600), |p| !p
        .received_by_peripheral()
        .is_empty()));
    assert_eq!(pair.received_by_peripheral(), [big]);
    let ratio = 65535.0 / (pair.gatt_bytes() - before) as f64;
    assert!(ratio >= 0.98, "goodput {ratio}");
}

#[test]
fn several_links_run_independently() {
    let mut pairs: Vec<Pair> = (0..3)
        .map(|i| Pair::with_fragment(config(3 + i as u8, 1583), 20 + 50 * i))
        .collect();
    for p in &mut pairs {
        p.establish();
    }
    for (i, p) in pairs.iter_mut().enumerate() {
        p.central_send(pattern(i, 500 + i));
        p.peripheral_send(pattern(i + 10, 700 - i));
    }
    // Interleave their steps: no engine shares anything with another.
    for _ in 0..10_000 {
        for p in &mut pairs {
            p.step();
        }
        if pairs
            .iter()
            .all(|p| p.received_by_peripheral().len() == 1 && p.received_by_central().len() == 1)
        {
            break;
        }
    }
    for (i, p) in pairs.iter().enumerate() {
        assert_eq!(p.received_by_peripheral(), [pattern(i, 500 + i)]);
        assert_eq!(p.received_by_central(), [pattern(i + 10, 700 - i)]);
    }
}

#[test]
fn idle_link_keeps_alive_with_acks_only() {
    // Acks double as keep-alive: an idle link trades standalone acks every 2.5 s and never hits
    // the 15 s ack timeout.
    let mut pair = Pair::new(BtpConfig::default(), None, None);
    pair.establish();
    pair.drive_until(Duration::from_secs(120), |_| false);
    assert_eq!(pair.central_closed(), None);
    assert_eq!(pair.peripheral_closed(), None);
    let acks = pair
        .writes
        .iter()
        .chain(&pair.indications)
        .filter(|(k, _)| *k == FrameKind::StandaloneAck)
        .count();
    // About one every 2.5 s per direction pair: not a storm, not silence.
    assert!((30..=60).contains(&acks), "{acks} standalone acks in 120 s");
}

#[test]
fn small_windows_do_not_trade_acks_without_pause() {
    for window in [1u8, 2] {
        let mut pair = Pair::with_fragment(config(window, 1583), 20);
        pair.establish();
        pair.central_send(pattern(0, 100));
        pair.drive_until(Duration::from_secs(30), |_| false);
        assert_eq!(pair.received_by_peripheral(), [pattern(0, 100)]);
        let frames = pair.writes.len() + pair.indications.len();
        assert!(frames < 60, "window {window}: {frames} frames in 30 s");
        assert_eq!(pair.central_closed(), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of SDUs, sent either way, arrives intact and in order.
    #[test]
    fn any_sdu_sequence_arrives_intact_and_in_order(
        window in 1u8..=6,
        fragment in 20u16..=244,
        sdus in proptest::collection::vec((any::<bool>(), 1usize..=1583, any::<u8>()), 1..12),
    ) {
        let mut up = Vec::new();
        let mut down = Vec::new();
        for (i, (to_peripheral, len, salt)) in sdus.into_iter().enumerate() {
            let sdu = pattern(i ^ usize::from(salt), len);
            if to_peripheral { up.push(sdu) } else { down.push(sdu) }
        }
        let mut pair = Pair::with_fragment(config(window, 1583), fragment);
        exchange(&mut pair, up, down, Duration::from_secs(3600));
    }
}
