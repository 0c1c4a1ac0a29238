//! Fuzz harnesses for matter-ble, shared by the cargo-fuzz targets and plain tests.
//!
//! [`btp_server`] reads its input as a script of GATT events for a peripheral BTP engine and checks
//! the engine's contract after each one: no panic, `Closed` at most once and last, nothing sent and
//! no timer armed after it, no segment over the fragment size, no SDU over the maximum, and no
//! deadline left in the past after `handle_timeout`. [`tlv`] and [`im_request`] (in `tlv_im.rs`)
//! fuzz the TLV codec and the Interaction Model responder; [`cert`] (in `cert.rs`) the certificate
//! codecs; [`case_responder`] (in `case.rs`) the CASE responder.

mod case;
mod cert;
mod tlv_im;

pub use case::case_responder;
pub use cert::cert;
pub use tlv_im::{im_request, tlv};

use matter_ble::btp::{BtpConfig, BtpEngine, BtpEvent, FrameKind};
use matter_ble::time::{Duration, Instant};

/// A valid CHIP-style handshake request (V4, MTU unknown, window 6).
const REQUEST: [u8; 9] = [0x65, 0x6c, 0x04, 0, 0, 0, 0, 0, 0x06];

/// Runs one fuzz input against a peripheral engine.
///
/// Byte 0 picks the setup: bit 0 performs a valid handshake first (so most inputs reach the data
/// path), bits 1..=3 the window (1..=6 after clamping), bits 4..=7 the GATT MTU. The rest is a
/// sequence of operations, each one opcode byte plus arguments.
pub fn btp_server(data: &[u8]) {
    let Some((&setup, mut ops)) = data.split_first() else {
        return;
    };
    let window = ((setup >> 1) & 0x07).clamp(1, 6);
    let mtu = match setup >> 4 {
        0 => None,
        n => Some(20 + u16::from(n) * 15),
    };
    let config = BtpConfig {
        max_window: window,
        max_sdu_size: 600,
        max_queued_sdus: 4,
        idle_timeout: (setup & 0x80 != 0).then(|| Duration::from_secs(30)),
        ..BtpConfig::default()
    };
    let mut h = Harness {
        engine: BtpEngine::peripheral(config, mtu),
        now: Instant::ZERO,
        buf: Vec::new(),
        closed: false,
    };
    if setup & 1 != 0 {
        h.engine.handle_segment(h.now, &REQUEST);
        h.engine.handle_subscribed(h.now);
        h.drain();
        h.engine.handle_indication_done(h.now);
        h.drain();
    }
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op % 9 {
            0 | 1 => {
                // A GATT write of up to 255 bytes.
                let (len, rest) = match ops.split_first() {
                    Some((&len, rest)) => (usize::from(len), rest),
                    None => (0, ops),
                };
                let len = len.min(rest.len());
                let (value, rest) = rest.split_at(len);
                ops = rest;
                h.engine.handle_segment(h.now, value);
            }
            2 => h.engine.handle_subscribed(h.now),
            3 => h.engine.handle_indication_done(h.now),
            4 => {
                let step = ops.first().copied().unwrap_or(0);
                ops = ops.get(1..).unwrap_or_default();
                h.now += Duration::from_millis(u64::from(step) * 100);
                h.engine.handle_timeout(h.now);
                if let Some(t) = h.engine.poll_timeout() {
                    assert!(
                        t > h.now,
                        "deadline {t:?} not after handle_timeout({:?})",
                        h.now
                    );
                }
            }
            5 => {
                if let Some(t) = h.engine.poll_timeout() {
                    h.now = h.now.max(t);
                    h.engine.handle_timeout(h.now);
                }
            }
            6 => {
                let len = usize::from(ops.first().copied().unwrap_or(0)) * 4;
                ops = ops.get(1..).unwrap_or_default();
                let _ = h.engine.send_sdu(h.now, vec![0x5a; len]);
            }
            7 => h.engine.close(h.now),
            _ => h.engine.handle_unsubscribed(h.now),
        }
        h.drain();
    }
}

struct Harness {
    engine: BtpEngine,
    now: Instant,
    buf: Vec<u8>,
    closed: bool,
}

impl Harness {
    /// Drains outputs and checks the contract.
    fn drain(&mut self) {
        if let Some(t) = self.engine.poll_transmit(self.now, &mut self.buf) {
            assert!(!self.closed, "sent after Closed");
            assert_eq!(t.len, self.buf.len());
            if t.kind == FrameKind::Data || t.kind == FrameKind::StandaloneAck {
                let max = self
                    .engine
                    .fragment_size()
                    .expect("data only when established");
                assert!(t.len <= usize::from(max), "segment {} > {max}", t.len);
            }
            // One value in flight until confirmed.
            assert!(self.engine.poll_transmit(self.now, &mut self.buf).is_none());
        }
        while let Some(e) = self.engine.poll_event() {
            assert!(!self.closed, "event after Closed: {e:?}");
            match e {
                BtpEvent::Closed { .. } => self.closed = true,
                BtpEvent::SduReceived(s) => {
                    assert!(s.len() <= self.engine.max_sdu_size());
                }
                _ => {}
            }
        }
        if self.closed {
            assert_eq!(self.engine.poll_timeout(), None, "timer left after Closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use matter_ble::rng::{Rng, TestRng};

    use super::*;

    #[test]
    fn harness_runs_on_handcrafted_inputs() {
        let inputs: &[&[u8]] = &[
            &[],
            &[0x00],
            &[0x0d, 0, 5, 0x0d, 0x00, 0x00, 0x01, 0x00, 0x04, 5],
            // Handshake, one SDU in, one out, time passes, unsubscribe.
            &[
                0x0d, 0, 6, 0x0d, 0x00, 0x00, 0x01, 0x00, 0xff, 6, 10, 3, 4, 30, 4, 200, 8,
            ],
            // No handshake: raw request, subscription, confirmation.
            &[
                0x0c, 0, 9, 0x65, 0x6c, 0x04, 0, 0, 0, 0, 0, 3, 2, 3, 5, 5, 5,
            ],
        ];
        for input in inputs {
            btp_server(input);
        }
    }

    #[test]
    fn harness_survives_random_inputs() {
        let mut rng = TestRng::new(0xb7b);
        for _ in 0..20_000 {
            let len = (rng.next_u32() % 200) as usize;
            let mut input = vec![0u8; len];
            rng.fill(&mut input);
            btp_server(&input);
        }
    }
}
