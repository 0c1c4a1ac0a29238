//! Message counters: the outgoing counter of a session (or the global unencrypted counter) and
//! the receive-side duplicate detection window (Matter 1.3 §4.6 "Message Counters",
//! §4.6.5 "Message Counter Processing").

use crate::rng::Rng;

/// MSG_COUNTER_WINDOW_SIZE (Matter 1.3 §4.6.5): how many counters before the maximum are tracked.
pub const MSG_COUNTER_WINDOW_SIZE: u32 = 32;

/// Initial counters are random in `1..=2^28` (Matter 1.3 §4.6.1.1: random 28-bit value, plus one
/// so that 0 never goes out, as the CHIP SDK does).
const INITIAL_COUNTER_MASK: u32 = 0x0FFF_FFFF;

/// An outgoing message counter.
#[derive(Debug, Clone)]
pub struct MessageCounter {
    /// The next value to send; `u32::MAX + 1` once every value has been used.
    next: u64,
}

impl MessageCounter {
    /// A counter with a random initial value in `1..=2^28`.
    pub fn random(rng: &mut dyn Rng) -> Self {
        Self::starting_at((rng.next_u32() & INITIAL_COUNTER_MASK) + 1)
    }

    /// A counter whose next value is `value` (tests, and restoring persisted counters).
    pub const fn starting_at(value: u32) -> Self {
        Self { next: value as u64 }
    }

    /// Takes the next value; `None` once all values up to `u32::MAX` are used. Secure session
    /// counters must not roll over (Matter 1.3 §4.6.3): the session is closed instead.
    pub fn take(&mut self) -> Option<u32> {
        let v = u32::try_from(self.next).ok()?;
        self.next += 1;
        Some(v)
    }

    /// Takes the next value, rolling over from `u32::MAX` to 0 (the global unencrypted counter
    /// may roll over, Matter 1.3 §4.6.3).
    pub fn next_wrapping(&mut self) -> u32 {
        let v = u32::try_from(self.next).unwrap_or(0);
        self.next = u64::from(v) + 1;
        v
    }

    /// How many values are left before exhaustion.
    pub const fn remaining(&self) -> u64 {
        (u32::MAX as u64 + 1).saturating_sub(self.next)
    }
}

/// Whether a received counter is new or a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterVerdict {
    /// First reception: process the message.
    New,
    /// Seen before, or too old to tell: acknowledge if asked, never deliver.
    Duplicate,
}

/// Which counter-processing rules apply (Matter 1.3 §4.6.5.1 vs §4.6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// Encrypted unicast: no rollover; anything older than the window is a duplicate.
    EncryptedUnicast,
    /// Unencrypted: rollover; a counter behind the window is accepted as new (the peer may have
    /// rebooted with a new random counter) and resets the window.
    Unencrypted,
}

/// Message reception state for one peer: the largest counter seen and a bitmap of the
/// [`MSG_COUNTER_WINDOW_SIZE`] counters before it (bit `n` = `max - (n + 1)` was received).
#[derive(Debug, Clone)]
pub struct ReceptionState {
    rules: Rules,
    /// `None` until the first message (unencrypted rules only).
    max: Option<u32>,
    bitmap: u32,
}

impl ReceptionState {
    /// State for a new secure unicast session. The window starts synchronised at 0, so any
    /// peer counter (which starts at 1 or more) is new; this is what the CHIP SDK does.
    pub const fn encrypted_unicast() -> Self {
        Self {
            rules: Rules::EncryptedUnicast,
            max: Some(0),
            bitmap: 0,
        }
    }

    /// State for an unsecured session: the first counter received is trusted.
    pub const fn unencrypted() -> Self {
        Self {
            rules: Rules::Unencrypted,
            max: None,
            bitmap: 0,
        }
    }

    /// Classifies `counter` and, if new, records it. Call only after the message was
    /// authenticated (for secure sessions, after the MIC check), so a forged counter cannot move
    /// the window.
    pub fn receive(&mut self, counter: u32) -> CounterVerdict {
        let verdict = self.check(counter);
        if verdict == CounterVerdict::New {
            self.commit(counter);
        }
        verdict
    }

    /// Classifies `counter` without recording it.
    pub fn check(&self, counter: u32) -> CounterVerdict {
        let Some(max) = self.max else {
            return CounterVerdict::New;
        };
        match self.position(max, counter) {
            Position::Future => CounterVerdict::New,
            Position::Max => CounterVerdict::Duplicate,
            Position::InWindow(offset) => {
                if self.bitmap & (1 << (offset - 1)) != 0 {
                    CounterVerdict::Duplicate
                } else {
                    CounterVerdict::New
                }
            }
            Position::BeforeWindow => match self.rules {
                Rules::EncryptedUnicast => CounterVerdict::Duplicate,
                Rules::Unencrypted => CounterVerdict::New,
            },
        }
    }

    /// The largest counter received so far.
    pub const fn max_counter(&self) -> Option<u32> {
        self.max
    }

    fn commit(&mut self, counter: u32) {
        let Some(max) = self.max else {
            self.max = Some(counter);
            self.bitmap = 0;
            return;
        };
        match self.position(max, counter) {
            Position::InWindow(offset) => self.bitmap |= 1 << (offset - 1),
            Position::Max => {}
            Position::Future | Position::BeforeWindow => {
                // A new maximum: slide the window (a counter behind the window, accepted under
                // the unencrypted rules, restarts it).
                let shift = counter.wrapping_sub(max);
                self.bitmap = if shift > MSG_COUNTER_WINDOW_SIZE {
                    0
                } else {
                    // shift is 1..=32 here; the old max lands on bit shift - 1.
                    (u64::from(self.bitmap) << shift | 1 << (shift - 1)) as u32
                };
                self.max = Some(counter);
            }
        }
    }

    fn position(&self, max: u32, counter: u32) -> Position {
        let future = match self.rules {
            Rules::EncryptedUnicast => counter > max,
            // With rollover, the 2^31 - 1 values after max are "ahead" (Matter 1.3 §4.6.5.2).
            Rules::Unencrypted => (1..=0x7FFF_FFFF).contains(&counter.wrapping_sub(max)),
        };
        if future {
            return Position::Future;
        }
        if counter == max {
            return Position::Max;
        }
        let offset = max.wrapping_sub(counter);
        if offset <= MSG_COUNTER_WINDOW_SIZE {
            Position::InWindow(offset)
        } else {
            Position::BeforeWindow
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Position {
    Future,
    Max,
    /// `max - counter`, in `1..=32`.
    InWindow(u32),
    BeforeWindow,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::rng::TestRng;

    #[test]
    fn initial_counter_is_in_range() {
        let mut rng = TestRng::new(1);
        for _ in 0..1000 {
            let mut c = MessageCounter::random(&mut rng);
            let v = c.take().unwrap();
            assert!((1..=1 << 28).contains(&v), "{v}");
        }
    }

    #[test]
    fn counter_exhausts_without_wrapping_and_global_counter_wraps() {
        let mut c = MessageCounter::starting_at(u32::MAX - 1);
        assert_eq!(c.remaining(), 2);
        assert_eq!(c.take(), Some(u32::MAX - 1));
        assert_eq!(c.take(), Some(u32::MAX));
        assert_eq!(c.remaining(), 0);
        assert_eq!(c.take(), None);
        assert_eq!(c.take(), None);

        let mut g = MessageCounter::starting_at(u32::MAX);
        assert_eq!(g.next_wrapping(), u32::MAX);
        assert_eq!(g.next_wrapping(), 0);
        assert_eq!(g.next_wrapping(), 1);
    }

    #[test]
    fn encrypted_window_table() {
        use CounterVerdict::{Duplicate as D, New as N};
        let mut s = ReceptionState::encrypted_unicast();
        let steps = [
            (100, N),
            (100, D), // replay of max
            (99, N),  // reorder inside the window
            (99, D),
            (68, N), // max - 32: last slot of the window
            (68, D),
            (67, D), // max - 33: before the window, no rollover
            (0, D),
            (133, N), // shift by 33 clears the window
            (100, D), // now before the window
            (101, N), // max - 32
            (u32::MAX, N),
            (u32::MAX, D),
            (0, D), // no rollover for encrypted unicast
            (u32::MAX - 32, N),
            (u32::MAX - 33, D),
        ];
        for (i, (c, v)) in steps.into_iter().enumerate() {
            assert_eq!(s.receive(c), v, "step {i}: counter {c}");
        }
    }

    #[test]
    fn unencrypted_rules_accept_counters_behind_the_window() {
        use CounterVerdict::{Duplicate as D, New as N};
        let mut s = ReceptionState::unencrypted();
        let steps = [
            (5000, N), // first message trusted
            (5000, D),
            (4999, N),
            (4999, D),
            (10, N), // behind the window: peer rebooted; new window at 10
            (10, D),
            (4999, N),     // 4989 ahead of 10 now, a new maximum
            (u32::MAX, N), // far behind (wraps): accepted, resets
            (0, N),        // rollover: 0 is ahead of u32::MAX
            (u32::MAX, D), // in the window (offset 1)
        ];
        for (i, (c, v)) in steps.into_iter().enumerate() {
            assert_eq!(s.receive(c), v, "step {i}: counter {c}");
        }
    }

    /// Reference model of the encrypted-unicast rules, from the spec's prose: new if above max,
    /// or within 32 below max and not yet seen.
    fn model_accepts(seen: &BTreeSet<u32>, max: u32, c: u32) -> bool {
        c > max || (max - c <= MSG_COUNTER_WINDOW_SIZE && c != max && !seen.contains(&c))
    }

    proptest! {
        #[test]
        fn encrypted_window_matches_reference_model(
            start in 1u32..1000,
            deltas in proptest::collection::vec(-40i64..40, 1..200),
        ) {
            let mut s = ReceptionState::encrypted_unicast();
            // The window starts synchronised at 0, as if 0 had been received (senders start at
            // 1 or more, Matter 1.3 §4.6.1.1).
            let mut seen = BTreeSet::from([0u32]);
            let mut max = 0u32;
            let mut c = i64::from(start);
            for d in deltas {
                c = (c + d).max(0);
                let cu = c as u32;
                let expected = model_accepts(&seen, max, cu);
                let got = s.receive(cu) == CounterVerdict::New;
                prop_assert_eq!(got, expected, "counter {}", cu);
                if expected {
                    seen.insert(cu);
                    max = max.max(cu);
                }
            }
        }
    }
}
