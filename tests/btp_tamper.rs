//! Tampering: frames altered in flight (bit flips, truncation, extension) must never panic or
//! hang an engine. Each side either delivers every SDU (an undetectable payload change is still
//! a delivery: BTP has no checksum) or closes exactly once with nothing left armed, and a side
//! whose peer has gone silent closes by itself within the ack timeout.

mod btp_sim;

use std::cell::Cell;
use std::rc::Rc;

use btp_sim::{pattern, Pair};
use matter_ble::btp::{BtpConfig, BtpError, BtpState, Violation};
use matter_ble::time::Duration;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Alter {
    Flip { pos: usize, xor: u8 },
    Truncate { keep: usize },
    Extend { bytes: Vec<u8> },
}

fn alter() -> impl Strategy<Value = Alter> {
    prop_oneof![
        4 => (0usize..250, 1u8..=255).prop_map(|(pos, xor)| Alter::Flip { pos, xor }),
        1 => (0usize..8).prop_map(|keep| Alter::Truncate { keep }),
        1 => proptest::collection::vec(any::<u8>(), 1..4).prop_map(|bytes| Alter::Extend { bytes }),
    ]
}

fn apply(a: &Alter, v: &mut Vec<u8>) {
    match a {
        Alter::Flip { pos, xor } => {
            let at = pos % v.len().max(1);
            if let Some(b) = v.get_mut(at) {
                *b ^= xor;
            }
        }
        Alter::Truncate { keep } => v.truncate(*keep),
        Alter::Extend { bytes } => v.extend_from_slice(bytes),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn altered_frames_close_cleanly_or_are_delivered(
        window in 1u8..=6,
        fragment in 20u16..=244,
        up in proptest::collection::vec(1usize..=1583, 1..4),
        down in proptest::collection::vec(1usize..=1583, 0..3),
        // Which frame (counted over both directions) is altered, and how.
        target in 0usize..120,
        how in alter(),
    ) {
        let config = BtpConfig { max_window: window, ..BtpConfig::default() };
        let mut pair = Pair::with_fragment(config, fragment);
        let count = Rc::new(Cell::new(0usize));
        let hit = Rc::new(Cell::new(false));
        let (c, h) = (count.clone(), hit.clone());
        pair.tamper = Some(Box::new(move |_, v| {
            if c.get() == target {
                let before = v.clone();
                apply(&how, v);
                h.set(*v != before);
            }
            c.set(c.get() + 1);
        }));
        let up: Vec<_> = up.iter().enumerate().map(|(i, &l)| pattern(i, l)).collect();
        let down: Vec<_> = down.iter().enumerate().map(|(i, &l)| pattern(i + 50, l)).collect();
        for s in &up { pair.central_send(s.clone()); }
        for s in &down { pair.peripheral_send(s.clone()); }
        let (nu, nd) = (up.len(), down.len());
        let settled = pair.drive_until(Duration::from_secs(120), |p| {
            let delivered = p.received_by_peripheral().len() == nu
                && p.received_by_central().len() == nd;
            let both_closed = p.central.state() == BtpState::Closed
                && p.peripheral.state() == BtpState::Closed;
            (delivered && p.central_closed().is_none() && p.peripheral_closed().is_none())
                || both_closed
        });
        prop_assert!(settled, "neither delivered nor closed by t={:?}: {:?} / {:?}",
            pair.now, pair.central_closed(), pair.peripheral_closed());
        for (engine, reason) in [
            (&pair.central, pair.central_closed()),
            (&pair.peripheral, pair.peripheral_closed()),
        ] {
            if reason.is_some() {
                prop_assert_eq!(engine.poll_timeout(), None);
            }
        }
        if !hit.get() {
            // Untouched run: everything arrives unchanged.
            prop_assert_eq!(pair.received_by_peripheral(), up);
            prop_assert_eq!(pair.received_by_central(), down);
        }
        // A violation is only ever reported by the side that received the altered frame, and
        // the other side then closes through a timeout, never a violation of its own.
        let violations = [pair.central_closed(), pair.peripheral_closed()]
            .into_iter()
            .filter(|r| matches!(r, Some(BtpError::PeerMisbehaved(_))))
            .count();
        prop_assert!(violations <= 1);
    }
}

#[test]
fn flipped_sequence_number_is_caught() {
    let mut pair = Pair::with_fragment(BtpConfig::default(), 20);
    pair.establish();
    let mut armed = true;
    pair.tamper = Some(Box::new(move |to_peripheral, v| {
        // First data segment to the peripheral: A|B flags, ack, seq -> corrupt the seq.
        if to_peripheral && armed && v.len() > 3 {
            v[2] ^= 0x40;
            armed = false;
        }
    }));
    pair.central_send(pattern(1, 200));
    assert!(pair.drive_until(Duration::from_secs(60), |p| p.central_closed().is_some()));
    assert!(matches!(
        pair.peripheral_closed(),
        Some(BtpError::PeerMisbehaved(
            Violation::UnexpectedSequence { .. }
        ))
    ));
    assert_eq!(pair.central_closed(), Some(BtpError::AckTimeout));
}
