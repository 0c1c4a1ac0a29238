//! The BTP engine ([`crate::btp::BtpEngine`], peripheral role) as a [`LinkEngine`], so the link
//! router drives one BTP session per central:
//! `LinkRouter::new(gatt, clock, |_| BtpLink::new(cfg)).run(events, out)`.
//!
//! What this adds to the engine: the ATT MTU from each C1 write is handed to BTP (it uses it when
//! the central's request says 0, as the CHIP central's does), and SDUs the app sends while the
//! engine's queue is full wait in a small backlog instead of being lost.

use std::collections::VecDeque;

use tracing::warn;

use super::link::LinkEngine;
use crate::btp::{BtpConfig, BtpEngine, BtpEvent, BtpState, SendError};
use crate::time::Instant;

/// A command to one link's BTP session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtpLinkCommand {
    /// Queue one SDU (a whole Matter message).
    Send(Vec<u8>),
    /// End the session once queued data is acknowledged.
    Close,
}

/// What a link's BTP session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtpLinkEvent {
    /// An event of the engine: `Established`, `SduReceived`, `DataLost`, `Closed`.
    Btp(BtpEvent),
    /// An SDU the app sent was refused (empty, too large, session closing, or the backlog full).
    SendRejected {
        /// Its length.
        len: usize,
        /// Why.
        error: SendError,
    },
}

/// One peripheral BTP session plus a backlog for SDUs that met a full engine queue.
#[derive(Debug)]
pub struct BtpLink {
    engine: BtpEngine,
    backlog: VecDeque<Vec<u8>>,
    rejected: VecDeque<BtpLinkEvent>,
}

impl BtpLink {
    /// A fresh peripheral session with `config`.
    pub fn new(config: BtpConfig) -> Self {
        Self {
            engine: BtpEngine::peripheral(config, None),
            backlog: VecDeque::new(),
            rejected: VecDeque::new(),
        }
    }

    /// The engine, for its getters (state, fragment size, window, stats).
    pub fn engine(&self) -> &BtpEngine {
        &self.engine
    }

    fn send(&mut self, now: Instant, sdu: Vec<u8>) {
        let open = matches!(
            self.engine.state(),
            BtpState::Handshaking | BtpState::Established
        );
        // Keep the order: once anything waits, everything after it waits too.
        if open && (!self.backlog.is_empty() || self.engine.send_capacity() == 0) {
            return self.queue(sdu);
        }
        let len = sdu.len();
        if let Err(error) = self.engine.send_sdu(now, sdu) {
            self.reject(len, error);
        }
    }

    fn queue(&mut self, sdu: Vec<u8>) {
        if self.backlog.len() >= MAX_BACKLOG {
            return self.reject(sdu.len(), SendError::Busy);
        }
        self.backlog.push_back(sdu);
    }

    fn reject(&mut self, len: usize, error: SendError) {
        warn!(len, %error, "SDU refused by BTP");
        self.rejected
            .push_back(BtpLinkEvent::SendRejected { len, error });
    }

    /// Moves backlog SDUs into the engine while it has room.
    fn flush(&mut self, now: Instant) {
        while self.engine.send_capacity() > 0 {
            let Some(sdu) = self.backlog.pop_front() else {
                return;
            };
            let len = sdu.len();
            if let Err(error) = self.engine.send_sdu(now, sdu) {
                self.reject(len, error);
            }
        }
        if self.engine.state() == BtpState::Closed {
            while let Some(sdu) = self.backlog.pop_front() {
                self.reject(sdu.len(), SendError::Closed);
            }
        }
    }
}

impl LinkEngine for BtpLink {
    type Command = BtpLinkCommand;
    type Event = BtpLinkEvent;

    fn handle_segment(&mut self, now: Instant, att_mtu: u16, segment: &[u8]) {
        self.engine.set_gatt_mtu(Some(att_mtu));
        self.engine.handle_segment(now, segment);
        self.flush(now);
    }

    fn handle_subscribed(&mut self, now: Instant, att_mtu: u16) {
        self.engine.set_gatt_mtu(Some(att_mtu));
        self.engine.handle_subscribed(now);
    }

    fn handle_unsubscribed(&mut self, now: Instant) {
        self.engine.handle_unsubscribed(now);
        self.flush(now);
    }

    fn handle_disconnected(&mut self, now: Instant) {
        self.engine.handle_disconnected(now);
        self.flush(now);
    }

    fn handle_indication_done(&mut self, now: Instant) {
        self.engine.handle_indication_done(now);
        self.flush(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        self.flush(now);
    }

    fn handle_command(&mut self, now: Instant, command: BtpLinkCommand) {
        match command {
            BtpLinkCommand::Send(sdu) => self.send(now, sdu),
            BtpLinkCommand::Close => self.engine.close(now),
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        self.engine.poll_transmit(now, buf).is_some()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }

    fn poll_event(&mut self) -> Option<BtpLinkEvent> {
        if let Some(e) = self.rejected.pop_front() {
            return Some(e);
        }
        self.engine.poll_event().map(BtpLinkEvent::Btp)
    }

    fn is_closed(&self) -> bool {
        self.engine.state() == BtpState::Closed
    }
}

/// SDUs held beyond the engine's own queue before the app gets `Busy`.
const MAX_BACKLOG: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btp::BtpError;

    fn now() -> Instant {
        Instant::ZERO
    }

    /// Runs a central engine against `link` in memory until neither has anything to send.
    fn pump(central: &mut BtpEngine, link: &mut BtpLink, central_subscribes: bool) {
        let mut buf = Vec::new();
        for _ in 0..1000 {
            let mut progress = false;
            if central.poll_transmit(now(), &mut buf).is_some() {
                let v = buf.clone();
                central.handle_indication_done(now()); // the write response
                link.handle_segment(now(), 185, &v);
                if central_subscribes {
                    central.handle_subscribed(now());
                    link.handle_subscribed(now(), 185);
                }
                progress = true;
            }
            if link.poll_transmit(now(), &mut buf) {
                let v = buf.clone();
                link.handle_indication_done(now());
                central.handle_segment(now(), &v);
                progress = true;
            }
            if !progress {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn established() -> (BtpEngine, BtpLink) {
        let mut central = BtpEngine::central(BtpConfig::default(), None);
        let mut link = BtpLink::new(BtpConfig::default());
        pump(&mut central, &mut link, true);
        assert!(central.is_established() && link.engine().is_established());
        while central.poll_event().is_some() {}
        while link.poll_event().is_some() {}
        (central, link)
    }

    #[test]
    fn att_mtu_of_the_write_sets_the_fragment_size() {
        // The central's request says MTU 0 (unknown), as the CHIP central's does; the write
        // options said 185, so segments are 185 - 3 bytes.
        let (_c, link) = established();
        assert_eq!(link.engine().fragment_size(), Some(182));
    }

    #[test]
    fn backlog_holds_sdus_beyond_the_engine_queue() {
        let (mut central, mut link) = established();
        let n = BtpConfig::default().max_queued_sdus + 5;
        for i in 0..n {
            link.handle_command(now(), BtpLinkCommand::Send(vec![i as u8; 300]));
        }
        assert!(link.poll_event().is_none(), "nothing refused");
        pump(&mut central, &mut link, false);
        let mut got = Vec::new();
        while let Some(e) = central.poll_event() {
            if let BtpEvent::SduReceived(sdu) = e {
                got.push(sdu[0]);
            }
        }
        assert_eq!(got, (0..n as u8).collect::<Vec<_>>());
    }

    #[test]
    fn refused_sdus_are_reported() {
        let (_c, mut link) = established();
        link.handle_command(now(), BtpLinkCommand::Send(Vec::new()));
        assert_eq!(
            link.poll_event(),
            Some(BtpLinkEvent::SendRejected {
                len: 0,
                error: SendError::Empty
            })
        );
        let total = BtpConfig::default().max_queued_sdus + MAX_BACKLOG;
        for _ in 0..total {
            link.handle_command(now(), BtpLinkCommand::Send(vec![1; 10]));
        }
        assert!(link.poll_event().is_none());
        link.handle_command(now(), BtpLinkCommand::Send(vec![1; 10]));
        assert_eq!(
            link.poll_event(),
            Some(BtpLinkEvent::SendRejected {
                len: 10,
                error: SendError::Busy
            })
        );
        // A disconnect closes the session; the backlog is reported as refused.
        link.handle_disconnected(now());
        let mut closed = 0;
        let mut refused = 0;
        while let Some(e) = link.poll_event() {
            match e {
                BtpLinkEvent::SendRejected {
                    error: SendError::Closed,
                    ..
                } => refused += 1,
                BtpLinkEvent::Btp(BtpEvent::Closed {
                    reason: BtpError::Disconnected,
                }) => closed += 1,
                _ => {}
            }
        }
        assert_eq!((closed, refused), (1, MAX_BACKLOG));
        assert!(link.is_closed());
    }
}
