//! The engine's timers: one deadline per [`Timer`] in a fixed table; the earliest is what
//! [`BtpEngine::poll_timeout`](super::BtpEngine::poll_timeout) returns.

use crate::time::Instant;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Handshake (request, subscription, response) must finish by then.
    Handshake,
    /// Send a standalone ack by then if no segment carried one.
    AckSend,
    /// The oldest outstanding segment must be acknowledged by then.
    AckReceive,
    /// An SDU must have gone one way or the other by then.
    Idle,
}

impl Timer {
    const ALL: [Self; 4] = [Self::Handshake, Self::AckSend, Self::AckReceive, Self::Idle];

    const fn index(self) -> usize {
        match self {
            Self::Handshake => 0,
            Self::AckSend => 1,
            Self::AckReceive => 2,
            Self::Idle => 3,
        }
    }
}

/// One optional deadline per timer.
#[derive(Debug, Default, Clone)]
pub(crate) struct TimerTable([Option<Instant>; 4]);

impl TimerTable {
    /// Arms `timer` at `at`, replacing any earlier deadline.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.0.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    /// Arms `timer` at `at` unless it is already armed.
    pub(crate) fn set_if_idle(&mut self, timer: Timer, at: Instant) {
        if !self.is_armed(timer) {
            self.set(timer, at);
        }
    }

    /// Disarms `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        if let Some(slot) = self.0.get_mut(timer.index()) {
            *slot = None;
        }
    }

    /// Whether `timer` is armed.
    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.0.get(timer.index()).is_some_and(Option::is_some)
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Disarms and returns the first timer (in [`Timer::ALL`] order) due at `now`.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL.into_iter().find(|t| {
            self.0
                .get(t.index())
                .copied()
                .flatten()
                .is_some_and(|at| at <= now)
        })?;
        self.stop(timer);
        Some(timer)
    }

    /// Disarms everything.
    pub(crate) fn clear(&mut self) {
        self.0 = [None; 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_returns_minimum_and_expires_in_order() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::AckReceive, Instant::from_millis(300));
        t.set(Timer::AckSend, Instant::from_millis(100));
        t.set_if_idle(Timer::AckSend, Instant::from_millis(50));
        assert_eq!(t.next(), Some(Instant::from_millis(100)));
        assert_eq!(t.take_expired(Instant::from_millis(99)), None);
        assert_eq!(
            t.take_expired(Instant::from_millis(300)),
            Some(Timer::AckSend)
        );
        assert_eq!(
            t.take_expired(Instant::from_millis(300)),
            Some(Timer::AckReceive)
        );
        assert_eq!(t.take_expired(Instant::from_millis(300)), None);
        t.set(Timer::Idle, Instant::ZERO);
        t.clear();
        assert_eq!(t.next(), None);
    }
}
