//! BTP timers and teardown under simulated time: ack-received timeout, send-ack timer, the
//! immediate ack when the window is about to close, handshake timeout, idle timeout, graceful
//! close, and unsubscribe/disconnect mid-message with lost data reported and no timer left.

mod btp_sim;

use btp_sim::{pattern, Pair, SubscribeOrder};
use matter_ble::btp::{BtpConfig, BtpEngine, BtpError, BtpEvent, BtpState, FrameKind};
use matter_ble::time::{Duration, Instant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn ack_timeout_closes_a_dead_link() {
    let mut pair = Pair::with_fragment(BtpConfig::default(), 100);
    pair.establish();
    pair.drive_until(secs(1), |_| false);
    pair.lose_everything = true;
    let lost_at = pair.now;
    pair.central_send(pattern(0, 1000));
    assert!(pair.drive_until(secs(60), |p| p.central_closed().is_some()));
    assert_eq!(pair.central_closed(), Some(BtpError::AckTimeout));
    // 15 s after the first unacknowledged segment, not later.
    let waited = pair.now - lost_at;
    assert!(waited >= secs(15) && waited <= secs(16), "{waited:?}");
    assert!(pair.central_events.iter().any(|e| matches!(
        e,
        BtpEvent::DataLost {
            outbound_sdus: 1,
            ..
        }
    )));
    assert_eq!(pair.central.poll_timeout(), None);
    // The peripheral's own keep-alive ack also goes unanswered: it closes too.
    assert!(pair.drive_until(secs(60), |p| p.peripheral_closed().is_some()));
    assert_eq!(pair.peripheral_closed(), Some(BtpError::AckTimeout));
    assert_eq!(pair.peripheral.poll_timeout(), None);
}

#[test]
fn send_ack_timer_sends_a_standalone_ack_after_2_5_s() {
    let mut pair = Pair::with_fragment(BtpConfig::default(), 244);
    pair.establish();
    // Let the handshake's own acks settle.
    pair.drive_until(secs(10), |_| false);
    let start = pair.now;
    let before = pair.indications.len();
    pair.central_send(b"one segment".to_vec());
    assert!(pair.drive_until(secs(5), |p| p.indications.len() > before));
    let (kind, bytes) = pair.indications.last().unwrap().clone();
    assert_eq!(kind, FrameKind::StandaloneAck);
    assert_eq!(bytes.len(), 3);
    assert_eq!(bytes[0], 0x08);
    let waited = pair.now - start;
    // Arrival after one latency, then the 2.5 s timer.
    assert!(
        waited >= Duration::from_millis(2500) && waited <= Duration::from_millis(2600),
        "{waited:?}"
    );
}

#[test]
fn ack_goes_out_at_once_when_our_window_is_about_to_close() {
    // Window 6: after 5 unacknowledged data segments only one slot is left, so the receiver acks
    // immediately instead of after 2.5 s, and a bulk transfer never waits for the timer.
    let mut pair = Pair::with_fragment(BtpConfig::default(), 20);
    pair.establish();
    pair.drive_until(secs(10), |_| false);
    let (first_write, first_ack) = (pair.writes.len(), pair.indications.len());
    pair.central_send(pattern(1, 1500));
    assert!(pair.drive_until(secs(60), |p| !p.received_by_peripheral().is_empty()));
    // Each write takes one GATT round trip (2 x 15 ms); no gap between writes is longer.
    let times = &pair.write_times[first_write..];
    let longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(longest <= Duration::from_millis(30), "{longest:?}");
    assert!(times.len() > 80);
    // The peripheral acked about every fifth segment, each one a standalone ack.
    let acks = pair.indications[first_ack..]
        .iter()
        .filter(|(k, _)| *k == FrameKind::StandaloneAck)
        .count();
    assert!(
        (times.len() / 6..=times.len() / 4).contains(&acks),
        "{acks}"
    );
}

#[test]
fn handshake_timeout_without_subscription() {
    let mut pair = Pair::new(BtpConfig::default(), None, None);
    pair.subscribe_order = SubscribeOrder::Never;
    assert!(
        pair.drive_until(secs(60), |p| p.peripheral_closed().is_some()
            && p.central_closed().is_some())
    );
    assert_eq!(pair.peripheral_closed(), Some(BtpError::HandshakeTimeout));
    assert_eq!(pair.central_closed(), Some(BtpError::HandshakeTimeout));
    // 15 s from the request (written at 0, arriving after one latency).
    assert!(pair.now <= Instant::ZERO + secs(16));
    assert_eq!(pair.peripheral.poll_timeout(), None);
    assert_eq!(pair.central.poll_timeout(), None);
}

#[test]
fn handshake_timeout_is_injectable_and_starts_at_first_event() {
    let config = BtpConfig {
        handshake_timeout: secs(3),
        ..BtpConfig::default()
    };
    let mut p = BtpEngine::peripheral(config, None);
    // No GATT event yet: no timer (the shell owns the BLE connection's own supervision).
    assert_eq!(p.poll_timeout(), None);
    let t = Instant::from_millis(500);
    p.handle_subscribed(t);
    assert_eq!(p.poll_timeout(), Some(t + secs(3)));
    p.handle_timeout(t + Duration::from_millis(2999));
    assert_eq!(p.state(), BtpState::Handshaking);
    p.handle_timeout(t + secs(3));
    assert_eq!(
        p.poll_event(),
        Some(BtpEvent::Closed {
            reason: BtpError::HandshakeTimeout
        })
    );
}

#[test]
fn idle_timeout_when_configured() {
    let config = BtpConfig {
        idle_timeout: Some(secs(30)),
        ..BtpConfig::default()
    };
    let mut pair = Pair::new(config, None, None);
    pair.establish();
    pair.central_send(vec![1; 10]);
    assert!(pair.drive_until(secs(5), |p| p.received_by_peripheral().len() == 1));
    let last_sdu = pair.now;
    assert!(pair.drive_until(secs(120), |p| p.central_closed().is_some()));
    assert_eq!(pair.central_closed(), Some(BtpError::IdleTimeout));
    let idle = pair.now - last_sdu;
    assert!(idle >= secs(29) && idle <= secs(31), "{idle:?}");
}

#[test]
fn unsubscribe_mid_message_reports_lost_data_and_leaves_no_timer() {
    let mut pair = Pair::with_fragment(BtpConfig::default(), 20);
    pair.establish();
    pair.peripheral_send(pattern(1, 1000));
    pair.peripheral_send(pattern(2, 10));
    pair.central_send(pattern(3, 1000));
    // Part of the way into the transfers.
    assert!(pair.drive_until(secs(10), |p| p.indications.len() > 10
        && p.writes.len() > 10));
    assert!(pair.received_by_peripheral().is_empty());
    let now = pair.now;
    pair.peripheral.handle_unsubscribed(now);
    pair.flush();
    let events = &pair.peripheral_events;
    let lost = events.iter().find_map(|e| match e {
        BtpEvent::DataLost {
            outbound_sdus,
            inbound_bytes,
        } => Some((*outbound_sdus, *inbound_bytes)),
        _ => None,
    });
    let (outbound, inbound) = lost.expect("DataLost reported");
    assert_eq!(outbound, 2);
    assert!(inbound > 0 && inbound < 1000, "{inbound}");
    assert_eq!(
        events.last(),
        Some(&BtpEvent::Closed {
            reason: BtpError::Unsubscribed
        })
    );
    assert_eq!(pair.peripheral.poll_timeout(), None);
    assert_eq!(pair.peripheral.state(), BtpState::Closed);
    let mut buf = Vec::new();
    assert_eq!(pair.peripheral.poll_transmit(now, &mut buf), None);
    // The central sees its link go too.
    pair.central.handle_disconnected(now);
    pair.flush();
    assert_eq!(pair.central_closed(), Some(BtpError::Disconnected));
    assert_eq!(pair.central.poll_timeout(), None);
}

#[test]
fn graceful_close_waits_for_acks() {
    let mut pair = Pair::with_fragment(BtpConfig::default(), 20);
    pair.establish();
    pair.central_send(pattern(1, 500));
    pair.flush();
    let now = pair.now;
    pair.central.close(now);
    assert_eq!(pair.central.state(), BtpState::Closing);
    assert_eq!(
        pair.central.send_sdu(now, vec![1]),
        Err(matter_ble::btp::SendError::Closed)
    );
    assert!(pair.drive_until(secs(30), |p| p.central_closed().is_some()));
    assert_eq!(pair.central_closed(), Some(BtpError::LocallyClosed));
    assert_eq!(pair.received_by_peripheral(), [pattern(1, 500)]);
    assert!(!pair
        .central_events
        .iter()
        .any(|e| matches!(e, BtpEvent::DataLost { .. })));
    assert_eq!(pair.central.poll_timeout(), None);
}

#[test]
fn close_before_handshake_is_immediate() {
    let mut p = BtpEngine::peripheral(BtpConfig::default(), None);
    p.handle_subscribed(Instant::ZERO);
    p.close(Instant::ZERO);
    assert_eq!(
        p.poll_event(),
        Some(BtpEvent::Closed {
            reason: BtpError::LocallyClosed
        })
    );
    assert_eq!(p.poll_event(), None);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn spurious_and_early_inputs_are_harmless() {
    let mut pair = Pair::new(BtpConfig::default(), None, None);
    pair.establish();
    let now = pair.now;
    // A confirmation with nothing in flight, an early timeout, a repeated subscription.
    pair.peripheral.handle_indication_done(now);
    pair.peripheral.handle_timeout(now);
    pair.peripheral.handle_subscribed(now);
    pair.central.handle_timeout(Instant::ZERO);
    pair.central_send(pattern(5, 300));
    pair.peripheral_send(pattern(6, 300));
    assert!(
        pair.drive_until(secs(10), |p| p.received_by_peripheral().len() == 1
            && p.received_by_central().len() == 1)
    );
    assert_eq!(pair.peripheral_closed(), None);
    assert_eq!(pair.central_closed(), None);
}
