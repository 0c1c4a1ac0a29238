//! Sequence numbers, acknowledgements and windows: all 8-bit modular arithmetic
//! (Matter 1.4 §4.19.5 "BTP sequence numbers, acknowledgements and receive windows").
//!
//! Both directions are tracked as "last acknowledged" plus "next", so every count below is a
//! wrapping difference of two `u8`s and never needs a comparison that breaks at 255 → 0.
//!
//! The handshake response counts as sequence number 0 of the peripheral (the CHIP SDK's
//! `BtpEngine::Init(expect_first_ack = true)` on the peripheral): the peripheral's first data
//! segment is number 1 and the central must acknowledge 0. The central's own numbering starts at 0.

use super::error::Violation;

/// The send side: which of our segments the peer has acknowledged, and how many more it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxWindow {
    /// The sequence number the next segment gets.
    next: u8,
    /// The newest sequence number the peer has acknowledged (or, before any ack, the one before
    /// the first we sent).
    acked: u8,
    /// The peer's receive window.
    window: u8,
}

impl TxWindow {
    /// A send side whose first segment gets `first_seq` and of which `outstanding` segments
    /// (just before `first_seq`) are already awaiting an ack.
    pub(crate) fn new(first_seq: u8, outstanding: u8, window: u8) -> Self {
        Self {
            next: first_seq,
            acked: first_seq.wrapping_sub(1).wrapping_sub(outstanding),
            window,
        }
    }

    /// Segments sent and not yet acknowledged.
    pub(crate) fn outstanding(&self) -> u8 {
        self.next.wrapping_sub(1).wrapping_sub(self.acked)
    }

    /// How many more segments the peer's window takes now.
    pub(crate) fn slots(&self) -> u8 {
        self.window.saturating_sub(self.outstanding())
    }

    /// Assigns the next sequence number to a segment being sent.
    pub(crate) fn assign(&mut self) -> u8 {
        let seq = self.next;
        self.next = self.next.wrapping_add(1);
        seq
    }

    /// Applies an ack. Valid only if it acknowledges at least one outstanding segment and none
    /// beyond the newest sent (the CHIP SDK's `BtpEngine::IsValidAck`); a repeated or stale ack is
    /// invalid because every ack a correct peer sends covers something new.
    pub(crate) fn acknowledge(&mut self, ack: u8) -> Result<(), Violation> {
        let advance = ack.wrapping_sub(self.acked);
        if advance == 0 || advance > self.outstanding() {
            return Err(Violation::InvalidAck { ack });
        }
        self.acked = ack;
        Ok(())
    }

    /// Whether `seq` has been sent and not yet acknowledged.
    pub(crate) fn is_outstanding(&self, seq: u8) -> bool {
        let d = seq.wrapping_sub(self.acked);
        d != 0 && d <= self.outstanding()
    }
}

/// The receive side: which sequence number comes next, and how much of our window is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RxWindow {
    /// The sequence number the next segment must carry.
    expected: u8,
    /// The newest sequence number we have acknowledged (or the one before the first expected).
    acked: u8,
    /// Our receive window.
    window: u8,
    /// Whether a segment with SDU payload is among the unacknowledged ones.
    unacked_data: bool,
}

impl RxWindow {
    /// A receive side that expects `first_seq` next, of which `unacked` earlier segments (just
    /// before `first_seq`) still need an ack from us.
    pub(crate) fn new(first_seq: u8, unacked: u8, window: u8) -> Self {
        Self {
            expected: first_seq,
            acked: first_seq.wrapping_sub(1).wrapping_sub(unacked),
            window,
            unacked_data: false,
        }
    }

    /// Accepts the next segment if it has the expected number and fits in our window.
    pub(crate) fn accept(&mut self, seq: u8, carries_data: bool) -> Result<(), Violation> {
        if seq != self.expected {
            return Err(Violation::UnexpectedSequence {
                expected: self.expected,
                got: seq,
            });
        }
        if self.unacked() >= self.window {
            return Err(Violation::WindowExceeded {
                window: self.window,
            });
        }
        self.expected = self.expected.wrapping_add(1);
        self.unacked_data |= carries_data;
        Ok(())
    }

    /// Segments received and not yet acknowledged by us.
    pub(crate) fn unacked(&self) -> u8 {
        self.expected.wrapping_sub(1).wrapping_sub(self.acked)
    }

    /// How many more segments our window takes before the peer must stop.
    pub(crate) fn remaining(&self) -> u8 {
        self.window.saturating_sub(self.unacked())
    }

    /// Whether a segment carrying SDU payload waits for our ack.
    pub(crate) fn unacked_data(&self) -> bool {
        self.unacked_data
    }

    /// The ack number to send now (the newest received), marking everything received as acked.
    pub(crate) fn take_ack(&mut self) -> u8 {
        let ack = self.expected.wrapping_sub(1);
        self.acked = ack;
        self.unacked_data = false;
        ack
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn peripheral_and_central_start_as_the_chip_sdk_does() {
        // Peripheral: the handshake response is seq 0 and awaits an ack; data starts at 1.
        let mut tx = TxWindow::new(1, 1, 6);
        assert_eq!(tx.outstanding(), 1);
        assert_eq!(tx.slots(), 5);
        assert!(tx.is_outstanding(0));
        assert_eq!(tx.acknowledge(1), Err(Violation::InvalidAck { ack: 1 }));
        assert_eq!(tx.acknowledge(0), Ok(()));
        assert_eq!(tx.outstanding(), 0);
        assert_eq!(tx.assign(), 1);
        // Central: expects the peripheral's seq 1 next and owes an ack for 0.
        let mut rx = RxWindow::new(1, 1, 6);
        assert_eq!(rx.unacked(), 1);
        assert_eq!(rx.take_ack(), 0);
        assert_eq!(rx.unacked(), 0);
    }

    #[test]
    fn acks_wrap_around() {
        let mut tx = TxWindow::new(254, 0, 6);
        let sent: Vec<u8> = (0..4).map(|_| tx.assign()).collect();
        assert_eq!(sent, [254, 255, 0, 1]);
        assert_eq!(tx.outstanding(), 4);
        assert_eq!(tx.slots(), 2);
        assert_eq!(tx.acknowledge(2), Err(Violation::InvalidAck { ack: 2 }));
        assert_eq!(tx.acknowledge(253), Err(Violation::InvalidAck { ack: 253 }));
        assert_eq!(tx.acknowledge(255), Ok(()));
        assert_eq!(tx.acknowledge(255), Err(Violation::InvalidAck { ack: 255 }));
        assert!(!tx.is_outstanding(255));
        assert!(tx.is_outstanding(0));
        assert_eq!(tx.acknowledge(1), Ok(()));
        assert_eq!(tx.outstanding(), 0);
    }

    #[test]
    fn receive_window_is_enforced() {
        let mut rx = RxWindow::new(250, 0, 2);
        assert_eq!(rx.accept(250, true), Ok(()));
        assert_eq!(rx.accept(251, false), Ok(()));
        assert_eq!(rx.remaining(), 0);
        assert_eq!(
            rx.accept(252, true),
            Err(Violation::WindowExceeded { window: 2 })
        );
        assert_eq!(
            rx.accept(9, true),
            Err(Violation::UnexpectedSequence {
                expected: 252,
                got: 9
            })
        );
        assert!(rx.unacked_data());
        assert_eq!(rx.take_ack(), 251);
        assert!(!rx.unacked_data());
        assert_eq!(rx.accept(252, true), Ok(()));
    }

    proptest! {
        /// The 8-bit window agrees with a u64 model through any number of wraps.
        #[test]
        fn tx_window_matches_u64_model(
            start in any::<u8>(),
            window in 1u8..=6,
            ops in proptest::collection::vec((any::<bool>(), 0u8..8), 1..600),
        ) {
            let mut tx = TxWindow::new(start, 0, window);
            // Model: absolute numbers; `sent` = next absolute seq, `acked` = count acknowledged.
            let (mut sent, mut acked) = (0u64, 0u64);
            for (send, k) in ops {
                if send {
                    if tx.slots() > 0 {
                        let seq = tx.assign();
                        prop_assert_eq!(u64::from(seq), (u64::from(start) + sent) % 256);
                        sent += 1;
                    }
                } else {
                    // Ack the k-th outstanding (1-based), or an invalid one when k is out of range.
                    let outstanding = sent - acked;
                    let target = acked + u64::from(k);
                    let ack = ((u64::from(start) + target + 255) % 256) as u8;
                    let valid = k >= 1 && u64::from(k) <= outstanding;
                    prop_assert_eq!(tx.acknowledge(ack).is_ok(), valid);
                    if valid {
                        acked = target;
                    }
                }
                prop_assert_eq!(u64::from(tx.outstanding()), sent - acked);
                prop_assert!(tx.outstanding() <= window);
            }
        }
    }
}
